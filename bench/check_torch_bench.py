"""Checks the hand-written parts of torch_bench.py against the Rust crate's formulas, so the peer
benchmark is known to do the same rules: metaplastic Adam (cpu/metaplastic_adam.rs) against a
scalar loop, the sign functions (cpu/sign.rs), the AMP factors (cpu/amp.rs) and the AMP
convolution's gradients against per-example autograd, the plastic layer (cpu/plastic.rs) against
a direct loop and finite differences; then one training step of every network. Not part of the
project's test path.

Usage: bench/.venv/bin/python bench/check_torch_bench.py
"""

import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch_bench as tb  # noqa: E402


def close(name: str, err: float, tol: float) -> None:
    assert err <= tol, f"{name}: error {err:.3g} above {tol:.3g}"
    print(f"ok  {name} (max error {err:.2g})")


def metaplastic_adam_reference(w, g, m1, m2, t, lr, meta, wd, b1=0.9, b2=0.999, eps=1e-8):
    """cpu/metaplastic_adam.rs, one element at a time."""
    w, m1, m2 = list(w), list(m1), list(m2)
    for i in range(len(w)):
        gi = g[i] + wd * w[i]
        m1[i] = b1 * m1[i] + (1 - b1) * gi
        m2[i] = b2 * m2[i] + (1 - b2) * gi * gi
        sign = 1.0 if w[i] >= 0 else -1.0
        used = m1[i] * (1 - math.tanh(meta * abs(w[i])) ** 2) if sign * m1[i] > 0 else m1[i]
        w[i] -= lr * (used / (1 - b1**t)) / (math.sqrt(m2[i] / (1 - b2**t)) + eps)
    return w, m1, m2


def check_metaplastic_adam() -> None:
    p = torch.nn.Parameter(torch.randn(300, dtype=torch.float64))
    p.data[:5] = 0.0
    opt = tb.MetaplasticAdam([p], lr=0.05, weight_decay=1e-3, meta=1.35)
    w, m1, m2 = p.detach().tolist(), [0.0] * 300, [0.0] * 300
    for t in range(1, 8):
        g = torch.randn(300, dtype=torch.float64)
        p.grad = g.clone()
        opt.step()
        w, m1, m2 = metaplastic_adam_reference(w, g.tolist(), m1, m2, t, 0.05, 1.35, 1e-3)
    close("metaplastic Adam = the Rust formula", (p.detach() - torch.tensor(w, dtype=torch.float64)).abs().max().item(), 1e-12)
    a = torch.nn.Parameter(torch.randn(50))
    b = torch.nn.Parameter(a.detach().clone())
    oa = tb.MetaplasticAdam([a], lr=0.01, weight_decay=1e-2, meta=0.0)
    ob = torch.optim.Adam([b], lr=0.01, weight_decay=1e-2)
    for _ in range(5):
        g = torch.randn(50)
        a.grad, b.grad = g.clone(), g.clone()
        oa.step()
        ob.step()
    close("metaplastic Adam with m = 0 = torch.optim.Adam", (a - b).abs().max().item(), 1e-6)


def check_sign() -> None:
    z = torch.tensor([-2.0, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 1.5], requires_grad=True)
    y = tb.SignActivation.apply(z)
    y.backward(torch.ones_like(z))
    assert y.tolist() == [-1, -1, -1, 1, 1, 1, 1, 1], y.tolist()
    assert z.grad.tolist() == [0, 1, 1, 1, 1, 1, 1, 0], z.grad.tolist()
    w = torch.tensor([-0.1, 0.0, 0.2], requires_grad=True)
    b = tb.BinarizeWeights.apply(w)
    b.backward(torch.tensor([1.0, 2.0, 3.0]))
    assert b.tolist() == [-1, 1, 1] and w.grad.tolist() == [1, 2, 3]
    print("ok  sign: sign(0) = +1, straight-through window |z| <= 1, weight gradient passed unchanged")


def check_amp() -> None:
    x = torch.rand(6, 3, 4, 4)
    f = tb.amp_factors(x, 1.0)
    energy = [float((x[i] ** 2).sum()) for i in range(6)]
    logs = [e / (sum(energy) / 6) for e in energy]
    top = max(logs)
    total = sum(math.exp(v - top) for v in logs)
    want = [min(max(math.exp(v - top) * 6 / total, 0.1), 10.0) for v in logs]
    close("AMP factors = cpu/amp.rs", max(abs(a - b) for a, b in zip(f.tolist(), want)), 1e-5)
    assert tb.amp_factors(torch.zeros(3, 2), 1.0).tolist() == [1.0, 1.0, 1.0]

    x = torch.randn(5, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, 5, 5, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    factors = torch.rand(5, dtype=torch.float64) * 3
    g = torch.randn(5, 4, 8, 8, dtype=torch.float64)
    y = tb.AmpConv2d.apply(x, w, b, factors, (2, 2))
    plain = F.conv2d(x, w, b, padding=2)
    close("AMP convolution forward = conv2d", (y - plain).abs().max().item(), 0.0)
    gx, gw, gb = torch.autograd.grad((y * g).sum(), (x, w, b))
    want_x = torch.autograd.grad((plain * g).sum(), x, retain_graph=True)[0]
    want_w, want_b = torch.zeros_like(w), torch.zeros_like(b)
    for i in range(5):
        dw, db = torch.autograd.grad((plain[i] * g[i]).sum(), (w, b), retain_graph=True)
        want_w += factors[i] * dw
        want_b += factors[i] * db
    close("AMP input gradient is unscaled", (gx - want_x).abs().max().item(), 1e-10)
    close("AMP weight gradient = sum of factor x per-example gradient", (gw - want_w).abs().max().item(), 1e-10)
    close("AMP bias gradient = sum of factor x per-example gradient", (gb - want_b).abs().max().item(), 1e-10)


def check_plastic() -> None:
    n, batch, steps = 5, 3, 4
    w0, alpha0 = (0.3 * torch.randn(n, n, dtype=torch.float64) for _ in range(2))
    layer = tb.PlasticLayer(w0, alpha0, 0.1).double()
    xs = torch.randn(steps, batch, n, dtype=torch.float64)
    ys = layer.episode(xs)
    w, alpha, eta = layer.w.detach(), layer.alpha.detach(), layer.eta.item()
    err = 0.0
    for b in range(batch):
        hebb = torch.zeros(n, n, dtype=torch.float64)
        for t in range(steps):
            y = torch.tanh((w + alpha * hebb) @ xs[t, b])
            err = max(err, (y - ys[t, b]).abs().max().item())
            hebb = (1 - eta) * hebb + eta * torch.outer(y, xs[t, b])
    close("plastic layer = y = tanh((W + alpha Hebb) x), simple rule", err, 1e-12)

    params = [v.detach().clone().requires_grad_() for v in (layer.w, layer.alpha, layer.eta)]

    def episode(w, alpha, eta):
        return tb.PlasticLayer.episode(_Bound(w, alpha, eta), xs)

    assert torch.autograd.gradcheck(episode, params), "plastic layer gradients"
    print("ok  plastic layer gradients through the episode (finite differences)")


def check_recurrent() -> None:
    n, bits, batch, steps, bias = 6, 4, 2, 5, 0.7
    w0, alpha0 = (0.5 * torch.randn(n, n, dtype=torch.float64) for _ in range(2))
    net = tb.RecurrentPlastic(w0, alpha0, bits, bias, 0.2).double()
    xs = torch.randn(steps, batch, bits, dtype=torch.float64)
    last = net.episode(xs)
    w, alpha, eta = net.w.detach(), net.alpha.detach(), net.eta.item()
    err = 0.0
    for b in range(batch):
        y, hebb = torch.zeros(n, dtype=torch.float64), torch.zeros(n, n, dtype=torch.float64)
        for t in range(steps):
            u = torch.zeros(n, dtype=torch.float64)
            u[:bits], u[-1] = xs[t, b], bias
            new = torch.tanh((w + alpha * hebb) @ y + u)
            if t + 1 < steps:
                hebb = (1 - eta) * hebb + eta * torch.outer(new, y)
            y = new
        err = max(err, (y - last[b]).abs().max().item())
    close("recurrent network = y(t) = tanh((W + alpha Hebb) y(t-1) + u(t)), trace from y(t-1), y(t)", err, 1e-12)


class _Bound:
    """Stand-in for a PlasticLayer whose parameters are plain tensors, for gradcheck."""

    def __init__(self, w, alpha, eta):
        self.w, self.alpha, self.eta = w, alpha, eta


def check_networks() -> None:
    for name, make in tb.NETWORKS.items():
        work = make()
        work.step()
        print(f"ok  {name}: a training step runs")


def main() -> int:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    check_metaplastic_adam()
    check_sign()
    check_amp()
    check_plastic()
    check_recurrent()
    check_networks()
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

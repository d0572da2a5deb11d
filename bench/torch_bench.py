"""PyTorch peer of `metaplastic bench`: training speed of the project's networks in PyTorch on the CPU.

What it measures: whole training steps (forward, loss, backward, optimizer update) on synthetic
data held in memory, after a few warm-up steps; `--reps` repetitions of `--steps` steps each,
reporting the median milliseconds per step (with the fastest and slowest repetition) and the
examples (images, or episodes for the Hebbian networks) per second at that median. Nothing is
read from disk or a data loader inside the timed loop.

The networks and rules follow the Rust crate's definitions (file names are under src/):

- `bnn-512`, `bnn-1024` (model/bnn.rs, cpu/bnn.rs, cpu/sign.rs, cpu/batchnorm.rs,
  cpu/metaplastic_adam.rs): 784-H-H-10, no biases, the forward pass uses `sign(Wh)` (sign(0) = +1)
  with the gradient applied to `Wh` unchanged; BatchNorm with batch statistics after every linear
  layer; sign activations whose straight-through gradient passes where the BatchNorm output has
  |z| <= 1; softmax cross-entropy; metaplastic Adam (lr 0.005, m = 1.35 on `Wh`, m = 0 on
  BatchNorm's gamma and beta, weight decay 1e-7 on all); batch 100. Inputs are the Rust bench's:
  x[i] = (i % 255) / 255 over batch * 784 floats, y[i] = i % 10.
- `lenet-classic-standard`, `lenet-classic-amp` (model/lenet.rs, cpu/lenet.rs, cpu/amp.rs,
  cpu/sgd.rs): conv 6@5x5 pad 2, ReLU, max-pool 2, conv 16@5x5, ReLU, max-pool 2, FC 120 ReLU,
  FC 84 ReLU, FC 10; softmax cross-entropy; SGD with Nesterov momentum 0.9, lr 0.01; batch 64.
  The AMP rule scales each example's share of the convolutions' weight and bias gradients by a
  factor from that layer's input energy (B = 1), leaving the gradient passed down unscaled.
- `denoise` (model/hebbian.rs DenoiseConfig::mnist with 8 episodes per batch, as the demo and
  the experiment train it; cpu/denoise.rs, cpu/plastic.rs): the Hebbian denoising autoencoder,
  plastic variant, 10-step episodes of 28x28 images, Adam lr 1e-3.
- `completion` (model/hebbian.rs HebbianConfig::small, cpu/hebbian.rs, cpu/plastic.rs): one
  plastic 50 -> 50 tanh layer, 3 patterns, 33-step episodes, 8 episodes per batch, Adam lr 3e-4.
- `completion-recurrent` (HebbianConfig::recurrent_small, cpu/recurrent.rs): Miconi's recurrent
  plastic network, 51 neurons (50 bits and a bias neuron driven at 20), 2 balanced patterns shown
  3 steps each with a blank step after, then the half-erased one for 6 steps (14 steps), one
  episode per batch, loss on the last state's 50 read-out neurons, Adam lr 3e-4 on W, alpha, eta.

Where the PyTorch version differs from the Rust one, it says so at the definition. Output: JSON
`{"runs": [{"network", "backend": "torch-cpu", "batch", "threads", "examples_per_s",
"ms_per_step", "ms_per_step_min", "ms_per_step_max", "dispatches_per_step": null}]}` on stdout
and, with `--json FILE`, in FILE; a readable line per network on stderr.
"""

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

IMAGE_SIDE = 28
PIXELS = IMAGE_SIDE * IMAGE_SIDE
CLASSES = 10
BN_EPS = 1e-5


def synthetic_batch(batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The Rust bench's input: x[i] = (i % 255) / 255 over batch * 784 floats, y[i] = i % 10."""
    x = (torch.arange(batch * PIXELS) % 255).to(torch.float32).div_(255.0).view(batch, PIXELS)
    y = torch.arange(batch) % CLASSES
    return x, y


# ------------------------------------------------------------------------------------------------
# Metaplastic Adam (cpu/metaplastic_adam.rs; docs/algorithms.md, "Metaplastic Adam")
# ------------------------------------------------------------------------------------------------


class MetaplasticAdam(torch.optim.Optimizer):
    """Adam whose updates that would shrink |W| are scaled by 1 - tanh^2(m |W|).

    Per element, at step t (from 1), as the Rust crate computes it:

        g  = grad + weight_decay * W                  (L2 in the gradient, not decoupled)
        m1 = b1 m1 + (1 - b1) g ;  m2 = b2 m2 + (1 - b2) g^2
        m1_used = m1 * (1 - tanh(m |W|)^2)   where sign(W) * m1 > 0 (sign(0) = +1), else m1
        W -= lr * (m1_used / (1 - b1^t)) / (sqrt(m2 / (1 - b2^t)) + eps)

    `meta` = 0 is plain Adam with L2 weight decay. Each parameter group has its own `meta`.
    """

    def __init__(self, params, lr=0.005, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, meta=0.0):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, meta=meta)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            b1, b2 = group["betas"]
            lr, eps, wd, meta = group["lr"], group["eps"], group["weight_decay"], group["meta"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["m1"] = torch.zeros_like(p)
                    state["m2"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                m1, m2 = state["m1"], state["m2"]
                g = p.grad.add(p, alpha=wd) if wd != 0.0 else p.grad
                m1.lerp_(g, 1.0 - b1)
                m2.mul_(b2).addcmul_(g, g, value=1.0 - b2)
                if meta != 0.0:
                    # m1_used = m1 - m1 * [W * m1 > 0] * tanh^2(m W). Where W = 0 the factor is 1
                    # whatever the test says, so W * m1 > 0 is the Rust sign(W) * m1 > 0 here, and
                    # tanh^2 is even, so |W| needs no abs. Arithmetic rather than torch.where,
                    # which is several times slower on the CPU.
                    attenuation = torch.tanh(p * meta).square_().mul_(torch.mul(p, m1).gt_(0))
                    m1_used = torch.addcmul(m1, m1, attenuation, value=-1.0)
                else:
                    m1_used = m1
                denom = m2.div(1.0 - b2**t).sqrt_().add_(eps)
                p.addcdiv_(m1_used, denom, value=-lr / (1.0 - b1**t))
        return loss


# ------------------------------------------------------------------------------------------------
# The binarized network (model/bnn.rs, cpu/bnn.rs)
# ------------------------------------------------------------------------------------------------


def binarize(x: torch.Tensor) -> torch.Tensor:
    """+1 where x >= 0 (so sign(0) = +1, also for -0.0), -1 elsewhere, as cpu/sign.rs `binarize`.
    Arithmetic on the comparison rather than torch.where(x >= 0, 1.0, -1.0), which is several
    times slower on the CPU."""
    return (x >= 0).to(x.dtype).mul_(2.0).sub_(1.0)


class BinarizeWeights(torch.autograd.Function):
    """sign(Wh) with sign(0) = +1 forward; the gradient reaches Wh unchanged (cpu/sign.rs)."""

    @staticmethod
    def forward(ctx, wh):
        return binarize(wh)

    @staticmethod
    def backward(ctx, grad):
        return grad


class SignActivation(torch.autograd.Function):
    """sign(z) forward; straight-through backward passing the gradient where |z| <= 1 (cpu/sign.rs)."""

    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return binarize(z)

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        return grad * (z.abs() <= 1.0)


class BinarizedNet(nn.Module):
    """784-H-H-10: Linear(sign(Wh), no bias) -> BatchNorm (batch statistics) -> sign, and
    Linear -> BatchNorm for the logits. Wh ~ U(-0.05, 0.05), gamma 1, beta 0 (BnnParams::init)."""

    def __init__(self, hidden: int):
        super().__init__()
        sizes = [PIXELS, hidden, hidden, CLASSES]
        self.wh = nn.ParameterList(nn.Parameter(torch.empty(o, i).uniform_(-0.05, 0.05)) for i, o in zip(sizes, sizes[1:]))
        self.bn = nn.ModuleList(nn.BatchNorm1d(o, eps=BN_EPS, track_running_stats=False) for o in sizes[1:])

    def forward(self, x):
        h = x
        last = len(self.wh) - 1
        for l, (wh, bn) in enumerate(zip(self.wh, self.bn)):
            z = bn(h @ BinarizeWeights.apply(wh).t())
            h = z if l == last else SignActivation.apply(z)
        return h


def bnn_workload(hidden: int) -> "Workload":
    batch = 100
    model = BinarizedNet(hidden)
    # Metaplasticity on the hidden weights; BatchNorm's gamma and beta get plain Adam (m = 0).
    opt = MetaplasticAdam(
        [{"params": list(model.wh), "meta": 1.35}, {"params": list(model.bn.parameters()), "meta": 0.0}],
        lr=0.005,
        weight_decay=1e-7,
    )
    x, y = synthetic_batch(batch)
    return Workload(f"bnn-{hidden}", batch, classifier_step(model, opt, x, y))


# ------------------------------------------------------------------------------------------------
# LeNet-5 classic, standard and AMP (model/lenet.rs, cpu/lenet.rs, cpu/amp.rs, cpu/sgd.rs)
# ------------------------------------------------------------------------------------------------

AMP_B = 1.0  # experiments::lenet::DEFAULT_AMP_B
AMP_CLAMP = (0.1, 10.0)  # AmpHyper::STANDARD


def amp_factors(x: torch.Tensor, b: float) -> torch.Tensor:
    """Per-example factors of cpu/amp.rs from a convolution's input `x` ([batch, ...]).

    log-domain weighting l_b = B * E_b / mean(E) with E_b = sum x^2 over the example; normalised
    to mean 1 within the batch (batch * softmax(l)); clamped to [0.1, 10]. All-zero inputs give 1.
    """
    with torch.no_grad():
        energy = x.flatten(1).square().sum(1)
        mean = energy.mean()
        scale = torch.where(mean > 0, b / mean, torch.zeros_like(mean))
        return torch.softmax(scale * energy, 0).mul_(x.shape[0]).clamp_(*AMP_CLAMP)


class AmpConv2d(torch.autograd.Function):
    """A stride-1 convolution whose weight and bias gradients are taken from the output gradient
    with each example scaled by its AMP factor, while the input gradient uses the unscaled one
    (cpu/lenet.rs `backward`).

    Done with the kernel autograd itself calls for a convolution's backward
    (aten::convolution_backward), split in two calls: one for the input gradient from the plain
    output gradient, one for the weight and bias gradients from the scaled one. The extra work
    over the standard rule is one element-wise scaling of the output gradient (and, in the second
    convolution, a second call into the backward kernel), as in the Rust crate.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, factors, padding):
        ctx.save_for_backward(x, weight, factors)
        ctx.padding = padding
        return F.conv2d(x, weight, bias, padding=padding)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, factors = ctx.saved_tensors
        pad = list(ctx.padding)
        conv_args = ([1, 1], pad, [1, 1], False, [0, 0], 1)
        grad_x = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.ops.aten.convolution_backward(grad_out, x, weight, None, *conv_args, [True, False, False])[0]
        scaled = grad_out * factors.view(-1, 1, 1, 1)
        _, grad_w, grad_b = torch.ops.aten.convolution_backward(
            scaled, x, weight, [weight.shape[0]], *conv_args, [False, True, True]
        )
        return grad_x, grad_w, grad_b, None, None


class LeNetClassic(nn.Module):
    """conv 6@5x5 pad 2, ReLU, max-pool, conv 16@5x5, ReLU, max-pool, FC 120 ReLU, FC 84 ReLU,
    FC 10. Glorot-uniform weights, zero biases (LenetParams::init). With `amp_b`, both
    convolutions use the AMP rule with factors from their own input (FactorSource::LayerInput).

    Differs from the Rust crate only in layout: activations are NCHW here, channels-last there,
    so the flattened 400-vector reaching FC 120 is in another order (a relabelling of its inputs).
    """

    def __init__(self, amp_b: float | None = None):
        super().__init__()
        self.amp_b = amp_b
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, CLASSES)
        for layer in (self.conv1, self.conv2, self.fc1, self.fc2, self.fc3):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def conv(self, layer: nn.Conv2d, x):
        if self.amp_b is None:
            return layer(x)
        return AmpConv2d.apply(x, layer.weight, layer.bias, amp_factors(x, self.amp_b), layer.padding)

    def forward(self, x):
        x = x.view(-1, 1, IMAGE_SIDE, IMAGE_SIDE)
        x = F.max_pool2d(F.relu(self.conv(self.conv1, x)), 2)
        x = F.max_pool2d(F.relu(self.conv(self.conv2, x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def lenet_workload(amp: bool) -> "Workload":
    batch = 64
    model = LeNetClassic(AMP_B if amp else None)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x, y = synthetic_batch(batch)
    return Workload(f"lenet-classic-{'amp' if amp else 'standard'}", batch, classifier_step(model, opt, x, y))


# ------------------------------------------------------------------------------------------------
# Differentiable Hebbian plasticity (cpu/plastic.rs) and the two networks built on it
# ------------------------------------------------------------------------------------------------


class PlasticLayer(nn.Module):
    """n -> n layer y = tanh((W + alpha * Hebb) x) with the simple rule
    Hebb <- (1 - eta) Hebb + eta y x^T after every step but the last. One trace per episode of the
    batch, zero at the start of each episode; trained by backpropagation through the episode."""

    def __init__(self, w: torch.Tensor, alpha: torch.Tensor, eta: float = 0.01):
        super().__init__()
        self.w = nn.Parameter(w)
        self.alpha = nn.Parameter(alpha)
        self.eta = nn.Parameter(torch.tensor(eta))

    def episode(self, xs: torch.Tensor) -> torch.Tensor:
        """xs: [T, batch, n] -> ys: [T, batch, n]."""
        steps, batch, n = xs.shape
        hebb = xs.new_zeros(batch, n, n)
        ys = []
        for t in range(steps):
            x = xs[t]
            y = torch.tanh(torch.bmm(self.w + self.alpha * hebb, x.unsqueeze(2)).squeeze(2))
            ys.append(y)
            if t + 1 < steps:
                hebb = (1 - self.eta) * hebb + self.eta * torch.bmm(y.unsqueeze(2), x.unsqueeze(1))
        return torch.stack(ys)


def completion_episodes(gen, bits, patterns, presentations, present, blank, test, gain, batch, balanced):
    """Episodes as experiments/completion.rs draws them: `patterns` random +-1 patterns (exactly
    half -1 when `balanced`), shown `present` steps each followed by `blank` steps, the set
    `presentations` times in a fresh order, then one of them with a random half of its bits zeroed
    for `test` steps; inputs times `gain`. Returns xs [T, batch, bits] and the targets."""
    steps = presentations * patterns * (present + blank) + test
    xs = torch.zeros(steps, batch, bits)
    targets = torch.empty(batch, bits)
    for b in range(batch):
        if balanced:
            half = torch.cat([-torch.ones(bits // 2), torch.ones(bits - bits // 2)])
            pats = torch.stack([half[torch.randperm(bits, generator=gen)] for _ in range(patterns)])
        else:
            pats = torch.randint(0, 2, (patterns, bits), generator=gen).float().mul_(2).sub_(1)
        t = 0
        for _ in range(presentations):
            for k in torch.randperm(patterns, generator=gen).tolist():
                xs[t : t + present, b] = gain * pats[k]
                t += present + blank
        k = int(torch.randint(0, patterns, (1,), generator=gen))
        erased = pats[k].clone()
        erased[torch.randperm(bits, generator=gen)[: bits // 2]] = 0.0
        xs[t : t + test, b] = gain * erased
        targets[b] = pats[k]
    return xs, targets


def completion_workload() -> "Workload":
    """Pattern completion, HebbianConfig::small(plastic = true) at its batch of 8 episodes.

    Episodes as experiments/completion.rs draws them: 3 random +-1 patterns of 50 bits, shown
    3 steps each followed by 2 blank steps, the set twice in a fresh order, then one of them with
    a random half of its bits zeroed for 3 steps; inputs times 20. Loss: MSE of the last output
    against the full pattern. Init as HebbianParams::init.
    """
    bits, patterns, presentations, present, blank, test, gain, batch = 50, 3, 2, 3, 2, 3, 20.0, 8
    gen = torch.Generator().manual_seed(1)
    xs, targets = completion_episodes(gen, bits, patterns, presentations, present, blank, test, gain, batch, balanced=False)
    w_scale = 1.0 / (gain * math.sqrt(bits))
    layer = PlasticLayer(
        torch.empty(bits, bits).uniform_(-w_scale, w_scale),
        torch.empty(bits, bits).uniform_(-w_scale / gain, w_scale / gain),
    )
    opt = torch.optim.Adam(layer.parameters(), lr=3e-4, betas=(0.9, 0.999), eps=1e-8)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(layer.episode(xs)[-1], targets)
        loss.backward()
        opt.step()

    return Workload("completion", batch, step)


class RecurrentPlastic(nn.Module):
    """Miconi's recurrent network, as cpu/recurrent.rs (our [out, in] layout):
    y(t) = tanh((W + alpha * Hebb) y(t-1) + u(t)), y before the first step 0, u(t) the input on
    the first `bits` neurons and the bias on the last; Hebb <- (1 - eta) Hebb + eta y(t) y(t-1)^T
    after every step but the last, one trace per episode."""

    def __init__(self, w: torch.Tensor, alpha: torch.Tensor, bits: int, bias: float, eta: float = 0.01):
        super().__init__()
        self.w = nn.Parameter(w)
        self.alpha = nn.Parameter(alpha)
        self.eta = nn.Parameter(torch.tensor(eta))
        self.bits, self.bias = bits, bias

    def episode(self, xs: torch.Tensor) -> torch.Tensor:
        """xs: [T, batch, bits] -> the state after the last step, [batch, neurons]."""
        steps, batch, bits = xs.shape
        n = self.w.shape[0]
        extra = xs.new_zeros(batch, n - bits)
        extra[:, -1] = self.bias
        y = xs.new_zeros(batch, n)
        hebb = xs.new_zeros(batch, n, n)
        for t in range(steps):
            z = torch.bmm(self.w + self.alpha * hebb, y.unsqueeze(2)).squeeze(2)
            new = torch.tanh(z + torch.cat([xs[t], extra], dim=1))
            if t + 1 < steps:
                hebb = (1 - self.eta) * hebb + self.eta * torch.bmm(new.unsqueeze(2), y.unsqueeze(1))
            y = new
        return y


def completion_recurrent_workload() -> "Workload":
    """Pattern completion with the recurrent network, HebbianConfig::recurrent_small(plastic = true):
    episodes as experiments/completion.rs draws them (patterns exactly half +1, half -1), init as
    HebbianParams::init (W and alpha 0.01 N(0, 1), alpha's diagonal 0)."""
    bits, neurons, patterns, present, blank, test, gain, batch = 50, 51, 2, 3, 1, 6, 20.0, 1
    gen = torch.Generator().manual_seed(1)
    xs, targets = completion_episodes(gen, bits, patterns, 1, present, blank, test, gain, batch, balanced=True)
    alpha = 0.01 * torch.randn(neurons, neurons, generator=gen)
    alpha.fill_diagonal_(0.0)
    net = RecurrentPlastic(0.01 * torch.randn(neurons, neurons, generator=gen), alpha, bits, gain)
    opt = torch.optim.Adam(net.parameters(), lr=3e-4, betas=(0.9, 0.999), eps=1e-8)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(net.episode(xs)[:, :bits], targets)
        loss.backward()
        opt.step()

    return Workload("completion-recurrent", batch, step)


class DenoisingAutoencoder(nn.Module):
    """The Hebbian denoising autoencoder of DenoiseConfig::mnist (plastic), model/hebbian.rs:

        encoder: [conv 8, ReLU, BN, avg-pool] [conv 8, ReLU, BN, avg-pool] [conv 4, ReLU, BN]
        code plastic layer on the flattened 7x7x4 code (196 -> 196, W = I at the start)
        decoder: [convT 8, ReLU, BN, up] [convT 8, ReLU, BN, up] [convT 1] -> logits d
        output plastic layer on avgpool(d) (14x14 = 196 -> 196, W = 0 at the start)
        image = sigmoid(d + up(output plastic layer))

    All (transposed) convolutions 3x3, padding 1; BatchNorm over the batch of episodes at each
    step; nearest-neighbour 2x upsampling. The memory-less stages run step by step, as in
    cpu/denoise.rs; each plastic layer runs over the whole episode.

    Differs from the Rust crate: NCHW here, channels-last there, so the 196-long code vector is
    in another order (a relabelling of the code layer's synapses; W = I stays I); and only the
    last step's image is formed (the Rust forward also forms the earlier steps' images, a sigmoid
    over 8 x 784 values each, which nothing reads).
    """

    def __init__(self, side: int = IMAGE_SIDE, channels: tuple[int, int, int] = (8, 8, 4)):
        super().__init__()
        c1, c2, code = channels
        self.side = side
        self.code_shape = (code, side // 4, side // 4)
        n_code = code * (side // 4) ** 2
        n_out = (side // 2) ** 2

        def bn(c):
            return nn.BatchNorm2d(c, eps=BN_EPS, track_running_stats=False)

        self.enc_conv = nn.ModuleList(nn.Conv2d(i, o, 3, padding=1) for i, o in [(1, c1), (c1, c2), (c2, code)])
        self.enc_bn = nn.ModuleList([bn(c1), bn(c2), bn(code)])
        self.dec_conv = nn.ModuleList(nn.ConvTranspose2d(i, o, 3, padding=1) for i, o in [(code, c2), (c2, c1), (c1, 1)])
        self.dec_bn = nn.ModuleList([bn(c2), bn(c1)])
        for conv in [*self.enc_conv, *self.dec_conv]:
            nn.init.xavier_uniform_(conv.weight)
            nn.init.zeros_(conv.bias)
        self.code = PlasticLayer(torch.eye(n_code), torch.empty(n_code, n_code).uniform_(-0.01, 0.01))
        self.out = PlasticLayer(torch.zeros(n_out, n_out), torch.empty(n_out, n_out).uniform_(-0.01, 0.01))

    def encode(self, x):
        h = x.view(-1, 1, self.side, self.side)
        for i, (conv, bn) in enumerate(zip(self.enc_conv, self.enc_bn)):
            h = bn(F.relu(conv(h)))
            if i < 2:
                h = F.avg_pool2d(h, 2)
        return h.flatten(1)

    def decode(self, code):
        h = code.view(-1, *self.code_shape)
        for conv, bn in zip(self.dec_conv, self.dec_bn):
            h = F.interpolate(bn(F.relu(conv(h))), scale_factor=2, mode="nearest")
        return self.dec_conv[-1](h)

    def forward(self, xs):
        """xs: [T, batch, pixels] -> the last step's reconstructions [batch, pixels]."""
        steps, batch = xs.shape[:2]
        code_y = self.code.episode(torch.stack([self.encode(xs[t]) for t in range(steps)]))
        logits = [self.decode(code_y[t]) for t in range(steps)]
        out_y = self.out.episode(torch.stack([F.avg_pool2d(d, 2).flatten(1) for d in logits]))
        half = self.side // 2
        correction = F.interpolate(out_y[-1].view(batch, 1, half, half), scale_factor=2, mode="nearest")
        return torch.sigmoid(logits[-1] + correction).flatten(1)


def denoise_workload() -> "Workload":
    """The autoencoder's training step at DenoiseSetup::mnist's 8 episodes per batch.

    Episodes as experiments/denoise.rs builds them: 3 images shown 2 steps each, each followed by
    1 zero image, then one of them with Gaussian noise of std 0.5 (10 steps); the loss is the MSE
    of the last reconstruction against the clean image. The images are the bench's synthetic
    pixels, (i % 255) / 255. Adam lr 1e-3 on every parameter (both alphas and etas included).
    """
    images, show, zero, noise, batch = 3, 2, 1, 0.5, 8
    steps = images * (show + zero) + 1
    gen = torch.Generator().manual_seed(1)
    pics, _ = synthetic_batch(batch * images)
    pics = pics.view(batch, images, PIXELS)
    xs = torch.zeros(steps, batch, PIXELS)
    for k in range(images):
        for s in range(show):
            xs[k * (show + zero) + s] = pics[:, k]
    chosen = torch.randint(0, images, (batch,), generator=gen)
    targets = pics[torch.arange(batch), chosen]
    xs[-1] = targets + noise * torch.randn(batch, PIXELS, generator=gen)
    model = DenoisingAutoencoder()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(model(xs), targets)
        loss.backward()
        opt.step()

    return Workload("denoise", batch, step)


# ------------------------------------------------------------------------------------------------
# Timing
# ------------------------------------------------------------------------------------------------


@dataclass
class Workload:
    name: str
    batch: int
    step: Callable[[], None]


def classifier_step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor):
    """One training step of a classifier: softmax cross-entropy (batch mean), backward, update.
    The Rust step also counts the batch's correct predictions (an argmax over 10 logits per
    example); this one computes the loss only."""

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    return step


NETWORKS: dict[str, Callable[[], Workload]] = {
    "bnn-512": lambda: bnn_workload(512),
    "bnn-1024": lambda: bnn_workload(1024),
    "lenet-classic-standard": lambda: lenet_workload(amp=False),
    "lenet-classic-amp": lambda: lenet_workload(amp=True),
    "denoise": denoise_workload,
    "completion": completion_workload,
    "completion-recurrent": completion_recurrent_workload,
}


def measure(work: Workload, warmup: int, reps: int, steps: int) -> list[float]:
    """Milliseconds per step of each repetition, after `warmup` untimed steps."""
    for _ in range(warmup):
        work.step()
    per_rep = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(steps):
            work.step()
        per_rep.append((time.perf_counter() - start) * 1000.0 / steps)
    return per_rep


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions per network (default 5)")
    parser.add_argument("--steps", type=int, default=20, help="training steps per repetition (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before the first repetition (default 3)")
    parser.add_argument("--networks", default=",".join(NETWORKS), help="comma-separated subset of: " + ", ".join(NETWORKS))
    parser.add_argument("--json", type=Path, help="also write the JSON to this file")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.networks.split(",") if n.strip()]
    unknown = [n for n in names if n not in NETWORKS]
    if unknown:
        parser.error(f"unknown network(s) {', '.join(unknown)}; choose from {', '.join(NETWORKS)}")
    if args.threads < 1 or args.reps < 1 or args.steps < 1 or args.warmup < 0:
        parser.error("--threads, --reps and --steps must be at least 1, --warmup at least 0")

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{args.reps} x {args.steps} steps after {args.warmup} warm-up",
        file=sys.stderr,
    )
    runs = []
    for name in names:
        work = NETWORKS[name]()
        per_rep = measure(work, args.warmup, args.reps, args.steps)
        ms = statistics.median(per_rep)
        run = {
            "network": name,
            "backend": "torch-cpu",
            "batch": work.batch,
            "threads": args.threads,
            "examples_per_s": round(work.batch * 1000.0 / ms, 1),
            "ms_per_step": round(ms, 3),
            "ms_per_step_min": round(min(per_rep), 3),
            "ms_per_step_max": round(max(per_rep), 3),
            "dispatches_per_step": None,
        }
        runs.append(run)
        print(
            f"{name:24} batch {work.batch:3}: {ms:8.2f} ms/step (min {min(per_rep):.2f}, max {max(per_rep):.2f}), "
            f"{run['examples_per_s']:9.1f} examples/s",
            file=sys.stderr,
        )
    text = json.dumps({"runs": runs}, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

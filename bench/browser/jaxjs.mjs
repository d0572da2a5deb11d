// The jax-js peer of the page's bench view (src/web/bench.rs, src/experiments/bench.rs): the same
// kinds of network trained by @jax-js/jax in this page, on synthetic in-memory data of the same
// shapes (`x[i] = (i % 255) / 255`, `y[i] = i % 10`), each whole training step (loss, gradients,
// update) one jit-compiled function. Timed as the bench view times: a warm-up step (it compiles),
// then `reps` repetitions of `steps` steps, every step waited for (blockUntilReady on everything
// it returns), the median repetition's milliseconds per step reported.
//
// The networks, as jax-js can express them:
// - lenet-classic-standard: classic LeNet-5 (conv 6@5x5 pad 2, ReLU, max-pool 2; conv 16@5x5, ReLU,
//   max-pool 2; FC 120 ReLU, FC 84 ReLU, FC 10), NCHW, Glorot-uniform weights, zero biases;
//   softmax cross-entropy; SGD lr 0.01 with Nesterov momentum 0.9 in PyTorch's form (src/cpu/sgd.rs):
//   v = mu v + g, w -= lr (g + mu v). Batch 64. The same network and rule as the project's.
// - bnn-512, bnn-1024: NOT a binarized network. A float MLP 784-H-H-10, no biases, batch norm
//   (batch statistics, eps 1e-5, learned gamma and beta) after every linear layer, the logits' too,
//   ReLU between, softmax cross-entropy, plain Adam (lr 0.005, betas 0.9 and 0.999, eps 1e-8, bias
//   corrected as PyTorch does, no weight decay) written here. Batch 100. The project trains sign
//   weights and sign activations with metaplastic Adam; this is the float network of that shape.
//
// The address: backend=wasm|webgpu, networks=a,b, steps=N, reps=R, threads=main|N (wasm only).
// Results go into the table, into window.__results ({network, backend, batch, examples_per_s,
// ms_per_step, ...} per network) and #status gets data-state="done" or "failed" with the message.

const NETWORKS = ['lenet-classic-standard', 'bnn-512', 'bnn-1024'];

const statusEl = document.getElementById('status');
const say = (text) => (statusEl.textContent = text);
window.__results = [];

function fail(message) {
  say(`Failed: ${message}`);
  statusEl.dataset.state = 'failed';
  window.__error = message;
}

function query() {
  const q = new URLSearchParams(location.search);
  const backend = q.get('backend') ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'webgpu') throw new Error(`backend=${backend}: choose wasm or webgpu`);
  const networks = (q.get('networks') ?? NETWORKS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of networks) {
    if (!NETWORKS.includes(n)) throw new Error(`no network '${n}' here (choose from ${NETWORKS.join(', ')})`);
  }
  const count = (key, dflt) => {
    const v = q.get(key);
    if (v === null) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${key}=${v} must be a whole number from 1`);
    return n;
  };
  const threads = q.get('threads');
  if (threads !== null && threads !== 'main' && !(Number.isInteger(Number(threads)) && Number(threads) >= 1)) {
    throw new Error(`threads=${threads}: choose main or a whole number from 1`);
  }
  return { backend, networks, steps: count('steps', 5), reps: count('reps', 3), threads };
}

/** jax-js's wasm backend runs its kernels in a pool of navigator.hardwareConcurrency workers when
 * the page is cross-origin isolated (SharedArrayBuffer), else in the page's thread. */
function pinThreads(threads) {
  if (threads === null) return;
  if (threads === 'main') {
    // What a page that is not cross-origin isolated has: no SharedArrayBuffer, so no pool.
    delete globalThis.SharedArrayBuffer;
  } else {
    const n = Number(threads);
    Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { get: () => n, configurable: true });
  }
}

/** A small deterministic generator (mulberry32), for the initial weights. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function main() {
  const req = query();
  pinThreads(req.backend === 'wasm' ? req.threads : null);
  const jax = await import('./node_modules/@jax-js/jax/dist/index.js');
  const { init, defaultDevice, jit, valueAndGrad, blockUntilReady, tree, lax, nn, numpy: np } = jax;

  say(`Starting jax-js's ${req.backend} backend…`);
  const got = await init(req.backend);
  if (!got.includes(req.backend)) throw new Error(`jax-js could not start its ${req.backend} backend here (it has: ${got.join(', ') || 'none'})`);
  defaultDevice(req.backend);

  const f32 = (data, shape) => np.array(data).reshape(shape);
  const filled = (shape, value) => f32(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value), shape);
  const uniform = (next, shape, bound) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (next() * 2 - 1) * bound;
    return f32(out, shape);
  };
  /** The bench's synthetic batch: images [batch, 784] (or NCHW) and one-hot labels [batch, 10]. */
  const batchOf = (batch, shape) => {
    const x = new Float32Array(batch * 784);
    for (let i = 0; i < x.length; i++) x[i] = (i % 255) / 255;
    const y = new Float32Array(batch * 10);
    for (let i = 0; i < batch; i++) y[i * 10 + (i % 10)] = 1;
    return { x: f32(x, shape), y: f32(y, [batch, 10]) };
  };
  /** Mean softmax cross-entropy of logits z [batch, 10] against one-hot labels. */
  const crossEntropy = (z, y1h, batch) => nn.logSoftmax(z, -1).mul(y1h).sum().mul(-1 / batch);

  // --- LeNet-5, classic, SGD with Nesterov momentum ---------------------------------------------
  function lenet() {
    const batch = 64;
    const LR = 0.01;
    const MU = 0.9;
    const next = rng(1);
    const glorot = (shape, fanIn, fanOut) => uniform(next, shape, Math.sqrt(6 / (fanIn + fanOut)));
    const p = {
      c1w: glorot([6, 1, 5, 5], 25, 150),
      c1b: filled([6, 1, 1], 0),
      c2w: glorot([16, 6, 5, 5], 150, 400),
      c2b: filled([16, 1, 1], 0),
      f1w: glorot([400, 120], 400, 120),
      f1b: filled([120], 0),
      f2w: glorot([120, 84], 120, 84),
      f2b: filled([84], 0),
      f3w: glorot([84, 10], 84, 10),
      f3b: filled([10], 0),
    };
    const v = Object.fromEntries(Object.entries(p).map(([k, a]) => [k, filled(a.shape, 0)]));
    const pool = (h) => lax.reduceWindow(h, np.max, [2, 2], [2, 2]);
    const loss = (p, x, y1h) => {
      let h = lax.convGeneralDilated(x, p.c1w, [1, 1], [[2, 2], [2, 2]]).add(p.c1b);
      h = pool(nn.relu(h)); // [batch, 6, 14, 14]
      h = lax.convGeneralDilated(h, p.c2w, [1, 1], 'VALID').add(p.c2b);
      h = pool(nn.relu(h)); // [batch, 16, 5, 5]
      h = h.reshape([batch, 400]);
      h = nn.relu(np.dot(h, p.f1w).add(p.f1b));
      h = nn.relu(np.dot(h, p.f2w).add(p.f2b));
      return crossEntropy(np.dot(h, p.f3w).add(p.f3b), y1h, batch);
    };
    const step = jit((p, v, x, y1h) => {
      const [value, g] = valueAndGrad(loss)(tree.ref(p), x, y1h);
      const np_ = {};
      const nv = {};
      for (const k of Object.keys(p)) {
        // src/cpu/sgd.rs: v = mu v + g; w -= lr (g + mu v).
        const vk = v[k].mul(MU).add(g[k].ref);
        nv[k] = vk.ref;
        np_[k] = p[k].sub(g[k].add(vk.mul(MU)).mul(LR));
      }
      return [np_, nv, value];
    });
    const { x, y } = batchOf(batch, [batch, 1, 28, 28]);
    let state = [p, v];
    return {
      batch,
      run() {
        const [p1, v1, value] = step(state[0], state[1], x.ref, y.ref);
        state = [p1, v1];
        return [p1, v1, value];
      },
      dispose() {
        tree.dispose([state, x, y]);
        step.dispose();
      },
    };
  }

  // --- a float MLP 784-H-H-10 with batch norm, Adam ---------------------------------------------
  function mlp(hidden) {
    const batch = 100;
    const [LR, B1, B2, EPS, BN_EPS] = [0.005, 0.9, 0.999, 1e-8, 1e-5];
    const sizes = [784, hidden, hidden, 10];
    const next = rng(1);
    const p = {};
    for (let l = 0; l < 3; l++) {
      p[`w${l}`] = uniform(next, [sizes[l], sizes[l + 1]], 0.05);
      p[`g${l}`] = filled([sizes[l + 1]], 1);
      p[`b${l}`] = filled([sizes[l + 1]], 0);
    }
    const zeros = () => Object.fromEntries(Object.entries(p).map(([k, a]) => [k, filled(a.shape, 0)]));
    const m = zeros();
    const v = zeros();
    const batchNorm = (z, gamma, beta) => {
      const c = z.sub(z.ref.mean(0, { keepdims: true }));
      const variance = np.square(c.ref).mean(0, { keepdims: true });
      return c.div(np.sqrt(variance.add(BN_EPS))).mul(gamma).add(beta);
    };
    const loss = (p, x, y1h) => {
      let h = x;
      for (let l = 0; l < 3; l++) {
        const z = batchNorm(np.dot(h, p[`w${l}`]), p[`g${l}`], p[`b${l}`]);
        h = l < 2 ? nn.relu(z) : z;
      }
      return crossEntropy(h, y1h, batch);
    };
    // c1 = lr / (1 - b1^t), c2 = 1 / sqrt(1 - b2^t): PyTorch's bias-corrected Adam,
    // w -= c1 m / (sqrt(v) c2 + eps), with t passed in as data so one compilation serves every step.
    const step = jit((p, m, v, x, y1h, c1, c2) => {
      const [value, g] = valueAndGrad(loss)(tree.ref(p), x, y1h);
      const [np_, nm, nv] = [{}, {}, {}];
      for (const k of Object.keys(p)) {
        const mk = m[k].mul(B1).add(g[k].ref.mul(1 - B1));
        const vk = v[k].mul(B2).add(np.square(g[k]).mul(1 - B2));
        nm[k] = mk.ref;
        nv[k] = vk.ref;
        np_[k] = p[k].sub(mk.mul(c1.ref).div(np.sqrt(vk).mul(c2.ref).add(EPS)));
      }
      c1.dispose();
      c2.dispose();
      return [np_, nm, nv, value];
    });
    const { x, y } = batchOf(batch, [batch, 784]);
    let state = [p, m, v];
    let t = 0;
    return {
      batch,
      run() {
        t += 1;
        const c1 = f32(new Float32Array([LR / (1 - B1 ** t)]), [1]);
        const c2 = f32(new Float32Array([1 / Math.sqrt(1 - B2 ** t)]), [1]);
        const [p1, m1, v1, value] = step(state[0], state[1], state[2], x.ref, y.ref, c1, c2);
        state = [p1, m1, v1];
        return [p1, m1, v1, value];
      },
      dispose() {
        tree.dispose([state, x, y]);
        step.dispose();
      },
    };
  }

  const build = { 'lenet-classic-standard': lenet, 'bnn-512': () => mlp(512), 'bnn-1024': () => mlp(1024) };

  /** One whole step, waited for; the loss is read only when asked. */
  async function oneStep(work, read = false) {
    const out = work.run();
    await blockUntilReady(out);
    const value = out[out.length - 1];
    const loss = read ? (await value.ref.data())[0] : undefined;
    value.dispose();
    return loss;
  }

  const tbody = document.querySelector('#results tbody');
  for (const [i, name] of req.networks.entries()) {
    say(`Timing ${name} on ${req.backend} (${i + 1} of ${req.networks.length}), ${req.steps} steps x ${req.reps} repetitions…`);
    const work = build[name]();
    const t0 = performance.now();
    const first = await oneStep(work, true); // warm-up: compiles the step
    const warmupMs = performance.now() - t0;
    const times = [];
    for (let r = 0; r < req.reps; r++) {
      const start = performance.now();
      for (let s = 0; s < req.steps; s++) await oneStep(work);
      times.push((performance.now() - start) / req.steps);
    }
    const last = await oneStep(work, true);
    work.dispose();
    times.sort((a, b) => a - b);
    const n = times.length;
    const ms = n % 2 ? times[(n - 1) / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
    const run = {
      network: name,
      backend: req.backend,
      batch: work.batch,
      threads: req.backend === 'wasm' ? (req.threads ?? String(navigator.hardwareConcurrency)) : null,
      examples_per_s: (work.batch * 1000) / ms,
      ms_per_step: ms,
      ms_per_step_min: times[0],
      ms_per_step_max: times[n - 1],
      warmup_ms: warmupMs,
      loss_first: first,
      loss_last: last,
    };
    if (!Number.isFinite(last)) throw new Error(`${name}: the loss is ${last} after ${2 + req.steps * req.reps} steps`);
    window.__results.push(run);
    const tr = document.createElement('tr');
    tr.dataset.network = name;
    tr.dataset.backend = req.backend;
    tr.dataset.examplesPerS = String(run.examples_per_s);
    const cells = [name, req.backend, String(run.batch), ms.toFixed(2), `${times[0].toFixed(2)}..${times[n - 1].toFixed(2)}`, run.examples_per_s.toFixed(0), last.toFixed(4)];
    cells.forEach((text, j) => {
      const cell = document.createElement(j === 0 ? 'th' : 'td');
      if (j === 0) cell.scope = 'row';
      cell.textContent = text;
      tr.append(cell);
    });
    tbody.append(tr);
  }
  say(`Done: ${req.networks.length} network(s) on jax-js ${req.backend}, ${req.steps} steps x ${req.reps} repetitions.`);
  statusEl.dataset.state = 'done';
}

main().catch((e) => fail(String(e?.stack || e)));

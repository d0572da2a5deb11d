// The page's bench view against jax-js, in the same headless Chromium: for each backend both have
// (wasm on the CPU, then WebGPU, SwiftShader here), this project's bench view
// (`?view=bench&bench.compute=cpu|webgpu`) times the networks, then the jax-js peer page
// (bench/browser/jaxjs.html) times its versions of them, one after the other, never together.
// Prints a Markdown table (network, backend, this project ex/s, jax-js ex/s, ratio this / jax-js)
// with the date, the Chromium version and the WebGPU adapter above it, and writes the figures to
// bench/out/browser.json. Not part of the tests.
//
//   node bench/browser.mjs [--steps N] [--reps R] [--networks a,b] [--backends wasm,webgpu]
//                          [--jax-threads main|N] [--profile]
//
// Under the table, per network on WebGPU, the kernel each dense product ran (timed against the
// others on the adapter, `gpu::matmul::tune`), and with --profile each kernel of one training
// step timed alone on the adapter (the bench view's `bench.profile=1`), summed by kernel.
//
// Needs the release build in dist/ (`trunk build --release --offline`) and installs @jax-js/jax
// into bench/browser/node_modules first if it is missing (bench/browser/setup.sh).
//
// Defaults: on wasm 10 steps x 3 repetitions, on WebGPU 2 x 2 (a LeNet-5 step takes seconds on
// SwiftShader); --steps and --reps set both. --jax-threads: jax-js's wasm backend runs its kernels
// in a pool of navigator.hardwareConcurrency workers on a cross-origin isolated page; the default
// here is 1, since the bench view's wasm rows are one thread (`main` runs jax-js's kernels in the
// page's own thread, a number N in a pool of N workers).

import { createServer } from 'node:http';
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MIME, launchBrowser } from '../tests/e2e/helpers.mjs';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const DIST = join(ROOT, 'dist');
const PEER = join(ROOT, 'bench', 'browser');
const OUT = join(ROOT, 'bench', 'out', 'browser.json');
const NETWORKS = ['lenet-classic-standard', 'bnn-512', 'bnn-1024'];
const BACKENDS = {
  wasm: { compute: 'cpu', ours: 'wasm-cpu', steps: 10, reps: 3 },
  webgpu: { compute: 'webgpu', ours: 'webgpu', steps: 2, reps: 2 },
};
/** How long one page may take to time its networks. */
const PAGE_TIMEOUT_MS = 8 * 60_000;

function usage(message) {
  if (message) console.error(`bench/browser.mjs: ${message}`);
  console.error('usage: node bench/browser.mjs [--steps N] [--reps R] [--networks a,b] [--backends wasm,webgpu] [--jax-threads main|N] [--profile]');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { steps: null, reps: null, networks: NETWORKS, backends: Object.keys(BACKENDS), jaxThreads: '1', profile: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) usage(`${flag} needs a value`);
      return v;
    };
    const count = (lo, hi) => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < lo || n > hi) usage(`${flag} ${v}: a whole number from ${lo} to ${hi}`);
      return n;
    };
    const list = (allowed) => {
      const names = value().split(',').map((s) => s.trim()).filter(Boolean);
      for (const n of names) if (!allowed.includes(n)) usage(`${flag}: no '${n}' (choose from ${allowed.join(', ')})`);
      if (!names.length) usage(`${flag}: name at least one`);
      return [...new Set(names)];
    };
    switch (flag) {
      case '--steps': opts.steps = count(1, 200); break;
      case '--reps': opts.reps = count(1, 20); break;
      case '--networks': opts.networks = list(NETWORKS); break;
      case '--backends': opts.backends = list(Object.keys(BACKENDS)); break;
      case '--jax-threads': {
        const v = value();
        if (v !== 'main' && !(Number.isInteger(Number(v)) && Number(v) >= 1)) usage(`--jax-threads ${v}: main or a whole number from 1`);
        opts.jaxThreads = v;
        break;
      }
      case '--profile': opts.profile = true; break;
      case '-h': case '--help': usage();
      default: usage(`unknown argument ${argv[i]}`);
    }
  }
  return opts;
}

/** One static server for two roots: /jaxjs/... from bench/browser/, everything else from dist/,
 * cross-origin isolated (COOP and COEP) as `trunk serve` and the e2e tests' server serve the app. */
async function serveTwo() {
  const server = createServer((req, res) => {
    const send = (status, body) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');
    let path;
    try {
      path = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
    } catch {
      return send(400, 'bad request\n');
    }
    let root = DIST;
    if (path === '/jaxjs' || path.startsWith('/jaxjs/')) {
      root = PEER;
      path = path.slice('/jaxjs'.length) || '/';
    }
    if (path.endsWith('/')) path += 'index.html';
    const file = normalize(join(root, path));
    if (!file.startsWith(root + sep)) return send(403, 'forbidden\n');
    let stat;
    try {
      stat = statSync(file);
    } catch {
      return send(404, 'not found\n');
    }
    if (!stat.isFile()) return send(404, 'not found\n');
    res.writeHead(200, {
      'Content-Type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': String(stat.size),
      'Cache-Control': 'no-store',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).on('error', () => res.destroy()).pipe(res);
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    close: () => new Promise((ok) => {
      server.closeAllConnections?.();
      server.close(() => ok());
    }),
  };
}

/** Opens `url` in a fresh context, waits for `selector`'s data-state to be done or failed. */
async function runPage(browser, url, selector, read) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e?.stack || e)));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  try {
    await page.goto(url);
    await page.waitForSelector(`${selector}[data-state="done"], ${selector}[data-state="failed"]`, { timeout: PAGE_TIMEOUT_MS, state: 'attached' });
    const state = await page.getAttribute(selector, 'data-state');
    if (state !== 'done') {
      const text = (await page.textContent(selector.startsWith('#bench-view') ? '#bench-status' : selector))?.trim();
      throw new Error(`${url}: ${text || 'failed'}${errors.length ? `\n  page errors: ${errors.join('\n  ')}` : ''}`);
    }
    return await read(page);
  } catch (e) {
    if (errors.length && !String(e.message).includes('page errors')) e.message += `\n  page errors: ${errors.join('\n  ')}`;
    throw e;
  } finally {
    await context.close();
  }
}

const fmt = (v) => (v == null ? '—' : Math.round(v).toLocaleString('en-US'));
const fmtMs = (v) => (v == null || !Number.isFinite(v) ? '—' : v.toFixed(2));

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (!existsSync(join(DIST, 'index.html'))) {
    console.error(`bench/browser.mjs: ${join(DIST, 'index.html')} is missing: run trunk build --release --offline first`);
    process.exit(1);
  }
  const setup = spawnSync('bash', [join(PEER, 'setup.sh')], { stdio: 'inherit' });
  if (setup.status !== 0) {
    console.error('bench/browser.mjs: bench/browser/setup.sh failed (it installs @jax-js/jax from the npm registry)');
    process.exit(1);
  }

  const server = await serveTwo();
  const browser = await launchBrowser({ webgpu: true });
  const runs = [];
  const failures = [];
  let adapter = null;
  try {
    const chromium = browser.version();
    {
      const context = await browser.newContext();
      const page = await context.newPage();
      // Any page of this origin (a 404 will do): 127.0.0.1 is a secure context, so it has navigator.gpu.
      await page.goto(`${server.url}jaxjs/adapter`);
      adapter = await page.evaluate(async () => {
        if (!navigator.gpu) return null;
        const a = await navigator.gpu.requestAdapter();
        if (!a) return null;
        const i = a.info ?? {};
        return { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, isFallbackAdapter: a.isFallbackAdapter ?? i.isFallbackAdapter };
      });
      await context.close();
    }
    const nets = opts.networks.join(',');
    for (const name of opts.backends) {
      const b = BACKENDS[name];
      const steps = opts.steps ?? b.steps;
      const reps = opts.reps ?? b.reps;
      console.error(`== ${name}: the bench view (${nets}, ${steps} steps x ${reps} repetitions)`);
      const t0 = Date.now();
      try {
        const rows = await runPage(
          browser,
          `${server.url}?view=bench&bench.networks=${nets}&bench.steps=${steps}&bench.reps=${reps}&bench.compute=${b.compute}${opts.profile && name === 'webgpu' ? '&bench.profile=1' : ''}`,
          '#bench-view',
          async (page) => ({
            status: await page.textContent('#bench-status'),
            rows: await page.$$eval('#bench-table tbody tr', (trs) => trs.map((tr) => ({
              network: tr.dataset.network,
              backend: tr.dataset.backend,
              batch: Number(tr.children[2]?.textContent),
              examples_per_s: Number(tr.dataset.examplesPerS),
              ms_per_step: Number(tr.children[4]?.textContent),
            }))),
            details: await page.$$eval('#bench-kernels li', (lis) => lis.map((li) => ({
              network: li.dataset.network,
              backend: li.dataset.backend,
              ...JSON.parse(li.dataset.detail || '{}'),
            }))),
          }),
        );
        const mine = rows.rows.filter((r) => r.backend === b.ours);
        if (!mine.length) throw new Error(`the bench view timed nothing on ${b.ours}: ${rows.status}`);
        for (const r of mine) {
          const detail = rows.details.find((d) => d.network === r.network && d.backend === r.backend);
          runs.push({ side: 'metaplastic', steps, reps, ...r, ...(detail ? { matmul: detail.matmul, kernels: detail.kernels, empty_submit_ms: detail.empty_submit_ms } : {}), page_backend: r.backend, backend: name });
        }
        console.error(`   ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      } catch (e) {
        failures.push(`metaplastic on ${name}: ${e.message}`);
        console.error(`   failed: ${e.message}`);
      }
      const threads = name === 'wasm' ? `&threads=${opts.jaxThreads}` : '';
      console.error(`== ${name}: jax-js (${nets}, ${steps} steps x ${reps} repetitions${name === 'wasm' ? `, threads ${opts.jaxThreads}` : ''})`);
      const t1 = Date.now();
      try {
        const rows = await runPage(
          browser,
          `${server.url}jaxjs/jaxjs.html?backend=${name}&networks=${nets}&steps=${steps}&reps=${reps}${threads}`,
          '#status',
          (page) => page.evaluate(() => window.__results),
        );
        for (const r of rows) runs.push({ side: 'jax-js', steps, reps, ...r });
        console.error(`   ${((Date.now() - t1) / 1000).toFixed(0)} s`);
      } catch (e) {
        failures.push(`jax-js on ${name}: ${e.message}`);
        console.error(`   failed: ${e.message}`);
      }
    }

    const date = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
    const adapterText = adapter
      ? [adapter.vendor, adapter.architecture, adapter.device, adapter.description].filter(Boolean).join(' / ') + (adapter.isFallbackAdapter ? ' (fallback adapter)' : '')
      : 'none (navigator.gpu gave no adapter)';
    const jaxVersion = JSON.parse(readFileSync(join(PEER, 'node_modules/@jax-js/jax/package.json'), 'utf8')).version;
    console.log(`Date: ${date}. Chromium ${chromium} (headless). WebGPU adapter: ${adapterText}. jax-js ${jaxVersion}.`);
    console.log(`wasm: the bench view on one thread in a worker; jax-js with threads=${opts.jaxThreads}. Steps x repetitions: ${opts.backends.map((n) => `${n} ${opts.steps ?? BACKENDS[n].steps} x ${opts.reps ?? BACKENDS[n].reps}`).join(', ')}.`);
    console.log();
    console.log('| network | backend | this project ex/s | jax-js ex/s | ratio (this / jax-js) |');
    console.log('| --- | --- | ---: | ---: | ---: |');
    for (const name of opts.backends) {
      for (const net of opts.networks) {
        const a = runs.find((r) => r.side === 'metaplastic' && r.backend === name && r.network === net);
        const j = runs.find((r) => r.side === 'jax-js' && r.backend === name && r.network === net);
        const ratio = a && j && j.examples_per_s > 0 ? (a.examples_per_s / j.examples_per_s).toFixed(2) : '—';
        console.log(`| ${net} | ${name} | ${fmt(a?.examples_per_s)} | ${fmt(j?.examples_per_s)} | ${ratio} |`);
      }
    }
    console.log();
    console.log('bnn-512 and bnn-1024: this project trains the binarized network (sign weights and activations, metaplastic Adam); jax-js trains a float MLP of the same shape with batch norm, ReLU and Adam, not a binarized one.');
    for (const r of runs.filter((r) => r.side === 'metaplastic' && (r.matmul?.length || r.kernels?.length))) {
      console.log();
      console.log(`${r.network} on ${r.backend}, this project's kernels:`);
      for (const m of r.matmul ?? []) console.log(`- matrix product ${m.line}`);
      if (r.kernels?.length) {
        const total = r.kernels.reduce((s, k) => s + k.ms, 0);
        console.log(`- each kernel of one step run alone (a submit and a wait each; an empty one took ${fmtMs(r.empty_submit_ms)} ms):`);
        console.log();
        console.log('| kernel | dispatches | ms | share |');
        console.log('| --- | ---: | ---: | ---: |');
        for (const k of r.kernels) console.log(`| ${k.kernel} | ${k.dispatches} | ${fmtMs(k.ms)} | ${((100 * k.ms) / total).toFixed(0)}% |`);
        console.log(`| all | ${r.kernels.reduce((s, k) => s + k.dispatches, 0)} | ${fmtMs(total)} | |`);
      }
    }
    for (const f of failures) console.log(`\nFailed: ${f}`);

    mkdirSync(join(ROOT, 'bench', 'out'), { recursive: true });
    writeFileSync(
      OUT,
      JSON.stringify({ date, chromium, adapter, jax_js: jaxVersion, jax_threads: opts.jaxThreads, options: { steps: opts.steps, reps: opts.reps, networks: opts.networks, backends: opts.backends }, runs, failures }, null, 2) + '\n',
    );
    console.error(`(written: ${OUT})`);
  } finally {
    await browser.close();
    await server.close();
  }
  if (failures.length) process.exit(1);
}

main().catch((e) => {
  console.error(`bench/browser.mjs: ${e?.stack || e}`);
  process.exit(1);
});

// The page's memory as the operating system sees it: headless Chromium opens the built app
// (dist/), both data sets load, one demo trains in its workers, and every few seconds the
// proportional set size (PSS: shared pages split between the processes sharing them) of each
// Chromium process is read from /proc. Prints the peak per kind of process and in all.
//
//   node bench/memory.mjs [--demo bnn|lenet|hebbian|none|blank] [--seconds 30] [--webgpu]
//
// `--demo none` measures the page at rest with both data sets loaded (no workers); `--demo
// blank` measures Chromium with an empty page (about:blank), the part of every figure that is not
// the page's. Beside the
// processes it prints the size of each WebAssembly memory (the page's and each worker's), read at
// the end: a wasm memory only grows, so that is its peak.
// The renderer process holds the page and its training workers (dedicated workers live in their
// page's process); the GPU process holds what WebGPU allocates. Linux only (/proc).

import { readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { serveStatic, requireDist, launchBrowser, openApp, waitForDataState } from '../tests/e2e/helpers.mjs';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const demo = flag('demo', 'bnn');
const seconds = Number(flag('seconds', '30'));
const webgpu = args.includes('--webgpu');
const links = {
  // Demo 1's largest allowed network on the CPU path: the heaviest workers the page can start.
  bnn: '?bnn.experiment=permuted&bnn.hidden=1024&bnn.compute=cpu&run=bnn',
  lenet: `?lenet.compute=${webgpu ? 'webgpu' : 'cpu'}&run=lenet`,
  hebbian: `?hebbian.task=denoise&hebbian.compute=${webgpu ? 'webgpu' : 'cpu'}&run=hebbian`,
  none: '',
  blank: '',
};
if (!(demo in links) || !(seconds > 0)) {
  console.error('usage: node bench/memory.mjs [--demo bnn|lenet|hebbian|none|blank] [--seconds 30] [--webgpu]');
  process.exit(2);
}

/** Every process below `root` (its children, theirs, ...), with its command line. */
function descendants(root) {
  const parent = new Map();
  const cmd = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name in parentheses may hold spaces: the fields after it are fixed.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(name), ppid);
      cmd.set(Number(name), readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' '));
    } catch {
      // A process that ended while being read.
    }
  }
  const found = [root];
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (found.includes(ppid) && !found.includes(pid)) {
        found.push(pid);
        grew = true;
      }
    }
  }
  return found.map((pid) => ({ pid, cmd: cmd.get(pid) ?? '' }));
}

function pssMiB(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = Number(/^Pss:\s+(\d+) kB/m.exec(text)?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return 0;
  }
}

function kind(cmd) {
  const type = /--type=([a-z-]+)/.exec(cmd)?.[1];
  if (!type) return 'browser';
  if (type === 'renderer') return 'renderer (page + workers)';
  if (type === 'gpu-process') return 'gpu';
  return type;
}

const server = await serveStatic(requireDist());
// gc() in the page and the workers: the figure after a collection is what the page keeps.
const browser = await launchBrowser({ webgpu, args: ['--js-flags=--expose-gc'] });
try {
  // Playwright starts Chromium as a child of this node process.
  const root = process.pid;
  // trunk's start event carries the page's wasm exports (and so its memory).
  const setup = (p) => p.addInitScript(() => addEventListener('TrunkApplicationStarted', (e) => { window.wasmExports = e.detail.wasm; }));
  let page;
  if (demo === 'blank') {
    // Chromium's own share: the same browser with an empty page.
    page = await (await browser.newContext()).newPage();
    await page.goto('about:blank');
  } else {
    ({ page } = await openApp(browser, `${server.url}${links[demo]}`, { setup }));
    await waitForDataState(page, 'mnist', 'done');
    await waitForDataState(page, 'fashion', 'done');
  }
  const peak = new Map();
  let peakTotal = 0;
  const prefix = demo === 'hebbian' ? 'hebb' : demo;
  for (let t = 0; t < seconds; t += 2) {
    await sleep(2000);
    let total = 0;
    const now = new Map();
    for (const { pid, cmd } of descendants(root).filter((p) => /chrom/.test(p.cmd))) {
      const k = kind(cmd);
      const mib = pssMiB(pid);
      now.set(k, (now.get(k) ?? 0) + mib);
      total += mib;
    }
    for (const [k, v] of now) peak.set(k, Math.max(peak.get(k) ?? 0, v));
    peakTotal = Math.max(peakTotal, total);
  }
  // Then a full garbage collection everywhere (downloads and messages leave buffers behind
  // until the next one), and the same processes again.
  await page.evaluate(() => window.gc?.());
  for (const worker of page.workers()) await worker.evaluate(() => self.gc?.()).catch(() => {});
  await sleep(1500);
  const after = new Map();
  let afterTotal = 0;
  for (const { pid, cmd } of descendants(root).filter((p) => /chrom/.test(p.cmd))) {
    const k = kind(cmd);
    const v = pssMiB(pid);
    after.set(k, (after.get(k) ?? 0) + v);
    afterTotal += v;
  }
  const mib = (bytes) => (bytes / 2 ** 20).toFixed(0);
  const memories = [`page ${mib(await page.evaluate(() => window.wasmExports?.memory.buffer.byteLength ?? 0))}`];
  for (const worker of page.workers()) {
    // Training workers only (static/training_worker.js keeps its module's exports).
    const bytes = await worker.evaluate(() => self.wasmExports?.memory.buffer.byteLength ?? -1).catch(() => -1);
    if (bytes >= 0) memories.push(`worker ${mib(bytes)}`);
  }
  if (demo === 'blank') {
    console.log(`# memory of the same Chromium with about:blank for ${seconds} s: its own share of every figure`);
  } else if (demo === 'none') {
    console.log(`# memory of the page at rest for ${seconds} s (${webgpu ? 'WebGPU on' : 'WebGPU off'}), both data sets loaded`);
  } else {
    const status = await page.textContent(`#${prefix}-status`);
    console.log(`# memory while demo ${demo} trained for ${seconds} s (${webgpu ? 'WebGPU on' : 'WebGPU off'}), both data sets loaded`);
    console.log(`# status: ${status}`);
  }
  console.log(`# WebAssembly memories (MiB): ${memories.join(', ')}`);
  console.log('| process | peak PSS (MiB) | after a garbage collection |');
  console.log('| --- | --- | --- |');
  for (const [k, v] of [...peak].sort((a, b) => b[1] - a[1])) console.log(`| ${k} | ${v.toFixed(0)} | ${(after.get(k) ?? 0).toFixed(0)} |`);
  console.log(`| all Chromium processes | ${peakTotal.toFixed(0)} | ${afterTotal.toFixed(0)} |`);
} finally {
  await browser.close();
  await server.close();
}

// The page's memory as the operating system sees it: headless Chromium opens the built app
// (dist/), both data sets load, one demo trains in its workers, and every few seconds the
// proportional set size (PSS: shared pages split between the processes sharing them) and the
// private memory footprint (below) of each Chromium process are read from /proc. Prints the peak
// of both per kind of process and in all, and again after a garbage collection.
//
//   node bench/memory.mjs [--demo bnn|bnn-ewc|bnn-widest|bnn-default|lenet|lenet-authors|hebbian|none|blank] [--seconds 30] [--webgpu] [--scale 1]
//
// `--demo none` measures the page at rest with both data sets loaded (no workers); `--demo
// blank` measures Chromium with an empty page (about:blank), the part of every figure that is not
// the page's. Beside the
// processes it prints the size of each WebAssembly memory (the page's and each worker's), read at
// the end: a wasm memory only grows, so that is its peak.
// The renderer process holds the page and its training workers (dedicated workers live in their
// page's process); the GPU process holds what WebGPU allocates. Linux only (/proc).
//
// Private memory footprint: the figure Chromium itself reports for a process (memory-infra's
// "private_footprint_kb"; the tab's memory usage in Chromium's TabResourceUsageCollector and the
// Task Manager's memory footprint are that figure * 1024). On Linux Chromium computes it as
// resident anonymous memory plus swapped-out memory, RssAnon + VmSwap:
// CalculatePrivateFootprintKb() in Chromium's
// services/resource_coordinator/memory_instrumentation/queued_request_dispatcher.cc
// (coordinator_impl.cc in older versions), rationale in https://crbug.com/707019; the anonymous
// part is filled in by services/resource_coordinator/public/cpp/memory_instrumentation/
// os_metrics_linux.cc (resident minus shared pages of /proc/PID/statm, which is RssAnon). Here it
// is read as RssAnon + VmSwap from /proc/PID/status. Unlike PSS it leaves out file-backed pages
// (Chromium's own code and fonts, shared with the other processes) and shared memory (RssShmem),
// and does not split anything between processes.
//
// Last, for the page itself (not `blank`): its V8 heap (main thread, Chrome DevTools Protocol
// Runtime.getHeapUsage) and the backing stores of its canvases (width * height * 4 bytes each).

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
// The screen's devicePixelRatio: charts get that many backing pixels per CSS pixel each way.
const scale = Number(flag('scale', '1'));
const links = {
  // Demo 1's largest allowed network on the CPU path: the heaviest workers the page can start.
  bnn: '?bnn.experiment=permuted&bnn.hidden=1024&bnn.compute=cpu&run=bnn',
  // The guided path's "metaplasticity against EWC" step: three networks of 1,024 units.
  'bnn-ewc': '?bnn.experiment=permuted&bnn.hidden=1024&bnn.meta=1.35&bnn.ewc=true&bnn.compute=cpu&run=bnn',
  // Demo 1 at the widest the form allows with every learner it offers: five networks of 4,096.
  'bnn-widest': '?bnn.experiment=permuted&bnn.hidden=4096&bnn.meta=0.5,1.35,6&bnn.ewc=true&bnn.compute=cpu&run=bnn',
  // Demo 1 as the page opens (its classroom defaults).
  'bnn-default': '?bnn.compute=cpu&run=bnn',
  lenet: `?lenet.compute=${webgpu ? 'webgpu' : 'cpu'}&run=lenet`,
  // Demo 2's larger network (32 and 48 filters, batch norm, dropout).
  'lenet-authors': `?lenet.arch=authors&lenet.compute=${webgpu ? 'webgpu' : 'cpu'}&run=lenet`,
  hebbian: `?hebbian.task=denoise&hebbian.compute=${webgpu ? 'webgpu' : 'cpu'}&run=hebbian`,
  none: '',
  blank: '',
};
if (!(demo in links) || !(seconds > 0) || !(scale > 0)) {
  console.error('usage: node bench/memory.mjs [--demo bnn|bnn-ewc|bnn-widest|bnn-default|lenet|lenet-authors|hebbian|none|blank] [--seconds 30] [--webgpu] [--scale 1]');
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

/** Chromium's private memory footprint of a process in MiB: RssAnon + VmSwap (see above). */
function footprintMiB(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
    return (kb('RssAnon') + kb('VmSwap')) / 1024;
  } catch {
    return 0;
  }
}

/** PSS and private footprint (MiB) per kind of Chromium process, and in all. */
function measure(root) {
  const pss = new Map();
  const footprint = new Map();
  const count = new Map();
  const renderers = new Map(); // pid -> [PSS, private footprint], each renderer process apart
  let pssTotal = 0;
  let footprintTotal = 0;
  for (const { pid, cmd } of descendants(root).filter((p) => /chrom/.test(p.cmd))) {
    const k = kind(cmd);
    const a = pssMiB(pid);
    const b = footprintMiB(pid);
    count.set(k, (count.get(k) ?? 0) + 1);
    pss.set(k, (pss.get(k) ?? 0) + a);
    footprint.set(k, (footprint.get(k) ?? 0) + b);
    if (k.startsWith('renderer')) renderers.set(pid, [a, b]);
    pssTotal += a;
    footprintTotal += b;
  }
  return { pss, footprint, count, renderers, pssTotal, footprintTotal };
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
// ForceEagerMeasureMemory: measureUserAgentSpecificMemory() answers at once, not at the next
// natural collection.
const browser = await launchBrowser({ webgpu, args: ['--js-flags=--expose-gc', '--enable-blink-features=ForceEagerMeasureMemory'] });
try {
  // Playwright starts Chromium as a child of this node process.
  const root = process.pid;
  // trunk's start event carries the page's wasm exports (and so its memory).
  const setup = (p) => p.addInitScript(() => addEventListener('TrunkApplicationStarted', (e) => { window.wasmExports = e.detail.wasm; }));
  let page;
  if (demo === 'blank') {
    // Chromium's own share: the same browser with an empty page.
    page = await (await browser.newContext({ deviceScaleFactor: scale })).newPage();
    await page.goto('about:blank');
  } else {
    ({ page } = await openApp(browser, `${server.url}${links[demo]}`, { setup, contextOptions: { deviceScaleFactor: scale } }));
    await waitForDataState(page, 'mnist', 'done');
    await waitForDataState(page, 'fashion', 'done');
  }
  const peak = new Map();
  const peakFootprint = new Map();
  let peakTotal = 0;
  let peakFootprintTotal = 0;
  const peakRenderers = new Map();
  const prefix = { hebbian: 'hebb', 'bnn-default': 'bnn', 'bnn-ewc': 'bnn', 'bnn-widest': 'bnn', 'lenet-authors': 'lenet' }[demo] ?? demo;
  for (let t = 0; t < seconds; t += 2) {
    await sleep(2000);
    const now = measure(root);
    for (const [k, v] of now.pss) peak.set(k, Math.max(peak.get(k) ?? 0, v));
    for (const [k, v] of now.footprint) peakFootprint.set(k, Math.max(peakFootprint.get(k) ?? 0, v));
    peakTotal = Math.max(peakTotal, now.pssTotal);
    peakFootprintTotal = Math.max(peakFootprintTotal, now.footprintTotal);
    for (const [pid, [a, b]] of now.renderers) {
      const [pa, pb] = peakRenderers.get(pid) ?? [0, 0];
      peakRenderers.set(pid, [Math.max(pa, a), Math.max(pb, b)]);
    }
  }
  // Then a full garbage collection everywhere (downloads and messages leave buffers behind
  // until the next one), and the same processes again.
  await page.evaluate(() => window.gc?.());
  for (const worker of page.workers()) await worker.evaluate(() => self.gc?.()).catch(() => {});
  await sleep(1500);
  const { pss: after, footprint: afterFootprint, count, renderers, pssTotal: afterTotal, footprintTotal: afterFootprintTotal } = measure(root);
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
    console.log(`# memory of the page at rest for ${seconds} s (${webgpu ? 'WebGPU on' : 'WebGPU off'}, devicePixelRatio ${scale}), both data sets loaded`);
  } else {
    const status = await page.textContent(`#${prefix}-status`);
    console.log(`# memory while demo ${demo} trained for ${seconds} s (${webgpu ? 'WebGPU on' : 'WebGPU off'}, devicePixelRatio ${scale}), both data sets loaded`);
    console.log(`# status: ${status}`);
  }
  console.log(`# WebAssembly memories (MiB): ${memories.join(', ')}`);
  console.log(`# Chromium processes at the end: ${[...count].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  // Chromium keeps renderers besides the page's (a spare one for the next navigation, ...): each
  // apart, largest first; the page's own is the largest once it has loaded anything.
  const each = [...renderers].sort((a, b) => b[1][1] - a[1][1]).map(([pid, [a, b]]) => {
    const [pa, pb] = peakRenderers.get(pid) ?? [a, b];
    return `${pa.toFixed(0)} / ${a.toFixed(0)} PSS, ${pb.toFixed(0)} / ${b.toFixed(0)} private`;
  });
  console.log(`# each renderer process (MiB, peak / after a garbage collection): ${each.join('; ')}`);
  if (demo !== 'blank') {
    // Where the page's own memory goes, read after the collection: the main thread's V8 heap and
    // the ArrayBuffer backing stores outside it (Chrome DevTools Protocol Runtime.getHeapUsage),
    // the canvases' backing stores at most (width * height * 4 each: one never drawn has none),
    // and the browser's own attribution, performance.measureUserAgentSpecificMemory() (the page
    // is cross-origin isolated here; its "JavaScript" includes ArrayBuffers and wasm memories).
    const cdp = await page.context().newCDPSession(page);
    const heap = await cdp.send('Runtime.getHeapUsage');
    const canvases = await page.evaluate(() => [...document.querySelectorAll('canvas')].map((c) => c.width * c.height * 4));
    const canvasBytes = canvases.reduce((a, b) => a + b, 0);
    console.log(`# page main thread: V8 heap used ${mib(heap.usedSize)} of ${mib(heap.totalSize)} MiB, ` +
      `ArrayBuffer backing stores ${mib(heap.backingStorageSize ?? 0)} MiB; ` +
      `${canvases.length} canvases, backing stores at most ${(canvasBytes / 2 ** 20).toFixed(1)} MiB`);
    const measured = await page.evaluate(() => Promise.race([
      performance.measureUserAgentSpecificMemory?.().then((r) => r.breakdown
        .filter((b) => b.bytes > 0)
        .map((b) => ({ bytes: b.bytes, what: `${b.types.join('+') || 'other'}${b.attribution.length ? ` (${[...new Set(b.attribution.map((a) => a.scope))].join(', ')})` : ''}` }))),
      new Promise((resolve) => setTimeout(() => resolve(null), 30_000)),
    ]).catch((e) => String(e)));
    if (Array.isArray(measured)) {
      console.log(`# measureUserAgentSpecificMemory (MiB): ${measured.sort((a, b) => b.bytes - a.bytes).map((b) => `${b.what} ${(b.bytes / 2 ** 20).toFixed(1)}`).join(', ')}`);
    } else {
      console.log(`# measureUserAgentSpecificMemory: ${measured ?? 'no answer in 30 s'}`);
    }
  }
  const fmt = (v) => (v ?? 0).toFixed(0);
  console.log('| process | peak PSS (MiB) | after a garbage collection | peak private footprint (MiB) | after a garbage collection |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const [k, v] of [...peak].sort((a, b) => b[1] - a[1])) {
    console.log(`| ${k} | ${fmt(v)} | ${fmt(after.get(k))} | ${fmt(peakFootprint.get(k))} | ${fmt(afterFootprint.get(k))} |`);
  }
  console.log(`| all Chromium processes | ${fmt(peakTotal)} | ${fmt(afterTotal)} | ${fmt(peakFootprintTotal)} | ${fmt(afterFootprintTotal)} |`);
} finally {
  await browser.close();
  await server.close();
}

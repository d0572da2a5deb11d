// The page's memory as the operating system sees it: headless Chromium opens the built app
// (dist/), both data sets load, one demo trains in its workers, and every few seconds the
// proportional set size (PSS: shared pages split between the processes sharing them) of each
// Chromium process is read from /proc. Prints the peak per kind of process and in all.
//
//   node bench/memory.mjs [--demo bnn|lenet|hebbian] [--seconds 30] [--webgpu]
//
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
};
if (!links[demo] || !(seconds > 0)) {
  console.error('usage: node bench/memory.mjs [--demo bnn|lenet|hebbian] [--seconds 30] [--webgpu]');
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
const browser = await launchBrowser({ webgpu });
try {
  // Playwright starts Chromium as a child of this node process.
  const root = process.pid;
  const { page } = await openApp(browser, `${server.url}${links[demo]}`);
  await waitForDataState(page, 'mnist', 'done');
  await waitForDataState(page, 'fashion', 'done');
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
  const status = await page.textContent(`#${prefix}-status`);
  console.log(`# memory while demo ${demo} trained for ${seconds} s (${webgpu ? 'WebGPU on' : 'WebGPU off'}), both data sets loaded`);
  console.log(`# status: ${status}`);
  console.log('| process | peak PSS (MiB) |');
  console.log('| --- | --- |');
  for (const [k, v] of [...peak].sort((a, b) => b[1] - a[1])) console.log(`| ${k} | ${v.toFixed(0)} |`);
  console.log(`| all Chromium processes | ${peakTotal.toFixed(0)} |`);
} finally {
  await browser.close();
  await server.close();
}

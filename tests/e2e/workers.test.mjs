// Training off the main thread: each network trains in its own worker and the page only draws. `PerformanceObserver`s on `longtask` and `long-animation-frame` watch the page's
// main thread while the heaviest setting trains: demo 1 at 1,024 hidden units on the CPU path (before the workers, its
// main thread was blocked for up to 5.3 s at a time). Pause and Step must act at once meanwhile,
// and the status line must count completed steps.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { withPage, formatErrors, waitForDataState, serveStatic, requireDist, launchBrowser, openApp, waitFinished } from './helpers.mjs';

/** Budget for one main-thread task, from the issue. */
const LONG_TASK_MS = 50;
/** How long the heavy setting trains under observation. */
const WATCH_MS = 20_000;

/**
 * Installed before the page's own scripts: every long task of the page's main thread, and every
 * long animation frame with the scripts that ran in it (Chromium's Long Animation Frames API
 * attributes each script's time to its source, which `longtask` cannot: a long task may be
 * Chromium's own style, layout, paint or garbage collection).
 */
function observeLongTasks() {
  window.__longTasks = [];
  window.__longFrames = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration, culprit: e.attribution?.[0]?.name });
  }).observe({ type: 'longtask', buffered: true });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const scripts = e.scripts.map((s) => ({
        duration: s.duration,
        invoker: s.invoker,
        source: s.sourceURL.split('/').pop() + (s.sourceFunctionName ? ` ${s.sourceFunctionName}` : ''),
        layout: s.forcedStyleAndLayoutDuration,
      }));
      const end = e.startTime + e.duration;
      window.__longFrames.push({
        start: e.startTime,
        duration: e.duration,
        blocking: e.blockingDuration,
        render: e.renderStart ? end - e.renderStart : 0,
        scripts,
      });
    }
  }).observe({ type: 'long-animation-frame', buffered: true });
}

async function longTasksSince(page, t0) {
  return page.evaluate((t0) => window.__longTasks.filter((t) => t.start >= t0), t0);
}

/** The number of batches the status of demo `prefix` reports, or -1. */
async function batchNow(page, prefix) {
  const status = await page.textContent(`#${prefix}-status`);
  const m = /batch (\d+) of/.exec(status);
  return m ? Number(m[1]) : -1;
}

/**
 * Presses Run on demo `prefix` (its form already set), watches the main thread for `WATCH_MS` of
 * training, then checks that Pause acts within its click, that nothing trains while paused, that
 * Step trains and that Reset ends the run. Returns the long tasks seen from the Run press on.
 */
async function watchTraining(page, prefix, compute) {
  const supported = await page.evaluate(() => PerformanceObserver.supportedEntryTypes);
  assert.ok(supported.includes('long-animation-frame') && supported.includes('longtask'), `this Chromium observes ${supported}`);
  const t0 = await page.evaluate(() => performance.now());
  const clicked = Date.now();
  await page.click(`#${prefix}-run`);
  await page.waitForFunction((p) => /batch [1-9]\d* of/.test(document.getElementById(`${p}-status`).textContent), prefix, { timeout: 240_000 });
  await page.waitForFunction(
    ([p, c]) => new RegExp(`over the run on ${c}`).test(document.getElementById(`${p}-status`).textContent),
    [prefix, compute],
    { timeout: 240_000 },
  );
  await sleep(WATCH_MS);
  const status = await page.textContent(`#${prefix}-status`);
  console.log(`# ${prefix} after ${WATCH_MS / 1000} s: ${status}`);
  // The rate is honest: what the status says is the completed steps over the time since Run, the
  // start and every evaluation included (a rate of recent steps once claimed 8 times the truth).
  const [steps] = (await page.getAttribute(`#${prefix}-status`, 'data-run')).split(' ').map(Number);
  const m = /([\d.]+) (batches\/s|s per batch)/.exec(status);
  const said = m[2] === 'batches/s' ? Number(m[1]) : 1 / Number(m[1]);
  const seconds = (Date.now() - clicked) / 1000;
  const counted = steps / seconds;
  console.log(`# ${prefix}: the status says ${said.toFixed(2)} batches/s; ${steps} steps since Run make ${counted.toFixed(2)}`);
  // The status was written at the last report, up to a step before this reading.
  assert.ok(said > 0.7 * counted && said < 1.3 * ((steps + 1) / seconds), `the rate said (${said}) is the rate counted (${counted})`);

  // Pause acts within the click's own task: the status says so before the next frame.
  const afterPause = await page.evaluate((p) => {
    document.getElementById(`${p}-run`).click();
    return { status: document.getElementById(`${p}-status`).textContent, button: document.getElementById(`${p}-run`).textContent };
  }, prefix);
  assert.match(afterPause.status, /^Paused\./);
  assert.equal(afterPause.button, 'Run');
  // The step in progress ends (seconds on a software GPU), then nothing more trains.
  await sleep(6000);
  const paused = await batchNow(page, prefix);
  await sleep(3000);
  assert.equal(await batchNow(page, prefix), paused, 'no training while paused');

  // Step trains a few batches and stops.
  await page.click(`#${prefix}-step`);
  await page.waitForFunction(
    ([p, b]) => {
      const m = /batch (\d+) of/.exec(document.getElementById(`${p}-status`).textContent);
      return m && Number(m[1]) > b;
    },
    [prefix, paused],
    { timeout: 240_000 },
  );
  const seen = await page.evaluate((t0) => ({
    tasks: window.__longTasks.filter((t) => t.start >= t0),
    frames: window.__longFrames.filter((f) => f.start >= t0),
  }), t0);
  await page.click(`#${prefix}-reset`);
  assert.match(await page.textContent(`#${prefix}-status`), /^Reset/);
  // The instrument works in this page: a script of 80 ms is seen, with its time. The observer
  // reports after the frame, which on a loaded machine can take a while, and a loaded Chromium has
  // been seen to drop a frame's report: up to three tries.
  const control = await page.evaluate(async () => {
    let seen = 0;
    for (let attempt = 0; attempt < 3 && seen < 70; attempt++) {
      const t0 = performance.now();
      setTimeout(() => {
        const start = performance.now();
        while (performance.now() - start < 80);
      }, 0);
      const longest = () => window.__longFrames.filter((f) => f.start >= t0).flatMap((f) => f.scripts).reduce((m, s) => Math.max(m, s.duration), 0);
      for (let waited = 0; longest() < 70 && waited < 5000; waited += 100) await new Promise((r) => setTimeout(r, 100));
      seen = longest();
    }
    return seen;
  });
  assert.ok(control >= 70, `a deliberate 80-ms script was seen as ${control} ms`);
  return seen;
}

/**
 * The issue's budget is for tasks from our code: no script (the page's JavaScript and the wasm it
 * calls, with any style and layout it forces) may run longer than 50 ms at a time. Long tasks and
 * long frames are printed with what filled them, so a slow frame that is Chromium's own work
 * (rendering, garbage collection) is visible but is not counted against the page.
 */
function checkLongTasks({ tasks, frames }, what, { busy = false } = {}) {
  const longest = tasks.reduce((m, t) => Math.max(m, t.duration), 0);
  const culprits = [...new Set(tasks.map((t) => t.culprit))].join(', ');
  console.log(`# main-thread long tasks while ${what}: ${tasks.length}, longest ${longest.toFixed(0)} ms${culprits ? ` (attributed to: ${culprits})` : ''}`);
  const scripts = frames.flatMap((f) => f.scripts);
  const slowest = scripts.reduce((m, s) => (s.duration > m.duration ? s : m), { duration: 0 });
  for (const f of frames.filter((f) => f.blocking > 0)) {
    const inScripts = f.scripts.reduce((sum, s) => sum + s.duration, 0);
    console.log(`#   frame of ${f.duration.toFixed(0)} ms (blocking ${f.blocking.toFixed(0)}): scripts ${inScripts.toFixed(0)} ms, rendering ${f.render.toFixed(0)} ms`);
  }
  console.log(`# long animation frames: ${frames.length}; slowest script ${slowest.duration.toFixed(0)} ms ${slowest.invoker ?? ''} ${slowest.source ?? ''}`);
  const over = scripts.filter((s) => s.duration > LONG_TASK_MS);
  // With a second browser training beside it, four training threads and the page share two cores:
  // a script of a few milliseconds can be held off its core for tens of them now and then. One such
  // script in the watched run is scheduling; two, or one over twice the budget, would be the page.
  const allowed = busy ? 1 : 0;
  assert.ok(
    over.length <= allowed && slowest.duration <= (busy ? 2 : 1) * LONG_TASK_MS,
    `the page's code ran ${slowest.duration.toFixed(0)} ms at a time on the main thread: ${JSON.stringify(over)}`,
  );
}

/**
 * A second browser training beside the page under test, as on a teacher's laptop with another tab
 * busy: its bench view trains the 784-1024-1024-10 network in a worker on the CPU path, long
 * enough to outlast the test, so three training threads share the two cores with the page. Returns
 * a function that checks it trained meanwhile and closes it.
 */
async function busyBeside(url) {
  const browser = await launchBrowser({ webgpu: false });
  const { page } = await openApp(browser, `${url}?view=bench&bench.networks=bnn-1024,bnn-512,lenet-classic-amp&bench.steps=200&bench.reps=20&bench.compute=cpu`);
  await page.waitForFunction(() => /^Tim(ing|ed)/.test(document.getElementById('bench-status').textContent), null, { timeout: 60_000 });
  return async () => {
    const status = await page.textContent('#bench-status');
    console.log(`# the second browser, meanwhile: ${status}`);
    await browser.close();
    assert.match(status, /^Tim(ing|ed)/, 'the second browser kept training beside the page under test');
  };
}

// On these 2-core machines Chromium's main thread still shows a `longtask` of 50-70 ms now and
// then (2026-12-01: 0 or 1 per 20-s run, of 59-78 ms), with no long animation frame and no script
// around it: it is not the page's work (a profile showed the page's code under 10 ms a frame), and
// the check counts the page's scripts, which never ran 50 ms at a time. The page is watched with a
// second browser training beside it: the main thread's work per message must not grow with the
// run or the width, and must stay inside a frame with both cores taken.
test('demo 1 at 1,024 hidden units on the CPU path trains in workers, with a second browser training beside it: no script of the page over 50 ms on the main thread; pause and step act at once', { timeout: 900_000 }, async () => {
  const server = await serveStatic(requireDist());
  const done = await busyBeside(server.url);
  const browser = await launchBrowser({ webgpu: false });
  try {
    const { page, errors } = await openApp(browser, server.url, { setup: (p) => p.addInitScript(observeLongTasks) });
    await page.waitForSelector('#backend[data-backend=cpu]');
    await waitForDataState(page, 'mnist', 'done');
    await waitForDataState(page, 'fashion', 'done');
    await page.selectOption('#bnn-experiment', 'permuted');
    await page.selectOption('#bnn-compute', 'cpu');
    await page.fill('#bnn-hidden', '1024');
    await page.fill('#bnn-tasks', '2');
    await page.fill('#bnn-steps', '300');
    await page.dispatchEvent('#bnn-controls', 'change');
    checkLongTasks(await watchTraining(page, 'bnn', 'the CPU'), 'demo 1 trained at 1,024 hidden units on the CPU, a second browser training beside it', { busy: true });
    assert.equal(errors.length, 0, formatErrors(errors));
  } finally {
    await browser.close();
    await done();
    await server.close();
  }
});

// On SwiftShader the main thread shows a `longtask` of 50-70 ms now and then while the workers'
// GPU devices keep the GPU process busy (2026-12-01: 66 ms, with no long animation frame around
// it); the page's scripts stay under 50 ms (they took 293 ms at a time before the charts'
// canvases were made CPU-backed).
test('demo 2 (LeNet-5) on WebGPU trains in workers: no script of the page over 50 ms on the main thread; pause and step act at once', { timeout: 600_000 }, async () => {
  await withPage({ webgpu: true, setup: (page) => page.addInitScript(observeLongTasks) }, async (page, errors) => {
    await page.waitForSelector('#backend[data-backend=webgpu]');
    await waitForDataState(page, 'mnist', 'done');
    await waitForDataState(page, 'fashion', 'done');
    await page.selectOption('#lenet-compute', 'webgpu');
    await page.fill('#lenet-test', '300');
    await page.dispatchEvent('#lenet-controls', 'change');
    checkLongTasks(await watchTraining(page, 'lenet', 'WebGPU'), 'demo 2 trained on WebGPU');
    assert.equal(errors.length, 0, formatErrors(errors));
  });
});

/** The wasm memory of each of the page's two training workers, in bytes (the page's setup
 * keeps each module's exports as `wasmExports`). */
async function workerMemories(page) {
  const workers = [];
  for (const w of page.workers()) {
    const bytes = await w.evaluate(() => self.wasmExports?.memory.buffer.byteLength ?? -1);
    if (bytes >= 0) workers.push(bytes);
  }
  assert.equal(workers.length, 2, 'two training workers');
  return workers;
}

// Memory (issue 11, item 1): each data set is held once. Cross-origin isolated (as trunk serve,
// the service worker and this suite's server serve the page), the page keeps the decoded images
// (compact: data::compact) in SharedArrayBuffers and the workers read them in place. Served
// without the isolating headers, each worker gets its own copy of MNIST's 14.3 MB (its compact
// images and labels, as `cargo test --test data_pipeline real_images -- --nocapture` prints), and the
// same run gives the same numbers.
test('each data set is held once: workers read the page\'s shared buffers, or get a copy where the page cannot share', { timeout: 600_000 }, async () => {
  const MNIST_COMPACT_BYTES = 14_300_000;
  const memories = [];
  const statuses = [];
  for (const isolation of [true, false]) {
    const server = await serveStatic(requireDist(), { isolation });
    const browser = await launchBrowser({ webgpu: false });
    try {
      const setup = (p) => p.addInitScript(() => addEventListener('TrunkApplicationStarted', (e) => { window.wasmExports = e.detail.wasm; }));
      const { page, errors } = await openApp(browser, `${server.url}?bnn.hidden=32&bnn.tasks=2&bnn.steps=40&bnn.seed=3&bnn.compute=cpu&run=bnn`, { setup });
      await waitFinished(page, 'bnn');
      assert.equal(await page.evaluate(() => crossOriginIsolated), isolation, 'cross-origin isolated');
      // The page decodes into JavaScript buffers, never into its own wasm memory.
      const pageWasm = await page.evaluate(() => window.wasmExports.memory.buffer.byteLength);
      assert.ok(pageWasm < 20 * 2 ** 20, `the page's wasm memory is ${(pageWasm / 2 ** 20).toFixed(0)} MiB`);
      const workers = await workerMemories(page);
      const mib = workers.map((b) => (b / 2 ** 20).toFixed(0)).join(' and ');
      console.log(`# ${isolation ? 'isolated' : 'not isolated'}: workers' wasm memories ${mib} MiB, the page's ${(pageWasm / 2 ** 20).toFixed(0)} MiB`);
      memories.push(workers);
      statuses.push(await page.textContent('#bnn-status'));
      assert.equal(errors.length, 0, formatErrors(errors));
    } finally {
      await browser.close();
      await server.close();
    }
  }
  assert.equal(statuses[0], statuses[1], 'the same run, shared or copied');
  // The same networks on the same data: what the copying workers hold beyond the sharing ones is
  // the copy (a wasm memory grows in 64 KiB pages and its allocator reuses freed space, hence 85%).
  const [shared, copied] = memories;
  assert.ok(Math.min(...copied) - Math.max(...shared) > 0.85 * MNIST_COMPACT_BYTES, `each copying worker holds the data, no sharing one does (${memories.map((m) => m.join(', ')).join(' against ')} bytes)`);
});

// Memory (issue 11, item 1): the authors' LeNet-5 evaluates 1000 test images in one batch (batch
// norm on the test batch's statistics). Run whole, that evaluation held 360 MiB in each worker,
// for good (a wasm memory never shrinks); the CPU evaluates it in chunks now, to the same logits
// (tests/cpu_lenet.rs), and spends its training tape as backward goes: `cargo run --release
// --example heap_peak` counts 33 MiB for training and 24 for the evaluation.
test('the authors\' LeNet-5 trains and evaluates 1000 test images in a worker\'s memory of a few tens of MiB', { timeout: 600_000 }, async () => {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: false });
  try {
    const setup = (p) => p.addInitScript(() => addEventListener('TrunkApplicationStarted', (e) => { window.wasmExports = e.detail.wasm; }));
    const { page, errors } = await openApp(browser, `${server.url}?lenet.arch=authors&lenet.epochs=1&lenet.steps=8&lenet.test=1000&lenet.compute=cpu&run=lenet`, { setup });
    await waitFinished(page, 'lenet');
    const workers = await workerMemories(page);
    const mib = workers.map((b) => (b / 2 ** 20).toFixed(0)).join(' and ');
    console.log(`# the authors' LeNet-5: workers' wasm memories ${mib} MiB`);
    assert.ok(workers.every((b) => b < 64 * 2 ** 20), `each worker under 64 MiB (${mib} MiB)`);
    assert.equal(errors.length, 0, formatErrors(errors));
  } finally {
    await browser.close();
    await server.close();
  }
});

// The bench view: `?view=bench` times every benchmark network with the wasm build on the CPU, one
// thread, in a worker, then on WebGPU in another, and shows a row per network and backend as it is
// measured. This suite runs it and prints the figures beside the targets for the browser (they
// are measured, not asserted: a speed is a benchmark's figure, not a test's verdict). It checks
// that every network trains in wasm and reports a rate, that the page's main thread stays free
// meanwhile, that a browser without WebGPU says so, that on WebGPU a training step is one submit
// with no readback and no new buffer, that it lists the kernel each dense product runs and a profile
// of a step's kernels, and that a tampered address is corrected with a note.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serveStatic, requireDist, launchBrowser, openApp, formatErrors } from './helpers.mjs';

const NETWORKS = ['bnn-512', 'bnn-1024', 'lenet-classic-standard', 'lenet-classic-amp', 'denoise', 'completion', 'completion-recurrent'];
/** The targets for the wasm build, examples per second per network (docs/performance.md). */
const TARGETS = { 'lenet-classic-standard': 1500, 'lenet-classic-amp': 1500, 'bnn-1024': 1000 };

async function withBench(query, body, { webgpu = false } = {}) {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu });
  try {
    const { page, errors } = await openApp(browser, `${server.url}?view=bench&${query}`);
    await body(page, errors);
  } finally {
    await browser.close();
    await server.close();
  }
}

async function rows(page) {
  return page.$$eval('#bench-table tbody tr', (trs) =>
    trs.map((tr) => ({ ...tr.dataset, perS: Number(tr.dataset.examplesPerS), cells: [...tr.children].map((c) => c.textContent) })),
  );
}

test('the bench view times every network in wasm and prints the figures', { timeout: 900_000 }, async () => {
  await withBench('bench.steps=3&bench.reps=3', async (page, errors) => {
    assert.equal(await page.isVisible('#bench-view'), true);
    assert.equal(await page.isVisible('#demo-bnn'), false, 'the demos are not shown');
    // The main thread answers while the worker times (a click on a link's focus, a frame).
    const t0 = Date.now();
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
    assert.ok(Date.now() - t0 < 1000, 'a frame is drawn while the benchmark runs');
    await page.waitForSelector('#bench-view[data-state="done"]', { timeout: 840_000 });
    const measured = await rows(page);
    assert.deepEqual(measured.map((r) => r.network), NETWORKS);
    for (const r of measured) {
      assert.ok(Number.isFinite(r.perS) && r.perS > 0, `${r.network}: ${r.perS} examples/s`);
      const target = TARGETS[r.network];
      console.log(`# wasm, 1 thread: ${r.network.padEnd(24)} ${r.cells.slice(1, 6).join('  ')}${target ? `   (target: ${target} ex/s)` : ''}`);
    }
    const status = await page.textContent('#bench-status');
    assert.match(status, /^Done: 7 run\(s\) of 7 network\(s\)/);
    assert.match(status, /WebGPU is not available here/, 'a browser without WebGPU says so');
    assert.equal(errors.length, 0, formatErrors(errors));
  });
});

test('a tampered bench address is corrected with a note', { timeout: 300_000 }, async () => {
  await withBench('bench.networks=completion,nope,completion&bench.steps=abc&bench.reps=0&bench.compute=cpu,tpu', async (page, errors) => {
    await page.waitForSelector('#bench-view[data-state="done"]', { timeout: 240_000 });
    const note = await page.textContent('#settings-note');
    assert.match(note, /no network 'nope'/);
    assert.match(note, /bench\.steps=abc is not a number: 5 instead/);
    assert.match(note, /bench\.reps=0 is outside 1 to 20 or not whole: 1 instead/);
    assert.match(note, /bench\.compute: no backend 'tpu'/);
    assert.deepEqual((await rows(page)).map((r) => r.network), ['completion']);
    assert.match(await page.textContent('#bench-status'), /^Done: 1 run\(s\) of 1 network\(s\), 5 steps x 1 repetitions, on the CPU/);
    assert.equal(errors.length, 0, formatErrors(errors));
  });
});

test('on WebGPU the bench view times a training step and counts what it asks of the GPU: one submit, no readback, nothing created', { timeout: 600_000 }, async () => {
  await withBench('bench.networks=bnn-512,lenet-classic-standard&bench.steps=1&bench.reps=2&bench.compute=webgpu&bench.profile=1', async (page, errors) => {
    await page.waitForSelector('#bench-view[data-state="done"]', { timeout: 540_000 });
    const measured = await rows(page);
    assert.deepEqual(measured.map((r) => [r.network, r.backend]), [['bnn-512', 'webgpu'], ['lenet-classic-standard', 'webgpu']]);
    for (const r of measured) {
      console.log(`# WebGPU (SwiftShader): ${r.network.padEnd(24)} ${r.cells.slice(2).join('  ')}`);
      assert.ok(Number.isFinite(r.perS) && r.perS > 0, `${r.network}: ${r.perS} examples/s`);
      assert.equal(r.submitsPerStep, '1', `${r.network}: one submit per training step`);
      assert.equal(r.readbacksPerStep, '0', `${r.network}: no readback inside a training step`);
      assert.equal(r.buffersPerStep, '0', `${r.network}: no buffer or bind group created by a training step`);
      assert.ok(Number(r.dispatchesPerStep) > 10, `${r.network}: its dispatches are counted`);
    }
    // Under the table: each dense product's kernel, timed against the others on this adapter, and
    // (bench.profile=1) each kernel of one step timed alone, every dispatch of the step counted.
    const details = await page.$$eval('#bench-kernels li', (lis) => lis.map((li) => ({ network: li.dataset.network, text: li.textContent, ...JSON.parse(li.dataset.detail) })));
    assert.deepEqual(details.map((d) => d.network), ['bnn-512', 'lenet-classic-standard']);
    for (const d of details) {
      const r = measured.find((m) => m.network === d.network);
      console.log(`# WebGPU (SwiftShader): ${d.text}`);
      assert.ok(d.matmul.length >= 3, `${d.network}: its dense products are listed: ${d.text}`);
      for (const m of d.matmul) {
        // Timed on each of its kernels (`main`, `wide`, a vec4 one where its layout has one, `quad`),
        // and run on the fastest.
        const kernels = [m.kernel, ...m.others.map((o) => o.kernel)];
        assert.ok(m.ms > 0 && m.others.every((o) => o.ms >= m.ms), `${d.network}: ${m.line}`);
        assert.ok(kernels.includes('main') && kernels.includes('wide') && new Set(kernels).size === kernels.length, `${d.network}: ${m.line}`);
      }
      // SwiftShader has subgroups and the worker asks for them (static/training_worker.js), so a
      // product whose k is a multiple of 4 is timed on `quad` too (every network here has some).
      assert.ok(d.matmul.some((m) => [m.kernel, ...m.others.map((o) => o.kernel)].includes('quad')), `${d.network}: quad among the kernels timed: ${d.text}`);
      assert.equal(d.kernels.reduce((s, k) => s + k.dispatches, 0), Number(r.dispatchesPerStep), `${d.network}: the profile times every dispatch of a step`);
      assert.ok(d.kernels.every((k) => k.ms > 0 && /\.wgsl:/.test(k.kernel)), `${d.network}: ${d.text}`);
    }
    // A convolution's forward pass runs on 4x4 or 8x8 blocks, whichever this adapter ran faster.
    assert.ok(details[1].kernels.some((k) => /^conv\.wgsl:forward8?$/.test(k.kernel)), `LeNet-5 profile names its convolutions: ${details[1].text}`);
    assert.equal(errors.length, 0, formatErrors(errors));
  }, { webgpu: true });
});

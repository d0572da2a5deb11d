// Demo 2 as a user drives it: a short LeNet-5 run on MNIST, standard and metaplastic side by side,
// on WebGPU (Chromium's SwiftShader adapter) and on the CPU path; the pictures the demo promises
// (curves, filters, factor distribution, extreme images, confusion matrices) are read off the
// canvases, and the numbers off the tables. Runs are short because SwiftShader is slow: the test
// checks that both networks learn and that every chart is drawn, not which rule wins (the native
// tool measures that over seeds, see the README).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withPage, curveColours, waitDrawn, formatErrors, waitForDataState } from './helpers.mjs';

const RUN_TIMEOUT = 480_000;

async function setShortRun(page, { backend, epochs, steps, seeds, testImages }) {
  await page.selectOption('#lenet-dataset', 'mnist');
  await page.selectOption('#lenet-arch', 'classic');
  await page.selectOption('#lenet-compute', backend);
  await page.fill('#lenet-b', '1');
  await page.fill('#lenet-lr', '0.03');
  await page.fill('#lenet-epochs', String(epochs));
  await page.fill('#lenet-steps', String(steps));
  await page.fill('#lenet-seeds', String(seeds));
  await page.fill('#lenet-test', String(testImages));
  await page.fill('#lenet-seed', '1');
  await page.dispatchEvent('#lenet-controls', 'change');
}

async function runToTheEnd(page) {
  await page.waitForFunction(() => /^(Finished|Stopped)/.test(document.getElementById('lenet-status').textContent), null, {
    timeout: RUN_TIMEOUT,
    polling: 500,
  });
  const status = await page.textContent('#lenet-status');
  assert.match(status, /^Finished/, `the run stopped: ${await page.textContent('#lenet-error')}`);
  return page.$$eval('#lenet-results tr[data-rule]', (rows) =>
    Object.fromEntries(rows.map((r) => [r.dataset.rule, { accuracy: Number(r.dataset.accuracy), f1: Number(r.dataset.f1) }])),
  );
}

async function checkPictures(page) {
  const colours = await curveColours(page, 'lenet-acc');
  assert.ok(colours.standard > 100 && colours.meta > 100, `both accuracy curves drawn: ${JSON.stringify(colours)}`);
  for (const id of ['lenet-loss', 'lenet-filters-standard', 'lenet-filters-amp', 'lenet-factors', 'lenet-extremes', 'lenet-confusion-standard', 'lenet-confusion-amp']) {
    await waitDrawn(page, id);
  }
}

test('demo 2 on WebGPU: standard and metaplastic LeNet-5 train side by side', { timeout: RUN_TIMEOUT + 120_000 }, async () => {
  await withPage({ webgpu: true }, async (page, errors) => {
    await page.waitForSelector('#backend[data-backend=webgpu]');
    await waitForDataState(page, 'mnist', 'done');
    await setShortRun(page, { backend: 'webgpu', epochs: 1, steps: 8, seeds: 1, testImages: 300 });
    await page.click('#lenet-run');
    await page.waitForFunction(() => /(batches\/s|s per batch)/.test(document.getElementById('lenet-status').textContent), null, { timeout: RUN_TIMEOUT });
    assert.match(await page.textContent('#lenet-status'), /on WebGPU/);
    const results = await runToTheEnd(page);
    console.log(`# WebGPU, 8 batches: ${JSON.stringify(results)}`);
    assert.ok(results.standard && results.amp, JSON.stringify(results));
    // SwiftShader is slow (seconds per batch), so the run is 8 batches: enough to leave chance
    // (10%) behind; that the GPU computes what the CPU does is the parity tests' job.
    assert.ok(results.standard.accuracy > 0.15 && results.amp.accuracy > 0.15, JSON.stringify(results));
    await checkPictures(page);
    assert.match(await page.textContent('#lenet-results'), /paper, LeNet-5/);
    assert.equal(errors.length, 0, formatErrors(errors));
  });
});

test('demo 2 on the CPU path, over two seeds with the paired difference', { timeout: RUN_TIMEOUT + 120_000 }, async () => {
  await withPage({ webgpu: false }, async (page, errors) => {
    await page.waitForSelector('#backend[data-backend=cpu]');
    await waitForDataState(page, 'mnist', 'done');
    await setShortRun(page, { backend: 'auto', epochs: 2, steps: 25, seeds: 2, testImages: 2000 });
    await page.click('#lenet-run');
    await page.waitForFunction(() => /over the run on the CPU/.test(document.getElementById('lenet-status').textContent), null, { timeout: RUN_TIMEOUT });
    const results = await runToTheEnd(page);
    console.log(`# CPU, 2 seeds x 2 epochs of 25 batches: ${JSON.stringify(results)}`);
    assert.ok(results.standard.accuracy > 0.6 && results.amp.accuracy > 0.6, JSON.stringify(results));
    assert.ok(results.standard.f1 > 0.5 && results.amp.f1 > 0.5, JSON.stringify(results));
    assert.match(await page.textContent('#lenet-status'), /mean of 2 seeds/);
    // Over seeds: mean ± sd per rule and the paired difference with its interval, per metric.
    assert.equal(await page.locator('#lenet-seeds-table').isVisible(), true);
    const diffs = await page.$$eval('#lenet-seeds-table tr[data-metric]', (rows) => rows.map((r) => [r.dataset.metric, Number(r.dataset.diff), Number(r.dataset.ci)]));
    assert.equal(diffs.length, 4, JSON.stringify(diffs));
    for (const [metric, diff, ci] of diffs) {
      assert.ok(Number.isFinite(diff) && Math.abs(diff) < 0.2, `${metric}: ${diff}`);
      assert.ok(ci > 0, `${metric} has an interval: ${ci}`);
    }
    await waitDrawn(page, 'lenet-seeds-bars');
    await checkPictures(page);
    assert.equal(errors.length, 0, formatErrors(errors));
  });
});

test('demo 2 refuses out-of-range settings', async () => {
  await withPage({ webgpu: false }, async (page, errors) => {
    await page.fill('#lenet-b', '50');
    await page.dispatchEvent('#lenet-controls', 'change');
    await page.click('#lenet-run');
    await page.waitForSelector('#lenet-error:not([hidden])');
    assert.match(await page.textContent('#lenet-error'), /Metaplasticity B: '50' is above the largest allowed value, 20/);
    assert.equal(await page.textContent('#lenet-run'), 'Run', 'nothing started');
    await page.fill('#lenet-b', '1');
    await page.fill('#lenet-seeds', '0');
    await page.dispatchEvent('#lenet-controls', 'change');
    await page.click('#lenet-run');
    assert.match(await page.textContent('#lenet-error'), /Seeds: '0' is below the smallest allowed value, 1 \(allowed: a whole number from 1 to 20\)/);
    await page.fill('#lenet-seeds', '1');
    await page.fill('#lenet-lr', '');
    await page.click('#lenet-run');
    assert.match(await page.textContent('#lenet-error'), /Learning rate: '' is not a number/);
    assert.equal(errors.length, 0, formatErrors(errors));
  });
});

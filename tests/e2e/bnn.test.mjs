// Demo 1 as a user drives it: set a short permuted-MNIST run, press Run, watch both networks train
// and read the charts and the numbers. On WebGPU (Chromium's SwiftShader adapter) and on the CPU
// path (no WebGPU). The setting is small because SwiftShader is slow, and was chosen where the
// native tool shows the effect clearly over seeds (`metaplastic reproduce bnn-permuted-tiny`, its
// table in docs/results.md).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withPage, curveColours, nonWhite, waitDrawn, formatErrors, waitForDataState } from './helpers.mjs';

const RUN_TIMEOUT = 420_000;

async function setShortRun(page, backend) {
  await page.selectOption('#bnn-experiment', 'permuted');
  await page.selectOption('#bnn-compute', backend);
  await page.fill('#bnn-hidden', '32');
  await page.fill('#bnn-meta', '10');
  await page.fill('#bnn-lr', '0.02');
  await page.fill('#bnn-tasks', '2');
  await page.fill('#bnn-steps', '80');
  await page.fill('#bnn-seed', '1');
  // `fill` fires input events; the app listens for change, as when a person leaves the field.
  await page.dispatchEvent('#bnn-controls', 'change');
}

async function runToTheEnd(page) {
  await page.click('#bnn-run');
  await page.waitForFunction(() => /^(Finished|Stopped)/.test(document.getElementById('bnn-status').textContent), null, {
    timeout: RUN_TIMEOUT,
    polling: 500,
  });
  const status = await page.textContent('#bnn-status');
  assert.match(status, /^Finished/, `the run stopped: ${await page.textContent('#bnn-error')}`);
  return page.$$eval('#bnn-results tr[data-learner]', (rows) =>
    Object.fromEntries(rows.map((r) => [r.dataset.learner, { task1: Number(r.dataset.task1), mean: Number(r.dataset.mean) }])),
  );
}

async function checkRun(page, errors, expectCompute) {
  await waitForDataState(page, 'mnist', 'done');
  await setShortRun(page, expectCompute === 'WebGPU' ? 'webgpu' : 'auto');
  await page.click('#bnn-run');
  // A short CPU run can end between two polls: a finished status says where it ran as well.
  await page.waitForFunction(() => /(batches\/s|s per batch|^Finished)/.test(document.getElementById('bnn-status').textContent), null, { timeout: RUN_TIMEOUT });
  assert.match(await page.textContent('#bnn-status'), new RegExp(`on ${expectCompute === 'WebGPU' ? 'WebGPU' : 'the CPU'}`));
  // Pause, then go on: the run continues where it was. (The CPU path may have finished already.)
  await page.click('#bnn-run');
  await page.waitForFunction(() => /^(Paused|Finished)/.test(document.getElementById('bnn-status').textContent));
  const results = await runToTheEnd(page);
  const standard = results['m=0'];
  const meta = results['m=10'];
  assert.ok(standard && meta, `both networks reported: ${JSON.stringify(results)}`);
  console.log(`# ${expectCompute}: task 1 after task 2: standard ${standard.task1}, metaplastic ${meta.task1}`);
  // Both learned: well above chance on the tasks seen.
  assert.ok(standard.mean > 0.5 && meta.mean > 0.5, JSON.stringify(results));
  // The metaplastic network keeps task 1; the standard one forgets more of it.
  assert.ok(meta.task1 >= standard.task1 + 0.1, `metaplastic keeps task 1: ${JSON.stringify(results)}`);
  const colours = await curveColours(page, 'bnn-curves');
  assert.ok(colours.standard > 200 && colours.meta > 200, `both curves drawn: ${JSON.stringify(colours)}`);
  // The flip figure: measured again as task 2 ended, one line per network, every point a number.
  await page.waitForFunction(
    () => Object.keys(JSON.parse(document.getElementById('bnn-flips').getAttribute('data-series') ?? '{}')).filter((k) => k.endsWith('after task 2')).length === 2,
    null,
    { timeout: 60_000 },
  );
  const flips = JSON.parse(await page.getAttribute('#bnn-flips', 'data-series'));
  console.log(`# ${expectCompute}: loss increase per |Wh| bin: ${JSON.stringify(flips)}`);
  for (const values of Object.values(flips)) assert.ok(values.length >= 2 && values.every(Number.isFinite), JSON.stringify(flips));
  for (const id of ['bnn-matrix-standard', 'bnn-matrix-meta', 'bnn-hist', 'bnn-flips']) {
    await waitDrawn(page, id);
  }
  assert.equal(errors.length, 0, formatErrors(errors));
}

test('demo 1 on WebGPU: both networks train on the same batches and the metaplastic one keeps task 1', { timeout: RUN_TIMEOUT + 120_000 }, async () => {
  await withPage({ webgpu: true }, async (page, errors) => {
    await page.waitForSelector('#backend[data-backend=webgpu]');
    await checkRun(page, errors, 'WebGPU');
  });
});

test('demo 1 on the CPU path, where WebGPU is missing', { timeout: RUN_TIMEOUT + 120_000 }, async () => {
  await withPage({ webgpu: false }, async (page, errors) => {
    await page.waitForSelector('#backend[data-backend=cpu]');
    await checkRun(page, errors, 'CPU');
  });
});

test('"auto" times the network on the CPU and on WebGPU, says both figures and trains on the faster; a second run remembers', { timeout: RUN_TIMEOUT + 120_000 }, async () => {
  await withPage({ webgpu: true }, async (page, errors) => {
    await page.waitForSelector('#backend[data-backend=webgpu]');
    await waitForDataState(page, 'mnist', 'done');
    await setShortRun(page, 'auto');
    const adapter = await page.textContent('#backend');
    await page.click('#bnn-run');
    const measured = /WebGPU ([\d,]+) images\/s, CPU ([\d,]+) images\/s: training on (the CPU|WebGPU)/;
    await page.waitForFunction((re) => new RegExp(re).test(document.getElementById('backend').textContent), measured.source, { timeout: RUN_TIMEOUT });
    const line = await page.textContent('#backend');
    console.log(`# auto: ${line}`);
    assert.ok(line.startsWith(adapter), 'the adapter is still named');
    const [, gpu, cpu, chosen] = measured.exec(line);
    const rate = (text) => Number(text.replaceAll(',', ''));
    assert.equal(chosen, rate(gpu) > rate(cpu) ? 'WebGPU' : 'the CPU', 'the faster path is chosen');
    await page.waitForFunction((c) => document.getElementById('bnn-status').textContent.includes(`on ${c}`), chosen, { timeout: RUN_TIMEOUT });
    // Reset and run again: the timing is remembered, so training starts without timing again.
    await page.click('#bnn-reset');
    await page.click('#bnn-run');
    const status = await page.textContent('#bnn-status');
    assert.doesNotMatch(status, /^Timing/, `no second timing: ${status}`);
    await page.waitForFunction((c) => document.getElementById('bnn-status').textContent.includes(`on ${c}`), chosen, { timeout: RUN_TIMEOUT });
    assert.equal(errors.length, 0, formatErrors(errors));
  });
});

test('demo 1 refuses out-of-range settings and drops a run whose settings changed', async () => {
  await withPage({ webgpu: false }, async (page, errors) => {
    // The toy problem is drawn at once, no data needed.
    assert.ok((await nonWhite(page, 'bnn-toy')) > 5000, 'toy picture drawn');
    await page.fill('#bnn-hidden', '5');
    await page.dispatchEvent('#bnn-controls', 'change');
    await page.click('#bnn-run');
    await page.waitForSelector('#bnn-error:not([hidden])');
    assert.match(await page.textContent('#bnn-error'), /Hidden units: '5' is below the smallest allowed value, 8 \(allowed: a whole number from 8 to 4096\)/);
    assert.equal(await page.textContent('#bnn-run'), 'Run', 'nothing started');
    await page.fill('#bnn-hidden', '-3');
    await page.click('#bnn-run');
    assert.match(await page.textContent('#bnn-error'), /Hidden units: '-3' is below the smallest allowed value, 8/);
    // A valid run, then a changed setting: the run is dropped whole, with a message.
    await waitForDataState(page, 'mnist', 'done');
    await page.fill('#bnn-hidden', '16');
    await page.dispatchEvent('#bnn-controls', 'change');
    await page.click('#bnn-step');
    await page.waitForFunction(() => /batch \d+ of/.test(document.getElementById('bnn-status').textContent));
    await page.fill('#bnn-meta', '2');
    await page.dispatchEvent('#bnn-controls', 'change');
    assert.match(await page.textContent('#bnn-status'), /Settings changed/);
    assert.equal(errors.length, 0, formatErrors(errors));
  });
});

test('demo 1 MNIST then Fashion-MNIST: the workers read both data sets and the standard network forgets MNIST', { timeout: RUN_TIMEOUT }, async () => {
  await withPage({ webgpu: false }, async (page, errors) => {
    await waitForDataState(page, 'mnist', 'done');
    await waitForDataState(page, 'fashion', 'done');
    await page.selectOption('#bnn-experiment', 'permuted');
    await page.selectOption('#bnn-sequence', 'mnist-fashion');
    await page.selectOption('#bnn-compute', 'cpu');
    await page.fill('#bnn-hidden', '32');
    await page.fill('#bnn-meta', '10');
    await page.fill('#bnn-lr', '0.02');
    await page.fill('#bnn-steps', '150');
    await page.fill('#bnn-seed', '1');
    await page.dispatchEvent('#bnn-controls', 'change');
    const results = await runToTheEnd(page);
    const status = await page.textContent('#bnn-status');
    assert.match(status, /MNIST \d+%/, `the finished line names the first data set: ${status}`);
    const standard = results['m=0'];
    const meta = results['m=10'];
    assert.ok(standard && meta, `both networks reported: ${JSON.stringify(results)}`);
    console.log(`# MNIST after Fashion-MNIST: standard ${standard.task1}, m = 10 ${meta.task1}`);
    // Both learned Fashion-MNIST on top of MNIST (the mean is over the two), and the standard
    // network lost most of MNIST doing it (about 97% to 20% in the paper; well above 70% after
    // its first task here, see tests/experiments.rs).
    assert.ok(standard.mean > 0.35 && meta.mean > 0.35, JSON.stringify(results));
    assert.ok(standard.task1 < 0.6, `the standard network forgets MNIST: ${JSON.stringify(results)}`);
    const colours = await curveColours(page, 'bnn-curves');
    assert.ok(colours.standard > 200 && colours.meta > 200, `both curves drawn: ${JSON.stringify(colours)}`);
    assert.equal(errors.length, 0, formatErrors(errors));
  });
});

test('demo 1 stream learning: three learners over a stream of Fashion-MNIST subsets', { timeout: RUN_TIMEOUT }, async () => {
  await withPage({ webgpu: false }, async (page, errors) => {
    await waitForDataState(page, 'fashion', 'done');
    await page.selectOption('#bnn-experiment', 'stream');
    await page.dispatchEvent('#bnn-controls', 'change');
    // The stream's own fields are shown, the permuted ones hidden.
    assert.equal(await page.locator('#bnn-subsets').isVisible(), true);
    assert.equal(await page.locator('#bnn-tasks').isVisible(), false);
    await page.selectOption('#bnn-compute', 'cpu');
    await page.fill('#bnn-hidden', '32');
    await page.fill('#bnn-subsets', '3');
    await page.fill('#bnn-epochs', '1');
    await page.dispatchEvent('#bnn-controls', 'change');
    await page.click('#bnn-run');
    await page.waitForFunction(() => /^(Finished|Stopped)/.test(document.getElementById('bnn-status').textContent), null, {
      timeout: RUN_TIMEOUT,
      polling: 500,
    });
    const status = await page.textContent('#bnn-status');
    const accs = [...status.matchAll(/(m=0|m=6|full-data) (\d+\.\d)%/g)].map((m) => [m[1], Number(m[2])]);
    assert.equal(accs.length, 3, status);
    for (const [name, acc] of accs) assert.ok(acc > 60, `${name} learned Fashion-MNIST: ${status}`);
    const colours = await curveColours(page, 'bnn-curves');
    assert.ok(colours.standard > 100 && colours.meta > 100, `stream curves drawn: ${JSON.stringify(colours)}`);
    assert.equal(errors.length, 0, formatErrors(errors));
  });
});

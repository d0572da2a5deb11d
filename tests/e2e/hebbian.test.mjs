// Demo 3 as a user drives it: pattern completion trained to the end on the CPU path, the episode
// stepped through with the slider while the trace fills up; the same run on WebGPU (about four
// minutes on SwiftShader); a short denoising run on the CPU path whose reconstructions follow the
// noise slider, and one on WebGPU.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withPage, curveColours, nonWhite, formatErrors, waitForDataState } from './helpers.mjs';

const RUN_TIMEOUT = 300_000;
// Each network now trains in a worker with its own GPU device; on SwiftShader both devices share
// the machine's two cores, and the rate counts completed steps (about 1 a second here for pattern
// completion), so 600 steps take several minutes.
const GPU_COMPLETION_TIMEOUT = 900_000;

async function runToTheEnd(page, timeout = RUN_TIMEOUT) {
  await page.click('#hebb-run');
  await page.waitForFunction(() => /^(Finished|Stopped)/.test(document.getElementById('hebb-status').textContent), null, {
    timeout,
    polling: 500,
  });
  const status = await page.textContent('#hebb-status');
  assert.match(status, /^Finished/, `the run stopped: ${await page.textContent('#hebb-error')}`);
  return page.$$eval('#hebb-results tr[data-variant]', (rows) => Object.fromEntries(rows.map((r) => [r.dataset.variant, Number(r.dataset.mse)])));
}

/** A canvas's pixels, to tell whether a redraw changed the picture. */
async function snapshot(page, id) {
  return page.evaluate((id) => {
    const c = document.getElementById(id);
    const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
    let h = 0;
    for (let i = 0; i < data.length; i += 4) h = (h * 31 + data[i] + 7 * data[i + 1] + 13 * data[i + 2]) % 1_000_000_007;
    return h;
  }, id);
}

test('demo 3: the plastic layer completes patterns its non-plastic twin cannot', { timeout: RUN_TIMEOUT + 60_000 }, async () => {
  await withPage({ webgpu: false }, async (page, errors) => {
    await page.selectOption('#hebb-task', 'completion');
    await page.fill('#hebb-steps', '600');
    await page.fill('#hebb-seed', '1');
    await page.dispatchEvent('#hebb-controls', 'change');
    const mse = await runToTheEnd(page);
    console.log(`# completion, 600 steps: ${JSON.stringify(mse)}`);
    assert.ok(mse['non-plastic'] > 0.4, `fixed weights cannot know the episode's patterns: ${JSON.stringify(mse)}`);
    assert.ok(mse.plastic < 0.6 * mse['non-plastic'], `the trace completes them: ${JSON.stringify(mse)}`);
    const colours = await curveColours(page, 'hebb-loss');
    assert.ok(colours.standard > 100 && colours.meta > 100, `both loss curves drawn: ${JSON.stringify(colours)}`);
    // Step through the episode: at step 1 the trace is still zero (a blank picture), at the last
    // step it holds the patterns.
    await page.fill('#hebb-t', '0');
    await page.dispatchEvent('#hebb-t', 'input');
    const early = await nonWhite(page, 'hebb-trace');
    const max = Number(await page.getAttribute('#hebb-t', 'max'));
    assert.ok(max > 5, `the slider spans the episode: ${max}`);
    await page.fill('#hebb-t', String(max));
    await page.dispatchEvent('#hebb-t', 'input');
    await page.waitForFunction((early) => {
      const c = document.getElementById('hebb-trace');
      const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
      let n = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i] < 240 || data[i + 1] < 240 || data[i + 2] < 240) n++;
      return n > early + 5000;
    }, early);
    assert.ok((await nonWhite(page, 'hebb-episode')) > 2000, 'episode drawn');
    assert.equal(errors.length, 0, formatErrors(errors));
  });
});

test('demo 3 on WebGPU: pattern completion trains both networks on the GPU', { timeout: GPU_COMPLETION_TIMEOUT + 60_000 }, async () => {
  await withPage({ webgpu: true }, async (page, errors) => {
    await page.waitForSelector('#backend[data-backend=webgpu]');
    await page.selectOption('#hebb-task', 'completion');
    await page.selectOption('#hebb-compute', 'webgpu');
    await page.fill('#hebb-steps', '600');
    await page.dispatchEvent('#hebb-controls', 'change');
    const mse = await runToTheEnd(page, GPU_COMPLETION_TIMEOUT);
    console.log(`# completion on WebGPU, 600 steps: ${JSON.stringify(mse)}`);
    assert.match(await page.textContent('#hebb-status'), /^Finished/);
    assert.ok(mse['non-plastic'] > 0.4, JSON.stringify(mse));
    assert.ok(mse.plastic < 0.6 * mse['non-plastic'], `the trace completes the patterns on the GPU too: ${JSON.stringify(mse)}`);
    const colours = await curveColours(page, 'hebb-loss');
    assert.ok(colours.standard > 50 && colours.meta > 50, `both loss curves drawn: ${JSON.stringify(colours)}`);
    assert.ok((await nonWhite(page, 'hebb-episode')) > 2000, 'episode drawn from the parameters read back');
    assert.equal(errors.length, 0, formatErrors(errors));
  });
});

test('demo 3: a short denoising run, reconstructions following the noise slider', { timeout: RUN_TIMEOUT + 60_000 }, async () => {
  await withPage({ webgpu: false }, async (page, errors) => {
    await waitForDataState(page, 'mnist', 'done');
    await page.selectOption('#hebb-task', 'denoise');
    await page.dispatchEvent('#hebb-controls', 'change');
    assert.equal(await page.locator('#hebb-recon').isVisible(), true);
    assert.equal(await page.locator('#hebb-trace').isVisible(), false);
    await page.fill('#hebb-steps', '4');
    await page.dispatchEvent('#hebb-controls', 'change');
    const mse = await runToTheEnd(page);
    console.log(`# denoise, 4 steps: ${JSON.stringify(mse)}`);
    for (const v of Object.values(mse)) assert.ok(Number.isFinite(v) && v < 0.5, JSON.stringify(mse));
    assert.ok((await nonWhite(page, 'hebb-recon')) > 5000, 'reconstructions drawn');
    const before = await snapshot(page, 'hebb-recon');
    await page.fill('#hebb-noise', '1.2');
    await page.dispatchEvent('#hebb-noise', 'input');
    await page.waitForFunction(() => document.getElementById('hebb-noise-value').textContent === '1.20');
    await page.waitForFunction(
      ([id, before]) => {
        const c = document.getElementById(id);
        const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
        let h = 0;
        for (let i = 0; i < data.length; i += 4) h = (h * 31 + data[i] + 7 * data[i + 1] + 13 * data[i + 2]) % 1_000_000_007;
        return h !== before;
      },
      ['hebb-recon', before],
    );
    assert.equal(errors.length, 0, formatErrors(errors));
  });
});

test('demo 3 on WebGPU: the denoising autoencoders train on the GPU', { timeout: GPU_COMPLETION_TIMEOUT + 60_000 }, async () => {
  await withPage({ webgpu: true }, async (page, errors) => {
    await page.waitForSelector('#backend[data-backend=webgpu]');
    await waitForDataState(page, 'mnist', 'done');
    await page.selectOption('#hebb-task', 'denoise');
    await page.selectOption('#hebb-compute', 'webgpu');
    // A GPU step of the autoencoder is hundreds of dispatches, seconds each on SwiftShader, and the
    // two networks' workers share its cores: one run under load took over 6 minutes for 2 steps.
    await page.fill('#hebb-steps', '2');
    await page.fill('#hebb-test', '8');
    await page.dispatchEvent('#hebb-controls', 'change');
    await page.click('#hebb-run');
    // The status after a training slice says where the run computes ("Step 1 of 2 · … on WebGPU").
    await page.waitForFunction(() => /^Step .* on |^(Finished|Stopped)/.test(document.getElementById('hebb-status').textContent), null, {
      timeout: GPU_COMPLETION_TIMEOUT,
      polling: 100,
    });
    const running = await page.textContent('#hebb-status');
    await page.waitForFunction(() => /^(Finished|Stopped)/.test(document.getElementById('hebb-status').textContent), null, {
      timeout: GPU_COMPLETION_TIMEOUT,
      polling: 500,
    });
    assert.match(await page.textContent('#hebb-status'), /^Finished/, `the run stopped: ${await page.textContent('#hebb-error')}`);
    const mse = await page.$$eval('#hebb-results tr[data-variant]', (rows) => Object.fromEntries(rows.map((r) => [r.dataset.variant, Number(r.dataset.mse)])));
    console.log(`# denoise on WebGPU, 2 steps: ${JSON.stringify(mse)} (while running: "${running}")`);
    assert.match(running, /^Step \d+ of 2 .* on WebGPU$/, 'the status said where it computes');
    assert.deepEqual(Object.keys(mse).sort(), ['non-plastic', 'plastic']);
    for (const v of Object.values(mse)) assert.ok(Number.isFinite(v) && v < 0.5, JSON.stringify(mse));
    assert.ok((await nonWhite(page, 'hebb-recon')) > 5000, 'reconstructions drawn from the GPU networks');
    // Two points per curve, nearly on top of each other after two steps: the chart, not its colours.
    assert.ok((await nonWhite(page, 'hebb-loss')) > 2000, 'loss chart drawn');
    assert.equal(errors.length, 0, formatErrors(errors));
  });
});

test('demo 3 refuses out-of-range settings', async () => {
  await withPage({ webgpu: false }, async (page, errors) => {
    await page.fill('#hebb-steps', '0');
    await page.dispatchEvent('#hebb-controls', 'change');
    await page.click('#hebb-run');
    await page.waitForSelector('#hebb-error:not([hidden])');
    assert.match(await page.textContent('#hebb-error'), /Training steps: '0' is below the smallest allowed value, 1/);
    assert.equal(await page.textContent('#hebb-run'), 'Run', 'nothing started');
    await page.fill('#hebb-steps', '10');
    await page.selectOption('#hebb-task', 'denoise');
    await page.selectOption('#hebb-compute', 'webgpu');
    await page.dispatchEvent('#hebb-controls', 'change');
    await page.click('#hebb-run');
    // Without WebGPU in this browser, WebGPU is refused with the reason.
    assert.match(await page.textContent('#hebb-error'), /WebGPU is not available/);
    assert.equal(errors.length, 0, formatErrors(errors));
  });
});

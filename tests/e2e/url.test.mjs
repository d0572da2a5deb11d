// The page's state in its URL, as a user meets it: a link with settings starts that run on load and
// reproduces it (the same first 20 values of every curve on a second load), a tampered link is
// corrected with a visible note instead of crashing, settings typed into a form go into the URL,
// and every step of the guided path loads and starts. On the CPU path (WebGPU off): the runs are
// short and the CPU path is the deterministic one here.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serveStatic, requireDist, launchBrowser, openApp, formatErrors, waitFinished } from './helpers.mjs';

const RUN_TIMEOUT = 300_000;

async function withServer(body) {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: false });
  try {
    await body(server, browser);
  } finally {
    await browser.close();
    await server.close();
  }
}

/** The numbers behind a chart's lines, `{ name: [values] }`, read where the page writes them. */
async function series(page, id) {
  const text = await page.getAttribute(`#${id}`, 'data-series');
  assert.ok(text, `#${id} has data-series`);
  return JSON.parse(text);
}

function first20(all) {
  return Object.fromEntries(Object.entries(all).map(([name, values]) => [name, values.slice(0, 20)]));
}

// Permuted MNIST, 3 tasks of 80 batches, evaluated every 10: task 1's curve has 24 points.
const BNN_LINK = '?bnn.hidden=32&bnn.meta=10&bnn.lr=0.02&bnn.tasks=3&bnn.steps=80&bnn.seed=3&bnn.compute=cpu&run=bnn';
// Pattern completion, 300 steps: a loss point every 5 steps, 60 per network.
const HEBB_LINK = '?hebbian.task=completion&hebbian.steps=300&hebbian.seed=2&hebbian.compute=cpu&run=hebbian';

test('a link with settings starts that run on load and reproduces it on a second load', { timeout: 4 * RUN_TIMEOUT }, async () => {
  await withServer(async (server, browser) => {
    const runs = [];
    for (let load = 0; load < 2; load++) {
      const { page, context, errors } = await openApp(browser, `${server.url}${BNN_LINK.replace('&run=bnn', '')}&${HEBB_LINK.slice(1)}`);
      // Only one `run=` counts (the last): the hebbian run starts on load; bnn is started by hand.
      assert.equal(await page.inputValue('#bnn-hidden'), '32');
      assert.equal(await page.inputValue('#bnn-compute'), 'cpu');
      assert.equal(await page.inputValue('#bnn-meta'), '10');
      assert.equal(await page.inputValue('#hebb-steps'), '300');
      // Nothing was corrected.
      assert.equal(await page.locator('#settings-note').isVisible(), false);
      await page.waitForFunction(() => document.getElementById('hebb-run').textContent === 'Pause' || /^Finished/.test(document.getElementById('hebb-status').textContent));
      await page.click('#bnn-run');
      await waitFinished(page, 'hebb');
      await waitFinished(page, 'bnn');
      const bnn = await series(page, 'bnn-curves');
      const hebb = await series(page, 'hebb-loss');
      assert.deepEqual(Object.keys(bnn).sort(), ['m=0 · task 1', 'm=0 · task 2', 'm=0 · task 3', 'm=10 · task 1', 'm=10 · task 2', 'm=10 · task 3']);
      assert.ok(bnn['m=0 · task 1'].length >= 20, JSON.stringify(bnn));
      assert.deepEqual(Object.keys(hebb).sort(), ['non-plastic', 'plastic']);
      assert.ok(hebb.plastic.length >= 20, JSON.stringify(hebb));
      // The URL now holds every setting of every demo, the seeds included.
      const url = new URL(page.url());
      for (const key of ['bnn.seed', 'bnn.hidden', 'bnn.experiment', 'lenet.seeds', 'lenet.seed', 'hebbian.seed', 'hebbian.task']) {
        assert.ok(url.searchParams.has(key), `${key} in ${url.search}`);
      }
      assert.equal(url.searchParams.get('bnn.seed'), '3');
      runs.push({ bnn: first20(bnn), hebb: first20(hebb), url: url.search });
      assert.equal(errors.length, 0, formatErrors(errors));
      await context.close();
    }
    assert.deepEqual(runs[1].bnn, runs[0].bnn, 'the same binarized-network curves');
    assert.deepEqual(runs[1].hebb, runs[0].hebb, 'the same Hebbian loss curves');
    assert.equal(runs[1].url, runs[0].url);
    // A different seed gives different curves: the comparison above can fail.
    const { page, context } = await openApp(browser, `${server.url}${BNN_LINK.replace('bnn.seed=3', 'bnn.seed=4')}`);
    await waitFinished(page, 'bnn');
    assert.notDeepEqual(first20(await series(page, 'bnn-curves')), runs[0].bnn);
    await context.close();
  });
});

test('a tampered link is corrected to the nearest allowed values, with a note, and still runs', { timeout: RUN_TIMEOUT }, async () => {
  await withServer(async (server, browser) => {
    const link = '?bnn.hidden=5&bnn.lr=banana&bnn.compute=CPU&bnn.tasks=1e9&bnn.meta=1.35,999&lenet.arch=resnet&bnn.bogus=1&run=bnn';
    const { page, context, errors } = await openApp(browser, `${server.url}${link}`);
    const note = page.locator('#settings-note');
    await note.waitFor({ state: 'visible' });
    const text = await note.textContent();
    for (const expected of [
      "bnn.hidden: '5' is below the smallest allowed value, 8; using 8",
      "bnn.lr: 'banana' is not a number; using 0.005",
      "bnn.compute: 'CPU' is not one of auto, webgpu, cpu; using cpu",
      "bnn.tasks: '1e9' is above the largest allowed value, 50; using 50",
      "bnn.meta: '1.35,999' is above the largest allowed value, 50; using 1.35,50",
      "lenet.arch: 'resnet' is not one of classic, authors; using classic",
      "'bnn.bogus' is not a setting of this page; ignored",
    ]) {
      assert.ok(text.includes(expected), `note says "${expected}": ${text}`);
    }
    // The form shows what runs, the corrected fields are marked, and the URL holds the corrections.
    assert.equal(await page.inputValue('#bnn-hidden'), '8');
    assert.equal(await page.inputValue('#bnn-lr'), '0.005');
    assert.equal(await page.inputValue('#bnn-compute'), 'cpu');
    assert.equal(await page.inputValue('#bnn-tasks'), '50');
    assert.equal(await page.inputValue('#lenet-arch'), 'classic');
    assert.equal(await page.getAttribute('#bnn-hidden', 'data-corrected'), '1');
    const url = new URL(page.url());
    assert.equal(url.searchParams.get('bnn.hidden'), '8');
    assert.equal(url.searchParams.get('bnn.meta'), '1.35,50');
    assert.equal(url.searchParams.has('bnn.bogus'), false);
    // The corrected run starts: three networks (m = 0, 1.35, 50), on the CPU.
    await page.waitForFunction(() => /batches\/s|s per batch/.test(document.getElementById('bnn-status').textContent), null, { timeout: RUN_TIMEOUT });
    assert.match(await page.textContent('#bnn-status'), /on the CPU/);
    await page.waitForFunction(() => document.querySelectorAll('#bnn-results tr[data-learner]').length === 3, null, { timeout: RUN_TIMEOUT });
    assert.deepEqual(await page.$$eval('#bnn-results tr[data-learner]', (rows) => rows.map((r) => r.dataset.learner)), ['m=0', 'm=1.35', 'm=50']);
    await page.click('#bnn-reset');
    assert.equal(errors.length, 0, formatErrors(errors));
    await context.close();
  });
});

test('settings typed into a form go into the URL; a refused one does not', async () => {
  await withServer(async (server, browser) => {
    const { page, context, errors } = await openApp(browser, server.url);
    await page.fill('#lenet-seeds', '4');
    await page.dispatchEvent('#lenet-controls', 'change');
    await page.waitForFunction(() => new URL(location.href).searchParams.get('lenet.seeds') === '4');
    await page.fill('#lenet-seeds', '40');
    await page.dispatchEvent('#lenet-controls', 'change');
    await page.waitForSelector('#lenet-error:not([hidden])');
    assert.match(await page.textContent('#lenet-error'), /Seeds: '40' is above the largest allowed value, 20/);
    assert.equal(new URL(page.url()).searchParams.get('lenet.seeds'), '4');
    // A field of the other experiment is shown only with it.
    assert.equal(await page.locator('#bnn-subsets').isVisible(), false);
    await page.selectOption('#bnn-experiment', 'stream');
    await page.dispatchEvent('#bnn-controls', 'change');
    assert.equal(await page.locator('#bnn-subsets').isVisible(), true);
    assert.equal(new URL(page.url()).searchParams.get('bnn.experiment'), 'stream');
    assert.equal(errors.length, 0, formatErrors(errors));
    await context.close();
  });
});

test('every step of the guided path loads and starts', { timeout: 8 * RUN_TIMEOUT }, async () => {
  await withServer(async (server, browser) => {
    const { page, context } = await openApp(browser, server.url);
    const presets = await page.$$eval('#guide-steps li', (items) =>
      items.map((li) => ({ id: li.dataset.preset, href: li.querySelector('a').getAttribute('href'), math: li.querySelectorAll('math').length })),
    );
    await context.close();
    assert.deepEqual(presets.map((p) => p.id), ['toy', 'forgetting', 'why-m', 'mnist-fashion', 'stream', 'lenet-seeds', 'completion', 'denoise', 'many-tasks']);
    for (const preset of presets) {
      assert.equal(preset.math, 1, `${preset.id} has its equation in MathML`);
      const { page, context, errors } = await openApp(browser, new URL(preset.href, server.url).href);
      assert.equal(await page.locator('#settings-note').isVisible(), false, `${preset.id}: nothing corrected`);
      const run = new URL(preset.href, server.url).searchParams.get('run');
      if (!run) {
        // The toy problem is drawn at once, no data needed.
        assert.ok(await page.getAttribute('#bnn-toy', 'width'));
        assert.equal(await page.locator('#bnn-toy').isVisible(), true);
      } else {
        const prefix = { bnn: 'bnn', lenet: 'lenet', hebbian: 'hebb' }[run];
        // Started: the button says Pause and a step has been trained and reported. A short run
        // (pattern completion's 600 steps take about a second) can finish between two polls: then
        // the button is back to Run and the status says Finished.
        await page.waitForFunction((p) => document.getElementById(`${p}-run`).textContent === 'Pause' || /^Finished/.test(document.getElementById(`${p}-status`).textContent), prefix, { timeout: RUN_TIMEOUT });
        await page.waitForFunction((p) => /(batches|steps)\/s|s\/(batch|step)|^Finished/.test(document.getElementById(`${p}-status`).textContent), prefix, {
          timeout: RUN_TIMEOUT,
          polling: 250,
        });
        if (preset.id === 'why-m') {
          await page.waitForFunction(() => document.querySelectorAll('#bnn-results tr[data-learner]').length === 3, null, { timeout: RUN_TIMEOUT });
        }
        console.log(`# ${preset.id}: ${await page.textContent(`#${prefix}-status`)}`);
      }
      assert.equal(errors.length, 0, `${preset.id}: ${formatErrors(errors)}`);
      await context.close();
    }
  });
});

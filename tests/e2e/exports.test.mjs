// Exports as a user takes them: after a short run from a link (CPU path), each chart downloads as
// PNG (a real image of the canvas's size) and as SVG (the same figure: its lines and labels), and
// the run downloads as summary.json (the command-line tool's shape, the numbers the page shows)
// and metrics.csv (one row per curve point and per run).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { serveStatic, requireDist, launchBrowser, openApp, formatErrors } from './helpers.mjs';

const RUN_TIMEOUT = 300_000;
const LINK = '?bnn.hidden=32&bnn.meta=10&bnn.lr=0.02&bnn.tasks=2&bnn.steps=60&bnn.seed=5&bnn.compute=cpu&hebbian.task=completion&hebbian.steps=200&hebbian.compute=cpu&run=bnn';

/** Clicks `selector` and resolves to the downloaded file's name and bytes. */
async function download(page, selector) {
  const [file] = await Promise.all([page.waitForEvent('download'), page.click(selector)]);
  const path = await file.path();
  return { name: file.suggestedFilename(), bytes: await fs.readFile(path) };
}

test('each chart downloads as PNG and SVG, and the run as summary.json and metrics.csv', { timeout: RUN_TIMEOUT + 60_000 }, async () => {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: false });
  try {
    const { page, context, errors } = await openApp(browser, `${server.url}${LINK}`);
    // Before a run has reported, there is nothing to save.
    assert.equal(await page.locator('button[data-export="svg"][data-canvas="lenet-acc"]').isDisabled(), true);
    assert.equal(await page.locator('#lenet-summary').isDisabled(), true);
    await page.waitForFunction(() => /^Finished/.test(document.getElementById('bnn-status').textContent), null, { timeout: RUN_TIMEOUT, polling: 500 });

    // PNG: the canvas as drawn, at its backing size.
    const png = await download(page, 'button[data-export="png"][data-canvas="bnn-curves"]');
    assert.equal(png.name, 'bnn-curves.png');
    assert.deepEqual([...png.bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG signature');
    const size = await page.evaluate(() => [document.getElementById('bnn-curves').width, document.getElementById('bnn-curves').height]);
    assert.deepEqual([png.bytes.readUInt32BE(16), png.bytes.readUInt32BE(20)], size, 'the PNG is the canvas');

    // SVG: the same figure, with a line per curve (2 tasks x 2 networks) and its labels.
    const svg = await download(page, 'button[data-export="svg"][data-canvas="bnn-curves"]');
    assert.equal(svg.name, 'bnn-curves.svg');
    const text = svg.bytes.toString('utf8');
    assert.match(text, /^<\?xml[^>]*>\s*<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" width="760" height="360"/);
    assert.ok((text.match(/<polyline/g) ?? []).length >= 4, 'one line per curve');
    assert.match(text, /m=10/);
    // A matrix of the second network, from a figure of several canvases.
    const matrix = await download(page, 'button[data-export="svg"][data-canvas="bnn-matrix-meta"]');
    assert.match(matrix.bytes.toString('utf8'), /<svg/);
    // The third matrix is not shown in a two-network run, nor are its buttons.
    assert.equal(await page.locator('span.chart-tool[data-canvas="bnn-matrix-third"]').isVisible(), false);

    // summary.json: the tool's shape and the numbers on the page.
    const summaryFile = await download(page, '#bnn-summary');
    assert.equal(summaryFile.name, 'bnn-permuted-summary.json');
    const summary = JSON.parse(summaryFile.bytes.toString('utf8'));
    assert.equal(summary.experiment, 'bnn-permuted');
    assert.deepEqual(summary.config.layers, [784, 32, 32, 10]);
    assert.equal(summary.config.tasks, 2);
    assert.equal(summary.config.steps_per_task, 60);
    assert.equal(summary.config.backend, 'cpu (browser, wasm)');
    assert.ok(summary.config.elapsed_seconds > 0);
    assert.deepEqual(summary.runs.map((r) => [r.variant, r.seed]), [['m=0', 5], ['m=10', 5]]);
    const table = await page.$$eval('#bnn-results tr[data-learner]', (rows) => Object.fromEntries(rows.map((r) => [r.dataset.learner, Number(r.dataset.task1)])));
    for (const run of summary.runs) {
      assert.equal(run.metrics.acc_matrix.length, 2);
      const curve = run.metrics.curve;
      assert.ok(curve.length >= 6, JSON.stringify(curve));
      // The table shows the last curve point's task-1 accuracy.
      assert.ok(Math.abs(curve.at(-1).task_acc[0] - table[run.variant]) < 1e-4, `${run.variant}: ${curve.at(-1).task_acc[0]} vs ${table[run.variant]}`);
    }

    // metrics.csv: a row per curve point and a final row per run, the same numbers.
    const csvFile = await download(page, '#bnn-csv');
    assert.equal(csvFile.name, 'bnn-permuted-metrics.csv');
    const lines = csvFile.bytes.toString('utf8').trim().split('\n');
    assert.equal(lines[0], 'variant,seed,kind,step,final_mean_acc,task_acc_1,task_acc_2,train_acc,train_loss');
    const rows = lines.slice(1).map((l) => l.split(','));
    assert.equal(rows.length, summary.runs.reduce((n, r) => n + r.metrics.curve.length + 1, 0));
    const finals = rows.filter((r) => r[2] === 'final');
    assert.deepEqual(finals.map((r) => r[0]), ['m=0', 'm=10']);
    for (const [row, run] of finals.map((r, i) => [r, summary.runs[i]])) {
      assert.ok(Math.abs(Number(row[4]) - run.metrics.final_mean_acc) < 1e-6);
    }

    // Another demo: pattern completion writes the tool's hebbian-completion document.
    await page.click('#hebb-run');
    await page.waitForFunction(() => /^Finished/.test(document.getElementById('hebb-status').textContent), null, { timeout: RUN_TIMEOUT, polling: 500 });
    const hebb = JSON.parse((await download(page, '#hebb-summary')).bytes.toString('utf8'));
    assert.equal(hebb.experiment, 'hebbian-completion');
    assert.equal(hebb.config.train_steps, 200);
    assert.deepEqual(hebb.runs.map((r) => r.variant).sort(), ['non-plastic', 'plastic']);
    for (const run of hebb.runs) {
      assert.ok(run.metrics.test_mse > 0 && run.metrics.test_mse < 2, JSON.stringify(run.metrics.test_mse));
      assert.ok(run.metrics.loss_curve.length > 10);
    }

    // Reset: the run is gone, so are its downloads; the charts' own buttons stay.
    await page.click('#bnn-reset');
    assert.equal(await page.locator('#bnn-summary').isDisabled(), true);
    assert.equal(await page.locator('button[data-export="png"][data-canvas="bnn-curves"]').isDisabled(), false);
    assert.equal(errors.length, 0, formatErrors(errors));
    await context.close();
  } finally {
    await browser.close();
    await server.close();
  }
});

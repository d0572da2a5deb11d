// Draw your own, as a student uses it: after a short run of demo 1 (CPU path), a stroke drawn with
// the mouse is prepared into the 28 x 28 image the networks see, and both networks answer with
// class probabilities (ten each, summing to 1) drawn as bars; the keyboard's way in (a test image)
// changes the answers; Clear empties the pad.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serveStatic, requireDist, launchBrowser, openApp, formatErrors, curveColours } from './helpers.mjs';

const RUN_TIMEOUT = 300_000;
const LINK = '?bnn.hidden=32&bnn.meta=10&bnn.lr=0.02&bnn.tasks=2&bnn.steps=60&bnn.seed=2&bnn.compute=cpu&run=bnn';

async function answers(page) {
  return JSON.parse((await page.getAttribute('#pad-bars', 'data-series')) ?? '{}');
}

/** Waits until the bars show `count` networks' answers other than `before`. */
async function waitAnswers(page, count, before) {
  await page.waitForFunction(
    ([count, before]) => {
      const s = JSON.parse(document.getElementById('pad-bars').getAttribute('data-series') ?? '{}');
      return Object.keys(s).length === count && JSON.stringify(s) !== before;
    },
    [count, before],
    { timeout: 60_000, polling: 200 },
  );
  return answers(page);
}

test('a drawing is prepared as MNIST images were and every trained network answers', { timeout: RUN_TIMEOUT + 120_000 }, async () => {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: false });
  try {
    const { page, context, errors } = await openApp(browser, `${server.url}${LINK}`);
    await page.waitForFunction(() => /^Finished/.test(document.getElementById('bnn-status').textContent), null, { timeout: RUN_TIMEOUT, polling: 500 });

    // A "1": one vertical stroke down the middle of the pad.
    await page.locator('#pad').hover();
    const box = await page.locator('#pad').boundingBox();
    assert.ok(box);
    const x = box.x + box.width / 2;
    await page.mouse.move(x, box.y + box.height * 0.15);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++) await page.mouse.move(x + i * 0.5, box.y + box.height * (0.15 + 0.07 * i));
    await page.mouse.up();

    // The prepared image: ink in a 20-pixel-tall column, not the whole 28 x 28.
    const ink = Number(await page.getAttribute('#pad-preview', 'data-ink'));
    assert.ok(ink >= 20 && ink < 200, `ink pixels in the prepared image: ${ink}`);
    assert.match(await page.textContent('#pad-note'), /20 x 20 box/);

    const first = await waitAnswers(page, 2, '{}');
    assert.deepEqual(Object.keys(first).sort(), ['demo 1: m=0', 'demo 1: m=10']);
    for (const [name, probs] of Object.entries(first)) {
      assert.equal(probs.length, 10, name);
      const sum = probs.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-3 && probs.every((p) => p >= 0), `${name}: ${probs}`);
    }
    // The bars are painted in a frame after the answers arrive: wait for them (30 s at most).
    let colours = await curveColours(page, 'pad-bars');
    for (let tries = 0; tries < 120 && !(colours.standard > 100 && colours.meta > 100); tries++) {
      await page.waitForTimeout(250);
      colours = await curveColours(page, 'pad-bars');
    }
    assert.ok(colours.standard > 100 && colours.meta > 100, `both networks' bars drawn: ${JSON.stringify(colours)}`);

    // The keyboard's way: a test image, chosen with Enter on the focused button.
    await page.focus('#pad-sample');
    await page.keyboard.press('Enter');
    assert.match(await page.textContent('#pad-note'), /^MNIST test image #\d+, labelled “\d”\.$/);
    const second = await waitAnswers(page, 2, JSON.stringify(first));
    assert.notDeepEqual(second, first, 'another image, other answers');

    await page.click('#pad-clear');
    assert.equal(await page.getAttribute('#pad-preview', 'data-ink'), '0');
    assert.deepEqual(await answers(page), {});
    assert.equal(errors.length, 0, formatErrors(errors));
    await context.close();
  } finally {
    await browser.close();
    await server.close();
  }
});

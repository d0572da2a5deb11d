// The lesson view, as a teacher uses it on a 1280x720 projector: `?lesson=N` opens step N of the
// guided path as one screen (its chart, its state line and Run / Step / Reset on screen without
// scrolling, and few enough words for a room to read), arrow keys and buttons move through the
// path, Run trains with the state line saying where the run stands, "Whole page" brings the rest
// back in place, and a step out of range is shown with a note. WebGPU off: the CPU path.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serveStatic, requireDist, launchBrowser, openApp, waitForDataState, formatErrors } from './helpers.mjs';

const PROJECTOR = { width: 1280, height: 720 };
// Each step's chart and its demo's element prefix, as src/settings/presets.rs declares them.
const STEPS = [
  ['bnn-toy', 'bnn'],
  ['bnn-curves', 'bnn'],
  ['bnn-curves', 'bnn'],
  ['bnn-curves', 'bnn'],
  ['bnn-curves', 'bnn'],
  ['lenet-acc', 'lenet'],
  ['hebb-loss', 'hebb'],
  ['hebb-recon', 'hebb'],
  ['bnn-pileup', 'bnn'],
];
const MAX_WORDS = 60;

/**
 * What a person sees in the window: each element's box (and whether it lies wholly inside the
 * window), the words of text on screen, the canvases shown, and whether the page scrolls.
 */
async function screen(page, ids) {
  return page.evaluate((ids) => {
    const [W, H] = [window.innerWidth, window.innerHeight];
    const inside = (r) => r.width > 0 && r.height > 0 && r.left >= 0 && r.top >= 0 && r.right <= W + 0.5 && r.bottom <= H + 0.5;
    const boxes = {};
    for (const id of ids) {
      const el = document.getElementById(id);
      const r = el?.getBoundingClientRect();
      boxes[id] = el ? { shown: el.checkVisibility({ visibilityProperty: true, opacityProperty: true }) && inside(r), w: r.width, h: r.height, top: r.top, bottom: r.bottom } : null;
    }
    const words = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const el = node.parentElement;
      if (!el || !node.textContent.trim() || !el.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
      if (el.closest('script, style, noscript')) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const onScreen = [...range.getClientRects()].some((r) => r.width > 0 && r.bottom > 0 && r.top < H && r.right > 0 && r.left < W);
      if (onScreen) words.push(...node.textContent.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)));
    }
    const canvases = [...document.querySelectorAll('canvas')].filter((c) => c.checkVisibility() && c.getBoundingClientRect().height > 0).map((c) => c.id);
    const root = document.scrollingElement;
    return { boxes, words, canvases, scrolls: root.scrollHeight > H + 1 || root.scrollWidth > W + 1, height: root.scrollHeight };
  }, ids);
}

function assertFits(view, s, chart, prefix) {
  assert.equal(s.scrolls, false, `${view}: the page scrolls (${s.height} px tall)`);
  for (const id of [chart, `${prefix}-status`, `${prefix}-run`, `${prefix}-step`, `${prefix}-reset`, 'lesson-title', 'lesson-look', 'lesson-prev', 'lesson-next', 'lesson-exit']) {
    assert.ok(s.boxes[id]?.shown, `${view}: #${id} is not wholly on screen: ${JSON.stringify(s.boxes[id])}`);
  }
  // The step's one chart, large: at least half the window's width or 60% of its height.
  const c = s.boxes[chart];
  assert.ok(c.w >= 0.5 * PROJECTOR.width || c.h >= 0.6 * PROJECTOR.height, `${view}: the chart is only ${c.w.toFixed(0)}x${c.h.toFixed(0)} px`);
  assert.deepEqual(s.canvases, [chart], `${view}: the canvases shown`);
  assert.ok(s.words.length <= MAX_WORDS, `${view}: ${s.words.length} words on screen: ${s.words.join(' ')}`);
}

test('every step of the path opens as one 1280x720 screen: chart, state line and controls, no scrolling, at most 60 words', { timeout: 600_000 }, async () => {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: false });
  try {
    // The guided path's own sentences, to find each on its lesson.
    const guide = await openApp(browser, server.url);
    const looks = await guide.page.$$eval('#guide-steps li p', (ps) => ps.map((p) => p.textContent));
    assert.equal(looks.length, STEPS.length);
    await guide.context.close();
    for (const presenter of [false, true]) {
      for (const [i, [chart, prefix]] of STEPS.entries()) {
        const n = i + 1;
        const view = `lesson ${n}${presenter ? ' in presenter mode' : ''}`;
        const { page, context, errors } = await openApp(browser, `${server.url}?lesson=${n}${presenter ? '&presenter=1' : ''}`, { contextOptions: { viewport: PROJECTOR } });
        await page.waitForSelector('#lesson-bar:not([hidden])');
        assert.equal(await page.textContent('#lesson-look'), looks[i], `${view}: what to look for`);
        assert.equal(await page.textContent('#lesson-count'), `${n} / ${STEPS.length}`);
        assert.equal(await page.locator('#settings-note').isVisible(), false, `${view}: nothing corrected`);
        assert.equal(await page.textContent(`#${prefix}-run`), 'Run', `${view}: a lesson waits for Run`);
        assertFits(view, await screen(page, [chart, `${prefix}-status`, `${prefix}-run`, `${prefix}-step`, `${prefix}-reset`, 'lesson-title', 'lesson-look', 'lesson-prev', 'lesson-next', 'lesson-exit']), chart, prefix);
        assert.equal(new URL(page.url()).searchParams.get('lesson'), String(n), `${view}: the address keeps the lesson`);
        assert.equal(new URL(page.url()).searchParams.get('presenter'), presenter ? '1' : null);
        assert.equal(errors.length, 0, formatErrors(errors));
        await context.close();
      }
    }
  } finally {
    await browser.close();
    await server.close();
  }
});

test('a lesson runs with its state line, moves with the arrow keys and buttons, and opens the whole page in place', { timeout: 600_000 }, async () => {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: false });
  try {
    const { page, errors } = await openApp(browser, `${server.url}?lesson=2&bnn.hidden=32&bnn.compute=cpu`, { contextOptions: { viewport: PROJECTOR } });
    await waitForDataState(page, 'mnist', 'done');
    // Space runs the lesson's demo; the state line says where the run stands, not its speed.
    await page.keyboard.press('Space');
    await page.waitForFunction(() => /^Task 1 of 3, batch [1-9]\d* of 600$/.test(document.getElementById('bnn-status').textContent), null, { polling: 200 });
    const ids = ['bnn-curves', 'bnn-status', 'bnn-run', 'bnn-step', 'bnn-reset', 'lesson-title', 'lesson-look', 'lesson-prev', 'lesson-next', 'lesson-exit'];
    assertFits('lesson 2, running', await screen(page, ids), 'bnn-curves', 'bnn');
    await page.click('#bnn-run');
    await page.waitForFunction(() => /^Paused\. Task 1 of 3, batch \d+ of 600$/.test(document.getElementById('bnn-status').textContent));

    // Settings are one click away, and open without leaving the lesson.
    assert.equal(await page.locator('#bnn-hidden').isVisible(), false);
    await page.click('#bnn-settings-toggle');
    assert.equal(await page.locator('#bnn-hidden').isVisible(), true);
    assert.equal(await page.inputValue('#bnn-hidden'), '32', "the link's own setting on top of the step's");
    await page.click('#bnn-settings-toggle');

    // Whole page: the other charts, the path and the explanations come back, the run stays.
    await page.click('#lesson-exit');
    for (const id of ['#guide', '#bnn-hist', '#bnn-matrix-standard', '#data-panel', '#demo-lenet']) assert.equal(await page.locator(id).isVisible(), true, `${id} after Whole page`);
    assert.equal(await page.locator('#lesson-bar').isVisible(), false);
    assert.equal(new URL(page.url()).searchParams.has('lesson'), false, 'the address no longer asks for the lesson');
    assert.match(await page.textContent('#bnn-status'), /^Paused\. Task 1 of 3, batch \d+ of 600 · /, 'the whole page shows the speed again');
    assert.equal(errors.length, 0, formatErrors(errors));

    // The arrow keys and the buttons move through the path, presenter mode kept.
    const lesson = await openApp(browser, `${server.url}?lesson=1&presenter=1`, { contextOptions: { viewport: PROJECTOR } });
    const p = lesson.page;
    assert.equal(await p.isDisabled('#lesson-prev'), true, 'no step before the first');
    await Promise.all([p.waitForURL(/[?&]lesson=2(&|$)/), p.keyboard.press('ArrowRight')]);
    await p.waitForSelector('body[data-ready="1"]', { state: 'attached' });
    assert.equal(new URL(p.url()).searchParams.get('presenter'), '1');
    assert.equal(await p.textContent('#lesson-count'), '2 / 9');
    await Promise.all([p.waitForURL(/[?&]lesson=3(&|$)/), p.keyboard.press('n')]);
    await p.waitForSelector('body[data-ready="1"]', { state: 'attached' });
    await Promise.all([p.waitForURL(/[?&]lesson=2(&|$)/), p.keyboard.press('ArrowLeft')]);
    await p.waitForSelector('body[data-ready="1"]', { state: 'attached' });
    await Promise.all([p.waitForURL(/[?&]lesson=3(&|$)/), p.click('#lesson-next')]);
    await p.waitForSelector('body[data-ready="1"]', { state: 'attached' });
    await Promise.all([p.waitForURL(/[?&]lesson=2(&|$)/), p.click('#lesson-prev')]);
    await p.waitForSelector('body[data-ready="1"]', { state: 'attached' });
    assert.equal(await p.textContent('#lesson-title'), await p.textContent('#guide-steps li[data-preset="forgetting"] a'));
    assert.equal(lesson.errors.length, 0, formatErrors(lesson.errors));
  } finally {
    await browser.close();
    await server.close();
  }
});

test('a lesson out of range opens the nearest step with a note; one that is no number, the whole page', { timeout: 300_000 }, async () => {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: false });
  try {
    const far = await openApp(browser, `${server.url}?lesson=12`, { contextOptions: { viewport: PROJECTOR } });
    await far.page.waitForSelector('#settings-note:not([hidden])');
    assert.match(await far.page.textContent('#settings-note'), /lesson: '12' is above the largest allowed value, 9 \(the guided path has steps 1 to 9\); showing step 9/);
    assert.equal(await far.page.textContent('#lesson-count'), '9 / 9');
    assert.equal(await far.page.isDisabled('#lesson-next'), true, 'no step after the last');
    assert.equal(new URL(far.page.url()).searchParams.get('lesson'), '9', 'the address says what is shown');
    assert.equal(far.errors.length, 0, formatErrors(far.errors));
    const word = await openApp(browser, `${server.url}?lesson=three`, { contextOptions: { viewport: PROJECTOR } });
    await word.page.waitForSelector('#settings-note:not([hidden])');
    assert.match(await word.page.textContent('#settings-note'), /lesson: 'three' is not a whole number .*; showing the whole page/);
    assert.equal(await word.page.locator('#lesson-bar').isVisible(), false);
    assert.equal(await word.page.locator('#guide').isVisible(), true);
    assert.equal(word.errors.length, 0, formatErrors(word.errors));
  } finally {
    await browser.close();
    await server.close();
  }
});

// The page in front of a class: it fits a 1280x720 projector and a 768-px tablet without horizontal
// scrolling, the keys work (space run/pause, s step, r reset, n next step of the guided path, p
// presenter mode, ? the list of keys), and presenter mode enlarges the type and folds the settings
// away. WebGPU off: nothing here needs it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serveStatic, requireDist, launchBrowser, collectErrors, formatErrors, waitFinished, LONG } from './helpers.mjs';

async function open(browser, url, viewport) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.setDefaultTimeout(LONG);
  const errors = collectErrors(page);
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]', { state: 'attached' });
  return { context, page, errors };
}

test('no horizontal scrolling from a 1280x720 projector down to a 768-px tablet', async () => {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: false });
  try {
    for (const viewport of [{ width: 1280, height: 720 }, { width: 1024, height: 768 }, { width: 768, height: 1024 }]) {
      const { context, page, errors } = await open(browser, server.url, viewport);
      const layout = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        inner: window.innerWidth,
        switchRight: document.querySelector('.switch').getBoundingClientRect().right,
      }));
      assert.ok(layout.scroll <= layout.inner, `${viewport.width}px: the page is ${layout.scroll}px wide`);
      assert.ok(layout.switchRight <= layout.inner, `${viewport.width}px: the data-set switch ends at ${layout.switchRight}px`);
      assert.equal(errors.length, 0, formatErrors(errors));
      await context.close();
    }
  } finally {
    await browser.close();
    await server.close();
  }
});

test('keys: ? lists them, space runs the demo in front, r resets it, n opens the next step of the path', { timeout: 600_000 }, async () => {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: false });
  try {
    const { context, page, errors } = await open(browser, `${server.url}?bnn.hidden=16&bnn.compute=cpu&bnn.tasks=1&bnn.steps=400`, { width: 1280, height: 720 });
    assert.equal(await page.locator('#keys-help').isVisible(), false);
    await page.keyboard.press('?');
    assert.equal(await page.locator('#keys-help').isVisible(), true);
    await page.keyboard.press('?');
    assert.equal(await page.locator('#keys-help').isVisible(), false);
    // Keys typed into a field are the field's.
    await page.focus('#bnn-seed');
    await page.keyboard.press('r');
    await page.keyboard.press('Space');
    assert.equal(await page.textContent('#bnn-run'), 'Run');
    await page.evaluate(() => document.activeElement.blur());
    // The binarized network is the demo nearest the top: space starts it.
    await page.keyboard.press('Space');
    await page.waitForFunction(() => document.getElementById('bnn-run').textContent === 'Pause');
    assert.equal(new URL(page.url()).searchParams.get('run'), 'bnn');
    await page.keyboard.press('r');
    await page.waitForFunction(() => /^Reset/.test(document.getElementById('bnn-status').textContent));
    assert.equal(await page.textContent('#bnn-run'), 'Run');
    assert.equal(new URL(page.url()).searchParams.has('run'), false);
    // These settings match the first step of the path (the toy problem, all else at defaults but
    // bnn's own): n opens the step after the one that matches, else the first.
    await Promise.all([page.waitForURL(/run=bnn/), page.keyboard.press('n')]);
    await page.waitForSelector('body[data-ready="1"]', { state: 'attached' });
    assert.equal(new URL(page.url()).searchParams.get('bnn.steps'), '600');
    await page.waitForFunction(() => document.getElementById('bnn-run').textContent === 'Pause');
    // From that step, n goes on to the next one ("why m matters").
    await Promise.all([page.waitForURL(/bnn\.meta=1\.35,6/), page.keyboard.press('n')]);
    await page.waitForSelector('body[data-ready="1"]', { state: 'attached' });
    assert.equal(errors.length, 0, formatErrors(errors));
    await context.close();
  } finally {
    await browser.close();
    await server.close();
  }
});

test('presenter mode (key p or its button): large type, settings folded behind a button, still no horizontal scrolling', async () => {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: false });
  try {
    for (const viewport of [{ width: 1280, height: 720 }, { width: 768, height: 1024 }]) {
      const { context, page, errors } = await open(browser, server.url, viewport);
      const size = () => page.evaluate(() => parseFloat(getComputedStyle(document.body).fontSize));
      const normal = await size();
      assert.equal(await page.locator('#bnn-fields').isVisible(), true);
      assert.equal(await page.locator('#bnn-settings-toggle').isVisible(), false, 'the fold button only in presenter mode');
      await page.keyboard.press('p');
      assert.equal(await page.getAttribute('#presenter', 'aria-pressed'), 'true');
      assert.ok((await size()) >= normal * 1.2, `larger type: ${normal} -> ${await size()}`);
      assert.equal(await page.locator('#bnn-fields').isVisible(), false, 'settings folded away');
      await page.click('#bnn-settings-toggle');
      assert.equal(await page.locator('#bnn-fields').isVisible(), true, 'and shown when wanted');
      assert.equal(await page.getAttribute('#bnn-settings-toggle', 'aria-expanded'), 'true');
      const scroll = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      assert.ok(scroll[0] <= scroll[1], `${viewport.width}px in presenter mode: the page is ${scroll[0]}px wide`);
      // The button turns it off again.
      await page.click('#presenter');
      assert.equal(await page.getAttribute('#presenter', 'aria-pressed'), 'false');
      assert.equal(await size(), normal);
      assert.equal(errors.length, 0, formatErrors(errors));
      await context.close();
    }
  } finally {
    await browser.close();
    await server.close();
  }
});

test('words for a room: every explanation on the page is at most 80 words', async () => {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: false });
  try {
    const { context, page, errors } = await open(browser, server.url, { width: 1280, height: 720 });
    // Every paragraph, caption and list item, shown or not (captions per experiment, the bench view).
    const texts = await page.evaluate(() =>
      [...document.querySelectorAll('p, figcaption, li, aside')].map((el) => ({
        what: `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''} "${el.textContent.trim().slice(0, 50)}"`,
        words: el.textContent.split(/\s+/).filter((w) => /[\p{L}\p{N}]/u.test(w)).length,
      })),
    );
    assert.ok(texts.length > 30, `${texts.length} texts`);
    const long = texts.filter((t) => t.words > 80).map((t) => `${t.what}: ${t.words} words`);
    assert.deepEqual(long, [], 'explanations over 80 words');
    console.log(`# the longest explanation: ${Math.max(...texts.map((t) => t.words))} words`);
    assert.equal(errors.length, 0, formatErrors(errors));
    await context.close();
  } finally {
    await browser.close();
    await server.close();
  }
});

test('no empty panels: each chart panel is as tall as what it holds, at 1280x720, at 768 px and in presenter mode', { timeout: 300_000 }, async () => {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: false });
  try {
    // A short run with EWC: three accuracy matrices beside the mean-accuracy chart.
    const { context, page, errors } = await open(browser, `${server.url}?bnn.hidden=16&bnn.tasks=2&bnn.steps=20&bnn.ewc=true&bnn.compute=cpu&run=bnn`, { width: 1280, height: 720 });
    await waitFinished(page, 'bnn');
    await page.waitForFunction(() => !document.getElementById('bnn-matrix-third').hidden);
    for (const [viewport, presenter] of [[{ width: 1280, height: 720 }, false], [{ width: 768, height: 1024 }, false], [{ width: 1280, height: 720 }, true], [{ width: 768, height: 1024 }, true]]) {
      const view = `${viewport.width}px${presenter ? ', presenter mode' : ''}`;
      await page.setViewportSize(viewport);
      if (presenter !== (await page.evaluate(() => document.body.classList.contains('presenter')))) await page.keyboard.press('p');
      await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok))));
      const panels = await page.evaluate(() =>
        [...document.querySelectorAll('.charts > figure')]
          .filter((f) => f.checkVisibility())
          .map((f) => {
            const box = f.getBoundingClientRect();
            const s = getComputedStyle(f);
            const inner = box.height - parseFloat(s.paddingTop) - parseFloat(s.paddingBottom) - parseFloat(s.borderTopWidth) - parseFloat(s.borderBottomWidth);
            const kids = [...f.children].filter((c) => c.checkVisibility()).map((c) => c.getBoundingClientRect());
            const held = Math.max(...kids.map((r) => r.bottom)) - Math.min(...kids.map((r) => r.top));
            const canvases = [...f.querySelectorAll('canvas')].filter((c) => c.checkVisibility()).map((c) => ({ id: c.id, w: c.getBoundingClientRect().width, top: c.getBoundingClientRect().top }));
            return { id: canvases[0]?.id, inner, held, canvases };
          }),
      );
      assert.ok(panels.length >= 10, `${view}: ${panels.length} panels`);
      for (const p of panels) {
        assert.ok(p.inner - p.held <= 12, `${view}: the panel of #${p.id} is ${p.inner.toFixed(0)} px tall and holds ${p.held.toFixed(0)} px`);
        for (const c of p.canvases) assert.ok(c.w >= 150, `${view}: #${c.id} is shown only ${c.w.toFixed(0)} px wide`);
      }
      // The accuracy matrices sit side by side, not in a tall column beside a short chart.
      const matrices = panels.find((p) => p.id === 'bnn-matrix-standard').canvases;
      assert.equal(matrices.length, 3);
      assert.ok(matrices.every((c) => Math.abs(c.top - matrices[0].top) < 2), `${view}: the matrices side by side: ${JSON.stringify(matrices)}`);
      const scroll = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      assert.ok(scroll[0] <= scroll[1], `${view}: the page is ${scroll[0]}px wide`);
    }
    assert.equal(errors.length, 0, formatErrors(errors));
    await context.close();
  } finally {
    await browser.close();
    await server.close();
  }
});

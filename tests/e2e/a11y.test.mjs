// Accessibility as a keyboard or screen-reader user meets the page: axe-core (from npm, injected
// into the page) finds no serious or critical violation in any view (at rest, a corrected link,
// every demo after a run, the drawing pad answering, stream learning and denoising, presenter mode
// with the keys listed, a 768-px tablet, WebGPU on); Tab reaches every control, each with a visible
// focus ring, and Enter runs and pauses a demo; every control is at least 24x24 px; every chart is
// an image with a label and a caption, and its lines stand 3:1 off the white.
//
// The suite also takes the README's screenshot of each demo after its run, and of the lesson view
// (?lesson=2) paused in task 2 (into SCREENSHOTS_DIR,
// default target/e2e-screenshots; `SCREENSHOTS_DIR=docs/screenshots` refreshes the README's).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { join } from 'node:path';
import { serveStatic, requireDist, launchBrowser, openApp, waitForDataState, waitFinished, formatErrors, REPO_ROOT } from './helpers.mjs';

const AXE = await fs.readFile(join(REPO_ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');
const SHOTS = process.env.SCREENSHOTS_DIR ? join(REPO_ROOT, process.env.SCREENSHOTS_DIR) : join(REPO_ROOT, 'target/e2e-screenshots');

// Short runs of all three demos (CPU path: the same page on every machine), demo 1 with three
// learners and EWC so every learner's colour reaches the table and the charts.
const LINK =
  '?bnn.hidden=64&bnn.meta=1.35,6&bnn.ewc=true&bnn.tasks=3&bnn.steps=150&bnn.compute=cpu' +
  '&lenet.epochs=1&lenet.steps=40&lenet.test=500&lenet.seeds=2&lenet.compute=cpu' +
  '&hebbian.steps=400&hebbian.compute=cpu';

/**
 * Runs axe-core on the page as it is now: WCAG 2.0-2.2 A and AA (2.2's target size included) and
 * axe's best practices. Fails on any serious or critical violation, naming the elements; returns
 * the lesser ones so the log shows them.
 */
async function axe(page, view) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(() =>
    window.axe.run(document, {
      resultTypes: ['violations'],
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
    }),
  );
  const describe = (v) => `${v.impact} ${v.id} (${v.help}): ${v.nodes.slice(0, 4).map((n) => `${n.target.join(' ')} — ${n.failureSummary.split('\n').slice(1).join(' ')}`).join('; ')}`;
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map(describe), [], `${view}: axe-core's serious and critical violations`);
  const minor = result.violations.map(describe);
  if (minor.length) console.log(`# ${view}: lesser axe findings: ${minor.join(' | ')}`);
  return result;
}

test('axe-core finds no serious or critical violation in any view; the README screenshots', { timeout: 900_000 }, async () => {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: false });
  try {
    const { page, context, errors } = await openApp(browser, `${server.url}${LINK}`, { contextOptions: { viewport: { width: 1280, height: 720 } } });
    await waitForDataState(page, 'mnist', 'done');
    await axe(page, 'at rest');

    for (const demo of ['bnn', 'lenet', 'hebb']) await page.click(`#${demo}-run`);
    for (const demo of ['bnn', 'lenet', 'hebb']) await waitFinished(page, demo, 600_000);
    await page.click('#pad-sample');
    await page.waitForFunction(() => Object.keys(JSON.parse(document.getElementById('pad-bars').getAttribute('data-series') ?? '{}')).length >= 4, null, { timeout: 120_000 });
    // Answering a drawing does not reopen a finished run.
    for (const demo of ['bnn', 'lenet']) assert.match(await page.textContent(`#${demo}-status`), /^Finished/);
    await axe(page, 'after a run of each demo, the drawing pad answering');

    await fs.mkdir(SHOTS, { recursive: true });
    for (const [section, file] of [['#demo-bnn', 'bnn.png'], ['#demo-lenet', 'lenet.png'], ['#draw', 'draw.png'], ['#demo-hebbian', 'hebbian.png']]) {
      // The top of each section (settings, results, the first charts), as a reader meets it.
      const box = await page.locator(section).boundingBox();
      const top = await page.evaluate(() => window.scrollY);
      await page.screenshot({ path: join(SHOTS, file), fullPage: true, clip: { x: box.x, y: box.y + top, width: box.width, height: Math.min(box.height, 1500) } });
      const png = await fs.readFile(join(SHOTS, file));
      assert.ok(png.length > 10_000, `${file}: ${png.length} bytes`);
    }

    await page.evaluate(() => document.activeElement.blur());
    await page.keyboard.press('p');
    await page.keyboard.press('?');
    assert.equal(await page.locator('#keys-help').isVisible(), true);
    await axe(page, 'presenter mode, the keys listed');
    assert.equal(errors.length, 0, formatErrors(errors));
    await context.close();

    // The other views: a corrected link's note, stream learning, denoising, a tablet.
    const other = await openApp(browser, `${server.url}?bnn.hidden=99999&bnn.experiment=stream&bnn.subsets=2&bnn.epochs=1&bnn.compute=cpu&hebbian.task=denoise&hebbian.steps=2&hebbian.test=8&hebbian.compute=cpu&run=hebbian`, {
      contextOptions: { viewport: { width: 768, height: 1024 } },
    });
    await other.page.waitForSelector('#settings-note:not([hidden])');
    await waitForDataState(other.page, 'mnist', 'done');
    await waitFinished(other.page, 'hebb', 600_000);
    await axe(other.page, 'a corrected link at 768 px, denoising finished, stream learning set up');
    assert.equal(other.errors.length, 0, formatErrors(other.errors));
    await other.context.close();
  } finally {
    await browser.close();
    await server.close();
  }
});

test('axe-core in the lesson view, at rest and running, in presenter mode too; its README screenshot', { timeout: 600_000 }, async () => {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: false });
  try {
    const { page, errors } = await openApp(browser, `${server.url}?lesson=2&bnn.compute=cpu`, { contextOptions: { viewport: { width: 1280, height: 720 } } });
    await page.waitForSelector('#lesson-bar:not([hidden])');
    await axe(page, 'lesson view at rest');
    await waitForDataState(page, 'mnist', 'done');
    await page.click('#bnn-run');
    // Half-way through task 2, where the standard network's forgetting of task 1 shows.
    await page.waitForFunction(() => /^Task 2 of 3, batch [3-5]\d\d|^Task 3/.test(document.getElementById('bnn-status').textContent), null, { timeout: 540_000, polling: 500 });
    await page.click('#bnn-run');
    await page.waitForFunction(() => /^Paused/.test(document.getElementById('bnn-status').textContent));
    await axe(page, 'lesson view, paused in task 2');
    await fs.mkdir(SHOTS, { recursive: true });
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(SHOTS, 'lesson.png') });
    assert.ok((await fs.readFile(join(SHOTS, 'lesson.png'))).length > 10_000, 'lesson.png');
    await page.keyboard.press('p');
    await axe(page, 'lesson view in presenter mode');
    assert.equal(errors.length, 0, formatErrors(errors));
  } finally {
    await browser.close();
    await server.close();
  }
});

test('axe-core with WebGPU on: the backend line and the page at rest', { timeout: 300_000 }, async () => {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: true });
  try {
    const { page, errors } = await openApp(browser, server.url);
    await page.waitForFunction(() => document.getElementById('backend').dataset.backend !== 'pending');
    await axe(page, `WebGPU on (backend: ${await page.getAttribute('#backend', 'data-backend')})`);
    assert.equal(errors.length, 0, formatErrors(errors));
  } finally {
    await browser.close();
    await server.close();
  }
});

test('axe-core in the bench view, with its rows and a corrected address', { timeout: 300_000 }, async () => {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: false });
  try {
    const { page, errors } = await openApp(browser, `${server.url}?view=bench&bench.networks=completion,nope&bench.steps=2&bench.reps=1`);
    await page.waitForSelector('#bench-view[data-state="done"]', { timeout: 240_000 });
    await axe(page, 'bench view');
    assert.equal(errors.length, 0, formatErrors(errors));
  } finally {
    await browser.close();
    await server.close();
  }
});

test('the keyboard reaches every control with a visible focus ring, and Enter runs and pauses a demo', { timeout: 300_000 }, async () => {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: false });
  try {
    const { page, errors } = await openApp(browser, `${server.url}?bnn.hidden=16&bnn.tasks=1&bnn.steps=2000&bnn.compute=cpu`, { contextOptions: { viewport: { width: 1280, height: 720 } } });
    // Every control a person can see (links, buttons, fields), by a selector of its own.
    const controls = await page.evaluate(() => {
      const all = [...document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])')];
      const shown = all.filter((el) => !el.disabled && el.checkVisibility({ visibilityProperty: true }));
      shown.forEach((el, i) => el.setAttribute('data-a11y', String(i)));
      return shown.length;
    });
    assert.ok(controls > 40, `${controls} controls`);
    const reached = new Map();
    for (let i = 0; i < 2 * controls + 40; i++) {
      await page.keyboard.press('Tab');
      const focus = await page.evaluate(() => {
        const el = document.activeElement;
        if (!el || el === document.body) return null;
        // Focus stops the list did not name (a scrollable equation, say) get a key of their own.
        if (!el.hasAttribute('data-a11y')) el.setAttribute('data-a11y', `extra-${(window.__extraStops = (window.__extraStops ?? 0) + 1)}`);
        const s = getComputedStyle(el);
        return {
          key: el.getAttribute('data-a11y'),
          what: `${el.tagName.toLowerCase()}#${el.id || ''}${el.textContent ? ` "${el.textContent.trim().slice(0, 30)}"` : ''}`,
          ring: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2,
          visible: el.matches(':focus-visible'),
        };
      });
      if (!focus) continue;
      if (reached.has(focus.key)) {
        if (process.env.A11Y_DEBUG) console.log('# wrapped at', focus.what, [...reached.values()].slice(-5).map((f) => f.what));
        break; // wrapped around
      }
      reached.set(focus.key, focus);
      assert.ok(focus.visible && focus.ring, `${focus.what}: no visible focus ring`);
    }
    const missed = await page.evaluate((seen) =>
      [...document.querySelectorAll('[data-a11y]')].filter((el) => !seen.includes(el.getAttribute('data-a11y'))).map((el) => `${el.tagName.toLowerCase()}#${el.id} ${el.getAttribute('aria-label') ?? el.textContent.trim().slice(0, 30)}`),
      [...reached.keys()],
    );
    assert.deepEqual(missed, [], 'controls Tab never reaches');

    // Operable: Tab to Run, Enter starts the run, Enter again pauses it.
    await page.evaluate(() => document.activeElement.blur());
    await page.focus('#bnn-reset');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'bnn-run');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('bnn-run').textContent === 'Pause');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('bnn-run').textContent === 'Run');
    assert.equal(errors.length, 0, formatErrors(errors));
  } finally {
    await browser.close();
    await server.close();
  }
});

test('controls are at least 24x24 px; charts are labelled images with captions and lines of 3:1 contrast', { timeout: 300_000 }, async () => {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: false });
  try {
    const { page, errors } = await openApp(browser, `${server.url}?bnn.hidden=16&bnn.meta=1.35,6&bnn.ewc=true&bnn.tasks=3&bnn.steps=30&bnn.compute=cpu&run=bnn`, {
      contextOptions: { viewport: { width: 768, height: 1024 } },
    });
    for (const presenter of [false, true]) {
      if (presenter) await page.keyboard.press('p');
      // A checkbox's target is its label (a click there toggles it); links inside a sentence are
      // exempt (WCAG 2.5.8's inline exception).
      const small = await page.evaluate(() =>
        [...document.querySelectorAll('button, input, select, textarea, a.preset, summary')]
          .filter((el) => el.getClientRects().length > 0)
          .map((el) => {
            const target = el.matches('input[type=checkbox], input[type=radio]') ? el.closest('label') ?? el : el;
            const r = target.getBoundingClientRect();
            return { what: `${el.tagName.toLowerCase()}#${el.id} ${el.getAttribute('aria-label') ?? el.textContent.trim().slice(0, 30)}`, w: r.width, h: r.height };
          })
          .filter((t) => t.w < 24 || t.h < 24)
          .map((t) => `${t.what}: ${t.w.toFixed(0)}x${t.h.toFixed(0)}`),
      );
      assert.deepEqual(small, [], `targets under 24x24 px${presenter ? ' in presenter mode' : ''}`);
    }

    const charts = await page.evaluate(() =>
      [...document.querySelectorAll('canvas')].map((c) => ({
        id: c.id,
        role: c.getAttribute('role'),
        label: c.getAttribute('aria-label') ?? '',
        // The caption shown (a figure may hold one per experiment or task).
        caption: [...(c.closest('figure')?.querySelectorAll('figcaption') ?? [])].find((f) => !f.hidden)?.textContent.trim() ?? '',
        describedBy: c.getAttribute('aria-describedby'),
      })),
    );
    assert.ok(charts.length >= 20, `${charts.length} canvases`);
    for (const c of charts) {
      assert.equal(c.role, 'img', `${c.id}: role`);
      assert.ok(c.label.length > 10, `${c.id}: label "${c.label}"`);
      if (c.describedBy) {
        const text = await page.evaluate((id) => document.getElementById(id)?.textContent.trim() ?? '', c.describedBy);
        assert.equal(text, c.caption, `${c.id}: described by its caption`);
      }
    }
    assert.ok(charts.filter((c) => c.describedBy).length >= 15, 'the charts are described by their captions');

    // The lines actually drawn, read from the chart's SVG download: every stroke 3:1 on white.
    await waitFinished(page, 'bnn');
    const [file] = await Promise.all([page.waitForEvent('download'), page.click('button[data-export="svg"][data-canvas="bnn-curves"]')]);
    const svg = await fs.readFile(await file.path(), 'utf8');
    // Data lines are drawn 2 px and wider; the 1-px grid is allowed to stay faint.
    const strokes = [...new Set([...svg.matchAll(/<polyline[^>]*stroke="(#[0-9a-f]{6})" stroke-width="([\d.]+)"/g)].filter((m) => Number(m[2]) >= 2).map((m) => m[1]))];
    assert.ok(strokes.length >= 8, `4 learners x 3 tasks, in shades: ${strokes.join(' ')}`);
    const luminance = (hex) => {
      const lin = (c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
      const [r, g, b] = [1, 3, 5].map((i) => lin(parseInt(hex.slice(i, i + 2), 16) / 255));
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    for (const s of strokes) {
      const ratio = 1.05 / (luminance(s) + 0.05);
      assert.ok(ratio >= 3, `line ${s}: ${ratio.toFixed(2)}:1 on white`);
    }

    // A figure with a caption per experiment is described by the one shown.
    const description = () => page.evaluate(() => document.getElementById(document.getElementById('bnn-curves').getAttribute('aria-describedby')).textContent);
    assert.match(await description(), /One line per task/);
    await page.evaluate(() => document.activeElement?.blur());
    await page.keyboard.press('p'); // presenter mode off: the settings show again
    await page.selectOption('#bnn-experiment', 'stream');
    await page.dispatchEvent('#bnn-controls', 'change');
    await page.waitForFunction(() => /training set\s+arrives/.test(document.getElementById(document.getElementById('bnn-curves').getAttribute('aria-describedby')).textContent));
    assert.equal(errors.length, 0, formatErrors(errors));
  } finally {
    await browser.close();
    await server.close();
  }
});

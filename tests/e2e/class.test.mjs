// The class's own experiment, played as a class of six seats: the teacher's page (?view=class)
// gives the class link and its QR code; six pages opened from that link (the first picks its seat
// on arrival, the others carry seat=N) each train their cell briefly (class.steps=5: three tasks of
// five batches) in workers and end with a result code, as text and as a QR code; the teacher's
// page pools five pasted codes and one seat's summary.json file, draws the six points, refuses a
// tampered code with its reason without losing what it pooled, counts a repeated code once, and
// keeps the pool across a reload; dropped files are read like chosen ones. axe-core finds nothing serious on the teacher's page or a seat's.
// WebGPU off: the CPU path, the same on every machine.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { join } from 'node:path';
import { serveStatic, requireDist, launchBrowser, openApp, formatErrors, nonWhite, REPO_ROOT } from './helpers.mjs';

const AXE = await fs.readFile(join(REPO_ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');
const M_VALUES = ['0', '0.5', '1', '1.35', '3', '6'];
const SEATS = 6;
// Seats training at once: each runs two workers, and the machine may have two cores.
const AT_ONCE = 3;

async function axe(page, view) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(() =>
    window.axe.run(document, { resultTypes: ['violations'], runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] } }),
  );
  const describe = (v) => `${v.impact} ${v.id} (${v.help}): ${v.nodes.slice(0, 4).map((n) => n.target.join(' ')).join('; ')}`;
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad.map(describe), [], `${view}: axe-core's serious and critical violations`);
}

/** The pooled table's rows: { m, n, mean }. */
async function pooled(page) {
  return page.$$eval('#class-table tbody tr', (rows) => rows.map((r) => ({ m: r.dataset.m, n: Number(r.dataset.n), mean: Number(r.dataset.mean) })));
}

/** Opens seat `seat` of the class link, waits for its code, and returns it with the page. */
async function runSeat(browser, classLink, seat, { pick = false, check } = {}) {
  const { page, context, errors } = await openApp(browser, pick ? classLink : `${classLink}&seat=${seat}`);
  if (pick) {
    // Without a seat the page asks for one, and trains nothing meanwhile.
    await page.waitForSelector('#class-seat-pick:not([hidden])');
    assert.equal(await page.textContent('#bnn-run'), 'Run');
    assert.equal(await page.textContent('#bnn-status'), 'Type your seat number above: your cell starts then.');
    await axe(page, 'a seat choosing its number');
    await page.fill('#class-seat-number', String(seat));
    await Promise.all([page.waitForURL(new RegExp(`[?&]seat=${seat}(&|$)`)), page.click('#class-seat-go')]);
    await page.waitForSelector('body[data-ready="1"]', { state: 'attached' });
  }
  const m = M_VALUES[(seat - 1) % M_VALUES.length];
  assert.match(await page.textContent('#class-seat-cell'), new RegExp(`^Seat ${seat}: .*seed 1\\. 3 permuted-MNIST tasks of 5 batches`));
  assert.equal(await page.inputValue('#bnn-meta'), m === '0' ? '6' : m, `seat ${seat}: the cell's m in demo 1's settings`);
  await page.waitForSelector('#class-seat[data-state="done"]', { timeout: 300_000 });
  const code = await page.inputValue('#class-code');
  assert.match(code, new RegExp(`^MPC1 M 3X5 SEAT:${seat} M:${m.replace('.', '\\.')} SEED:1 ACC:\\d+\\.\\d\\d/\\d+\\.\\d\\d/\\d+\\.\\d\\d BUILD:\\S+ SUM:[0-9A-F]{8}$`));
  // Its QR code, with the code as its text alternative.
  const qr = await page.$eval('#class-qr svg', (svg) => ({ label: svg.getAttribute('aria-label'), box: svg.getAttribute('viewBox'), w: svg.getBoundingClientRect().width }));
  assert.equal(qr.label, `QR code of your result code: ${code}`);
  assert.ok(qr.w >= 150, `the QR code is ${qr.w} px wide`);
  assert.equal(new URL(page.url()).searchParams.get('seat'), String(seat), 'the address stays the seat link');
  if (check) await check(page, code);
  assert.equal(errors.length, 0, formatErrors(errors));
  await context.close();
  return code;
}

test('a class of six seats: codes from the class link pooled into the teacher\'s plot, a tampered one refused, nothing lost', { timeout: 600_000 }, async () => {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: false });
  try {
    const teacher = await openApp(browser, `${server.url}?view=class&class=m&class.steps=5`);
    const t = teacher.page;
    await t.waitForSelector('#class-view:not([hidden])');
    assert.equal(await t.locator('#demo-bnn').isVisible(), false, 'the teacher\'s page replaces the demos');
    const classLink = await t.getAttribute('#class-link', 'href');
    assert.equal(classLink, `${server.url}?class=m&class.tasks=3&class.steps=5`);
    assert.match(await t.getAttribute('#class-link-qr svg', 'aria-label'), /^QR code of the class link, http/);
    assert.match(await t.textContent('#class-budget'), /3 permuted-MNIST tasks of 5 batches of 100 images/);
    // Served at 127.0.0.1, the page says the students cannot reach that address.
    assert.match(await t.textContent('#class-link-note'), /^This page was opened at 127\.0\.0\.1, this computer's own address/);
    assert.equal(await t.textContent('#class-finding'), 'No codes pooled yet.');
    await axe(t, "the teacher's page, empty");

    // The class: the first seat picks its number on arrival; a seat saves its summary.json.
    const codes = [];
    let summaryFile = null;
    for (let first = 1; first <= SEATS; first += AT_ONCE) {
      const batch = [];
      for (let seat = first; seat < first + AT_ONCE && seat <= SEATS; seat++) {
        const check =
          seat === 2
            ? async (page, code) => {
                await axe(page, "a seat's page with its code");
                const [download] = await Promise.all([page.waitForEvent('download'), page.click('#class-save')]);
                summaryFile = join(await fs.mkdtemp('/tmp/class-test-'), 'bnn-permuted-summary.json');
                await download.saveAs(summaryFile);
                const summary = JSON.parse(await fs.readFile(summaryFile, 'utf8'));
                assert.equal(summary.class_code, code, 'summary.json carries the code');
                assert.equal(summary.experiment, 'bnn-permuted');
              }
            : undefined;
        batch.push(runSeat(browser, classLink, seat, { pick: seat === 1, check }));
      }
      codes.push(...(await Promise.all(batch)));
    }
    assert.equal(new Set(codes).size, SEATS);

    // Five codes pasted (with a stray line, a repeat and a tampered code), the sixth as a file.
    const pasted = codes.filter((_, i) => i !== 1);
    const tampered = codes[0].replace(/ACC:(\d)/, (_, d) => `ACC:${(Number(d) + 1) % 10}`);
    await t.fill('#class-paste', [...pasted, 'hello', pasted[0], tampered].join('\n'));
    await t.click('#class-add');
    await t.waitForFunction(() => document.getElementById('class-plot').dataset.points === '5');
    assert.match(await t.textContent('#class-added'), /^5 new codes pooled \(5 in all\)\. 1 already pooled, not counted again\. 2 refused/);
    const refused = await t.$$eval('#class-refused li', (items) => items.map((li) => li.textContent));
    assert.deepEqual(refused, [
      'hello: this is not a class result code (a code starts with MPC1)',
      `${tampered}: its checksum does not match: a character was changed or mistyped`,
    ]);
    assert.equal(await t.inputValue('#class-paste'), ['hello', tampered].join('\n'), 'the refused lines stay to be fixed');
    await t.setInputFiles('#class-files', summaryFile);
    await t.waitForFunction(() => document.getElementById('class-plot').dataset.points === '6');
    let rows = await pooled(t);
    assert.deepEqual(rows.map((r) => [r.m, r.n]), M_VALUES.map((m) => [m, 1]), 'one seat per value of m');
    for (const r of rows) assert.ok(r.mean >= 0 && r.mean <= 1, JSON.stringify(r));
    // The plot is drawn.
    let ink = 0;
    for (let i = 0; i < 50 && ink < 2000; i++) {
      await t.waitForTimeout(100);
      ink = await nonWhite(t, 'class-plot');
    }
    assert.ok(ink >= 2000, `the plot is drawn (${ink} pixels of ink)`);
    assert.match(
      await t.textContent('#class-finding'),
      /^Measured over 6 seats, task-1 test accuracy after task 3: m = 0 gives \d+\.\d% \(one seat, no interval\), m = 6 gives \d+\.\d% \(one seat, no interval\); (the mean (rises|falls) by \d+\.\d points from one to the other|the mean is the same to 0\.1 points), and one of them has a single seat/,
    );
    await axe(t, "the teacher's page with six codes");

    // A reload keeps the pool; a code refused then changes nothing.
    await t.reload();
    await t.waitForSelector('body[data-ready="1"]', { state: 'attached' });
    await t.waitForFunction(() => document.getElementById('class-plot').dataset.points === '6');
    await t.fill('#class-paste', tampered);
    await t.click('#class-add');
    await t.waitForFunction(() => document.querySelectorAll('#class-refused li').length === 1);
    assert.match(await t.textContent('#class-added'), /^0 new codes pooled \(6 in all\)\. 1 refused/);
    rows = await pooled(t);
    assert.equal(rows.reduce((n, r) => n + r.n, 0), 6, 'the six pooled remain');
    // Files dropped on the page: the seat's summary.json again (counted once) and a summary.json
    // of a run that was no seat's.
    const saved = await fs.readFile(summaryFile, 'utf8');
    await t.evaluate((saved) => {
      const dt = new DataTransfer();
      dt.items.add(new File([saved], 'seat-2-summary.json', { type: 'application/json' }));
      dt.items.add(new File(['{"experiment": "bnn-permuted", "runs": []}'], 'other-summary.json', { type: 'application/json' }));
      document.getElementById('class-view').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, saved);
    await t.waitForFunction(() => /already pooled/.test(document.getElementById('class-added').textContent));
    assert.match(await t.textContent('#class-added'), /^0 new codes pooled \(6 in all\)\. 1 already pooled, not counted again\. 1 refused/);
    assert.deepEqual(await t.$$eval('#class-refused li', (items) => items.map((li) => li.textContent)), [
      "other-summary.json: this summary.json carries no class code: it was not saved on a class seat's page",
    ]);
    assert.equal(await t.getAttribute('#class-plot', 'data-points'), '6');
    // Another question's page is another pool, and refuses these codes for the reason.
    await t.goto(`${server.url}?view=class&class=seeds&class.steps=5`);
    await t.waitForSelector('body[data-ready="1"]', { state: 'attached' });
    await t.fill('#class-paste', codes[2]);
    await t.click('#class-add');
    await t.waitForFunction(() => document.querySelectorAll('#class-refused li').length === 1);
    assert.match(await t.textContent('#class-refused li'), /it answers another question \(m against task 1 with 3 tasks of 5 batches\); this class asks seeds at m = 6/);
    assert.equal(teacher.errors.length, 0, formatErrors(teacher.errors));
  } finally {
    await browser.close();
    await server.close();
  }
});

// The page as a user sees it: backend detection, streaming data loading, the sample grid,
// failed and corrupt downloads. Runs the built app (dist/, from `trunk build --release`) in
// headless Debian Chromium; WebGPU there is Chromium's software adapter (SwiftShader).

import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import assert from 'node:assert/strict';
import {
  LONG,
  requireDist,
  serveStatic,
  launchBrowser,
  openApp,
  formatErrors,
  waitForDataState,
  progress,
} from './helpers.mjs';

const FULL = 70_000; // 60,000 training + 10,000 test examples per data set
// The loader against the network alone, for the tests of failed downloads: with the service
// worker a Retry would go through it (Playwright's routes do not see that), and the whole file
// would be fetched once more for offline use. The worker has its own tests (offline.test.mjs).
const NETWORK_ONLY = { serviceWorkers: 'block' };

/** Runs `body({ browser, server })` with a fresh server and browser, closing both afterwards. */
async function withApp({ webgpu = true, serverOptions } = {}, body) {
  const dist = requireDist();
  const server = await serveStatic(dist, serverOptions);
  let browser;
  try {
    browser = await launchBrowser({ webgpu });
    await body({ browser, server });
  } finally {
    await browser?.close();
    await server.close();
  }
}

async function expectDone(page, id) {
  await waitForDataState(page, id, 'done');
  assert.deepEqual(await progress(page, id), { value: FULL, max: FULL }, `#progress-${id}`);
  assert.equal(await page.locator(`#error-${id}`).isVisible(), false, `#error-${id} hidden`);
  assert.equal(await page.locator(`#retry-${id}`).isVisible(), false, `#retry-${id} hidden`);
}

/**
 * Statistics of the sample canvas; keeps a copy of its pixels in the page under `window[keep]`.
 * Image pixels are grey (r = g = b); the background and the label text are not.
 */
async function canvasStats(page, keep) {
  return page.evaluate((keep) => {
    const c = document.getElementById('samples');
    const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
    const bg = [data[0], data[1], data[2]]; // the top-left corner is margin, never image
    let nonBackground = 0;
    let brightGrey = 0;
    const greys = new Set();
    for (let i = 0; i < data.length; i += 4) {
      const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
      if (r !== bg[0] || g !== bg[1] || b !== bg[2]) nonBackground++;
      if (r === g && g === b) {
        greys.add(r);
        if (r >= 128) brightGrey++;
      }
    }
    if (keep) window[keep] = data.slice();
    return { width: c.width, height: c.height, nonBackground, brightGrey, distinctGreys: greys.size };
  }, keep);
}

/** Mean absolute difference (0-255) between the canvas now and the pixels kept under `window[kept]`. */
async function canvasDiff(page, kept) {
  return page.evaluate((kept) => {
    const c = document.getElementById('samples');
    const now = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const before = window[kept];
    let sum = 0;
    for (let i = 0; i < now.length; i++) sum += Math.abs(now[i] - before[i]);
    return sum / now.length;
  }, kept);
}

function assertGridDrawn(stats, what) {
  const detail = `${what}: ${JSON.stringify(stats)}`;
  assert.equal(stats.width, 588, 'canvas width');
  assert.equal(stats.height, 420, 'canvas height');
  // 35 images of 56x56 canvas pixels (28x28, scaled 2x): about 110,000 pixels.
  assert.ok(stats.nonBackground > 50_000, `too few pixels drawn: ${detail}`);
  // Real images, not black squares: digit strokes alone give well over 10,000 bright pixels.
  assert.ok(stats.brightGrey > 5_000, `too few bright image pixels: ${detail}`);
  assert.ok(stats.distinctGreys > 2, `too few grey levels: ${detail}`);
}

/**
 * Console errors that are not the app's. Only one: the page declares no icon, so Chromium asks
 * for /favicon.ico by itself and logs the 404 as an error. (A `<link rel="icon" href="data:,">`
 * in index.html would stop the request; until then, exactly that line is ignored.)
 */
function appErrors(errors) {
  return errors.filter(
    (e) =>
      !(
        e.kind === 'console' &&
        new URL(e.url || 'about:blank').pathname === '/favicon.ico' &&
        e.text === 'Failed to load resource: the server responded with a status of 404 (Not Found)'
      ),
  );
}

/** The one console line Chromium prints for a request that failed on the network. */
function isNetworkFailure(e, pathSuffix) {
  return (
    e.kind === 'console' &&
    e.url.endsWith(pathSuffix) &&
    /^Failed to load resource: net::ERR_[A-Z_]+$/.test(e.text)
  );
}

test('WebGPU on: backend found, both data sets load, the grid shows MNIST then Fashion-MNIST', { timeout: LONG * 2 }, async () => {
  await withApp({ webgpu: true }, async ({ browser, server }) => {
    const { page, errors: allErrors } = await openApp(browser, server.url);

    const backend = page.locator('#backend[data-backend="webgpu"]');
    await backend.waitFor({ state: 'attached' }).catch(async (e) => {
      const el = page.locator('#backend');
      throw new Error(
        `backend: data-backend=${await el.getAttribute('data-backend')} text=${JSON.stringify(await el.textContent())}: ${e.message}`,
      );
    });
    assert.match(await backend.textContent(), /WebGPU/);

    await expectDone(page, 'mnist');
    await expectDone(page, 'fashion');

    const canvas = page.locator('canvas#samples');
    await page.waitForSelector('canvas#samples[data-drawn="mnist"]', { state: 'attached' });
    assertGridDrawn(await canvasStats(page, '__mnistPixels'), 'MNIST grid');

    await page.click('button[data-dataset="fashion"]');
    await page.waitForSelector('canvas#samples[data-drawn="fashion"]', { state: 'attached' });
    assert.equal(await page.getAttribute('button[data-dataset="fashion"]', 'aria-pressed'), 'true');
    assert.equal(await page.getAttribute('button[data-dataset="mnist"]', 'aria-pressed'), 'false');
    assertGridDrawn(await canvasStats(page), 'Fashion-MNIST grid');
    const diff = await canvasDiff(page, '__mnistPixels');
    assert.ok(diff > 5, `the Fashion-MNIST grid barely differs from the MNIST one (mean abs diff ${diff.toFixed(2)})`);

    // "Show other examples" draws a different grid of the same data set.
    await canvasStats(page, '__fashionPixels');
    await page.click('#shuffle');
    await page.waitForFunction(() => {
      const c = document.getElementById('samples');
      const now = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      const before = window.__fashionPixels;
      for (let i = 0; i < now.length; i++) if (now[i] !== before[i]) return true;
      return false;
    });
    assert.equal(await canvas.getAttribute('data-drawn'), 'fashion');

    assert.equal(await page.locator('#app-error').isVisible(), false, '#app-error hidden');
    const errors = appErrors(allErrors);
    assert.deepEqual(errors, [], `console errors:\n${formatErrors(errors)}`);
  });
});

test('WebGPU off: CPU fallback, data still loads and the grid is drawn', { timeout: LONG * 2 }, async () => {
  await withApp({ webgpu: false }, async ({ browser, server }) => {
    const { page, errors: allErrors } = await openApp(browser, server.url);

    await page.waitForSelector('#backend[data-backend="cpu"]', { state: 'attached' });
    assert.match(await page.textContent('#backend'), /CPU: WebGPU not available in this browser/);

    await expectDone(page, 'mnist');
    await expectDone(page, 'fashion');
    await page.waitForSelector('canvas#samples[data-drawn="mnist"]', { state: 'attached' });
    assertGridDrawn(await canvasStats(page), 'MNIST grid (CPU)');

    assert.equal(await page.locator('#app-error').isVisible(), false, '#app-error hidden');
    const errors = appErrors(allErrors);
    assert.deepEqual(errors, [], `console errors:\n${formatErrors(errors)}`);
  });
});

test('streaming: examples count up and the grid appears before the download ends', { timeout: LONG * 2 }, async () => {
  // MNIST's training images (9.8 MB) trickle in: 32 KiB every 15 ms, about 5 s in all.
  const serverOptions = {
    throttle: { match: (p) => p.endsWith('/mnist/train-images-idx3-ubyte.gz'), chunkSize: 32 * 1024, delayMs: 15 },
  };
  await withApp({ webgpu: true, serverOptions }, async ({ browser, server }) => {
    const { page, errors: allErrors } = await openApp(browser, server.url, {
      // Polls from the first moment of the page, in the page, so no intermediate value is missed.
      setup: (page) =>
        page.addInitScript(() => {
          window.__seen = [];
          window.__drawnWhileLoading = false;
          const timer = setInterval(() => {
            const p = document.getElementById('progress-mnist');
            const state = document.getElementById('data-mnist')?.getAttribute('data-state');
            if (!p) return;
            const v = Number(p.getAttribute('value'));
            if (window.__seen[window.__seen.length - 1] !== v) window.__seen.push(v);
            if (document.getElementById('samples')?.getAttribute('data-drawn') === 'mnist' && state === 'loading') {
              window.__drawnWhileLoading = true;
            }
            if (state === 'done' || state === 'error') clearInterval(timer);
          }, 5);
        }),
    });

    await expectDone(page, 'mnist');
    const seen = await page.evaluate(() => window.__seen);
    const partial = seen.filter((v) => v > 0 && v < FULL);
    // Whole files would only ever show 0, 10,000 (test set), 60,000 and 70,000; anything else is
    // part of a file, decoded while the rest was still on its way.
    const midFile = partial.filter((v) => v !== 10_000 && v !== 60_000);
    assert.ok(partial.length > 0, `no progress value strictly between 0 and ${FULL}: saw ${JSON.stringify(seen)}`);
    assert.ok(midFile.length >= 3, `fewer than 3 values from part of a file: saw ${JSON.stringify(seen)}`);
    for (let i = 1; i < seen.length; i++) {
      assert.ok(seen[i] >= seen[i - 1], `progress went backwards: ${JSON.stringify(seen)}`);
    }
    assert.ok(await page.evaluate(() => window.__drawnWhileLoading), 'the sample grid was not drawn before MNIST finished loading');

    const throttled = server.requests.filter((r) => r.path.endsWith('/mnist/train-images-idx3-ubyte.gz'));
    assert.equal(throttled.length, 1, `requests for the throttled file: ${JSON.stringify(throttled)}`);
    const errors = appErrors(allErrors);
    assert.deepEqual(errors, [], `console errors:\n${formatErrors(errors)}`);
  });
});

test('failed download: error with Retry, the other data set unaffected, Retry completes it', { timeout: LONG * 2 }, async () => {
  await withApp({ webgpu: true }, async ({ browser, server }) => {
    let calls = 0;
    const { page, errors: allErrors } = await openApp(browser, server.url, {
      contextOptions: NETWORK_ONLY,
      setup: (page) =>
        page.route('**/mnist/train-images-idx3-ubyte.gz', (route) => {
          calls++;
          return calls === 1 ? route.abort('failed') : route.continue();
        }),
    });

    await waitForDataState(page, 'mnist', 'error');
    await page.locator('#error-mnist').waitFor({ state: 'visible' });
    const message = (await page.textContent('#error-mnist')).trim();
    assert.ok(message.length > 0, '#error-mnist has a message');
    assert.match(message, /train-images-idx3-ubyte/, 'the message names the file');
    assert.equal(await page.locator('#retry-mnist').isVisible(), true, '#retry-mnist visible');

    await expectDone(page, 'fashion');

    await page.click('#retry-mnist');
    await expectDone(page, 'mnist');
    assert.equal(calls, 2, 'one failed request, one retry');
    await page.waitForSelector('canvas#samples[data-drawn="mnist"]', { state: 'attached' });
    assert.equal(await page.locator('#app-error').isVisible(), false, '#app-error hidden');

    // Chromium reports the aborted request itself on the console ("Failed to load resource:
    // net::ERR_FAILED" for that URL); that one line is expected, anything else is not.
    const errors = appErrors(allErrors);
    const unexpected = errors.filter((e) => !isNetworkFailure(e, '/data/mnist/train-images-idx3-ubyte.gz'));
    assert.deepEqual(unexpected, [], `console errors:\n${formatErrors(unexpected)}`);
    assert.ok(errors.length <= 1, `more than one network error line:\n${formatErrors(errors)}`);
  });
});

test('download cut mid-stream: Retry resumes with a Range request', { timeout: LONG * 2 }, async () => {
  // The server announces the whole file but drops the connection after 2 MB, once.
  const file = '/data/mnist/train-images-idx3-ubyte.gz';
  const serverOptions = { cut: { match: (p) => p === file, afterBytes: 2_000_000 } };
  await withApp({ webgpu: true, serverOptions }, async ({ browser, server }) => {
    const { page, errors: allErrors } = await openApp(browser, server.url, { contextOptions: NETWORK_ONLY });

    await waitForDataState(page, 'mnist', 'error');
    await page.locator('#retry-mnist').waitFor({ state: 'visible' });
    const { value } = await progress(page, 'mnist');
    // The test set (10,000) plus the training images decoded before the cut.
    assert.ok(value > 10_000, `examples decoded before the cut are kept and shown (progress ${value})`);

    await page.click('#retry-mnist');
    await expectDone(page, 'mnist');
    const requests = server.requests.filter((r) => r.path === file);
    assert.equal(requests.length, 2, `requests: ${JSON.stringify(requests)}`);
    assert.equal(requests[0].cut, true);
    const [, retry] = requests;
    assert.match(retry.range ?? '', /^bytes=[1-9]\d*-$/, `the retry asks only for the rest: ${JSON.stringify(retry)}`);
    assert.equal(retry.status, 206);

    // Chromium may report the cut request on the console (net::ERR_...); nothing else is expected.
    const errors = appErrors(allErrors);
    const unexpected = errors.filter((e) => !isNetworkFailure(e, file));
    assert.deepEqual(unexpected, [], `console errors:\n${formatErrors(unexpected)}`);
  });
});

test('a damaged header that asks for a gigabyte is refused with the reason, not allocated', { timeout: LONG * 2 }, async () => {
  await withApp({ webgpu: false }, async ({ browser, server }) => {
    // A valid gzip stream of an IDX images header promising 1.2 million 28x28 images (940 MB).
    const header = Buffer.alloc(16);
    header.writeUInt32BE(0x00000803, 0);
    header.writeUInt32BE(1_200_000, 4);
    header.writeUInt32BE(28, 8);
    header.writeUInt32BE(28, 12);
    const body = gzipSync(Buffer.concat([header, Buffer.alloc(784 * 10)]));
    const { page, errors: allErrors } = await openApp(browser, server.url, {
      contextOptions: NETWORK_ONLY,
      setup: (page) => page.route('**/fashion/train-images-idx3-ubyte.gz', (route) => route.fulfill({ status: 200, contentType: 'application/gzip', body })),
    });
    await waitForDataState(page, 'fashion', 'error');
    const message = await page.textContent('#error-fashion');
    assert.match(message, /more than the \d+ this page loads/, `the message says what is wrong: ${message}`);
    await expectDone(page, 'mnist');
    assert.equal(await page.locator('#app-error').isVisible(), false, '#app-error hidden');
    const errors = appErrors(allErrors);
    assert.deepEqual(errors, [], `console errors:\n${formatErrors(errors)}`);
  });
});

// The page keeps each data set's images in a buffer that grows as they arrive (store.rs): a
// browser that refuses to grow it (out of memory, simulated here past 20 MB, which Fashion-MNIST's
// training images need and MNIST's do not) stops that file with the reason; Retry starts it again.
test('a page that cannot hold a data set says so, and Retry loads it', { timeout: LONG * 2 }, async () => {
  await withApp({ webgpu: false }, async ({ browser, server }) => {
    const { page, errors: allErrors } = await openApp(browser, server.url, {
      contextOptions: NETWORK_ONLY,
      setup: (page) =>
        page.addInitScript(() => {
          window.noMemory = true;
          for (const [cls, method] of [[SharedArrayBuffer, 'grow'], [ArrayBuffer, 'resize']]) {
            const real = cls.prototype[method];
            if (!real) continue;
            cls.prototype[method] = function (len) {
              if (window.noMemory && len > 20e6) throw new RangeError('Array buffer allocation failed');
              return real.call(this, len);
            };
          }
        }),
    });
    await waitForDataState(page, 'fashion', 'error');
    const message = await page.textContent('#error-fashion');
    assert.match(message, /ran out of memory holding train-images-idx3-ubyte\.gz/, `the message says what happened: ${message}`);
    assert.equal(await page.locator('#retry-fashion').isVisible(), true, '#retry-fashion visible');
    await expectDone(page, 'mnist');
    await page.evaluate(() => { window.noMemory = false; });
    await page.click('#retry-fashion');
    await expectDone(page, 'fashion');
    assert.equal(await page.locator('#app-error').isVisible(), false, '#app-error hidden');
    const errors = appErrors(allErrors);
    assert.deepEqual(errors, [], `console errors:\n${formatErrors(errors)}`);
  });
});

test('corrupt data: a non-gzip file is reported, the page keeps working', { timeout: LONG * 2 }, async () => {
  await withApp({ webgpu: true }, async ({ browser, server }) => {
    const { page, errors: allErrors } = await openApp(browser, server.url, {
      contextOptions: NETWORK_ONLY,
      setup: (page) =>
        page.route('**/fashion/t10k-labels-idx1-ubyte.gz', (route) =>
          route.fulfill({
            status: 200,
            contentType: 'application/gzip',
            body: Buffer.from('<html>this is not the data set</html>\n'),
          }),
        ),
    });

    await waitForDataState(page, 'fashion', 'error');
    await page.locator('#error-fashion').waitFor({ state: 'visible' });
    const message = await page.textContent('#error-fashion');
    assert.match(message, /gzip/i, `the message says what is wrong: ${message}`);
    assert.equal(await page.locator('#retry-fashion').isVisible(), true, '#retry-fashion visible');

    await expectDone(page, 'mnist');
    await page.waitForSelector('canvas#samples[data-drawn="mnist"]', { state: 'attached' });
    assert.equal(await page.locator('#app-error').isVisible(), false, '#app-error hidden');
    const errors = appErrors(allErrors);
    assert.deepEqual(errors, [], `console errors:\n${formatErrors(errors)}`);
  });
});

// Offline use, as a class meets it: after one visit the page says it is ready for offline use,
// and with the server gone and the browser offline a reload still opens the page, loads both data
// sets from the cache (a Range request too) and trains a short run; a download cut half-way is
// fetched whole for the cache, and its Retry is answered from there. A new build (a changed file,
// its manifest made again as trunk's post_build hook makes it) replaces the cache of the old one
// and keeps the data cache, whose files did not change; a page of the old build still open says to
// reload. A network that hangs rather than fails gives way to the cache after a few seconds. A
// server half-way through an update makes caching fail with the reason; a browser
// without service workers says so; both work as before. On the CPU path (WebGPU off), where runs
// are short.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DIST_DIR,
  REPO_ROOT,
  requireDist,
  serveStatic,
  launchBrowser,
  openApp,
  formatErrors,
  waitForDataState,
  waitFinished,
} from './helpers.mjs';

const RUN_TIMEOUT = 300_000;
const LINK = '?bnn.experiment=permuted&bnn.hidden=32&bnn.tasks=2&bnn.steps=40&bnn.compute=cpu&run=bnn';

const readManifest = (dir) => JSON.parse(readFileSync(join(dir, 'offline-manifest.json'), 'utf8'));

/** Waits for the offline line to reach `state` (of `version`, if given); fails early on a final state that is not it. */
async function waitOffline(page, state, version = null) {
  const handle = await page.waitForFunction(
    ([state, version]) => {
      const el = document.getElementById('offline-status');
      const s = el?.dataset.state;
      if (s === state && (version === null || el.dataset.version === version)) return { ok: true };
      if (s !== state && ['failed', 'unavailable', 'outdated'].includes(s)) return { ok: false, s, text: el.textContent };
      return false;
    },
    [state, version],
    { timeout: RUN_TIMEOUT, polling: 200 },
  );
  const result = await handle.jsonValue();
  assert.ok(result.ok, `#offline-status reached ${result.s} while waiting for ${state}: ${result.text}`);
  return page.textContent('#offline-status');
}

const cacheNames = (page) => page.evaluate(async () => (await caches.keys()).sort());

test('after one visit the page, both data sets and a training run work with no network', { timeout: 3 * RUN_TIMEOUT }, async () => {
  const manifest = readManifest(requireDist());
  // A plain static host: no isolating headers (the service worker adds them, checked below).
  const server = await serveStatic(DIST_DIR, { isolation: false });
  const browser = await launchBrowser({ webgpu: false });
  try {
    const { page, context, errors } = await openApp(browser, server.url);
    const text = await waitOffline(page, 'ready', manifest.version);
    assert.match(text, /^Ready for offline use/);
    assert.deepEqual(await cacheNames(page), [manifest.data.cache, manifest.shell.cache].sort());
    await waitForDataState(page, 'mnist', 'done');
    await waitForDataState(page, 'fashion', 'done');

    // The first visit streamed the data before the service worker existed, and only once: the
    // cache was filled from the page's own download.
    const paths = server.requests.map((r) => r.path);
    const firstData = paths.findIndex((p) => p.startsWith('/data/'));
    assert.ok(firstData >= 0 && firstData < paths.indexOf('/service-worker.js'), `request order: ${paths.join(' ')}`);
    const dataFiles = Object.keys(manifest.data.files);
    assert.equal(dataFiles.length, 8);
    for (const file of dataFiles) {
      assert.equal(paths.filter((p) => p === `/${file}`).length, 1, `/${file} downloaded once: ${paths.join(' ')}`);
    }

    assert.equal(await page.evaluate(() => crossOriginIsolated), false, 'the first visit, from the plain server');

    // No network: the server is gone and the browser is offline.
    await server.close();
    await context.setOffline(true);
    await page.goto(`${server.url}${LINK}`);
    await page.waitForSelector('body[data-ready="1"]', { state: 'attached' });
    await waitForDataState(page, 'mnist', 'done');
    await waitForDataState(page, 'fashion', 'done');
    assert.match(await page.textContent('#count-mnist'), /70,000 examples ready/);
    assert.match(await page.textContent('#count-fashion'), /70,000 examples ready/);
    await waitFinished(page, 'bnn');
    assert.match(await page.textContent('#bnn-status'), /CPU/);
    assert.match(await waitOffline(page, 'ready', manifest.version), /^Ready for offline use/);
    // The service worker gave the page the isolating headers the server had not sent: the data
    // are shared with the workers offline too.
    assert.equal(await page.evaluate(() => crossOriginIsolated), true, 'isolated by the service worker');

    // A Retry after a broken download asks for the rest of a file: the cache answers that too.
    const file = 'data/mnist/train-labels-idx1-ubyte.gz';
    const whole = readFileSync(join(DIST_DIR, file));
    const part = await page.evaluate(async (file) => {
      const r = await fetch(file, { headers: { Range: 'bytes=1000-' } });
      return { status: r.status, range: r.headers.get('Content-Range'), bytes: Array.from(new Uint8Array(await r.arrayBuffer())) };
    }, file);
    assert.equal(part.status, 206);
    assert.equal(part.range, `bytes 1000-${whole.length - 1}/${whole.length}`);
    assert.deepEqual(Buffer.from(part.bytes), whole.subarray(1000));

    assert.equal(await page.locator('#app-error').isVisible(), false, '#app-error hidden');
    assert.deepEqual(errors, [], `console errors:\n${formatErrors(errors)}`);
    await context.close();
  } finally {
    await browser.close();
    await server.close();
  }
});

test('a network that hangs instead of failing: the page opens from the cache within seconds and trains', { timeout: 2 * RUN_TIMEOUT }, async () => {
  const manifest = readManifest(requireDist());
  const options = {};
  const server = await serveStatic(DIST_DIR, options);
  const browser = await launchBrowser({ webgpu: false });
  try {
    const { page, errors } = await openApp(browser, server.url);
    assert.match(await waitOffline(page, 'ready', manifest.version), /^Ready for offline use/);
    // Now every request is taken and never answered, as a dead Wi-Fi does.
    options.hang = () => true;
    const started = Date.now();
    await page.goto(`${server.url}${LINK}`);
    await page.waitForSelector('body[data-ready="1"]', { state: 'attached', timeout: 30_000 });
    const opened = (Date.now() - started) / 1000;
    assert.ok(opened < 20, `opened after ${opened.toFixed(1)} s`);
    await waitForDataState(page, 'mnist', 'done');
    await waitFinished(page, 'bnn');
    assert.ok(server.requests.some((r) => r.status === 'hung'), 'the network was asked and did not answer');
    console.log(`# hanging network: the page opened in ${opened.toFixed(1)} s and trained`);
    assert.equal(errors.length, 0, formatErrors(errors));
  } finally {
    await browser.close();
    await server.close();
  }
});

test('a download cut half-way is fetched whole for the offline cache, and Retry is answered from it', { timeout: RUN_TIMEOUT }, async () => {
  const manifest = readManifest(requireDist());
  const file = '/data/mnist/train-images-idx3-ubyte.gz';
  const server = await serveStatic(DIST_DIR, { cut: { match: (p) => p === file, afterBytes: 2_000_000 } });
  const browser = await launchBrowser({ webgpu: false });
  try {
    const { page, context, errors } = await openApp(browser, server.url);
    await waitForDataState(page, 'mnist', 'error');
    // The loader stopped at the cut; offline use still gets the whole file.
    await waitOffline(page, 'ready', manifest.version);
    await page.click('#retry-mnist');
    await waitForDataState(page, 'mnist', 'done');
    const requests = server.requests.filter((r) => r.path === file);
    assert.deepEqual(
      requests.map((r) => ({ status: r.status, range: r.range, cut: r.cut ?? false })),
      [
        { status: 200, range: null, cut: true },
        { status: 200, range: null, cut: false },
      ],
      'the cut download and the one for the cache; the Range request of Retry never reached the server',
    );
    // Chromium may report the cut request on the console (net::ERR_...); nothing else is expected.
    const unexpected = errors.filter((e) => !(e.kind === 'console' && e.url.endsWith(file) && /^Failed to load resource: net::ERR_[A-Z_]+$/.test(e.text)));
    assert.deepEqual(unexpected, [], `console errors:\n${formatErrors(unexpected)}`);
    await context.close();
  } finally {
    await browser.close();
    await server.close();
  }
});

test('a new build replaces the cache of the old one and keeps the unchanged data', { timeout: RUN_TIMEOUT }, async () => {
  // A copy of the build, so that it can be rebuilt in place without touching dist/.
  const site = mkdtempSync(join(tmpdir(), 'metaplastic-offline-'));
  cpSync(requireDist(), site, { recursive: true });
  const server = await serveStatic(site);
  const browser = await launchBrowser({ webgpu: false });
  try {
    const old = readManifest(site);
    const { page, context, errors } = await openApp(browser, server.url);
    await waitOffline(page, 'ready', old.version);
    assert.deepEqual(await cacheNames(page), [old.data.cache, old.shell.cache].sort());

    // The new build: one file changed (the training worker's starter, whose name has no hash),
    // the manifest and the service worker made again by the same script as trunk's hook.
    appendFileSync(join(site, 'training_worker.js'), '// rebuilt\n');
    execFileSync('python3', [join(REPO_ROOT, 'scripts/offline_manifest.py'), site]);
    const fresh = readManifest(site);
    assert.notEqual(fresh.version, old.version);
    assert.notEqual(fresh.shell.cache, old.shell.cache);
    assert.equal(fresh.data.cache, old.data.cache, 'the data did not change');

    const dataRequests = () => server.requests.filter((r) => r.path.startsWith('/data/')).length;
    const before = dataRequests();
    await page.reload();
    await waitOffline(page, 'ready', fresh.version);
    assert.deepEqual(await cacheNames(page), [fresh.data.cache, fresh.shell.cache].sort(), 'the old shell cache is gone');
    const cached = await page.evaluate(async (name) => (await (await caches.open(name)).match('training_worker.js')).text(), fresh.shell.cache);
    assert.match(cached, /\/\/ rebuilt/, 'the cache holds the new build');
    await waitForDataState(page, 'mnist', 'done');
    await waitForDataState(page, 'fashion', 'done');
    // The reload's data came from the cache, not the network.
    assert.equal(dataRequests(), before, 'no data downloaded again');

    assert.deepEqual(errors, [], `console errors:\n${formatErrors(errors)}`);
    await context.close();
  } finally {
    await browser.close();
    await server.close();
    rmSync(site, { recursive: true, force: true });
  }
});

test('a page of an older build, open while a newer build takes over, asks for a reload', { timeout: RUN_TIMEOUT }, async () => {
  const site = mkdtempSync(join(tmpdir(), 'metaplastic-offline-'));
  cpSync(requireDist(), site, { recursive: true });
  // One data file arrives slowly, so that the first page is still preparing when the new build comes.
  const slow = { match: (p) => p === '/data/fashion/train-images-idx3-ubyte.gz', chunkSize: 128 * 1024, delayMs: 50 };
  const server = await serveStatic(site, { throttle: slow });
  const browser = await launchBrowser({ webgpu: false });
  try {
    const old = readManifest(site);
    const { page, context, errors } = await openApp(browser, server.url);
    await waitOffline(page, 'preparing', old.version);

    appendFileSync(join(site, 'training_worker.js'), '// rebuilt\n');
    execFileSync('python3', [join(REPO_ROOT, 'scripts/offline_manifest.py'), site]);
    const fresh = readManifest(site);
    // Another tab opens the new build; its worker takes over and deletes the old build's cache.
    const other = await context.newPage();
    await other.goto(server.url);

    assert.match(await waitOffline(page, 'outdated', old.version), /newer version .* reload/);
    await page.reload();
    assert.match(await waitOffline(page, 'ready', fresh.version), /^Ready for offline use/);
    assert.deepEqual(await cacheNames(page), [fresh.data.cache, fresh.shell.cache].sort());
    assert.deepEqual(errors, [], `console errors:\n${formatErrors(errors)}`);
    await context.close();
  } finally {
    await browser.close();
    await server.close();
    rmSync(site, { recursive: true, force: true });
  }
});

test('a server half-way through an update: caching fails with the reason, and the page works', { timeout: RUN_TIMEOUT }, async () => {
  const site = mkdtempSync(join(tmpdir(), 'metaplastic-offline-'));
  cpSync(requireDist(), site, { recursive: true });
  // worker.js changed after the manifest was made: the file on the server is not the build's.
  appendFileSync(join(site, 'worker.js'), '// a newer build\n');
  const server = await serveStatic(site);
  const browser = await launchBrowser({ webgpu: false });
  try {
    const manifest = readManifest(site);
    const { page, context, errors } = await openApp(browser, server.url);
    const text = await waitOffline(page, 'failed');
    assert.match(text, /^Offline use failed: worker\.js: the server's copy is not this build's/);
    await waitForDataState(page, 'mnist', 'done');
    await waitForDataState(page, 'fashion', 'done');
    assert.equal((await cacheNames(page)).includes(manifest.shell.cache), false, 'no half-filled shell cache');
    assert.deepEqual(errors, [], `console errors:\n${formatErrors(errors)}`);
    await context.close();
  } finally {
    await browser.close();
    await server.close();
    rmSync(site, { recursive: true, force: true });
  }
});

test('without service workers the page says offline use is not available and works as before', { timeout: RUN_TIMEOUT }, async () => {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu: false });
  try {
    const { page, context, errors } = await openApp(browser, server.url, {
      setup: (page) => page.addInitScript(() => delete Navigator.prototype.serviceWorker),
    });
    const text = await waitOffline(page, 'unavailable');
    assert.match(text, /not available in this browser/);
    await waitForDataState(page, 'mnist', 'done');
    await waitForDataState(page, 'fashion', 'done');
    assert.deepEqual(await cacheNames(page), [], 'nothing cached');
    assert.equal(server.requests.some((r) => r.path === '/service-worker.js'), false);
    assert.deepEqual(errors, [], `console errors:\n${formatErrors(errors)}`);
    await context.close();
  } finally {
    await browser.close();
    await server.close();
  }
});

// Shared helpers for the browser end-to-end tests (node:test + playwright-core driving Debian's
// Chromium). Every demo's test file reuses these: a static server for dist/, the browser launch
// with the flags this machine needs, console-error collection and a few waits on the page's DOM
// contract (see index.html).

import { createServer } from 'node:http';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const DIST_DIR = join(REPO_ROOT, 'dist');
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/** Generous: the pages run on software WebGPU (SwiftShader) on a 2-core machine. */
export const LONG = 180_000;

/** Fails (never skips) when the built app is missing. */
export function requireDist(dir = DIST_DIR) {
  if (!existsSync(join(dir, 'index.html'))) {
    throw new Error(
      `${join(dir, 'index.html')} is missing: build the app first with \`trunk build --release\` ` +
        '(scripts/test.sh does it).',
    );
  }
  // `trunk serve` into dist/ leaves a page that dials trunk's live-reload socket (console errors).
  if (readFileSync(join(dir, 'index.html'), 'utf8').includes('.well-known/trunk/ws')) {
    throw new Error(
      `${join(dir, 'index.html')} is a \`trunk serve\` build (live-reload script inside): rebuild with \`trunk build --release\`.`,
    );
  }
  return dir;
}

export const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  // The app decompresses the data itself: served as opaque bytes, never with Content-Encoding.
  '.gz': 'application/gzip',
};

/**
 * Parses `Range: bytes=N-` or `bytes=N-M`. Returns null when absent or in another form (which,
 * as HTTP allows, is then ignored: the whole file is sent), 'bad' when it starts past the end.
 */
function parseRange(header, size) {
  if (!header) return null;
  const m = /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!m) return null;
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return 'bad';
  return { start, end };
}

/**
 * A small static file server for `root` on 127.0.0.1 and an ephemeral port.
 *
 * options.throttle: { match: (urlPath) => boolean, chunkSize = 16384, delayMs = 10 } sends the
 *   matching files in small chunks with a pause between them (to watch streaming happen).
 * options.hang: (urlPath) => boolean takes the matching requests and never answers them (a
 *   network that hangs rather than fails; `hang` may be changed on the returned object's options).
 * options.isolation: false leaves out the two headers (COOP, COEP) that make the page
 *   cross-origin isolated, as a static host without them would.
 * options.cut: { match: (urlPath) => boolean, afterBytes, times = 1, chunkSize, delayMs, pauseMs }
 *   announces the full length but drops the connection after `afterBytes` of the body (sent
 *   paced, then a pause), for the first `times` matching requests: a download that fails half-way.
 *
 * Resolves to { url, port, requests, close() }; `requests` logs { method, path, range, status }.
 */
export async function serveStatic(root = DIST_DIR, options = {}) {
  const rootDir = resolve(root);
  const requests = [];
  const server = createServer((req, res) => {
    const entry = { method: req.method, path: req.url, range: req.headers.range ?? null, status: 0 };
    requests.push(entry);
    const send = (status, body, headers = {}) => {
      entry.status = status;
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n', { Allow: 'GET, HEAD' });

    let urlPath;
    try {
      urlPath = decodeURIComponent(new URL(req.url, 'http://localhost').pathname);
    } catch {
      return send(400, 'bad request\n');
    }
    if (urlPath.endsWith('/')) urlPath += 'index.html';
    // A network that hangs: the request is taken and never answered (until the server closes).
    if (options.hang?.(urlPath)) {
      entry.status = 'hung';
      return;
    }
    const file = normalize(join(rootDir, urlPath));
    if (file !== rootDir && !file.startsWith(rootDir + sep)) return send(403, 'forbidden\n');
    let stat;
    try {
      stat = statSync(file);
    } catch {
      return send(404, 'not found\n');
    }
    if (!stat.isFile()) return send(404, 'not found\n');

    const size = stat.size;
    const headers = {
      'Content-Type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'no-store',
      // Cross-origin isolated, as `trunk serve` serves it (Trunk.toml): the page shares its data
      // with the workers. `isolation: false` serves it as a plain static host would.
      ...(options.isolation === false ? {} : { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }),
    };
    const range = parseRange(req.headers.range, size);
    if (range === 'bad') {
      return send(416, 'range not satisfiable\n', { 'Content-Range': `bytes */${size}` });
    }
    let start = 0;
    let end = size - 1;
    let status = 200;
    if (range) {
      ({ start, end } = range);
      status = 206;
      headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    }
    headers['Content-Length'] = String(size === 0 ? 0 : end - start + 1);
    entry.status = status;
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || size === 0) return res.end();

    const cut = options.cut;
    if (cut && cut.match(urlPath) && (cut.done ?? 0) < (cut.times ?? 1)) {
      cut.done = (cut.done ?? 0) + 1;
      entry.cut = true;
      // Paced like a real network, so the page reads what arrived before the connection drops
      // (a browser discards body chunks still queued when the stream errors).
      const partial = createReadStream(file, { start, end: Math.min(end, start + cut.afterBytes - 1) });
      pumpThrottled(partial, res, cut.chunkSize ?? 65536, cut.delayMs ?? 5, () =>
        setTimeout(() => res.socket?.destroy(), cut.pauseMs ?? 300),
      );
      return;
    }
    const stream = createReadStream(file, { start, end });
    const throttle = options.throttle;
    if (throttle && throttle.match(urlPath)) {
      pumpThrottled(stream, res, throttle.chunkSize ?? 16384, throttle.delayMs ?? 10);
    } else {
      stream.on('error', () => res.destroy());
      stream.pipe(res);
    }
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    requests,
    close: () =>
      new Promise((ok) => {
        server.closeAllConnections?.();
        server.close(() => ok());
      }),
  };
}

/** Writes `stream` to `res` in `chunkSize` pieces, `delayMs` apart; then `onEnd()` (default: end the response). */
async function pumpThrottled(stream, res, chunkSize, delayMs, onEnd = () => res.end()) {
  let closed = false;
  const whenClosed = new Promise((ok) => res.once('close', ok));
  whenClosed.then(() => {
    closed = true;
    stream.destroy();
  });
  try {
    for await (const data of stream) {
      for (let i = 0; i < data.length && !closed; i += chunkSize) {
        if (!res.write(data.subarray(i, i + chunkSize))) {
          await Promise.race([new Promise((ok) => res.once('drain', ok)), whenClosed]);
        }
        await sleep(delayMs);
      }
      if (closed) return;
    }
    onEnd();
  } catch {
    res.destroy();
  }
}

export const CHROMIUM_ARGS = [
  '--no-sandbox', // we run as root in CI
  '--disable-quic',
  '--no-first-run',
  // This machine's network is closed: without these Chromium keeps dialling Google's hosts.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Launches headless Debian Chromium; `webgpu: true` adds --enable-unsafe-webgpu (SwiftShader
 * adapter); `args` are more command-line flags.
 */
export async function launchBrowser({ webgpu = true, args = [] } = {}) {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `${CHROMIUM_PATH} is missing: install Debian's chromium (scripts/setup.sh does: apt-get install chromium chromium-driver).`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(webgpu ? ['--enable-unsafe-webgpu'] : []), ...args],
  });
}

/**
 * Records console errors and uncaught page errors. Returns an array that fills as they arrive:
 * { kind: 'console' | 'pageerror', text, url }.
 */
export function collectErrors(page) {
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push({ kind: 'console', text: msg.text(), url: msg.location()?.url ?? '' });
  });
  page.on('pageerror', (err) => errors.push({ kind: 'pageerror', text: String(err?.stack || err), url: '' }));
  return errors;
}

export function formatErrors(errors) {
  return errors.map((e) => `[${e.kind}] ${e.text}${e.url ? ` (${e.url})` : ''}`).join('\n');
}

/**
 * A fresh context and page on `browser`, with errors collected. `setup(page)` runs before the
 * navigation (routes, init scripts); `contextOptions` go to `browser.newContext` (e.g.
 * `{ serviceWorkers: 'block' }`: Playwright's routes do not see requests a service worker answers).
 * Resolves to { context, page, errors }.
 */
export async function openApp(browser, url, { setup, contextOptions } = {}) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  page.setDefaultTimeout(LONG);
  const errors = collectErrors(page);
  if (setup) await setup(page);
  await page.goto(url);
  await page.waitForSelector('body[data-ready="1"]', { state: 'attached' });
  return { context, page, errors };
}

/** Waits for the loader of data set `id` (mnist | fashion) to reach `state`; fails early on a different final state. */
export async function waitForDataState(page, id, state, timeout = LONG) {
  const handle = await page.waitForFunction(
    ([id, state]) => {
      const s = document.getElementById(`data-${id}`)?.getAttribute('data-state');
      if (s === state) return { ok: true, s };
      // 'error' when waiting for 'done' (or the other way around) will not change by itself.
      if ((state === 'done' && s === 'error') || (state === 'error' && s === 'done')) {
        return { ok: false, s, message: document.getElementById(`error-${id}`)?.textContent ?? '' };
      }
      return false;
    },
    [id, state],
    { timeout, polling: 100 },
  );
  const result = await handle.jsonValue();
  if (!result.ok) {
    throw new Error(`#data-${id} reached data-state=${result.s} while waiting for ${state}: ${result.message}`);
  }
}

/** The progress bar of data set `id`: { value, max } as numbers. */
export async function progress(page, id) {
  return page.evaluate((id) => {
    const p = document.getElementById(`progress-${id}`);
    return { value: Number(p.getAttribute('value') ?? p.value), max: Number(p.getAttribute('max') ?? p.max) };
  }, id);
}

/**
 * Serves dist/, opens the app in a fresh browser (WebGPU on or off) and runs `body(page, errors)`;
 * `setup(page)` runs before the navigation (init scripts such as a long-task observer).
 */
export async function withPage({ webgpu, setup }, body) {
  const server = await serveStatic(requireDist());
  const browser = await launchBrowser({ webgpu });
  try {
    const { page, errors } = await openApp(browser, server.url, { setup });
    await body(page, errors);
  } finally {
    await browser.close();
    await server.close();
  }
}

/** Pixels of `canvas` close to the standard (vermillion) and metaplastic (blue) colour families: `{ standard, meta }`. */
export async function curveColours(page, id) {
  return page.evaluate((id) => {
    const c = document.getElementById(id);
    const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
    // Vermillion (standard, #d55e00) and blue (metaplastic, #0072b2) families, shades included.
    let standard = 0;
    let meta = 0;
    for (let i = 0; i < data.length; i += 4) {
      const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
      if (r > g + 60 && r > b + 80) standard++;
      if (b > r + 80 && b > g + 30) meta++;
    }
    return { standard, meta };
  }, id);
}

export async function nonWhite(page, id) {
  return page.evaluate((id) => {
    const c = document.getElementById(id);
    const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
    let n = 0;
    for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0 && (data[i] < 240 || data[i + 1] < 240 || data[i + 2] < 240)) n++;
    return n;
  }, id);
}

/**
 * Waits until canvas `id` has more than `pixels` drawn pixels, or fails. The page paints its charts
 * a part per frame after the last report, so a chart may follow the "Finished" status by a few
 * frames, more on a busy machine.
 */
export async function waitDrawn(page, id, pixels = 2000, timeout = 30_000) {
  try {
    await page.waitForFunction(
      ([id, pixels]) => {
        const c = document.getElementById(id);
        const { data } = c.getContext('2d').getImageData(0, 0, c.width, c.height);
        let n = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0 && (data[i] < 240 || data[i + 1] < 240 || data[i + 2] < 240)) n++;
        return n > pixels;
      },
      [id, pixels],
      { timeout, polling: 250 },
    );
  } catch {
    assert.fail(`${id} drawn (${await nonWhite(page, id)} pixels after ${timeout / 1000} s)`);
  }
}

/** Waits until demo `prefix` (bnn, lenet, hebb) has finished its run; fails with its error if it stopped instead. */
export async function waitFinished(page, prefix, timeout = 300_000) {
  await page.waitForFunction((p) => /^(Finished|Stopped)/.test(document.getElementById(`${p}-status`).textContent), prefix, {
    timeout,
    polling: 500,
  });
  const status = await page.textContent(`#${prefix}-status`);
  assert.match(status, /^Finished/, `the run stopped: ${await page.textContent(`#${prefix}-error`)}`);
}

// The service worker: after one visit the page, its training workers and both data sets load with
// no network, because a classroom network fails when a lesson needs it.
//
// What is cached comes from the build: scripts/offline_manifest.py (a post_build hook of
// Trunk.toml) replaces the MANIFEST line below with the list of built files, their SHA-256 and two
// cache names made from those hashes, one for the app shell and one for the data. A new build
// changes this file's bytes, so the browser installs the new worker; it caches the new shell and
// then deletes every older cache of this app. The data cache keeps its name while the data stay
// the same, so an update of the code does not download 41 MB again.
//
// The page (src/web/offline.rs) registers this worker, puts the data into the data cache as its own
// download streams by (the first visit downloads the data once, and its training never waits for
// the cache), and counts the cached files to say when it is ready for offline use.

'use strict';

// { version, shell: { cache, files: { path: sha256 } }, data: { cache, files: { path: sha256 } } },
// paths relative to this worker's scope (a null hash is checked otherwise: see precacheOne). Left
// null (no hook ran), the worker caches nothing and leaves every request to the network.
const MANIFEST = null;

const PREFIX = 'metaplastic-';
const MANIFEST_FILE = 'offline-manifest.json';
// trunk names what it hashes name-<16 hex digits>[_bg].ext: such a URL never changes its content.
const HASHED = /-[0-9a-f]{16}(_bg)?\.(js|wasm|css)$/;

const at = (path) => new URL(path, self.registration.scope).href;

/** A request's path relative to the scope, as the manifest writes it; null outside the scope. */
function relative(url) {
  const scope = self.registration.scope;
  const u = new URL(url);
  const bare = u.origin + u.pathname;
  return bare.startsWith(scope) ? bare.slice(scope.length) : null;
}

function describe(e) {
  if (e && e.name === 'QuotaExceededError') {
    return `the browser would not store more (${e.message || e.name}); free some disk space or allow this site more storage`;
  }
  return (e && e.message) || String(e);
}

/** Tells every page of this origin, controlled or not: the first visit's page is not controlled yet. */
async function tell(message) {
  for (const client of await self.clients.matchAll({ includeUncontrolled: true, type: 'window' })) {
    client.postMessage(message);
  }
}

async function sha256(response) {
  const digest = await crypto.subtle.digest('SHA-256', await response.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Fetches every file of the shell into this version's cache. Each must have the hash the build
 * wrote: a server half-way through deploying a new build would otherwise leave a cache that mixes
 * two builds (the worker's glue of one, the page's of the other). A file some older cache already
 * holds with the right hash is copied from there instead of downloaded again.
 */
async function precacheShell() {
  const cache = await caches.open(MANIFEST.shell.cache);
  for (const [path, hash] of Object.entries(MANIFEST.shell.files)) {
    try {
      await precacheOne(cache, path, hash);
    } catch (e) {
      const wrapped = new Error(`${path}: ${describe(e)}`, { cause: e });
      wrapped.newer = Boolean(e && e.newer);
      throw wrapped;
    }
  }
}

async function precacheOne(cache, path, hash) {
  if (await cache.match(at(path))) return; // an install that was interrupted, resumed
  if (hash !== null) {
    const old = await caches.match(at(path));
    if (old && (await sha256(old.clone())) === hash) return cache.put(at(path), old);
  }
  // no-cache: the HTTP cache may hold an older build's unhashed files (worker.js).
  const response = await fetch(at(path), { cache: 'no-cache' });
  if (!response.ok) throw new Error(`the server answered HTTP ${response.status}`);
  if (path === MANIFEST_FILE) {
    // The manifest cannot carry its own hash; its version says whether it is this build's.
    const version = (await response.clone().json()).version;
    if (version !== MANIFEST.version) {
      // A complete other build on the server: the page that asked is the older one.
      const e = new Error(`the server has another build's (${version}, not ${MANIFEST.version})`);
      e.newer = true;
      throw e;
    }
  } else if (hash === null) {
    // A page whose bytes the server changes (`trunk serve` fills in its live-reload address):
    // it must at least load this build's scripts, wasm and styles.
    const page = await response.clone().text();
    const stale = Object.keys(MANIFEST.shell.files).find((p) => HASHED.test(p) && !page.includes(p));
    if (stale) throw await beingUpdated(`the server's copy does not load this build's ${stale}: it is being updated`);
  } else if ((await sha256(response.clone())) !== hash) {
    throw await beingUpdated("the server's copy is not this build's: it is being updated");
  }
  await cache.put(at(path), response);
}

/**
 * A file that is not this build's means the server is being updated. A deploy (or a rebuild under
 * `trunk serve`) writes its manifest last, within moments: if the server's manifest names another
 * build within a few seconds, a complete newer build is there and the page that asked is the older
 * one (`newer`: it says reload, not failed).
 */
async function beingUpdated(message) {
  const e = new Error(message);
  for (let i = 0; i < 4 && !e.newer; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 1000));
    try {
      const response = await fetch(at(MANIFEST_FILE), { cache: 'no-cache' });
      e.newer = response.ok && (await response.json()).version !== MANIFEST.version;
    } catch {
      // No answer: keep the failure as it is.
    }
  }
  return e;
}

self.addEventListener('install', (event) => {
  if (!MANIFEST) return;
  event.waitUntil(
    precacheShell().then(
      // A new build takes over at once instead of waiting for every open tab to close; a page of
      // the older build still open notices (its cache is gone) and asks for a reload.
      () => self.skipWaiting(),
      async (e) => {
        // A half-filled cache only takes space; the next visit tries again.
        await caches.delete(MANIFEST.shell.cache);
        await tell({ type: 'offline-failed', version: MANIFEST.version, message: e.message, newer: Boolean(e.newer) });
        throw e;
      },
    ),
  );
});

self.addEventListener('activate', (event) => {
  if (!MANIFEST) return;
  const keep = new Set([MANIFEST.shell.cache, MANIFEST.data.cache]);
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(PREFIX) && !keep.has(name)) await caches.delete(name);
      }
      // The first visit's page goes through this worker from now on (its training workers, a
      // data Retry), without a reload.
      await self.clients.claim();
    })(),
  );
});

/** This version's copy of a shell file. */
async function fromShell(path) {
  const cache = await caches.open(MANIFEST.shell.cache);
  return cache.match(at(path));
}

/** How long the page and the unhashed files wait for the network before the cache answers. */
const NETWORK_WAIT_MS = 4000;
const LATE = Symbol('late');

/**
 * The network's answer, or this version's cached copy when the network fails, answers with an
 * error or has not answered within NETWORK_WAIT_MS. Network first, not cache first, for the page
 * and the files whose names carry no hash (training_worker.js, worker.js, worker_bg.wasm, the
 * manifest): online, a reload always gets the
 * newest build, so neither a developer's rebuild under `trunk serve` nor a teacher's update is
 * hidden behind a stale cache; offline, the fetch fails at once and this build's copy answers,
 * all of it from the one build the cache was filled with.
 */
async function networkFirst(request, path) {
  const network = fetch(request);
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(resolve, NETWORK_WAIT_MS, LATE);
  });
  let response;
  try {
    response = await Promise.race([network, late]);
  } catch (e) {
    clearTimeout(timer);
    const cached = await fromShell(path);
    if (cached) return cached;
    throw e;
  }
  clearTimeout(timer);
  if (response === LATE) {
    // A network that hangs (a dead classroom Wi-Fi, a captive portal) instead of failing: this
    // build's copy answers, and the late answer is dropped.
    const cached = await fromShell(path);
    if (cached) {
      network.catch(() => {});
      return cached;
    }
    response = await network;
  }
  if (response.ok) return response;
  return (await fromShell(path)) ?? response;
}

/** Hashed names are immutable: any cache's copy is the right one, and saves a download. */
async function cacheFirst(request) {
  return (await caches.match(request)) ?? fetch(request);
}

/**
 * A data file from the data cache, or from the network while it is not cached yet (streamed
 * through untouched, so training starts as the first bytes arrive). The page asks with
 * `Range: bytes=N-` when it retries a download that failed half-way (src/web/loader.rs); the
 * cached file answers that with the part asked for.
 */
async function fromData(request, path) {
  const cache = await caches.open(MANIFEST.data.cache);
  const cached = await cache.match(at(path));
  if (!cached) return fetch(request);
  const range = request.headers.get('Range');
  if (!range) return cached;
  const m = /^bytes=(\d+)-(\d*)$/.exec(range.trim());
  // A range of another form may be ignored (HTTP allows it): the page skips what it has.
  if (!m) return cached;
  const blob = await cached.blob();
  const start = Number(m[1]);
  const end = m[2] === '' ? blob.size - 1 : Math.min(Number(m[2]), blob.size - 1);
  if (start >= blob.size || end < start) {
    return new Response('', { status: 416, headers: { 'Content-Range': `bytes */${blob.size}` } });
  }
  return new Response(blob.slice(start, end + 1), {
    status: 206,
    headers: {
      'Content-Type': cached.headers.get('Content-Type') ?? 'application/octet-stream',
      'Content-Range': `bytes ${start}-${end}/${blob.size}`,
      'Content-Length': String(end - start + 1),
    },
  });
}

// The page asks which build this worker is: it is ready for offline use only when the worker
// that would answer offline is of its own build.
self.addEventListener('message', (event) => {
  if (event.data?.type === 'version') event.source?.postMessage({ type: 'version', version: MANIFEST?.version ?? null });
});

/**
 * The response with the two headers that make the page cross-origin isolated (COOP same-origin,
 * COEP require-corp), so it can share each data set with its training workers in one
 * SharedArrayBuffer (src/web/store.rs) on any static host, and offline: the server need not send
 * them once this worker controls the page. Everything the page loads is same-origin, so COEP
 * blocks nothing.
 */
async function isolated(pending) {
  const response = await pending;
  if (response.type === 'opaque' || response.status < 200 || response.status > 599) return response;
  const headers = new Headers(response.headers);
  headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  headers.set('Cross-Origin-Embedder-Policy', 'require-corp');
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (!MANIFEST || request.method !== 'GET') return;
  const path = relative(request.url);
  if (path === null) return;
  if (request.mode === 'navigate' && (path === '' || path === 'index.html')) {
    // Any link into the page (`?bnn.hidden=...&run=bnn`) is the one cached index.html.
    event.respondWith(isolated(networkFirst(request, 'index.html')));
  } else if (path in MANIFEST.data.files) {
    event.respondWith(fromData(request, path));
  } else if (path in MANIFEST.shell.files) {
    // The training workers' scripts carry the headers too: a worker is isolated by its own script's.
    event.respondWith(isolated(HASHED.test(path) ? cacheFirst(request) : networkFirst(request, path)));
  }
});

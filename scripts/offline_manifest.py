#!/usr/bin/env python3
"""Write the offline manifest of a built app: every file the service worker must cache, with
its SHA-256, and cache names derived from those hashes.

trunk runs this after each build (Trunk.toml, `[[hooks]] stage = "post_build"`), on the staged
output in TRUNK_STAGING_DIR, before it replaces dist/; a directory given as the first argument
is used instead (to re-run it on a copy of dist/ by hand or in a test). It writes

    offline-manifest.json   read by the page (src/web/offline.rs) to count what is cached
    service-worker.js       its `const MANIFEST = ...;` line replaced by the same manifest, so any
                            change to any file changes the worker's bytes, which is what makes
                            the browser install the new worker (and it deletes the old caches)

The app shell and the data get separate caches, each named after the hashes of its own files: a
rebuild of the code keeps the 41 MB of data a class has already downloaded.

Python 3 standard library only: a fresh machine has it before anything else is installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from pathlib import Path

MANIFEST = "offline-manifest.json"
WORKER = "service-worker.js"
# The line of service-worker.js that carries the manifest; matched again on a re-run.
MANIFEST_LINE = re.compile(r"^const MANIFEST = .*;$", re.MULTILINE)
# Cache names start with this, so the worker deletes only its own old caches.
PREFIX = "metaplastic"
# What `trunk serve` replaces in the page as it serves it (its live-reload script).
SERVED_PLACEHOLDER = "{{__TRUNK_"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def built_files(root: Path) -> list[str]:
    """Every file under root as a URL path relative to it, sorted, without hidden files (such as
    data/.verified), the manifest and the service worker itself (the browser fetches the worker
    on its own schedule; a cached copy of it would only hide updates)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith("."):
                continue
            rel = Path(dirpath, name).relative_to(root).as_posix()
            if rel not in (MANIFEST, WORKER):
                found.append(rel)
    return sorted(found)


def group(name: str, files: dict[str, str | None]) -> dict:
    digest = hashlib.sha256("".join(f"{path} {h}\n" for path, h in files.items()).encode()).hexdigest()
    return {"cache": f"{PREFIX}-{name}-{digest[:16]}", "files": files}


def main() -> int:
    where = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TRUNK_STAGING_DIR")
    if not where:
        print("offline_manifest.py: no directory (run by trunk, or give one as the argument)", file=sys.stderr)
        return 2
    root = Path(where)
    worker = root / WORKER
    if not worker.is_file():
        print(f"offline_manifest.py: {worker} is missing (index.html copies static/{WORKER})", file=sys.stderr)
        return 1
    hashes = {path: sha256(root / path) for path in built_files(root)}
    for path in hashes:
        if path.endswith(".html") and SERVED_PLACEHOLDER in (root / path).read_text(errors="replace"):
            # `trunk serve` fills in its live-reload address as it serves the page, so the bytes
            # a browser gets are not the file's: the worker checks that page by the hashed
            # files it names instead.
            hashes[path] = None
    data = {p: h for p, h in hashes.items() if p.startswith("data/")}
    shell = {p: h for p, h in hashes.items() if not p.startswith("data/")}
    if not data:
        # Not fatal: the app itself still caches, and the page says the data cannot go offline.
        print("offline_manifest.py: warning: no data/ in the build (scripts/fetch-data.sh)", file=sys.stderr)
    manifest = {"shell": group("shell", shell), "data": group("data", data)}
    manifest["version"] = hashlib.sha256(
        (manifest["shell"]["cache"] + manifest["data"]["cache"]).encode()
    ).hexdigest()[:16]
    # The manifest is part of the shell (the page reads it offline too) but cannot hash itself:
    # its content is fixed by the hashes above, and the worker checks it by its version instead.
    manifest["shell"]["files"][MANIFEST] = None
    text = json.dumps(manifest, separators=(",", ":"))
    (root / MANIFEST).write_text(text + "\n")

    source = worker.read_text()
    line = f"const MANIFEST = {text};"
    updated, count = MANIFEST_LINE.subn(lambda _: line, source, count=1)
    if count != 1:
        print(f"offline_manifest.py: {worker} has no line `const MANIFEST = ...;` to fill in", file=sys.stderr)
        return 1
    worker.write_text(updated)
    print(
        f"offline manifest {manifest['version']}: {len(shell) + 1} app files, {len(data)} data files "
        f"({sum((root / p).stat().st_size for p in hashes) / 1e6:.1f} MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

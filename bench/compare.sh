#!/usr/bin/env bash
# Trains the benchmark's networks with `metaplastic bench` (CPU backend) and with the PyTorch peer
# (bench/torch_bench.py), 2 threads each, one after the other on this machine, and prints a
# Markdown table of examples per second with the ratio metaplastic / PyTorch. The JSON of both
# runs is left in bench/out/. Installs PyTorch into bench/.venv first if it is missing
# (bench/setup.sh). Not part of the test path. THREADS=N changes the thread count of both sides.
#
# A side that fails is reported and left out of the table (its networks print as a dash); the
# script then exits non-zero.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
threads="${THREADS:-2}"

bash bench/setup.sh || exit 1
mkdir -p bench/out
rm -f bench/out/rust.json bench/out/torch.json
failed=0

echo "== metaplastic bench --backend cpu --threads $threads" >&2
if ! cargo run --release --quiet -- bench --backend cpu --threads "$threads" --json bench/out/rust.json; then
  echo "metaplastic bench failed" >&2
  failed=1
fi

echo "== bench/torch_bench.py --threads $threads" >&2
if ! bench/.venv/bin/python bench/torch_bench.py --threads "$threads" --json bench/out/torch.json >/dev/null; then
  echo "torch_bench.py failed" >&2
  failed=1
fi

echo
bench/.venv/bin/python bench/table.py bench/out/rust.json bench/out/torch.json
exit "$failed"

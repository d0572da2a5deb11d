"""Joins the Rust benchmark's JSON and the PyTorch peer's by network name and prints a Markdown
table of examples per second with the ratio metaplastic / PyTorch. A network missing from either
side (or a file missing altogether) prints as a dash.

Usage: python bench/table.py RUST_JSON TORCH_JSON
"""

import json
import sys
from pathlib import Path

# The benchmark's networks in the order the table lists them; others follow as they appear.
ORDER = ["bnn-512", "bnn-1024", "lenet-classic-standard", "lenet-classic-amp", "denoise", "completion"]
DASH = "\u2014"


def load(path: str) -> dict[str, dict]:
    """The runs of one JSON file by network name; empty (with a note) if the file is missing."""
    p = Path(path)
    if not p.is_file():
        print(f"({path} is missing)", file=sys.stderr)
        return {}
    return {run["network"]: run for run in json.loads(p.read_text()).get("runs", [])}


def rate(run: dict | None) -> str:
    return f"{run['examples_per_s']:,.0f}" if run else DASH


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    ours, theirs = load(argv[0]), load(argv[1])
    names = ORDER + [n for n in [*ours, *theirs] if n not in ORDER]
    notes = []
    print("| network | metaplastic ex/s | PyTorch ex/s | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for name in dict.fromkeys(names):
        a, b = ours.get(name), theirs.get(name)
        if a is None and b is None:
            continue
        ratio = f"{a['examples_per_s'] / b['examples_per_s']:.2f}" if a and b and b["examples_per_s"] > 0 else DASH
        if a and b and a.get("batch") != b.get("batch"):
            ratio += "*"
            notes.append(f"{name}: batch {a.get('batch')} (metaplastic) vs {b.get('batch')} (PyTorch)")
        print(f"| {name} | {rate(a)} | {rate(b)} | {ratio} |")
    threads = sorted({r.get("threads") for r in [*ours.values(), *theirs.values()] if r.get("threads") is not None})
    if threads:
        print(f"\nThreads: {', '.join(map(str, threads))}.", end="")
    for note in notes:
        print(f"\n* {note}", end="")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

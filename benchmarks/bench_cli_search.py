"""Wall time of `photo-tagger search` from a fresh process: a new query (the model and
torch must load) and the same query again (its vector comes from the library's cache, no
torch import), with the demo model and a base-size random-weight SigLIP 2.

    python -m benchmarks.bench_cli_search [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import build_model
from photo_tagger.demo.shapes import write_dataset

CLI = [sys.executable, "-m", "photo_tagger"]


def _timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(CLI + args, check=True, capture_output=True)
    return time.perf_counter() - start


def measure(model: str, runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        photos, home = Path(tmp) / "photos", Path(tmp) / "home"
        write_dataset(photos, 60, seed=1)
        subprocess.run(CLI + ["index", str(photos), "--model", model, "--home", str(home)],
                       check=True, capture_output=True)
        new, again = [], []
        for run in range(runs):
            query = f"red circle {run}"
            new.append(_timed(["search", query, "--home", str(home)]))
            again.append(_timed(["search", query, "--home", str(home)]))
        imports = _timed(["--version"])
    return {"new query": statistics.median(new), "repeated query": statistics.median(again),
            "CLI start (--version)": imports}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    for name, model in [("demo:shapes", "demo:shapes"),
                        ("base-patch16-224 (random weights)", str(build_model(
                            "base-patch16-224")))]:
        for what, seconds in measure(model, runs).items():
            print(f"{name:36s} {what:24s} {seconds:6.2f} s")


if __name__ == "__main__":
    main()

"""Wall time of `photo-tagger search` from a fresh process: a new query (the model and
torch must load), the same query again (its vector comes from the library's cache, no
torch import), and a new query while `photo-tagger watch` runs on the library (answered
over its socket, no torch import), with the demo model and a base-size random-weight
SigLIP 2.

    python -m benchmarks.bench_cli_search [--runs 3] [--demo-only]
"""

from __future__ import annotations

import argparse
import os
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
        served = _with_service(home, runs)
    return {"new query": statistics.median(new), "repeated query": statistics.median(again),
            "new query, service running": served, "CLI start (--version)": imports}


def _with_service(home: Path, runs: int) -> float:
    """New queries while `photo-tagger watch` holds the model (median wall)."""
    from photo_tagger.core.search_socket import ask

    service = subprocess.Popen(CLI + ["watch", "--home", str(home)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while ask(home, "warm up", limit=1) is None:  # the model is loaded once it answers
            if time.monotonic() > deadline or service.poll() is not None:
                raise RuntimeError("the watch service did not answer")
            time.sleep(0.2)
        return statistics.median(
            _timed(["search", f"blue square {os.getpid()} {run}", "--home", str(home)])
            for run in range(runs))
    finally:
        service.terminate()
        service.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--demo-only", action="store_true",
                        help="skip the base-size model (building it takes minutes)")
    options = parser.parse_args()
    runs = options.runs
    models = [("demo:shapes", lambda: "demo:shapes")]
    if not options.demo_only:
        models.append(("base-patch16-224 (random weights)",
                       lambda: str(build_model("base-patch16-224"))))
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    for name, make in models:
        model = make()
        for what, seconds in measure(model, runs).items():
            print(f"{name:36s} {what:28s} {seconds:6.2f} s")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

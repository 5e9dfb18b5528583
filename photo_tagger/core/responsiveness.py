"""Keeps the window's thread from waiting on background work. Three things froze it for
50–400 ms on the 2-core machine, whichever thread caused them:

- loading torch's native library inside `import torch` holds the GIL for 0.3–0.4 s;
- full garbage collections over the ~500k objects that torch and transformers create hold
  it for 50–180 ms each, several while the model loads;
- the model, the decoders and the thumbnailers keep every core busy, and at equal priority
  the GUI thread waits its turn behind them;
- each call from Qt into Python (a paint, a model's data) needs the GIL; a background thread
  running Python keeps it for the switch interval, 5 ms by default, per call.

Measured with `benchmarks/bench_gui.py`; docs/PERFORMANCE.md has the figures. No Qt here.
"""

from __future__ import annotations

import ctypes
import gc
import importlib.util
import logging
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

_TORCH_LIBRARY = {"linux": "libtorch_cpu.so", "darwin": "libtorch_cpu.dylib",
                  "win32": "torch_cpu.dll"}
_preloaded: list[ctypes.CDLL] = []
BACKGROUND_NICENESS = 10
GUI_SWITCH_INTERVAL_S = 0.0005  # kept referenced: the library stays loaded


def torch_library_path() -> Path | None:
    """Where torch's main native library is, found without importing torch."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    name = _TORCH_LIBRARY.get(sys.platform, "libtorch_cpu.so")
    path = Path(list(spec.submodule_search_locations)[0]) / "lib" / name
    return path if path.exists() else None


def preload_torch_library() -> bool:
    """Load torch's native library now, before the window is shown, so that the service
    thread's `import torch` later finds it loaded instead of freezing a visible window.
    Only a head start: when it cannot be done, `import torch` loads the library as usual."""
    if _preloaded or "torch" in sys.modules:
        return True
    path = torch_library_path()
    if path is None:
        return False
    try:
        _preloaded.append(ctypes.CDLL(str(path)))
    except OSError as exc:  # e.g. a dependency found only once torch sets its search path
        log.debug("torch's library was not preloaded: %s", exc)
        return False
    return True


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run a model load without garbage collections, then freeze what it created.

    Loading creates hundreds of thousands of long-lived objects; a full collection in the
    middle re-scans all of them while holding the GIL. Afterwards `gc.freeze()` moves them
    out of the collector's sight, so later full collections scan only new objects. The next
    load (a model switch) unfreezes them first, so a replaced model can be freed.
    """
    if gc.get_freeze_count():
        # A model loaded before is being replaced: hand what was frozen with it back to the
        # collector, or the old model, held in reference cycles, would stay for good. One
        # full collection, on a model switch only.
        gc.unfreeze()
        gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def lower_thread_priority() -> None:
    """Give the calling thread a lower CPU priority than the window's (on Linux, where nice
    is per thread). Threads it starts, such as torch's compute threads, inherit it. An
    idle machine still gives background work every core; a busy one serves the user first."""
    if not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, thread)
        if current < BACKGROUND_NICENESS:
            os.setpriority(os.PRIO_PROCESS, thread, BACKGROUND_NICENESS)
    except OSError as exc:  # e.g. a sandbox that forbids it: only responsiveness is lost
        log.debug("Thread priority unchanged: %s", exc)


def hand_over_the_gil_sooner() -> None:
    """Shorten the interval after which a thread running Python yields the GIL to one that
    waits. The window calls into Python hundreds of times a frame; at 5 ms a wait, a model
    loading beside it turned a repaint into seconds. Threads in C code (torch, Pillow,
    SQLite) release the GIL anyway, so background work loses almost nothing."""
    sys.setswitchinterval(min(sys.getswitchinterval(), GUI_SWITCH_INTERVAL_S))

"""Keeping pauses off the window's thread: the collector paused and frozen around a model
load, background threads at a lower priority, torch's library loaded before the window."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading

import pytest

from photo_tagger.core.responsiveness import (
    BACKGROUND_NICENESS,
    collector_paused,
    lower_thread_priority,
    torch_library_path,
)


def test_collector_is_paused_inside_and_what_was_made_is_frozen_after() -> None:
    # A model loaded by an earlier test left objects frozen: the pause would unfreeze and
    # collect them first (a model switch), and the count could end below where it began.
    gc.unfreeze()
    frozen_before = gc.get_freeze_count()
    try:
        with collector_paused():
            assert not gc.isenabled()
            made = [[index] for index in range(1000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen_before + len(made)
    finally:
        gc.unfreeze()


def test_collector_stays_off_after_if_it_was_off_before() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="nice is per thread on Linux")
def test_lower_thread_priority_affects_only_the_calling_thread() -> None:
    seen: dict[str, int] = {}
    starting = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def background() -> None:
        lower_thread_priority()
        seen["background"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    worker = threading.Thread(target=background)
    worker.start()
    worker.join()
    assert seen["background"] == max(starting, BACKGROUND_NICENESS)  # never raised
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == starting


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_torch_library_is_loaded_without_importing_torch() -> None:
    assert torch_library_path() is not None
    script = (
        "import sys\n"
        "from photo_tagger.core.responsiveness import preload_torch_library, "
        "torch_library_path\n"
        "assert preload_torch_library()\n"
        "assert 'torch' not in sys.modules\n"
        "maps = open('/proc/self/maps').read()\n"
        "assert str(torch_library_path()) in maps, 'library not mapped'\n"
        "import torch\n"
        "assert float(torch.ones(2).sum()) == 2.0\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


def test_gil_switch_interval_is_shortened_but_never_lengthened() -> None:
    from photo_tagger.core.responsiveness import GUI_SWITCH_INTERVAL_S, hand_over_the_gil_sooner

    original = sys.getswitchinterval()
    try:
        sys.setswitchinterval(0.005)
        hand_over_the_gil_sooner()
        assert sys.getswitchinterval() <= GUI_SWITCH_INTERVAL_S * 1.01
        sys.setswitchinterval(0.0001)
        hand_over_the_gil_sooner()
        assert sys.getswitchinterval() < GUI_SWITCH_INTERVAL_S
    finally:
        sys.setswitchinterval(original)


def test_a_second_load_lets_the_first_models_objects_be_freed() -> None:
    import weakref

    class Model:
        pass

    try:
        with collector_paused():
            first = Model()
            first.cycle = first  # models hold themselves in reference cycles
        alive = weakref.ref(first)
        del first
        assert alive() is not None  # frozen: no collection can reach it
        with collector_paused():
            second = Model()
        assert alive() is None
        assert second is not None
    finally:
        gc.unfreeze()

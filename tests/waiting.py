"""Waiting in tests: polling for a condition, and the bound that only catches a hang."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

# A bound on how long a stop, a refusal or a shutdown may take in a unit test. It only
# catches a hang: the machines that run the tests are shared and slow, so speed goals
# belong in benchmarks/, where they are measured rather than asserted.
HANG_SECONDS = 30.0


def wait_until(predicate: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
    """Poll `predicate` until it holds; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or predicate}")
        time.sleep(0.02)

"""The durability tests' store home."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.durability.harness import processes_of


@pytest.fixture
def home(argosy_home: Path) -> Iterator[Path]:
    """The store's home; whatever a failed test left running for it is killed at the end."""
    argosy_home.mkdir(parents=True, exist_ok=True)
    yield argosy_home
    for pid, _ in processes_of(argosy_home):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

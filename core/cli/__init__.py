"""The ``argosy`` command line: Argo's verbs, and how their results are rendered."""

from __future__ import annotations

import gc
from typing import Any

_collector_paused = False


def program() -> None:
    """The ``argosy`` program (its console script, ``python -m argosy.cli``).

    Start-up makes some 60,000 objects (modules, classes, models) that live as long as the
    process, and no garbage worth collecting: the cycle collector, run every 700 allocations,
    would scan them again and again (~20 ms of a one-node run). It is paused until the verb
    starts (:func:`started`)."""
    global _collector_paused
    _collector_paused = gc.isenabled()
    gc.disable()
    from argosy.cli.commands import main

    main()


def started() -> None:
    """The verb starts: what start-up made is frozen out of every later collection (it is
    never garbage), and the collector runs again."""
    global _collector_paused
    if _collector_paused:
        _collector_paused = False
        gc.freeze()
        gc.enable()


def __getattr__(name: str) -> Any:
    # The command group, imported on first use so that program() pauses the collector first.
    if name == "main":
        from argosy.cli.commands import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["main", "program", "started"]

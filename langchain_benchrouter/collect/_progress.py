"""Per-model rich progress bars on stderr, for the calls and for the grading."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from rich.console import Console

__all__ = ["progress_bars"]


@contextmanager
def progress_bars(
    enabled: bool, totals: Mapping[str, int], what: str
) -> Iterator[Callable[[str, int, str], None]]:
    """Per-model rich progress bars on stderr; silent unless on a terminal."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled or not console.is_terminal,
    )
    ids = {name: progress.add_task(f"{what} {name}", total=n) for name, n in totals.items()}

    def advance(name: str, n: int = 1, extra: str = "") -> None:
        progress.update(ids[name], advance=n, description=f"{what} {name}{extra}")

    with progress:
        yield advance

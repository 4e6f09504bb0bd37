"""Pickling for embedders that hold process-local state (locks, connections, models)."""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = ["ProcessLocalState"]


class ProcessLocalState:
    """A base for objects whose locks, connections or loaded models belong to one process.

    A subclass names those attributes in ``_PROCESS_LOCAL`` and sets them fresh in
    :meth:`_reset_process_local` (called from its ``__init__``). Pickling leaves them out
    (locks and connections cannot travel; a model is loaded again on first use) and
    unpickling sets them fresh, so a copy works in a spawned process or after ``deepcopy``.
    """

    _PROCESS_LOCAL: ClassVar[tuple[str, ...]] = ()

    def _reset_process_local(self) -> None:
        """Set the attributes named in ``_PROCESS_LOCAL`` to their fresh values."""
        raise NotImplementedError

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key in self._PROCESS_LOCAL:
            del state[key]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset_process_local()

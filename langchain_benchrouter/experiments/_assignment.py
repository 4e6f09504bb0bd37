"""How a unit key lands in an arm: a uniform point from its salted hash, a weighted draw.

The same key, salt, arms and weights give the same arm in every process and after every
restart (the hash is SHA-256 based, see
:func:`~langchain_benchrouter.experiments.exposure_log.unit_hash`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from langchain_benchrouter.errors import ExperimentError
from langchain_benchrouter.experiments.exposure_log import unit_hash

__all__ = ["assign_arm", "bucket", "check_weights", "pick"]


def bucket(hashed: str) -> float:
    """A uniform number in [0, 1) from the first 64 bits of a unit hash."""
    return int(hashed[:16], 16) / 2.0**64


def pick(point: float, arms: Sequence[str], weights: Sequence[float]) -> str:
    """The arm whose share of the cumulative weights holds ``point`` (in [0, 1))."""
    total = math.fsum(weights)
    edge = 0.0
    last = arms[0]
    for arm, w in zip(arms, weights, strict=True):
        if w <= 0:
            continue
        edge += w / total
        last = arm
        if point < edge:
            return arm
    return last  # rounding: the point sits at the very top


def assign_arm(
    key: str, arms: Sequence[str], weights: Sequence[float] | None = None, *, salt: str
) -> str:
    """The arm a unit key is assigned to: a deterministic weighted draw from its hash.

    Args:
        key: the unit key.
        arms: arm names, in a fixed order (the order is part of the assignment).
        weights: non-negative weights, one per arm (default: equal).
        salt: the experiment's salt.

    Returns:
        The arm's name.

    Example:
        >>> assign_arm("user-42", ["a", "b"], [0.5, 0.5], salt="exp") in ("a", "b")
        True
    """
    ws = [1.0] * len(arms) if weights is None else [float(w) for w in weights]
    check_weights(list(arms), ws)
    return pick(bucket(unit_hash(salt, key)), arms, ws)


def check_weights(arms: list[str], weights: list[float]) -> None:
    """Refuse no arms, a weight per arm missing, a negative or non-finite weight, or all 0.

    Raises:
        ExperimentError: what is wrong with the arms or weights.
    """
    if not arms:
        msg = "an experiment needs at least one arm"
        raise ExperimentError(msg)
    if len(weights) != len(arms):
        msg = f"{len(weights)} weights for {len(arms)} arms"
        raise ExperimentError(msg)
    bad = [w for w in weights if not (math.isfinite(w) and w >= 0)]
    if bad:
        msg = f"weights must be finite numbers >= 0, got {bad}"
        raise ExperimentError(msg)
    if math.fsum(weights) <= 0:
        msg = "at least one arm needs a weight > 0"
        raise ExperimentError(msg)

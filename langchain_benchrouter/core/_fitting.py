"""Fitting internals of :class:`~langchain_benchrouter.core.router.Router`.

The parameter checks of :meth:`Router.fit`, the state derived from the stored arrays
(priors, best model on average, costs) and the parsing of :meth:`Router.add_labeled`'s
scores into labels. Functions take the router.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from langchain_benchrouter.core._routing import cost_table
from langchain_benchrouter.core.scoring import best_model_on_average
from langchain_benchrouter.errors import RoutingInputError, UnknownModelError

if TYPE_CHECKING:
    from langchain_benchrouter.core.router import Router


def validate_params(router: Router) -> None:
    """Raise :class:`RoutingInputError` listing every invalid parameter of ``router``."""
    problems = []
    if not isinstance(router.k, int) or router.k < 1:
        problems.append(f"k must be a positive int, got {router.k!r}")
    if not isinstance(router.descriptor_neighbors, int) or router.descriptor_neighbors < 1:
        problems.append(
            f"descriptor_neighbors must be a positive int, got {router.descriptor_neighbors!r}"
        )
    if not router.bandwidth > 0:
        problems.append(f"bandwidth must be > 0, got {router.bandwidth!r}")
    if router.shrink_threshold is not None and not 0.0 <= router.shrink_threshold <= 1.0:
        problems.append(
            f"shrink_threshold must be in [0, 1] or None, got {router.shrink_threshold!r}"
        )
    if not 0.0 < router.correctness_threshold < 1.0:
        problems.append(
            f"correctness_threshold must be in (0, 1), got {router.correctness_threshold!r}"
        )
    if router.predictor not in ("knn", "mlp"):
        problems.append(f"predictor must be 'knn' or 'mlp', got {router.predictor!r}")
    if router.index_dtype not in ("float32", "float16"):
        problems.append(f"index_dtype must be 'float32' or 'float16', got {router.index_dtype!r}")
    if router.approximate_above is not None and (
        not isinstance(router.approximate_above, int) or router.approximate_above < 1
    ):
        problems.append(
            f"approximate_above must be None or an int >= 1, got {router.approximate_above!r}"
        )
    if not isinstance(router.lexical, bool):
        problems.append(f"lexical must be True or False, got {router.lexical!r}")
    if problems:
        raise RoutingInputError("; ".join(problems))


def derive_priors(router: Router) -> None:
    """Set the state that follows from the labels and per-task accuracies.

    ``model_prior_``, ``bma_``, ``prior_table_``, ``prior_rows_`` and ``costs_``.
    """
    acc = router.task_accuracy_
    counts = (~np.isnan(acc)).sum(axis=0)
    router.model_prior_ = np.divide(
        np.nansum(acc, axis=0), counts, out=np.zeros(acc.shape[1]), where=counts > 0
    )
    router.bma_ = best_model_on_average(acc)
    # The calibrated predictors shrink toward the accuracy of each neighbour's task.
    # Labelled user inputs (task -1) form one more "task": the user's, whose per-model
    # accuracy is the mean of its labels (the global prior where a model has none).
    user = router.labels_[router.task_index_ < 0].astype(np.float64)
    known = (~np.isnan(user)).sum(axis=0)
    user_acc = np.divide(
        np.nansum(user, axis=0), known, out=router.model_prior_.copy(), where=known > 0
    )
    router.prior_table_ = np.vstack([acc, user_acc[None, :]])
    router.prior_rows_ = np.where(router.task_index_ < 0, acc.shape[0], router.task_index_)
    router.costs_ = cost_table([router.model_info_.get(m, {}) for m in router.model_names_])


def labels_of(
    router: Router,
    items: list[str],
    model_scores: Mapping[str, Sequence[float | None]] | np.ndarray,
) -> NDArray[np.float64]:
    """Check :meth:`Router.add_labeled`'s scores and threshold them into 0/1/NaN labels."""
    m = len(router.model_names_)
    if isinstance(model_scores, Mapping):
        unknown = [k for k in model_scores if k not in router.model_names_]
        if unknown:
            msg = (
                f"model_scores names unknown model(s) {unknown}; "
                f"the router knows {router.model_names_}"
            )
            raise UnknownModelError(msg)
        scores = np.full((len(items), m), np.nan)
        for name, vals in model_scores.items():
            col = [np.nan if v is None else v for v in vals]
            if len(col) != len(items):
                msg = f"model_scores[{name!r}] has {len(col)} scores for {len(items)} inputs"
                raise RoutingInputError(msg)
            try:
                scores[:, router.model_names_.index(name)] = np.asarray(col, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                msg = f"model_scores[{name!r}] holds a non-numeric score"
                raise RoutingInputError(msg) from exc
    else:
        scores = np.asarray(model_scores, dtype=np.float64)
        if scores.shape != (len(items), m):
            msg = f"model_scores has shape {scores.shape}, expected ({len(items)}, {m})"
            raise RoutingInputError(msg)
    known = ~np.isnan(scores)
    if ((scores[known] < 0) | (scores[known] > 1)).any() or np.isinf(scores).any():
        msg = "labelled scores must lie in [0, 1] (use None/NaN for a model that was not run)"
        raise RoutingInputError(msg)
    if not known.any():
        msg = "model_scores holds no score at all"
        raise RoutingInputError(msg)
    labels = np.where(known, (scores >= router.score_threshold_).astype(np.float32), np.nan)
    return labels

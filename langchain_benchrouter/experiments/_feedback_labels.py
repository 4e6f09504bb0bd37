"""An experiment's feedback turned into labelled inputs for the router."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from langchain_benchrouter.errors import ExperimentError
from langchain_benchrouter.experiments._report_model import LabeledFeedback
from langchain_benchrouter.experiments._report_stats import as_log, latest_scores
from langchain_benchrouter.experiments.exposure_log import ExposureLog, unit_hash
from langchain_benchrouter.langchain.messages import routing_text

if TYPE_CHECKING:
    from langchain_benchrouter.core.router import Router

__all__ = ["feedback_to_labels"]


def feedback_to_labels(
    log: ExposureLog | str | os.PathLike[str],
    experiment: str,
    texts: Sequence[str] | Mapping[str, str],
    *,
    router: Router | None = None,
    metric: str = "score",
    salt: str | None = None,
    since: float | None = None,
) -> LabeledFeedback:
    """Turn an experiment's feedback into labelled inputs (and optionally add them).

    The log stores only the hash of each unit key, so the texts come from you: either
    the prompts themselves (matched by hashing them like the experiment's default unit
    key, the text of the latest human message) or a mapping from run id to text (for
    experiments keyed by a user id). Each scored run gives one label: the score of the
    model that answered it (a router arm's choice, or a fixed arm's model).

    Args:
        log: the log or a SQLite path.
        experiment: the experiment.
        texts: the prompts, or ``{run_id: text}``.
        router: if given, keep only its models and add the labels to it with
            :meth:`~langchain_benchrouter.core.router.Router.add_labeled`.
        metric: the feedback metric (scores must lie in [0, 1]).
        salt: the experiment's salt if it is not its name.
        since: only feedback recorded at or after this time (seconds since the epoch),
            to add new labels without repeating old ones.

    Returns:
        The labels (``len`` 0 when nothing matched).

    Raises:
        ExperimentError: a score outside [0, 1].

    Example:
        >>> labels = feedback_to_labels("ab.sqlite", "exp", prompts, router=rt)  # doctest: +SKIP
        >>> len(labels), labels.skipped  # doctest: +SKIP
        (180, 3)
    """
    the_log = as_log(log)
    feedback = [
        fb for fb in the_log.feedback(experiment, metric) if since is None or fb.timestamp >= since
    ]
    scores = latest_scores(feedback, metric)
    if isinstance(texts, Mapping):
        by_run: dict[str, str] = {str(k): v for k, v in texts.items()}
        by_hash: dict[str, str] = {}
    else:
        if isinstance(texts, str):
            msg = "texts must be a list of prompts or a {run_id: text} mapping, not one string"
            raise ExperimentError(msg)
        by_run = {}
        the_salt = experiment if salt is None else salt
        # hashed like the experiment's default unit key (the stripped message text)
        by_hash = {unit_hash(the_salt, routing_text(t)): t for t in texts}
    allowed = set(router.model_names) if router is not None else None
    sums: dict[str, dict[str, list[float]]] = {}
    skipped = 0
    for e in the_log.exposures(experiment):
        if e.run_id not in scores:
            continue
        score = scores[e.run_id]
        if not 0.0 <= score <= 1.0:
            msg = f"run {e.run_id}: score {score} is outside [0, 1]; router labels need [0, 1]"
            raise ExperimentError(msg)
        text = by_run.get(e.run_id) or by_hash.get(e.unit_hash)
        if text is None or e.model is None or (allowed is not None and e.model not in allowed):
            skipped += 1
            continue
        sums.setdefault(text, {}).setdefault(e.model, []).append(score)
    inputs = list(sums)
    models = sorted({m for per in sums.values() for m in per})
    if router is not None:
        models = [m for m in router.model_names if m in models]
    model_scores: dict[str, list[float | None]] = {
        m: [(math.fsum(sums[t][m]) / len(sums[t][m])) if m in sums[t] else None for t in inputs]
        for m in models
    }
    labels = LabeledFeedback(inputs=inputs, model_scores=model_scores, skipped=skipped)
    if router is not None and inputs:
        router.add_labeled(labels.inputs, labels.model_scores)
    return labels

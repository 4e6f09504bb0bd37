"""Saving and loading :class:`~langchain_benchrouter.core.router.Router` (its artifact).

:meth:`Router.save` and :meth:`Router.load` delegate here: the manifest and arrays a
fitted router is written as, and every consistency check a loaded artifact must pass
before the router is rebuilt from it.
"""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from langchain_benchrouter.core.artifact import write_artifact
from langchain_benchrouter.core.calibration import CalibrationState, fit_calibration
from langchain_benchrouter.core.lexical import LexicalResidualModel
from langchain_benchrouter.core.predictors import (
    KNNCorrectnessPredictor,
    MLPCorrectnessPredictor,
)
from langchain_benchrouter.core.task_classifier import TaskClassifier
from langchain_benchrouter.errors import ArtifactError, EmbedderError, EmbedderMismatchError

if TYPE_CHECKING:
    from langchain_benchrouter.core._artifact_schema import Manifest
    from langchain_benchrouter.core.router import Predictor, Router


def _library_version() -> str:
    try:
        return version("langchain-benchrouter")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def save(router: Router, path: str | os.PathLike[str]) -> Path:
    """Write a fitted router as its artifact (the body of :meth:`Router.save`)."""
    pred_params, pred_arrays = router.predictor_.get_state()
    lex = getattr(router, "lexical_", None)
    lex_params, lex_arrays = (None, {}) if lex is None else lex.get_state()
    arrays: dict[str, np.ndarray] = {
        "embeddings": np.ascontiguousarray(router.embeddings_),
        "labels": np.ascontiguousarray(router.labels_, dtype=np.float32),
        "task_index": router.task_index_.astype(np.int64),
        "task_accuracy": router.task_accuracy_.astype(np.float64),
        "ref_u": router.ref_u_.astype(np.float64),
        "ref_p": router.ref_p_.astype(np.float64),
        **router.task_classifier_.get_state(),
        **pred_arrays,
        **lex_arrays,
    }
    meta = {
        "library_version": _library_version(),
        "params": router._params(),
        "predictor": {**pred_params, "calibration": router.calibration_.to_json()},
        "embedder": {"name": router.embedder_.name, "dimension": int(router.embeddings_.shape[1])},
        "models": router.model_names_,
        "tasks": router.task_names_,
        "task_metrics": router.task_metrics_,
        "model_info": router.model_info_,
        "score_threshold": router.score_threshold_,
        "lexical": lex_params,
    }
    return write_artifact(path, meta, arrays)


def from_artifact(
    cls: type[Router],
    path: str | os.PathLike[str],
    manifest: Manifest,
    arrays: dict[str, np.ndarray],
    embedder: Any,
    cache_dir: Any,
) -> Router:
    """Check a read artifact and rebuild the router from it (the body of :meth:`Router.load`).

    Raises:
        ArtifactError: missing, corrupted, tampered or incompatible artifact.
        EmbedderMismatchError: ``embedder`` is not the one the router was fitted with.
    """
    params = dict(manifest.params)
    saved_name = str(manifest.embedder.get("name", ""))
    if embedder is None:
        embedder = _embedder_from_name(saved_name)
    try:
        router = cls(embedder=embedder, cache_dir=cache_dir, **params)
        router._validate_params()
    except (TypeError, ValueError) as exc:
        msg = f"{path}: invalid router parameters in the manifest ({exc})"
        raise ArtifactError(msg) from exc
    router.embedder_ = router._resolve_embedder()
    if router.embedder_.name != saved_name:
        msg = (
            f"the router at {path} was fitted with embedder {saved_name!r}, "
            f"but {router.embedder_.name!r} was supplied"
        )
        raise EmbedderMismatchError(msg)
    n_models, n_tasks = len(manifest.models), len(manifest.tasks)
    required = {"embeddings", "labels", "task_index", "task_accuracy", "ref_u", "ref_p"}
    if missing := required - set(arrays):
        msg = f"{path}: artifact lacks arrays {sorted(missing)}"
        raise ArtifactError(msg)
    X, Y, ti = arrays["embeddings"], arrays["labels"], arrays["task_index"]
    # Estimated columns (add_model) hold soft labels in [0, 1]; the others 0/1/NaN.
    soft = np.array(
        [
            isinstance(manifest.model_info.get(m, {}).get("estimated"), dict)
            for m in manifest.models
        ],
        dtype=bool,
    )
    if Y.ndim == 2 and Y.shape[1] == soft.size:
        soft = np.broadcast_to(soft, Y.shape)
    else:
        soft = np.zeros(Y.shape, dtype=bool)
    checks = [
        (
            X.ndim == 2 and X.shape[1] == manifest.embedder.get("dimension"),
            "embeddings/dimension",
        ),
        (Y.shape == (X.shape[0], n_models), "labels shape"),
        (ti.shape == (X.shape[0],) and bool(((ti >= -1) & (ti < n_tasks)).all()), "task_index"),
        (arrays["task_accuracy"].shape == (n_tasks, n_models), "task_accuracy shape"),
        (arrays["ref_p"].shape == (arrays["ref_u"].shape[0], n_models), "ref_p shape"),
        (bool(np.isfinite(X).all()), "embeddings finite"),
        (bool(np.all(np.isnan(Y) | (Y == 0) | (Y == 1) | soft)), "labels are 0/1/NaN"),
        (bool(np.all(np.isnan(Y) | ((Y >= 0) & (Y <= 1)))), "soft labels in [0, 1]"),
    ]
    for ok, what in checks:
        if not ok:
            msg = f"{path}: inconsistent artifact ({what})"
            raise ArtifactError(msg)
    router.embeddings_, router.labels_, router.task_index_ = X, Y, ti
    router.task_names_, router.model_names_ = list(manifest.tasks), list(manifest.models)
    metrics = [None] * n_tasks if manifest.task_metrics is None else manifest.task_metrics
    if len(metrics) != n_tasks or any(m is not None and not m.strip() for m in metrics):
        msg = f"{path}: inconsistent artifact (task_metrics: one non-empty name or null per task)"
        raise ArtifactError(msg)
    router.task_metrics_ = list(metrics)
    router.model_info_ = {m: dict(manifest.model_info.get(m, {})) for m in router.model_names_}
    router.task_accuracy_ = arrays["task_accuracy"]
    router.score_threshold_ = manifest.score_threshold
    router.ref_u_, router.ref_p_ = arrays["ref_u"], arrays["ref_p"]
    kind = manifest.predictor.get("kind")
    if kind not in ("knn", "mlp") or kind != router.predictor:
        msg = f"{path}: unknown or inconsistent predictor kind {kind!r}"
        raise ArtifactError(msg)
    try:
        predictor: Predictor
        if kind == "knn":
            predictor = KNNCorrectnessPredictor.from_state(manifest.predictor, arrays, X, Y)
        else:
            predictor = MLPCorrectnessPredictor.from_state(manifest.predictor, arrays, X, Y)
    except (KeyError, TypeError, ValueError) as exc:
        msg = f"{path}: invalid predictor state ({exc})"
        raise ArtifactError(msg) from exc
    router._finish_fit(fit_reference=False, predictor=predictor)
    has_classifier = {"task_clf_coef", "task_clf_intercept"} <= set(arrays)
    if has_classifier:
        try:
            router.task_classifier_ = TaskClassifier.from_state(
                arrays, n_tasks=n_tasks, dim=int(X.shape[1])
            )
        except ValueError as exc:
            msg = f"{path}: invalid task classifier ({exc})"
            raise ArtifactError(msg) from exc
    else:  # an artifact from before the task classifier: learn it from the stored rows
        router.task_classifier_ = TaskClassifier().fit(X, ti, n_tasks=n_tasks)
    router.lexical_ = None  # an artifact from before the lexical correction: none
    if manifest.lexical is not None:
        try:
            router.lexical_ = LexicalResidualModel.from_state(
                dict(manifest.lexical), arrays, n_models=n_models
            )
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"{path}: invalid lexical correction ({exc})"
            raise ArtifactError(msg) from exc
    saved_cal = manifest.predictor.get("calibration")
    if saved_cal is None or not has_classifier:
        # An artifact from before the calibrated methods (or tuned for the older
        # neighbour-vote prior of the per-input route): tune now, on the stored rows.
        router.calibration_ = fit_calibration(X, Y, ti, router.task_accuracy_, router.index_)
    else:
        try:
            router.calibration_ = CalibrationState.from_json(dict(saved_cal))
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"{path}: invalid calibration state ({exc})"
            raise ArtifactError(msg) from exc
    return router


def _embedder_from_name(name: str) -> Any:
    """The embedder spec that reproduces a saved embedder name, when it is a built-in one.

    ``hashing-N`` and sentence-transformers model ids resolve by name; embedders from a
    local directory (``local:...``) or LangChain (``langchain:...``) must be passed in.
    """
    if name.startswith("hashing-") or name.startswith("sentence-transformers/"):
        return name
    msg = (
        f"the saved router was fitted with embedder {name!r}; pass the same embedder to "
        "Router.load(path, embedder=...)"
    )
    raise EmbedderError(msg)

"""Router: learn from benchmark evaluations, then pick models for tasks or single inputs.

The router is shaped like a scikit-learn estimator: ``__init__`` only stores
parameters, :meth:`Router.fit` validates the benchmark and learns, fitted state ends
in ``_``. It knows nothing of LangChain; the LangChain faces wrap it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from langchain_benchrouter.core.artifact import read_artifact, write_artifact
from langchain_benchrouter.core.calibration import (
    CalibrationState,
    beta_binomial_mean,
    fit_calibration,
    neighbor_task_prior,
    select_with_margin,
    shrunk_knn,
    task_posterior_prior,
)
from langchain_benchrouter.core.decisions import Routes, Selection
from langchain_benchrouter.core.embeddings import (
    CachedEmbedder,
    Embedder,
    HashingEmbedder,
    check_embeddings,
    resolve_embedder,
)
from langchain_benchrouter.core.familiarity import (
    FAMILIAR_PVALUE,
    MAX_INPUTS,
    same_distribution_pvalue,
)
from langchain_benchrouter.core.index import (
    DEFAULT_APPROXIMATE_ABOVE,
    IndexDtype,
    NeighborIndex,
    Neighbors,
)
from langchain_benchrouter.core.lexical import MIN_ROWS as LEXICAL_MIN_ROWS
from langchain_benchrouter.core.lexical import LexicalResidualModel
from langchain_benchrouter.core.metric_prior import (
    MetricEstimate,
    metric_estimate,
    metric_posterior,
)
from langchain_benchrouter.core.predictors import (
    KNNCorrectnessPredictor,
    MLPCorrectnessPredictor,
)
from langchain_benchrouter.core.reference import loto_reference_pairs
from langchain_benchrouter.core.scoring import (
    best_model_on_average,
    gaussian_kernel_smooth,
    per_input_utility,
    prob_beats,
    s1,
    s2,
    s3,
    task_descriptor,
)
from langchain_benchrouter.core.task_classifier import TaskClassifier
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.errors import (
    ArtifactError,
    BenchmarkFormatError,
    EmbedderError,
    EmbedderMismatchError,
    NotFittedError,
    RoutingInputError,
    UnknownModelError,
)

__all__ = ["Router"]

Method = Literal["s1", "s2", "s3", "calibrated", "eb_select"]
RouteMethod = Literal["lexical", "calibrated", "knn"]

#: The name :attr:`Routes.tasks` gives the user's own labelled inputs (:meth:`Router.add_labeled`).
USER_TASK = "(labelled inputs)"
#: The default of :meth:`Router.select_model` (the best task-level method measured).
DEFAULT_METHOD: Method = "eb_select"
#: The default of :meth:`Router.route` (the best per-input method measured).
DEFAULT_ROUTE_METHOD: RouteMethod = "lexical"
_PAPER_METHODS = ("s1", "s2", "s3")
Predictor = KNNCorrectnessPredictor | MLPCorrectnessPredictor


def _library_version() -> str:
    try:
        return version("langchain-benchrouter")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def _check_texts(texts: Sequence[str] | str, what: str = "inputs") -> list[str]:
    if isinstance(texts, str):
        msg = f"{what} must be a list of strings, got a single string (wrap it in a list)"
        raise RoutingInputError(msg)
    items = list(texts)
    if not items:
        msg = f"no {what} given: need at least one text"
        raise RoutingInputError(msg)
    for i, t in enumerate(items):
        if not isinstance(t, str):
            msg = f"{what}[{i}] is {type(t).__name__}, not str"
            raise RoutingInputError(msg)
        if not t.strip():
            msg = f"{what}[{i}] is empty or whitespace; there is nothing to route on"
            raise RoutingInputError(msg)
    return items


class Router:
    """Pick LLMs for a new task or a single input from their benchmark results.

    Implements "Large Language Model Routing with Benchmark Datasets" (Shnitzer et al.,
    2024): kNN correctness predictors over embedded benchmark inputs, the S1/S2/S3 task
    scores with the out-of-distribution confidence model (task descriptor u, reference
    pairs from leave-one-task-out, Gaussian kernel smoother), shrinkage toward the best
    model on average, and per-input argmax routing.

    Args:
        k: neighbours of the kNN correctness predictor.
        embedder: ``None`` (offline all-MiniLM-L6-v2), ``"hashing"``, a model path or id,
            an :class:`~langchain_benchrouter.core.embeddings.Embedder`, or a LangChain
            ``Embeddings`` object.
        predictor: ``"knn"`` (default) or ``"mlp"`` (the paper's Appendix C).
        predictor_params: keyword arguments of the MLP predictor.
        descriptor_neighbors: K, neighbours used by the task descriptor u (paper: 19).
        bandwidth: h of the Gaussian kernel smoother of p (paper: 0.09).
        shrink_threshold: keep the S3 winner only if P(it beats BMA) >= this (paper: 0.6);
            ``None`` disables the shrinkage.
        correctness_threshold: g_m(x) above this counts as "predicted correct" (0.5).
        tie_break: weight of the mean benchmark accuracy in per-input argmax (0.01).
        cache_dir: embedding cache directory; ``None`` for the default
            (``$BENCHROUTER_CACHE_DIR`` or ``~/.cache/langchain-benchrouter``), ``False``
            to disable caching.
        index_dtype: ``"float32"`` or ``"float16"`` (half the memory) storage of the
            benchmark embeddings in the router and its neighbour index.
        approximate_above: above this many benchmark inputs, an approximate faiss index
            (the ``faiss`` extra) replaces exact search; ``None`` keeps search exact.
        lexical: fit the lexical correction of the per-input route (a TF-IDF ridge model
            of each input's score residual, :mod:`~langchain_benchrouter.core.lexical`);
            ``False`` makes ``route(method="lexical")`` the calibrated route.

    Example:
        >>> from langchain_benchrouter import Benchmark, Router
        >>> router = Router(embedder="hashing").fit(Benchmark.bundled())
        >>> router.select_model(["What is the capital of France?", "Who wrote Hamlet?"]).model
        'llama-3.1-nemotron-51b-instruct'
        >>> router.route(["def add(a, b):"])[0] in router.model_names
        True
    """

    def __init__(
        self,
        k: int = 5,
        *,
        embedder: Any = None,
        predictor: Literal["knn", "mlp"] = "knn",
        predictor_params: Mapping[str, Any] | None = None,
        descriptor_neighbors: int = 19,
        bandwidth: float = 0.09,
        shrink_threshold: float | None = 0.6,
        correctness_threshold: float = 0.5,
        tie_break: float = 0.01,
        cache_dir: str | os.PathLike[str] | Literal[False] | None = None,
        index_dtype: IndexDtype = "float32",
        approximate_above: int | None = DEFAULT_APPROXIMATE_ABOVE,
        lexical: bool = True,
    ) -> None:
        self.k = k
        self.embedder = embedder
        self.predictor = predictor
        self.predictor_params = predictor_params
        self.descriptor_neighbors = descriptor_neighbors
        self.bandwidth = bandwidth
        self.shrink_threshold = shrink_threshold
        self.correctness_threshold = correctness_threshold
        self.tie_break = tie_break
        self.cache_dir = cache_dir
        self.index_dtype = index_dtype
        self.approximate_above = approximate_above
        self.lexical = lexical

    # ------------------------------------------------------------------ fitting
    def _params(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "predictor": self.predictor,
            "predictor_params": dict(self.predictor_params or {}),
            "descriptor_neighbors": self.descriptor_neighbors,
            "bandwidth": self.bandwidth,
            "shrink_threshold": self.shrink_threshold,
            "correctness_threshold": self.correctness_threshold,
            "tie_break": self.tie_break,
            "index_dtype": self.index_dtype,
            "approximate_above": self.approximate_above,
            "lexical": self.lexical,
        }

    def _validate_params(self) -> None:
        problems = []
        if not isinstance(self.k, int) or self.k < 1:
            problems.append(f"k must be a positive int, got {self.k!r}")
        if not isinstance(self.descriptor_neighbors, int) or self.descriptor_neighbors < 1:
            problems.append(
                f"descriptor_neighbors must be a positive int, got {self.descriptor_neighbors!r}"
            )
        if not self.bandwidth > 0:
            problems.append(f"bandwidth must be > 0, got {self.bandwidth!r}")
        if self.shrink_threshold is not None and not 0.0 <= self.shrink_threshold <= 1.0:
            problems.append(
                f"shrink_threshold must be in [0, 1] or None, got {self.shrink_threshold!r}"
            )
        if not 0.0 < self.correctness_threshold < 1.0:
            problems.append(
                f"correctness_threshold must be in (0, 1), got {self.correctness_threshold!r}"
            )
        if self.predictor not in ("knn", "mlp"):
            problems.append(f"predictor must be 'knn' or 'mlp', got {self.predictor!r}")
        if self.index_dtype not in ("float32", "float16"):
            problems.append(f"index_dtype must be 'float32' or 'float16', got {self.index_dtype!r}")
        if self.approximate_above is not None and (
            not isinstance(self.approximate_above, int) or self.approximate_above < 1
        ):
            problems.append(
                f"approximate_above must be None or an int >= 1, got {self.approximate_above!r}"
            )
        if not isinstance(self.lexical, bool):
            problems.append(f"lexical must be True or False, got {self.lexical!r}")
        if problems:
            raise RoutingInputError("; ".join(problems))

    def _make_predictor(self) -> Predictor:
        if self.predictor == "mlp":
            return MLPCorrectnessPredictor(**dict(self.predictor_params or {}))
        return KNNCorrectnessPredictor(k=self.k)

    def _resolve_embedder(self) -> Embedder:
        emb = resolve_embedder(self.embedder)
        if self.cache_dir is False or isinstance(emb, HashingEmbedder | CachedEmbedder):
            return emb  # hashing is faster than a cache lookup
        return CachedEmbedder(emb, self.cache_dir)

    def fit(self, benchmark: Benchmark, *, embeddings: np.ndarray | None = None) -> Router:
        """Embed the benchmark inputs, fit the correctness predictor and the reference pairs.

        Also tunes the calibrated methods on the benchmark's own rows and, with
        ``lexical=True`` and at least 50 inputs, fits the lexical correction of the
        per-input route (about 15 s on the bundled 6,108 inputs, two cores).

        Args:
            benchmark: the scored benchmark to learn from.
            embeddings: precomputed (n, d) embeddings of ``benchmark.texts`` made with this
                router's embedder (skips embedding; used by the evaluation harness).

        Returns:
            self, fitted.

        Raises:
            ValueError: invalid parameters, or fewer benchmark inputs than ``k``.
        """
        self._validate_params()
        if not isinstance(benchmark, Benchmark):
            msg = f"fit() expects a Benchmark, got {type(benchmark).__name__}"
            raise BenchmarkFormatError(msg)
        if benchmark.n_inputs < self.k:
            msg = f"the benchmark has {benchmark.n_inputs} inputs, fewer than k={self.k}"
            raise BenchmarkFormatError(msg)
        self.embedder_ = self._resolve_embedder()
        if embeddings is None:
            X = self.embedder_.embed(benchmark.texts)
        else:
            X = np.asarray(embeddings, dtype=np.float32)
            if X.ndim != 2 or X.shape[0] != benchmark.n_inputs:
                msg = f"embeddings have shape {X.shape}, expected ({benchmark.n_inputs}, d)"
                raise EmbedderError(msg)
        # float16 storage halves the memory of the router and of its saved artifact.
        self.embeddings_: NDArray[Any] = (
            X.astype(np.float16) if self.index_dtype == "float16" else X
        )
        self.labels_ = benchmark.labels.astype(np.float32)
        self.task_index_ = benchmark.task_index.astype(np.int64)
        self.task_names_ = list(benchmark.task_names)
        self.task_metrics_: list[str | None] = list(benchmark.task_metrics)
        self.model_names_ = list(benchmark.models)
        self.model_info_ = {m: dict(benchmark.model_info.get(m, {})) for m in self.model_names_}
        self.task_accuracy_ = benchmark.task_accuracy().astype(np.float64)
        self.score_threshold_ = float(benchmark.threshold)
        self._finish_fit(fit_reference=True)
        self.lexical_: LexicalResidualModel | None = None
        if self.lexical and benchmark.n_inputs >= LEXICAL_MIN_ROWS:
            self.lexical_ = LexicalResidualModel().fit(
                benchmark.texts, benchmark.scores, benchmark.task_index
            )
        return self

    def _finish_fit(self, *, fit_reference: bool, predictor: Predictor | None = None) -> None:
        """Derive everything that follows from the stored arrays (shared by fit and load)."""
        self.index_ = NeighborIndex(
            self.embeddings_,
            dtype=self.index_dtype,
            approximate="auto" if self.approximate_above is not None else False,
            approximate_above=self.approximate_above or DEFAULT_APPROXIMATE_ABOVE,
        )
        if predictor is None:
            predictor = self._make_predictor().fit(
                self.embeddings_, self.labels_, index=self.index_
            )
        self.predictor_ = predictor
        acc = self.task_accuracy_
        counts = (~np.isnan(acc)).sum(axis=0)
        self.model_prior_ = np.divide(
            np.nansum(acc, axis=0), counts, out=np.zeros(acc.shape[1]), where=counts > 0
        )
        self.bma_ = best_model_on_average(acc)
        # The calibrated predictors shrink toward the accuracy of each neighbour's task.
        # Labelled user inputs (task -1) form one more "task": the user's, whose per-model
        # accuracy is the mean of its labels (the global prior where a model has none).
        user = self.labels_[self.task_index_ < 0].astype(np.float64)
        known = (~np.isnan(user)).sum(axis=0)
        user_acc = np.divide(
            np.nansum(user, axis=0), known, out=self.model_prior_.copy(), where=known > 0
        )
        self.prior_table_ = np.vstack([acc, user_acc[None, :]])
        self.prior_rows_ = np.where(self.task_index_ < 0, acc.shape[0], self.task_index_)
        self.costs_ = _cost_table([self.model_info_.get(m, {}) for m in self.model_names_])
        if fit_reference:
            # P(task | x) for the per-input prior; it learns the benchmark's tasks only
            # (labelled user inputs enter the prior through their share of the neighbours).
            self.task_classifier_ = TaskClassifier().fit(
                self.embeddings_, self.task_index_, n_tasks=len(self.task_names_)
            )
            self.ref_u_, self.ref_p_ = self._reference_pairs()
            self.calibration_ = fit_calibration(
                self.embeddings_, self.labels_, self.task_index_, self.task_accuracy_, self.index_
            )

    def _reference_pairs(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Leave-one-task-out (u(d), p_true(d, m)) for every benchmark task d."""
        factory = None if self.predictor == "knn" else self._make_predictor
        return loto_reference_pairs(
            self.embeddings_,
            self.labels_,
            self.task_index_,
            n_tasks=len(self.task_names_),
            k=self.k,
            descriptor_neighbors=self.descriptor_neighbors,
            correctness_threshold=self.correctness_threshold,
            predictor_factory=factory,
            index=self.index_,
        )

    def add_labeled(
        self,
        inputs: Sequence[str],
        model_scores: Mapping[str, Sequence[float | None]] | np.ndarray,
    ) -> Router:
        """Add labelled inputs of the user's own task to the router's memory (few-shot variant).

        The inputs join the neighbour search at once (so they move both the predicted
        correctness of nearby inputs and the task descriptor u of a task they resemble),
        keep the benchmark's reference pairs and best model on average, and are saved
        with the router.

        Not safe to run while other threads route with this router (its arrays are
        replaced one after the other): add labels to a copy (``copy.copy(router)``) and
        swap the reference, or pause routing.

        Args:
            inputs: the texts.
            model_scores: per model, one score in [0, 1] per input (``None``/NaN where the
                model was not run), as ``{model: [scores]}`` or an (n, M) array in
                :attr:`model_names` order. Models left out of the mapping count as missing.

        Returns:
            self.

        Example:
            >>> labels = {"qwen2.5-7b-instruct": [1.0]}
            >>> router.add_labeled(["What is 7 * 6?"], labels)  # doctest: +SKIP
        """
        self._check_fitted()
        items = _check_texts(inputs, "inputs")
        m = len(self.model_names_)
        if isinstance(model_scores, Mapping):
            unknown = [k for k in model_scores if k not in self.model_names_]
            if unknown:
                msg = (
                    f"model_scores names unknown model(s) {unknown}; "
                    f"the router knows {self.model_names_}"
                )
                raise UnknownModelError(msg)
            scores = np.full((len(items), m), np.nan)
            for name, vals in model_scores.items():
                col = [np.nan if v is None else v for v in vals]
                if len(col) != len(items):
                    msg = f"model_scores[{name!r}] has {len(col)} scores for {len(items)} inputs"
                    raise RoutingInputError(msg)
                try:
                    scores[:, self.model_names_.index(name)] = np.asarray(col, dtype=np.float64)
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
        labels = np.where(known, (scores >= self.score_threshold_).astype(np.float32), np.nan)
        X = self.embedder_.embed(items)
        self.embeddings_ = np.concatenate([self.embeddings_, X.astype(self.embeddings_.dtype)])
        self.labels_ = np.concatenate([self.labels_, labels.astype(np.float32)])
        # Labelled user inputs belong to no benchmark task: task index -1.
        self.task_index_ = np.concatenate([self.task_index_, np.full(len(items), -1, np.int64)])
        self._finish_fit(fit_reference=False)
        return self

    def add_models(self, benchmark: Benchmark, *, models: Sequence[str] | None = None) -> Router:
        """Grow the fitted router with new models' evaluations, without refitting it.

        This is how your own chat models become routable: evaluate them on some of the
        benchmark's inputs (``Benchmark.collect``, or an importer), then add their
        columns. Inputs the router already holds are recognised by their embeddings;
        others join its memory (in their task when the router knows the task name).
        Only what is per model is computed (labels, per-task accuracies, reference
        pairs, the lexical correction's coefficients); the benchmark is not embedded
        again and the tuned hyper-parameters are kept. A model evaluated on a sample of a
        task is scored on that sample; where it has no evaluation its prediction falls
        back to its mean over what it has. The grown router is saved like any other.

        Example:
            >>> from langchain_benchrouter import Benchmark, Router
            >>> bench = Benchmark.bundled().sample(per_task=30)
            >>> router = Router(embedder="hashing", lexical=False).fit(
            ...     bench.select_models(["qwen2.5-7b-instruct", "gemma-2-9b-it"]))
            >>> mine = bench.select_models("llama-3.1-8b-instruct").rename_models(
            ...     {"llama-3.1-8b-instruct": "my-llama"})
            >>> router.add_models(mine).model_names
            ['qwen2.5-7b-instruct', 'gemma-2-9b-it', 'my-llama']

        Args:
            benchmark: scores of the new models (other columns are ignored unless named
                in ``models``); its texts are the inputs they were evaluated on.
            models: the models to add (default: every model of ``benchmark`` that the
                router does not route yet).

        Returns:
            self.

        Raises:
            RoutingInputError: no new model, a model the router already routes, or a
                model with no score.
        """
        self._check_fitted()
        from langchain_benchrouter.core._grow import add_model_columns

        add_model_columns(self, benchmark, models)
        return self

    def anchor_inputs(
        self,
        budget: int = 50,
        *,
        strategy: Literal["cluster", "information", "random"] = "cluster",
        seed: int = 0,
        benchmark: Benchmark | None = None,
        estimator: Any = None,
    ) -> list[Any]:
        """The benchmark inputs to evaluate a new model on before :meth:`add_model`.

        Chosen by k-means over how the router's models fare on each input (one anchor
        per cluster; :mod:`~langchain_benchrouter.core.new_model`).

        Example:
            >>> anchors = router.anchor_inputs(budget=50, benchmark=bench)  # doctest: +SKIP
            >>> anchors[0].row, anchors[0].task, anchors[0].text  # doctest: +SKIP

        Args:
            budget: how many inputs (>= 1).
            strategy: ``"cluster"`` (default), ``"information"`` or ``"random"``.
            seed: seed of the choice.
            benchmark: the benchmark the router was fitted on, to attach each input's text
                (the router keeps embeddings only).
            estimator: a fitted ``LatentCorrectnessModel`` of this router (reused across
                calls; default: fitted now).

        Returns:
            ``AnchorInput(row, task, text)`` records: score the inputs and pass
            ``{anchor.row: score}`` (or ``{anchor.text: score}``) to :meth:`add_model`.
        """
        from langchain_benchrouter.core.new_model import anchor_inputs

        return list(
            anchor_inputs(
                self,
                budget,
                strategy=strategy,
                seed=seed,
                benchmark=benchmark,
                estimator=estimator,
            )
        )

    def add_model(
        self,
        name: str,
        scores: Mapping[int | str, float | None] | None = None,
        *,
        chat_model: Any = None,
        benchmark: Benchmark | None = None,
        budget: int = 50,
        seed: int = 0,
        strategy: Literal["cluster", "information", "random"] = "cluster",
        estimator: Any = None,
        model_info: Mapping[str, Any] | None = None,
        collect_options: Mapping[str, Any] | None = None,
    ) -> Router:
        """Add a model evaluated on a few anchor inputs; its other cells are predicted.

        A latent-factor model of the router's label matrix predicts the new model's
        correctness on every input from its anchor scores
        (:mod:`~langchain_benchrouter.core.new_model`). The column is routed like a
        measured one, marked ``model_info_[name]["estimated"]`` (budget, anchors,
        accuracy uncertainty), holds soft labels in [0, 1] (the measured 0/1 on
        anchors), and real evaluations added later with :meth:`add_models` replace its
        estimated cells input by input.

        Example:
            >>> anchors = router.anchor_inputs(budget=50, benchmark=bench)  # doctest: +SKIP
            >>> router.add_model("mine", {a.row: grade(a.text) for a in anchors})  # doctest: +SKIP

        Args:
            name: the new model's name.
            scores: ``{router row or input text: score in [0, 1]}``, e.g. for the inputs of
                :meth:`anchor_inputs`.
            chat_model: instead of ``scores``: a chat model the library evaluates on the
                anchors (``Benchmark.collect``; needs ``benchmark`` with reference answers).
            benchmark: the benchmark the router was fitted on (with ``chat_model``).
            budget: anchors to evaluate with ``chat_model`` (>= 1); recorded otherwise.
            seed: seed of the anchor choice.
            strategy: how anchors are chosen (see :meth:`anchor_inputs`).
            estimator: a fitted ``LatentCorrectnessModel`` of this router (default: fitted
                now, seconds).
            model_info: what is known about the model (``size``, prices).
            collect_options: options of ``Benchmark.collect`` (with ``chat_model``).

        Returns:
            self.

        Raises:
            RoutingInputError: a known name, budget < 1, scores for inputs the router does
                not hold, or scores outside [0, 1] or NaN.
        """
        self._check_fitted()
        from langchain_benchrouter.core.new_model import add_estimated_model

        return add_estimated_model(
            self,
            name,
            scores,
            chat_model=chat_model,
            benchmark=benchmark,
            budget=budget,
            seed=seed,
            strategy=strategy,
            estimator=estimator,
            model_info=model_info,
            collect_options=collect_options,
        )

    # ------------------------------------------------------------------ helpers
    def _check_fitted(self) -> None:
        if not hasattr(self, "predictor_"):
            msg = "this Router is not fitted yet; call fit(benchmark) or Router.load(path) first"
            raise NotFittedError(msg)

    @property
    def model_names(self) -> list[str]:
        """The benchmark's models, in column order."""
        self._check_fitted()
        return list(self.model_names_)

    @property
    def metrics(self) -> list[str]:
        """The metrics the benchmark's tasks are scored by (for ``select_model(metric=)``)."""
        self._check_fitted()
        return sorted({m for m in self.task_metrics_ if m is not None})

    @property
    def best_model_on_average(self) -> str:
        """The model with the best mean per-task accuracy on the benchmark (BMA)."""
        self._check_fitted()
        return self.model_names_[self.bma_]

    def model_costs(self) -> dict[str, float | None]:
        """Known cost per model, the unit of ``cost_weight``.

        USD per call (``model_info["cost_per_call"]``, measured by ``Benchmark.collect``
        or given per query by an importer) when every priced model has one; otherwise
        the mean of its input and output USD price per million tokens. Units are never
        mixed: with some models priced per call and others per token only, the per-token
        prices are used.
        """
        self._check_fitted()
        return {
            m: (None if np.isnan(c) else float(c))
            for m, c in zip(self.model_names_, self.costs_, strict=True)
        }

    def _allowed(self, models: Sequence[str] | None) -> NDArray[np.bool_] | None:
        if models is None:
            return None
        unknown = [m for m in models if m not in self.model_names_]
        if unknown:
            msg = f"unknown model(s) {unknown}; the router knows {self.model_names_}"
            raise UnknownModelError(msg)
        if not models:
            msg = "models= must name at least one model"
            raise RoutingInputError(msg)
        return np.isin(np.array(self.model_names_), list(models))

    def _search(self, texts: Sequence[str] | str, what: str) -> tuple[np.ndarray, Neighbors]:
        items = _check_texts(texts, what)
        Q = check_embeddings(self.embedder_.embed(items), len(items), self.embedder_.name)
        if Q.shape[1] != self.embeddings_.shape[1]:
            msg = (
                f"the embedder returned dimension {Q.shape[1]}, "
                f"the router was fitted with {self.embeddings_.shape[1]}"
            )
            raise EmbedderMismatchError(msg)
        n = max(self.k, self.descriptor_neighbors, self.calibration_.max_k)
        return Q, self.index_.search(Q, min(n, self.embeddings_.shape[0]))

    def _calibrated_proba(self, nb: Neighbors, k: int, strength: float) -> NDArray[np.float64]:
        """Beta-binomial kNN over the first ``k`` neighbours, shrunk to their tasks' prior."""
        idx = nb.indices[:, :k]
        prior = neighbor_task_prior(idx, self.prior_rows_, self.prior_table_, self.model_prior_)
        return shrunk_knn(self.labels_, idx, prior, strength)

    def _task_posterior(self, Q: np.ndarray, nb: Neighbors) -> NDArray[np.float64]:
        """(n, T + 1) P(task | x) over the benchmark's tasks and, last, the user's own.

        The task classifier gives the benchmark tasks; the user's labelled inputs (if any)
        count as one more task, whose probability is their share of the neighbours.
        """
        idx = nb.indices[:, : self.calibration_.route_k]
        user = (self.prior_rows_[idx] == len(self.task_names_)).mean(axis=1, keepdims=True)
        return np.hstack([(1.0 - user) * self.task_classifier_.predict_proba(Q), user])

    def _route_proba(self, nb: Neighbors, posterior: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per-input shrunk kNN whose prior is the accuracy on the tasks the input resembles."""
        cal = self.calibration_
        prior = task_posterior_prior(posterior, self.prior_table_, self.model_prior_)
        return shrunk_knn(self.labels_, nb.indices[:, : cal.route_k], prior, cal.route_prior)

    def predict_calibrated(
        self, texts: Sequence[str], *, level: Literal["task", "route"] = "route"
    ) -> NDArray[np.float64]:
        """Calibrated predicted correctness (n, M): the task-level or per-input shrunk kNN.

        Example:
            >>> router.predict_calibrated(["What is 2 + 2?"]).shape[0]  # doctest: +SKIP
            1
        """
        self._check_fitted()
        if level not in ("task", "route"):
            msg = f"level must be 'task' or 'route', got {level!r}"
            raise RoutingInputError(msg)
        Q, nb = self._search(texts, "texts")
        cal = self.calibration_
        if level == "task":
            return self._calibrated_proba(nb, cal.task_k, cal.task_prior)
        return self._route_proba(nb, self._task_posterior(Q, nb))

    def _proba(self, Q: np.ndarray, nb: Neighbors) -> NDArray[np.float32]:
        if isinstance(self.predictor_, KNNCorrectnessPredictor):
            return self.predictor_.predict_from_neighbors(nb)
        return self.predictor_.predict_proba(Q)

    def predict_proba(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Predicted correctness (n, M) of each model on each text."""
        self._check_fitted()
        Q, nb = self._search(texts, "texts")
        return self._proba(Q, nb)

    # ------------------------------------------------------------------ decisions
    def select_model(
        self,
        task_inputs: Sequence[str],
        *,
        method: Method = DEFAULT_METHOD,
        models: Sequence[str] | None = None,
        p: Mapping[str, float] | Sequence[float] | None = None,
        metric: str | None = None,
    ) -> Selection:
        """Choose one model for a task from a sample of its (unlabeled) inputs.

        Args:
            task_inputs: texts of the new task (more is better; tens to hundreds).
            method: ``"eb_select"`` (default): the calibrated estimate pooled, when the
                router holds labelled inputs of the user's task (:meth:`add_labeled`),
                with those labels by a beta-binomial posterior; it leaves the best model
                on average only by a margin tuned in the fit. ``"calibrated"``: the same
                without the labels. The paper's scores: ``"s3"`` (OOD-aware with
                shrinkage to BMA), ``"s2"``, ``"s1"``.
            models: restrict the choice to these models.
            p: override the estimated predictor accuracy per model (evaluation's
                "S3 with true p"; the paper's methods only).
            metric: how the task is scored, one of :attr:`metrics` (e.g. ``"em_mc"``,
                ``"code_eval"``, ``"MATH"`` on the bundled benchmark); the calibrated
                methods only. For a task the benchmark does not contain, the estimate is
                then what the benchmark tasks of that metric say, shrunk toward the
                benchmark mean as much as those tasks disagree (a random-effects model,
                :mod:`~langchain_benchrouter.core.metric_prior`), instead of the inputs' kNN
                estimate (which carries little across tasks: docs/results.md). A task the
                benchmark contains (``Selection.familiar``) is still decided by the
                benchmark's own accuracy on it.

        Returns:
            The :class:`~langchain_benchrouter.core.decisions.Selection`.

        Raises:
            RoutingInputError: unknown method or metric, a metric with the paper's
                scores, or unusable inputs.
        """
        self._check_fitted()
        if method not in ("s1", "s2", "s3", "calibrated", "eb_select"):
            msg = f"unknown method {method!r}; use 'eb_select', 'calibrated', 's1', 's2' or 's3'"
            raise RoutingInputError(msg)
        if metric is not None:
            self._check_metric(metric, method)
        allowed = self._allowed(models)
        Q, nb = self._search(task_inputs, "task_inputs")
        g = self._proba(Q, nb)
        n = g.shape[0]
        u = task_descriptor(nb.distances[:, : self.descriptor_neighbors])
        sc1, sc2 = s1(g), s2(g, self.correctness_threshold)
        names = self.model_names_
        p_arr: NDArray[np.float64] | None
        if p is not None:
            p_arr = self._p_override(p)
        elif len(self.ref_u_):
            p_arr = gaussian_kernel_smooth(u, self.ref_u_, self.ref_p_, self.bandwidth)
            # A model without any reference value: trust its predictor at the mean reliability.
            p_arr = np.where(
                np.isnan(p_arr), np.nanmean(p_arr) if np.isfinite(p_arr).any() else 0.5, p_arr
            )
        else:
            p_arr = None
        sc3 = s3(sc2, p_arr) if p_arr is not None else None
        paper = {
            "s1": _as_dict(names, sc1),
            "s2": _as_dict(names, sc2),
            "s3": _as_dict(names, sc3),
            "p": _as_dict(names, p_arr),
        }
        if method in ("calibrated", "eb_select"):
            # The paper's scores ride along in the Selection, for comparison and traces.
            return self._select_calibrated(Q, nb, method, allowed, paper, metric)
        if method == "s3" and p_arr is None:
            msg = (
                "S3 needs reference pairs from at least two benchmark tasks; this router was "
                "fitted on one task. Use method='s2' or 's1', or fit on more tasks."
            )
            raise RoutingInputError(msg)
        score = {"s1": sc1, "s2": sc2, "s3": sc3}[method]
        assert score is not None
        cand = self._argmax(score, allowed)
        bma = self._bma_within(allowed)
        chosen, prob = cand, None
        why = f"{method.upper()} ranks {names[cand]} first ({score[cand]:.3f})"
        if method == "s3" and self.shrink_threshold is not None and cand != bma:
            assert p_arr is not None
            n_plus = np.rint(sc2 * n).astype(int)
            prob = prob_beats(
                int(n_plus[cand]), float(p_arr[cand]), int(n_plus[bma]), float(p_arr[bma]), n
            )
            if prob < self.shrink_threshold:
                chosen = bma
                why += (
                    f", but P(it beats {names[bma]}) = {prob:.2f} < {self.shrink_threshold}:"
                    f" keeping the best model on average"
                )
            else:
                why += f"; P(it beats the best model on average {names[bma]}) = {prob:.2f}"
        elif cand == bma:
            why += "; it is also the best model on average"
        why += f" (u = {u:.3f} over {n} inputs)"

        return Selection(
            model=names[chosen],
            method=method,
            s1=paper["s1"],
            s2=paper["s2"],
            s3=paper["s3"],
            p=paper["p"],
            u=u,
            candidate=names[cand],
            bma=names[bma],
            prob_beats_bma=prob,
            n_inputs=n,
            why=why,
        )

    def _select_calibrated(
        self,
        Q: np.ndarray,
        nb: Neighbors,
        method: Method,
        allowed: NDArray[np.bool_] | None,
        paper: dict[str, dict[str, float]],
        metric: str | None = None,
    ) -> Selection:
        """``calibrated`` / ``eb_select``: see :meth:`select_model`."""
        cal = self.calibration_
        names = self.model_names_
        n = Q.shape[0]
        u = task_descriptor(nb.distances[:, : self.descriptor_neighbors])
        bma = self._bma_within(allowed)
        labeled = self.task_index_ < 0
        n_labeled = int(labeled.sum())
        # Which benchmark task does the task resemble, and is it that task itself? The
        # margin was tuned leave-one-task-out, for tasks that merely resemble the
        # benchmark's; when a two-sample test cannot tell the task's inputs from those of
        # the benchmark task it resembles, the benchmark's measured accuracy on that task
        # is the estimate (hundreds of labels per model, not kNN averages), trusted
        # without a margin.
        like = int(np.argmax(self.task_classifier_.predict_proba(Q).mean(axis=0)))
        rows = np.flatnonzero(self.task_index_ == like)
        if rows.size > MAX_INPUTS:  # a seeded sample: no copy of a large task's rows
            rows = np.sort(np.random.default_rng(0).choice(rows, MAX_INPUTS, replace=False))
        pvalue = same_distribution_pvalue(Q, np.asarray(self.embeddings_[rows], np.float32))
        familiar = bool(pvalue >= FAMILIAR_PVALUE)
        by_metric: MetricEstimate | None = None
        if familiar:
            own = self.task_accuracy_[like]
            est = np.where(np.isnan(own), self.model_prior_, own)
            # A model never scored on that task has only its overall mean as estimate:
            # no evidence to prefer it over a model the task has measured.
            scored = ~np.isnan(own) if allowed is None else allowed & ~np.isnan(own)
            if scored.any():
                allowed = scored
        elif metric is not None:
            by_metric = metric_estimate(self.task_accuracy_, self.task_metrics_, metric, self.bma_)
            est = by_metric.accuracy
        else:
            est = self._calibrated_proba(nb, cal.task_k, cal.task_prior).mean(axis=0)
        # No tuned margin for the metric's estimate: its shrinkage is the guard, and a
        # margin cannot be tuned leave-one-task-out when a metric has two tasks (the
        # inner folds of one hold no other task of its metric).
        delta = 0.0 if familiar or by_metric is not None else cal.delta
        if method == "eb_select" and n_labeled:
            y = self.labels_[labeled].astype(np.float64)
            if by_metric is not None:
                # The metric's prior has a variance of its own: a conjugate update, nothing
                # tuned (and no margin, as without labels).
                est = metric_posterior(by_metric, y)
            else:
                est = beta_binomial_mean(
                    np.nansum(y, axis=0), (~np.isnan(y)).sum(axis=0).astype(np.float64), est, cal.a0
                )
                delta = cal.delta_labeled
        # Far from every benchmark task the inputs' kNN estimate is not to be trusted;
        # the metric's estimate does not rest on the inputs' neighbours.
        abstain = bool(
            n_labeled == 0
            and by_metric is None
            and len(self.ref_u_)
            and u > float(np.max(self.ref_u_))
        )
        if abstain:
            chosen = cand = bma
            why = (
                f"{method}: the task is farther from the benchmark (u = {u:.3f}) than any "
                f"benchmark task was from the others; abstaining: {names[bma]}, the best model "
                "on average"
            )
        else:
            chosen, cand = select_with_margin(est, bma, delta, allowed)
            why = f"{method} ranks {names[cand]} first ({est[cand]:.3f})"
            if cand == bma:
                why += "; it is also the best model on average"
            elif chosen == bma and delta >= 1.0:
                why += (
                    f", but on the benchmark's own tasks no such zero-shot switch away from the "
                    f"best model on average paid off (tuned margin {delta:g}): keeping "
                    f"{names[bma]} ({est[bma]:.3f})"
                )
            elif chosen == bma:
                why += (
                    f", not more than {delta:g} above {names[bma]} ({est[bma]:.3f}):"
                    " keeping the best model on average"
                )
            else:
                above = f"more than {delta:g} above" if delta > 0 else "above"
                why += f", {above} the best model on average {names[bma]} ({est[bma]:.3f})"
            if method == "eb_select" and n_labeled:
                how = (
                    "by the conjugate normal update of the metric's estimate"
                    if by_metric is not None
                    else f"with prior strength {cal.a0:g}"
                )
                why += f" ({n_labeled} labelled inputs pooled {how})"
            elif familiar:
                why += (
                    f"; its inputs look like those of benchmark task {self.task_names_[like]!r}"
                    f" (two-sample p = {pvalue:.2f}), so the benchmark's accuracy on that task"
                    " is the estimate and no margin is asked"
                )
            if by_metric is not None and not familiar:
                why += (
                    f"; the estimate is what the {by_metric.n_tasks} benchmark task(s) scored by"
                    f" {metric!r} say (weight {by_metric.weight[cand]:.2f} against the benchmark"
                    " mean)"
                )
            why += f" (u = {u:.3f} over {n} inputs)"
        return Selection(
            model=names[chosen],
            method=method,
            s1=paper["s1"],
            s2=paper["s2"],
            s3=paper["s3"],
            p=paper["p"],
            u=u,
            candidate=names[cand],
            bma=names[bma],
            prob_beats_bma=None,
            n_inputs=n,
            why=why,
            estimate={m: float(v) for m, v in zip(names, est, strict=True)},
            abstained=abstain,
            likely_task=self.task_names_[like],
            familiar=familiar,
            metric=metric,
            metric_tasks=sum(m == metric for m in self.task_metrics_) if metric else 0,
        )

    def _check_metric(self, metric: object, method: str) -> None:
        """A metric must be one the benchmark's tasks are scored by, for a calibrated method."""
        if not isinstance(metric, str) or not metric.strip():
            msg = f"metric must be a non-empty string, got {metric!r}"
            raise RoutingInputError(msg)
        if method not in ("calibrated", "eb_select"):
            msg = (
                "metric= applies to the calibrated methods ('eb_select', 'calibrated'),"
                f" not {method!r}"
            )
            raise RoutingInputError(msg)
        if metric not in self.task_metrics_:
            known = self.metrics
            where = f"known metrics: {known}" if known else "this router's benchmark names none"
            msg = (
                f"no benchmark task is scored by metric {metric!r} ({where}); pass metric=None"
                " to select from the inputs alone"
            )
            raise RoutingInputError(msg)

    def _bma_within(self, allowed: NDArray[np.bool_] | None) -> int:
        """The best model on average, or the best allowed one when it is excluded."""
        if allowed is None or allowed[self.bma_]:
            return int(self.bma_)
        return self._argmax(self.model_prior_, allowed)

    def _argmax(self, score: np.ndarray, allowed: NDArray[np.bool_] | None) -> int:
        """Argmax with ties broken by mean benchmark accuracy, restricted to ``allowed``."""
        s = np.round(np.asarray(score, dtype=np.float64), 12)
        if allowed is not None:
            s = np.where(allowed, s, -np.inf)
        return int(np.lexsort((self.model_prior_, s))[-1])

    def _p_override(self, p: Mapping[str, float] | Sequence[float]) -> NDArray[np.float64]:
        if isinstance(p, Mapping):
            unknown = [m for m in p if m not in self.model_names_]
            if unknown:
                msg = f"p names unknown model(s) {unknown}"
                raise UnknownModelError(msg)
            arr = np.array([p.get(m, np.nan) for m in self.model_names_], dtype=np.float64)
        else:
            arr = np.asarray(p, dtype=np.float64)
        if (
            arr.shape != (len(self.model_names_),)
            or np.isnan(arr).any()
            or ((arr < 0) | (arr > 1)).any()
        ):
            msg = f"p must give a value in [0, 1] for each of the {len(self.model_names_)} models"
            raise RoutingInputError(msg)
        return arr

    def route(
        self,
        inputs: Sequence[str],
        *,
        models: Sequence[str] | None = None,
        cost_weight: float = 0.0,
        costs: Mapping[str, float] | None = None,
        method: RouteMethod = DEFAULT_ROUTE_METHOD,
    ) -> Routes:
        """Choose a model for each input: argmax of predicted correctness (+ tie-break, - cost).

        Args:
            inputs: texts to route.
            models: restrict the choice to these models.
            cost_weight: points of predicted correctness one unit of cost is worth (0 ignores
                cost).
            costs: cost per model (default: the benchmark's known prices); needed for every
                allowed model when ``cost_weight`` > 0.
            method: ``"lexical"`` (default): the calibrated route, corrected where the
                lexical model (:mod:`~langchain_benchrouter.core.lexical`) predicts another
                model beats its choice by more than the margin tuned in the fit (the
                calibrated route when the fit found no margin that pays, or for a router
                saved before the correction); ``"calibrated"``: the per-input shrunk kNN
                (k and prior strength tuned in the fit); ``"knn"``: the paper's k-NN mean.

        Returns:
            :class:`~langchain_benchrouter.core.decisions.Routes`, a sequence of model names with
            the per-model probabilities and distances attached.
        """
        self._check_fitted()
        allowed = self._allowed(models)
        cost_arr = None
        if cost_weight:
            if cost_weight < 0 or not np.isfinite(cost_weight):
                msg = f"cost_weight must be a finite number >= 0, got {cost_weight!r}"
                raise RoutingInputError(msg)
            cost_arr = self._cost_array(costs, allowed)
        if method not in ("lexical", "calibrated", "knn"):
            msg = f"unknown route method {method!r}; use 'lexical', 'calibrated' or 'knn'"
            raise RoutingInputError(msg)
        Q, nb = self._search(inputs, "inputs")
        posterior = self._task_posterior(Q, nb)
        if method == "knn":
            g = self._proba(Q, nb)
        else:
            g = self._route_proba(nb, posterior).astype(np.float32)

        def utility_of(estimate: np.ndarray) -> NDArray[np.float64]:
            return per_input_utility(
                estimate,
                self.model_prior_,
                tie_break=self.tie_break,
                costs=cost_arr,
                cost_weight=cost_weight,
                allowed=allowed,
            )

        utility = utility_of(g)
        choice = np.argmax(utility, axis=1)
        switched = None
        lex = getattr(self, "lexical_", None)
        if method == "lexical" and lex is not None and lex.enabled:
            # The lexical estimate: the accuracy on the tasks the input resembles plus
            # the residual its words predict; it overrides the calibrated choice only
            # where it leads that choice by more than the tuned margin.
            prior = task_posterior_prior(posterior, self.prior_table_, self.model_prior_)
            lex_utility = utility_of(prior + lex.residual(_check_texts(inputs, "inputs")))
            top = np.argmax(lex_utility, axis=1)
            rows = np.arange(len(choice))
            switched = lex_utility[rows, top] - lex_utility[rows, choice] > lex.margin_
            choice = np.where(switched, top, choice)
            # A switched input ranks its models (the fallback order) by the estimate
            # that chose, so the chosen model comes first.
            utility = np.where(switched[:, None], lex_utility, utility)
        likely = np.argmax(posterior, axis=1)
        task_names = [*self.task_names_, USER_TASK]
        return Routes(
            models=[self.model_names_[i] for i in choice],
            model_names=list(self.model_names_),
            proba=g,
            distance=nb.distances[:, : self.k].mean(axis=1).astype(np.float32),
            utility=utility,
            tasks=[task_names[t] for t in likely],
            task_proba=posterior[np.arange(len(likely)), likely].astype(np.float32),
            lexical=switched,
        )

    def _cost_array(
        self, costs: Mapping[str, float] | None, allowed: NDArray[np.bool_] | None
    ) -> NDArray[np.float64]:
        if costs is None:
            arr = self.costs_.copy()
        else:
            unknown = [m for m in costs if m not in self.model_names_]
            if unknown:
                msg = f"costs name unknown model(s) {unknown}"
                raise UnknownModelError(msg)
            arr = np.array([costs.get(m, np.nan) for m in self.model_names_], dtype=np.float64)
        need = np.ones(len(arr), bool) if allowed is None else allowed
        missing = [
            m
            for m, c, a in zip(self.model_names_, arr, need, strict=True)
            if a and not np.isfinite(c)
        ]
        if missing:
            msg = f"cost_weight > 0 but no cost is known for {missing}; pass costs={{model: cost}}"
            raise RoutingInputError(msg)
        return np.nan_to_num(arr, nan=0.0)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the fitted router as a versioned, pickle-free directory; returns its path."""
        self._check_fitted()
        pred_params, pred_arrays = self.predictor_.get_state()
        lex = getattr(self, "lexical_", None)
        lex_params, lex_arrays = (None, {}) if lex is None else lex.get_state()
        arrays: dict[str, np.ndarray] = {
            "embeddings": np.ascontiguousarray(self.embeddings_),
            "labels": np.ascontiguousarray(self.labels_, dtype=np.float32),
            "task_index": self.task_index_.astype(np.int64),
            "task_accuracy": self.task_accuracy_.astype(np.float64),
            "ref_u": self.ref_u_.astype(np.float64),
            "ref_p": self.ref_p_.astype(np.float64),
            **self.task_classifier_.get_state(),
            **pred_arrays,
            **lex_arrays,
        }
        meta = {
            "library_version": _library_version(),
            "params": self._params(),
            "predictor": {**pred_params, "calibration": self.calibration_.to_json()},
            "embedder": {"name": self.embedder_.name, "dimension": int(self.embeddings_.shape[1])},
            "models": self.model_names_,
            "tasks": self.task_names_,
            "task_metrics": self.task_metrics_,
            "model_info": self.model_info_,
            "score_threshold": self.score_threshold_,
            "lexical": lex_params,
        }
        return write_artifact(path, meta, arrays)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, embedder: Any = None, cache_dir: Any = None
    ) -> Router:
        """Load a router saved by :meth:`save`.

        Args:
            path: the saved router directory.
            embedder: the embedder to use; default: the one recorded in the artifact
                (the offline MiniLM or the hashing embedder; other embedders must be
                passed explicitly). A different embedder than the saved one is an error.
            cache_dir: as in :class:`Router`.

        Raises:
            ArtifactError: missing, corrupted, tampered or incompatible artifact.
            EmbedderMismatchError: ``embedder`` is not the one the router was fitted with.
        """
        manifest, arrays = read_artifact(path)
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
            msg = (
                f"{path}: inconsistent artifact (task_metrics: one non-empty name or null per task)"
            )
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

    def __repr__(self) -> str:
        if not hasattr(self, "predictor_"):
            return f"Router(k={self.k}, predictor={self.predictor!r}, unfitted)"
        return (
            f"Router(k={self.k}, predictor={self.predictor!r}, embedder={self.embedder_.name!r}, "
            f"{len(self.model_names_)} models, {len(self.task_names_)} tasks, "
            f"{self.embeddings_.shape[0]} inputs)"
        )


def _as_dict(names: Sequence[str], arr: np.ndarray | None) -> dict[str, float]:
    """Per-model values as a plain dict (empty when the score is unavailable)."""
    return {} if arr is None else {m: float(v) for m, v in zip(names, arr, strict=True)}


def _cost_table(infos: Sequence[Mapping[str, Any]]) -> NDArray[np.float64]:
    """Per-model cost: USD per call when every priced model has one, else per-token price."""
    per_call = np.array([_finite(info.get("cost_per_call")) for info in infos])
    per_token = np.array([_model_cost(info) for info in infos])
    priced = ~np.isnan(per_call) | ~np.isnan(per_token)
    if priced.any() and not np.isnan(per_call[priced]).any():
        return per_call
    return per_token


def _finite(value: Any) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)
    return float(value) if ok else float("nan")


def _model_cost(info: Mapping[str, Any]) -> float:
    prices = [info.get(k) for k in ("input_price", "output_price")]
    known = [
        float(v)
        for v in prices
        if isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)
    ]
    return float(np.mean(known)) if known else float("nan")


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

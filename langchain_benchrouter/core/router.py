"""Router: learn from benchmark evaluations, then pick models for tasks or single inputs.

The router is shaped like a scikit-learn estimator: ``__init__`` only stores
parameters, :meth:`Router.fit` validates the benchmark and learns, fitted state ends
in ``_``. It knows nothing of LangChain; the LangChain faces wrap it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from langchain_benchrouter.core import _fitting, _persistence, _routing, _selection
from langchain_benchrouter.core._grow import absorb_labeled
from langchain_benchrouter.core._routing import USER_TASK, check_texts
from langchain_benchrouter.core.artifact import read_artifact
from langchain_benchrouter.core.calibration import (
    fit_calibration,
    neighbor_task_prior,
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
from langchain_benchrouter.core.index import (
    DEFAULT_APPROXIMATE_ABOVE,
    IndexDtype,
    NeighborIndex,
    Neighbors,
)
from langchain_benchrouter.core.lexical import MIN_ROWS as LEXICAL_MIN_ROWS
from langchain_benchrouter.core.lexical import LexicalResidualModel
from langchain_benchrouter.core.new_model import estimated_summary
from langchain_benchrouter.core.predictors import (
    KNNCorrectnessPredictor,
    MLPCorrectnessPredictor,
)
from langchain_benchrouter.core.reference import loto_reference_pairs
from langchain_benchrouter.core.task_classifier import TaskClassifier
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.errors import (
    BenchmarkFormatError,
    EmbedderError,
    EmbedderMismatchError,
    NotFittedError,
    RoutingInputError,
    UnknownModelError,
)

__all__ = ["DEFAULT_METHOD", "DEFAULT_ROUTE_METHOD", "USER_TASK", "Router"]

Method = Literal["s1", "s2", "s3", "calibrated", "eb_select"]
RouteMethod = Literal["lexical", "calibrated", "knn"]

#: The default of :meth:`Router.select_model` (the best task-level method measured).
DEFAULT_METHOD: Method = "eb_select"
#: The default of :meth:`Router.route` (the best per-input method measured).
DEFAULT_ROUTE_METHOD: RouteMethod = "lexical"
Predictor = KNNCorrectnessPredictor | MLPCorrectnessPredictor


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

    #: Private hook of the evaluation harness, not part of the API and never saved: when
    #: set, ``_search_memo.search(index, queries, n_neighbors)`` answers the neighbour
    #: searches in place of ``index_.search`` (the harness sets a memo of the last search,
    #: as its methods ask for the neighbours of the same inputs several times).
    _search_memo: Any = None

    # Derived in the fit by ``_fitting.derive_priors`` (declared here for type checkers).
    model_prior_: NDArray[np.float64]
    bma_: int
    prior_table_: NDArray[np.float64]
    prior_rows_: NDArray[Any]
    costs_: NDArray[np.float64]

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
        _fitting.validate_params(self)

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
        _fitting.derive_priors(self)
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
        items = check_texts(inputs, "inputs")
        labels = _fitting.labels_of(self, items, model_scores)
        X = self.embedder_.embed(items)
        n_before = self.labels_.shape[0]
        self.embeddings_ = np.concatenate([self.embeddings_, X.astype(self.embeddings_.dtype)])
        self.labels_ = np.concatenate([self.labels_, labels.astype(np.float32)])
        # Labelled user inputs belong to no benchmark task: task index -1.
        self.task_index_ = np.concatenate([self.task_index_, np.full(len(items), -1, np.int64)])
        absorb_labeled(self, n_before)  # labels of held inputs replace estimated cells
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
        items = check_texts(texts, what)
        Q = check_embeddings(self.embedder_.embed(items), len(items), self.embedder_.name)
        if Q.shape[1] != self.embeddings_.shape[1]:
            msg = (
                f"the embedder returned dimension {Q.shape[1]}, "
                f"the router was fitted with {self.embeddings_.shape[1]}"
            )
            raise EmbedderMismatchError(msg)
        n = max(self.k, self.descriptor_neighbors, self.calibration_.max_k)
        n = min(n, self.embeddings_.shape[0])
        if self._search_memo is not None:
            return Q, self._search_memo.search(self.index_, Q, n)
        return Q, self.index_.search(Q, n)

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
        selection = _selection.select(self, task_inputs, method, models, p, metric)
        estimated = estimated_summary(self)
        return replace(selection, estimated_models=estimated) if estimated else selection

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
        return _routing.route(self, inputs, models, cost_weight, costs, method)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the fitted router as a versioned, pickle-free directory; returns its path."""
        self._check_fitted()
        return _persistence.save(self, path)

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
        return _persistence.from_artifact(cls, path, manifest, arrays, embedder, cache_dir)

    def __repr__(self) -> str:
        if not hasattr(self, "predictor_"):
            return f"Router(k={self.k}, predictor={self.predictor!r}, unfitted)"
        return (
            f"Router(k={self.k}, predictor={self.predictor!r}, embedder={self.embedder_.name!r}, "
            f"{len(self.model_names_)} models, {len(self.task_names_)} tasks, "
            f"{self.embeddings_.shape[0]} inputs)"
        )

"""Lexical per-input correction: which inputs of a task another model wins, from its words.

Sentence embeddings place an input near inputs *about* the same thing; which of two
models answers it better depends more on its surface (a keyword, a format, an answer
type) than on its topic, and within a benchmark task the embeddings' kNN carries almost
none of that signal (docs/results.md: +0.0003 over the task's best model at best). A
bag of words does carry some. :class:`LexicalResidualModel` fits, per model, a ridge
regression (scikit-learn) of the input's score minus the model's mean score on the
input's task on TF-IDF word uni- and bigrams (scikit-learn), so it learns how an input
differs from its task's average, not the task itself (the per-input prior does that).

The per-input route (:meth:`Router.route`, method ``"lexical"``) first takes the
calibrated route's choice; it leaves that choice for the model whose lexical estimate
(the input's task prior plus the predicted residual) beats the choice's by more than a
margin. The ridge penalty and the margin are tuned in the fit, by the exact
leave-one-input-out predictions of scikit-learn's ``RidgeCV`` on the benchmark's rows
only: the (alpha, margin) whose switches most raise the mean over tasks of the
leave-one-out routed score over each task's best model; if none raises it, the
correction is off (``margin`` is ``None``) and the route is the calibrated one.

Example:
    >>> import numpy as np
    >>> texts = [f"question {i % 7} about topic {i % 3}" for i in range(60)]
    >>> scores = np.array([[i % 2, 1 - i % 2] for i in range(60)], dtype=np.float64)
    >>> lex = LexicalResidualModel().fit(texts, scores, np.zeros(60, dtype=np.int64))
    >>> lex.residual(["question 1 about topic 2"]).shape
    (1, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "LEXICAL_ALPHA_GRID",
    "LEXICAL_MARGIN_GRID",
    "LexicalResidualModel",
    "switch_gain",
]

F64 = NDArray[np.float64]

#: Ridge penalties tried (TF-IDF rows have unit norm, so these are on a fixed scale).
LEXICAL_ALPHA_GRID: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0, 30.0)
#: Margins by which the lexical estimate must beat the calibrated choice to replace it.
LEXICAL_MARGIN_GRID: tuple[float, ...] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
#: The vocabulary: at most this many word uni- and bigrams seen in two inputs or more.
MAX_FEATURES = 50_000
#: The exact leave-one-out of RidgeCV decomposes an (n, n) Gram matrix (O(n^3): 95 s for
#: n = 9,600 on two cores, 13 s for 5,000): at most this many rows tune alpha and the
#: margin, sampled per task in proportion to its size.
TUNING_ROWS = 5_000
#: The vocabulary and the final ridge fit use at most this many rows (sampled the same
#: way; both shared datasets, 6k and 12k inputs, use every row), which bounds the fit on
#: large benchmarks to seconds (a lexical signal is learnt from thousands of rows).
FIT_ROWS = 20_000
#: Fewer benchmark rows than this: no lexical correction (too little to tune it on).
MIN_ROWS = 50


def _vectorizer(vocabulary: Sequence[str] | None = None) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        ngram_range=(1, 2),
        min_df=2,
        sublinear_tf=True,
        max_features=MAX_FEATURES,
        vocabulary=None if vocabulary is None else list(vocabulary),
        dtype=np.float64,
    )


def switch_gain(
    estimate: F64,
    rows_task: NDArray[np.int64],
    scores: F64,
    base: NDArray[np.intp],
    margin: float,
) -> float:
    """Mean over tasks of the score gained by switching where ``estimate`` leads by > margin.

    ``base`` is each row's default model; a row switches to the argmax of ``estimate``
    when it beats the default's estimate by more than ``margin``. Missing scores count 0
    gain.
    """
    n = estimate.shape[0]
    top = np.argmax(estimate, axis=1)
    lead = estimate[np.arange(n), top] - estimate[np.arange(n), base]
    chosen = np.where(lead > margin, top, base)
    diff = np.nan_to_num(scores[np.arange(n), chosen] - scores[np.arange(n), base], nan=0.0)
    gains = [float(diff[rows_task == t].mean()) for t in np.unique(rows_task)]
    return float(np.mean(gains)) if gains else 0.0


class LexicalResidualModel:
    """Per-model ridge regression of an input's score residual on TF-IDF word n-grams.

    Args:
        alphas: ridge penalties to tune over.
        margins: switching margins to tune over.
        seed: seed of the row samples used when the benchmark exceeds ``TUNING_ROWS``
            (tuning) or ``FIT_ROWS`` (vocabulary and final fit).

    Attributes (after ``fit``):
        vocabulary_: the n-gram of each TF-IDF column.
        idf_: (V,) inverse document frequencies.
        coef_: (V, M) ridge coefficients (float32).
        alpha_: the tuned penalty.
        margin_: the tuned margin, or ``None`` when no margin's switches paid on the
            benchmark (the correction is then off).
        tuning_gain_: the leave-one-out gain of the tuned setting (0.0 when off).

    Example:
        >>> import numpy as np
        >>> texts = [f"add {i} and {i + 1}" if i % 2 else f"name city {i}" for i in range(80)]
        >>> scores = np.array([[i % 2, 1 - i % 2] for i in range(80)], dtype=np.float64)
        >>> lex = LexicalResidualModel().fit(texts, scores, np.zeros(80, dtype=np.int64))
        >>> bool(lex.residual(["add 3 and 4"])[0, 0] > 0)
        True
    """

    def __init__(
        self,
        alphas: Sequence[float] = LEXICAL_ALPHA_GRID,
        margins: Sequence[float] = LEXICAL_MARGIN_GRID,
        *,
        seed: int = 0,
    ) -> None:
        self.alphas = tuple(alphas)
        self.margins = tuple(margins)
        self.seed = seed

    def fit(
        self, texts: Sequence[str], scores: NDArray[Any], task_index: NDArray[np.int64]
    ) -> LexicalResidualModel:
        """Fit on benchmark texts, their (n, M) scores (NaN = missing) and task indices.

        Raises:
            ValueError: shapes disagree, or fewer than ``MIN_ROWS`` rows have a task.
        """
        from sklearn.linear_model import Ridge, RidgeCV

        S = np.asarray(scores, dtype=np.float64)
        ti = np.asarray(task_index, dtype=np.int64)
        if S.ndim != 2 or S.shape[0] != len(texts) or ti.shape != (len(texts),):
            msg = f"texts ({len(texts)}), scores {S.shape} and task_index {ti.shape} disagree"
            raise ValueError(msg)
        rows = np.flatnonzero(ti >= 0)
        if rows.size < MIN_ROWS:
            msg = f"the lexical model needs at least {MIN_ROWS} inputs with a task, got {rows.size}"
            raise ValueError(msg)
        rows = rows[self._sample(ti[rows], FIT_ROWS)]
        texts_arr = np.asarray(list(texts), dtype=object)[rows]
        S, ti = S[rows], ti[rows]
        n_tasks = int(ti.max()) + 1
        task_mean = np.zeros((n_tasks, S.shape[1]))
        best = np.zeros(n_tasks, dtype=np.intp)
        for t in np.unique(ti):
            col = S[ti == t]
            known = (~np.isnan(col)).sum(axis=0)
            task_mean[t] = np.divide(
                np.nansum(col, axis=0), known, out=np.zeros(S.shape[1]), where=known > 0
            )
            best[t] = int(np.argmax(np.where(known > 0, task_mean[t], -np.inf)))
        prior = task_mean[ti]
        residual = np.nan_to_num(S - prior, nan=0.0)  # a missing score: no deviation
        vec = _vectorizer()
        try:
            Xt = vec.fit_transform(texts_arr)
        except ValueError:  # no n-gram occurs twice: nothing lexical to learn
            Xt = None
        self.alpha_ = float(self.alphas[0])
        self.margin_: float | None = None
        self.tuning_gain_ = 0.0
        if Xt is None:
            self.vocabulary_: list[str] = []
            self.idf_: F64 = np.zeros(0)
            self.coef_: NDArray[np.float32] = np.zeros((0, S.shape[1]), dtype=np.float32)
            return self
        tune = self._sample(ti, TUNING_ROWS)
        # Exact leave-one-out predictions per alpha (a scoring makes RidgeCV store
        # predictions instead of squared errors).
        cv = RidgeCV(
            alphas=self.alphas,
            fit_intercept=False,
            store_cv_results=True,
            scoring="neg_mean_squared_error",
        ).fit(Xt[tune], residual[tune])
        loo = np.asarray(cv.cv_results_).reshape(tune.size, S.shape[1], len(self.alphas))
        best_gain, choice = 0.0, None
        for j, alpha in enumerate(self.alphas):
            estimate = prior[tune] + loo[:, :, j]
            for margin in self.margins:
                gain = switch_gain(estimate, ti[tune], S[tune], best[ti[tune]], margin)
                if gain > best_gain + 1e-12:
                    best_gain, choice = gain, (float(alpha), float(margin))
        if choice is not None:
            self.alpha_, self.margin_ = choice
            self.tuning_gain_ = best_gain
        ridge = Ridge(alpha=self.alpha_, fit_intercept=False).fit(Xt, residual)
        self.vocabulary_ = [str(w) for w in vec.get_feature_names_out()]
        self.idf_ = np.asarray(vec.idf_, dtype=np.float64)
        self.coef_ = np.ascontiguousarray(np.asarray(ridge.coef_).T, dtype=np.float32)
        self._coef64: F64 | None = None  # a refit invalidates the cached float64 copy
        self._vec = vec
        return self

    def add_columns(self, texts: Sequence[str], residual: NDArray[Any]) -> LexicalResidualModel:
        """Fit coefficients for new models with the tuned vocabulary and penalty.

        Args:
            texts: the inputs the new models were evaluated on.
            residual: (n, M_new) each new model's score minus its mean score on the
                input's task (NaN where it has no score: no deviation).

        Returns:
            self, with ``coef_`` grown by ``M_new`` columns.
        """
        from sklearn.linear_model import Ridge

        R = np.nan_to_num(np.asarray(residual, dtype=np.float64), nan=0.0)
        if R.ndim != 2 or R.shape[0] != len(texts):
            msg = f"texts ({len(texts)}) and residual {R.shape} disagree"
            raise ValueError(msg)
        new = np.zeros((len(self.vocabulary_), R.shape[1]), dtype=np.float32)
        if self.vocabulary_ and len(texts) > 0:
            self.residual(texts[:1])  # builds the vectorizer of a loaded model
            Xt = self._vec.transform(list(texts))
            ridge = Ridge(alpha=self.alpha_, fit_intercept=False).fit(Xt, R)
            new = np.asarray(ridge.coef_, dtype=np.float32).reshape(R.shape[1], -1).T
        self.coef_ = np.ascontiguousarray(np.concatenate([self.coef_, new], axis=1))
        self._coef64 = None
        return self

    def _sample(self, ti: NDArray[np.int64], limit: int) -> NDArray[np.intp]:
        """At most about ``limit`` row positions, per task in proportion to its size."""
        if ti.size <= limit:
            return np.arange(ti.size)
        rng = np.random.default_rng(self.seed)
        keep = []
        for t in np.unique(ti):
            members = np.flatnonzero(ti == t)
            quota = max(1, round(limit * members.size / ti.size))
            keep.append(rng.choice(members, size=min(quota, members.size), replace=False))
        return np.sort(np.concatenate(keep))

    @property
    def enabled(self) -> bool:
        """Whether the tuned correction switches anything (a margin was found)."""
        return self.margin_ is not None and len(self.vocabulary_) > 0

    def residual(self, texts: Sequence[str]) -> F64:
        """(n, M) predicted score residual of every model on each text (0 without vocabulary)."""
        if not hasattr(self, "coef_"):
            msg = "the lexical model is not fitted"
            raise RuntimeError(msg)
        if not self.vocabulary_:
            return np.zeros((len(texts), self.coef_.shape[1]))
        if not hasattr(self, "_vec"):
            # Built whole before it is published: concurrent first calls (a runnable's
            # batch threads) must never see a vectorizer without its idf.
            vec = _vectorizer(self.vocabulary_)
            vec.idf_ = self.idf_
            self._vec = vec
        if getattr(self, "_coef64", None) is None:
            # Converted once: a per-call float64 copy of the (V, M) matrix would cost
            # more than the rest of a single-input call.
            self._coef64 = self.coef_.astype(np.float64)
        X = self._vec.transform(list(texts))
        out: F64 = np.asarray(X @ self._coef64, dtype=np.float64)
        return out

    def get_state(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        """JSON-safe parameters (with the vocabulary) and the arrays, for the artifact."""
        params = {
            "alpha": self.alpha_,
            "margin": self.margin_,
            "tuning_gain": self.tuning_gain_,
            "vocabulary": self.vocabulary_,
        }
        return params, {"lexical_idf": self.idf_, "lexical_coef": self.coef_}

    @classmethod
    def from_state(
        cls, params: dict[str, Any], arrays: dict[str, NDArray[Any]], *, n_models: int
    ) -> LexicalResidualModel:
        """Rebuild from :meth:`get_state` output, checking every field.

        Raises:
            ValueError: a missing or ill-typed field, a shape that disagrees with the
                vocabulary or the model count, duplicate n-grams, or a non-finite value.
        """
        vocab = params["vocabulary"]
        if not isinstance(vocab, list) or not all(isinstance(w, str) and w for w in vocab):
            msg = "lexical vocabulary must be a list of non-empty strings"
            raise ValueError(msg)
        if len(set(vocab)) != len(vocab):
            msg = "lexical vocabulary has duplicate n-grams"
            raise ValueError(msg)
        idf = np.asarray(arrays["lexical_idf"], dtype=np.float64)
        coef = np.asarray(arrays["lexical_coef"], dtype=np.float32)
        if idf.shape != (len(vocab),) or coef.shape != (len(vocab), n_models):
            msg = (
                f"lexical arrays {idf.shape} and {coef.shape} disagree with "
                f"{len(vocab)} n-grams and {n_models} models"
            )
            raise ValueError(msg)
        if not (np.isfinite(idf).all() and np.isfinite(coef).all()):
            msg = "lexical arrays hold NaN or infinite values"
            raise ValueError(msg)
        alpha, margin, gain = params["alpha"], params["margin"], params["tuning_gain"]
        numbers = [alpha, gain] + ([] if margin is None else [margin])
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
            msg = "lexical alpha, margin and tuning_gain must be numbers (margin may be null)"
            raise ValueError(msg)
        finite = all(np.isfinite(v) for v in numbers)
        if not finite or alpha <= 0 or (margin is not None and margin < 0):
            msg = "lexical alpha must be > 0 and the margin >= 0, both finite"
            raise ValueError(msg)
        model = cls()
        model.vocabulary_, model.idf_, model.coef_ = list(vocab), idf, coef
        model.alpha_ = float(alpha)
        model.margin_ = None if margin is None else float(margin)
        model.tuning_gain_ = float(gain)
        return model

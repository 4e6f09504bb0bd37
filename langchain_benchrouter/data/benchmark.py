"""Benchmark score tables: tasks x inputs x models.

A :class:`Benchmark` holds, for every benchmark input, its text, its task and the
score in ``[0, 1]`` that each model obtained on it (``NaN`` where a model has no
result). It loads the files this package uses (wide or long JSON lines, CSV or
Parquet, optionally gzipped, with an optional ``models.json`` beside them) and checks
them thoroughly: every problem is reported as a
:class:`~langchain_benchrouter.errors.BenchmarkFormatError` naming the file, the line
or row and the problem.

Wide layout, one JSON object a line::

    {"instance_id": "q1", "task": "math", "split": "test", "text": "1+1?",
     "model-a": 1.0, "model-b": null, "metric": "em"}

An optional ``metric`` column names how an input is scored (``"em_mc"``,
``"code_eval"``, ...); tasks scored the same way tend to favour the same models, and
:meth:`Router.select_model(metric=...) <langchain_benchrouter.Router.select_model>`
uses it.

Long layout, one row per (task, input, model)::

    task,instance_id,text,model,score
    math,q1,1+1?,model-a,1.0
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import numpy.typing as npt

from langchain_benchrouter.data._checks import _PRICE_KEYS, _check_threshold, _count, _listing
from langchain_benchrouter.data._combine import (
    OnConflict,
    merge_benchmarks,
    rename_models,
    write_benchmark,
)
from langchain_benchrouter.data._construction import (
    _check_costs,
    _check_ids,
    _check_info,
    _check_inputs,
    _check_metrics,
    _check_models,
    _check_references,
    _check_scores,
    _per_input,
)
from langchain_benchrouter.data._layouts import (
    METADATA_COLUMNS,
    METRIC_COLUMN,
    RESERVED_COLUMNS,
    Layout,
)
from langchain_benchrouter.data._loading import (
    _parse_source,
    _read_bundled,
    _read_path,
    _read_records,
    _Source,
)
from langchain_benchrouter.data._slicing import (
    _derive,
    _model_columns,
    _picked_rows,
    _sample_rows,
    _task_rows,
    _test_rows,
)
from langchain_benchrouter.errors import UnknownModelError

if TYPE_CHECKING:  # pragma: no cover
    from langchain_benchrouter.collect.runner import CollectionPlan

__all__ = ["Benchmark", "Layout", "METADATA_COLUMNS", "METRIC_COLUMN", "RESERVED_COLUMNS"]


class Benchmark:
    """Per-input scores of several models on the inputs of several tasks.

    ``scores[i, j]`` is the score in ``[0, 1]`` of model ``models[j]`` on input
    ``texts[i]`` (of task ``task_names[task_index[i]]``), or ``NaN`` when that model
    has no result on that input. Missing scores stay ``NaN`` everywhere.

    Example:
        >>> bench = Benchmark(
        ...     texts=["1+1?", "Capital of France?", "2*3?"],
        ...     tasks=["math", "geo", "math"],
        ...     scores=[[1.0, 0.0], [1.0, float("nan")], [0.0, 1.0]],
        ...     models=["small", "large"],
        ... )
        >>> bench
        Benchmark('benchmark': 3 inputs, 2 tasks, 2 models, 1 missing score, threshold=0.5)
        >>> bench.task_accuracy().tolist()
        [[0.5, 0.5], [1.0, nan]]
        >>> Benchmark.bundled().n_models
        9

    Attributes:
        texts: The input texts, one per input.
        instance_ids: Input identifiers, unique within a task.
        models: The model names, in column order.
        task_names: The task names, in order of first appearance.
        task_index: ``int64 (n,)``: the task of each input, an index into ``task_names``.
        scores: ``float32 (n, M)``: scores in ``[0, 1]``, ``NaN`` where missing.
        model_info: Per model, whatever is known about it (``size``, ``input_price``,
            ``output_price`` in USD per million tokens, ...); ``{}`` when unknown.
        splits: The ``split`` of each input in the source data (``None`` when unknown).
        metrics: How each input is scored (the ``metric`` column, e.g. ``"em_mc"``,
            ``"code_eval"``; ``None`` when unknown). :attr:`task_metrics` has one per task.
        references: The reference answer of each input (the ``answer``,
            ``ground_truth``, ``reference``, ``target`` or ``label`` column; ``None`` when
            unknown): what :mod:`~langchain_benchrouter.collect.graders` grade against.
        costs: ``float64 (n, M)``: the measured cost in USD of each model's call on each
            input, ``NaN`` where unknown; ``None`` when no cost was measured.
        threshold: Scores at or above it count as a success in :attr:`labels`.
        name: A short name for reports.
        notes: Human-readable reports of anything dropped, merged or ignored on the way.
    """

    texts: list[str]
    instance_ids: list[str]
    models: list[str]
    task_names: list[str]
    task_index: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float32]
    model_info: dict[str, dict[str, Any]]
    splits: list[str | None]
    metrics: list[str | None]
    references: list[str | None]
    costs: npt.NDArray[np.float64] | None
    threshold: float
    name: str
    notes: list[str]

    def __init__(
        self,
        *,
        texts: Sequence[str],
        tasks: Sequence[str],
        scores: npt.ArrayLike,
        models: Sequence[str],
        instance_ids: Sequence[str] | None = None,
        model_info: Mapping[str, Mapping[str, Any]] | None = None,
        threshold: float = 0.5,
        name: str = "benchmark",
        notes: Iterable[str] = (),
        splits: Sequence[str | None] | None = None,
        metrics: Sequence[str | None] | None = None,
        references: Sequence[str | None] | None = None,
        costs: npt.ArrayLike | None = None,
    ) -> None:
        """Build and validate a benchmark.

        Args:
            texts: The input texts (non-empty strings).
            tasks: The task name of each input.
            scores: ``(n, M)`` scores in ``[0, 1]``, ``NaN`` for missing.
            models: The ``M`` model names (unique).
            instance_ids: Input identifiers, unique within a task; generated as
                ``"<task>-<row>"`` (1-based row) when omitted.
            model_info: Per model, what is known about it (prices in USD per million
                tokens under ``input_price`` and ``output_price``).
            threshold: Success threshold in ``(0, 1]`` for :attr:`labels`.
            name: A short name for reports.
            notes: Reports of anything dropped or merged while building the data.
            splits: The source ``split`` of each input, if known.
            metrics: How each input is scored (``None`` where unknown); all the inputs
                of a task should share one.
            references: The reference answer of each input (``None`` where unknown).
            costs: ``(n, M)`` measured cost in USD of each call, ``NaN`` where unknown.
                A model's ``model_info["cost_per_call"]`` defaults to the mean of its
                known costs.

        Raises:
            BenchmarkFormatError: If anything is inconsistent; the message names the
                row (1-based) or model and the problem.
        """
        texts, tasks = _check_inputs(texts, tasks)
        n = len(texts)
        model_names = _check_models(models)
        matrix = _check_scores(scores, n, model_names)
        ids = _check_ids(instance_ids, tasks)
        split_list: list[str | None] = [None] * n if splits is None else list(splits)
        _per_input(split_list, n, "splits")
        metric_list = _check_metrics(metrics, n)
        reference_list = _check_references(references, n)
        cost_matrix = None if costs is None else _check_costs(costs, n, model_names)
        info = _check_info(model_info, model_names, cost_matrix)

        task_names = list(dict.fromkeys(tasks))
        lookup = {task: k for k, task in enumerate(task_names)}

        self.texts = texts
        self.instance_ids = ids
        self.models = model_names
        self.task_names = task_names
        self.task_index = np.fromiter((lookup[t] for t in tasks), dtype=np.int64, count=n)
        self.scores = matrix.astype(np.float32)
        self.model_info = info
        self.splits = split_list
        self.metrics = metric_list
        self.references = reference_list
        self.costs = cost_matrix
        self.threshold = _check_threshold(threshold)
        self.name = str(name)
        self.notes = [str(note) for note in notes]
        mixed = [t for t, m in zip(task_names, self._task_metric_sets(), strict=True) if len(m) > 1]
        if mixed:
            self.notes.append(
                f"task(s) {_listing(mixed)} mix several metrics: their metric counts as unknown"
            )

    # ------------------------------------------------------------------ properties

    @property
    def n_inputs(self) -> int:
        """Number of inputs (rows)."""
        return len(self.texts)

    @property
    def n_models(self) -> int:
        """Number of models (columns)."""
        return len(self.models)

    @property
    def n_tasks(self) -> int:
        """Number of tasks."""
        return len(self.task_names)

    @property
    def tasks(self) -> list[str]:
        """The task name of each input."""
        return [self.task_names[k] for k in self.task_index.tolist()]

    def _task_metric_sets(self) -> list[set[str]]:
        sets: list[set[str]] = [set() for _ in self.task_names]
        for k, metric in zip(self.task_index.tolist(), self.metrics, strict=True):
            if metric is not None:
                sets[k].add(metric)
        return sets

    @property
    def task_metrics(self) -> list[str | None]:
        """How each task is scored, in the order of :attr:`task_names`.

        A task's metric is the one its inputs name; ``None`` when none names one or
        they name several (reported in :attr:`notes`).
        """
        return [next(iter(m)) if len(m) == 1 else None for m in self._task_metric_sets()]

    @property
    def mask(self) -> npt.NDArray[np.bool_]:
        """``bool (n, M)``: ``True`` where a score exists."""
        return ~np.isnan(self.scores)

    @property
    def labels(self) -> npt.NDArray[np.float32]:
        """``float32 (n, M)``: 1 where score >= threshold, 0 below, ``NaN`` if missing."""
        labels = (self.scores >= np.float32(self.threshold)).astype(np.float32)
        labels[np.isnan(self.scores)] = np.nan
        return labels

    def __len__(self) -> int:
        return self.n_inputs

    def __repr__(self) -> str:
        n_missing = int(np.isnan(self.scores).sum())
        parts = [
            _count(self.n_inputs, "input"),
            _count(self.n_tasks, "task"),
            _count(self.n_models, "model"),
        ]
        if n_missing:
            parts.append(_count(n_missing, "missing score"))
        return f"Benchmark({self.name!r}: {', '.join(parts)}, threshold={self.threshold:g})"

    # ------------------------------------------------------------------ statistics

    def task_accuracy(self) -> npt.NDArray[np.float64]:
        """Mean score per task and model over the scores that exist.

        Returns:
            ``float64 (T, M)`` in the order of :attr:`task_names` and :attr:`models`;
            ``NaN`` where a task has no score for a model.
        """
        known = ~np.isnan(self.scores)
        values = np.where(known, self.scores, 0.0).astype(np.float64)
        sums = np.zeros((self.n_tasks, self.n_models), dtype=np.float64)
        counts = np.zeros((self.n_tasks, self.n_models), dtype=np.float64)
        np.add.at(sums, self.task_index, values)
        np.add.at(counts, self.task_index, known.astype(np.float64))
        out = np.full_like(sums, np.nan)
        np.divide(sums, counts, out=out, where=counts > 0)
        return out

    def model_cost(self, model: str) -> float | None:
        """The price of a model: mean of its input and output prices.

        Args:
            model: A model name.

        Returns:
            USD per million tokens: the mean of ``input_price`` and ``output_price`` if
            both are known, else the one known, else ``None``.

        Raises:
            UnknownModelError: If ``model`` is not one of :attr:`models`.
        """
        if model not in self.model_info:
            msg = f"unknown model {model!r}; known models: {_listing(self.models)}"
            raise UnknownModelError(msg)
        info = self.model_info[model]
        prices = [float(info[k]) for k in _PRICE_KEYS if info.get(k) is not None]
        return sum(prices) / len(prices) if prices else None

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        layout: Layout = "auto",
        models: Sequence[str] | None = None,
        models_file: str | os.PathLike[str] | None = None,
        threshold: float = 0.5,
        name: str | None = None,
    ) -> Benchmark:
        """Load a benchmark file.

        The format follows the suffix: ``.jsonl``/``.ndjson`` (JSON lines), ``.json``
        (JSON lines or one array of objects), ``.csv``, ``.tsv`` or ``.parquet``
        (needs ``pyarrow``), each optionally gzipped (``.gz``, also detected by magic
        bytes). A directory loads its ``instances.*`` file.

        Args:
            path: The data file, or a directory holding ``instances.jsonl.gz`` (or
                ``.jsonl``, ``.csv``, ``.parquet``...).
            layout: ``"wide"`` (one row per input, one column per model), ``"long"``
                (one row per input and model with ``model`` and ``score`` columns) or
                ``"auto"`` (long when the columns ``model`` and ``score`` exist).
            models: The models to load, in order (overrides ``models.json``); other
                columns are ignored and reported in :attr:`notes`.
            models_file: A ``models.json`` listing the models in column order (names,
                or objects with a ``name`` and e.g. ``size``, ``input_price``,
                ``output_price``). When ``None``, a ``models.json`` beside the data file
                is used if there is one.
            threshold: Success threshold for :attr:`labels`.
            name: The benchmark's name; defaults to the file's stem (or its directory's
                name for a generic stem such as ``instances``).

        Returns:
            The benchmark.

        Raises:
            BenchmarkFormatError: If the file is missing or malformed; the message
                names the file, the line or row and the problem.
            ImportError: For a Parquet file when ``pyarrow`` is not installed.
        """
        source = _read_path(path, models, models_file, name)
        return cls._from_source(source, layout=layout, threshold=threshold)

    @classmethod
    def bundled(cls, name: str = "llmrouter", *, threshold: float = 0.5) -> Benchmark:
        """Load a benchmark shipped inside the package (``langchain_benchrouter/datasets``).

        Args:
            name: The dataset's folder name (``"llmrouter"``: 9 models, 14 tasks, 6,108
                inputs; see its ``PROVENANCE.md`` and ``LICENSE``).
            threshold: Success threshold for :attr:`labels`.

        Returns:
            The benchmark.

        Raises:
            BenchmarkFormatError: If no bundled dataset has that name.
        """
        return cls._from_source(_read_bundled(name), layout="wide", threshold=threshold)

    @classmethod
    def from_records(
        cls,
        rows: Iterable[Mapping[str, Any]],
        *,
        models: Sequence[str] | None = None,
        threshold: float = 0.5,
        name: str = "records",
        model_info: Mapping[str, Mapping[str, Any]] | None = None,
        layout: Layout = "auto",
    ) -> Benchmark:
        """Build a benchmark from dicts shaped like the lines of a wide or long file.

        Scores are numbers in ``[0, 1]``; ``None`` or a float ``NaN`` means missing.

        Example:
            >>> Benchmark.from_records(
            ...     [
            ...         {"task": "math", "text": "1+1?", "small": 1, "large": 1},
            ...         {"task": "math", "text": "2*3?", "small": 0, "large": None},
            ...     ]
            ... ).instance_ids
            ['math-1', 'math-2']

        Args:
            rows: Wide rows (``instance_id``, ``task``, ``text``, one key per model) or
                long rows (``task``, ``instance_id``, ``text``, ``model``, ``score``).
            models: The models to keep, in order; by default every numeric key (wide)
                or every ``model`` value (long).
            threshold: Success threshold for :attr:`labels`.
            name: The benchmark's name.
            model_info: Per model, what is known about it (see :attr:`model_info`).
            layout: ``"wide"``, ``"long"`` or ``"auto"`` (long when rows have ``model``
                and ``score`` keys).

        Returns:
            The benchmark.

        Raises:
            BenchmarkFormatError: If a row is malformed; the message names the row
                (1-based) and the problem.
        """
        source = _read_records(rows, models, model_info, name)
        return cls._from_source(source, layout=layout, threshold=threshold)

    @classmethod
    def _from_source(cls, source: _Source, *, layout: Layout, threshold: float) -> Benchmark:
        threshold = _check_threshold(threshold)
        parsed = _parse_source(source, layout)
        return cls(
            texts=parsed.texts,
            tasks=parsed.tasks,
            scores=parsed.scores,
            models=parsed.models,
            instance_ids=parsed.ids,
            model_info={m: source.model_info[m] for m in parsed.models if m in source.model_info},
            threshold=threshold,
            name=source.name,
            notes=parsed.notes,
            splits=parsed.splits,
            metrics=parsed.metrics,
            references=parsed.references,
            costs=parsed.costs,
        )

    # ------------------------------------------------------------------ slicing

    def subset(self, rows: npt.ArrayLike) -> Benchmark:
        """The benchmark restricted to some inputs.

        Args:
            rows: Row indices (kept in the order given) or a boolean mask of length
                :attr:`n_inputs`.

        Returns:
            A new benchmark sharing this one's models.

        Raises:
            BenchmarkFormatError: If the selection is empty, out of range, repeats a row
                or is a mask of the wrong length.
        """
        return _derive(self, _picked_rows(rows, self.n_inputs))

    def select_tasks(self, tasks: str | Iterable[str]) -> Benchmark:
        """The benchmark restricted to the inputs of some tasks.

        Args:
            tasks: A task name or task names.

        Returns:
            A new benchmark (inputs keep their order).

        Raises:
            BenchmarkFormatError: If a task is unknown (the message names it) or none is
                given.
        """
        return _derive(self, np.flatnonzero(_task_rows(self, tasks)))

    def drop_tasks(self, tasks: str | Iterable[str]) -> Benchmark:
        """The complement of :meth:`select_tasks`: the inputs of all the other tasks.

        Args:
            tasks: The task or tasks whose inputs go.

        Returns:
            A new benchmark of the remaining inputs, in their order.

        Raises:
            BenchmarkFormatError: If a task is unknown (the message names it) or every
                task would be dropped.
        """
        return _derive(self, np.flatnonzero(~_task_rows(self, tasks)))

    def select_models(self, models: str | Iterable[str]) -> Benchmark:
        """The benchmark restricted to some models, in the order given.

        Args:
            models: A model name or model names.

        Returns:
            A new benchmark with the same inputs.

        Raises:
            UnknownModelError: If a model is unknown (the message names it).
            BenchmarkFormatError: If no model is given or one is repeated.
        """
        columns = _model_columns(self, models)
        return _derive(self, np.arange(self.n_inputs, dtype=np.intp), columns)

    # ------------------------------------------------------------------ your own models

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the benchmark as a directory that :meth:`load` reads back.

        ``instances.jsonl.gz`` holds one JSON object per input (``instance_id``,
        ``task``, ``split``, ``text``, ``metric``, ``reference``, one score per model
        and ``<model>|cost`` where a cost was measured); ``models.json`` lists the models
        in column order with :attr:`model_info`. Each file is replaced atomically.

        Example:
            >>> import tempfile
            >>> bench = Benchmark.bundled().select_tasks("mmlu")
            >>> again = Benchmark.load(bench.save(tempfile.mkdtemp()))
            >>> (again.n_inputs, again.models == bench.models, again.references[0])
            (550, True, 'D')

        Args:
            path: The directory to write (created if needed).

        Returns:
            The directory.

        Raises:
            BenchmarkFormatError: If ``path`` is a file, or a model name clashes with
                a column of the layout (``text``, ``task``, ...).
        """
        return write_benchmark(self, path)

    def merge(
        self, *others: Benchmark, name: str | None = None, on_conflict: OnConflict = "error"
    ) -> Benchmark:
        """The union of this benchmark's and others' inputs and models.

        Inputs are matched by ``(task, instance_id)`` and must then have the same text;
        a model without a result on an input stays ``NaN`` there (never 0). This is how
        your own models' evaluations join a public benchmark's: collect or import them
        on the benchmark's inputs (same ids), then merge. Also callable as
        ``Benchmark.merge(a, b, ...)``.

        Example:
            >>> base = Benchmark.from_records([{"task": "t", "text": "1+1?", "a": 1.0}])
            >>> mine = Benchmark.from_records([{"task": "t", "text": "1+1?", "mine": 0.0},
            ...                                {"task": "t", "text": "2+2?", "mine": 1.0}],
            ...                               name="mine")
            >>> merged = Benchmark.merge(base, mine)
            >>> merged.models, merged.scores.tolist()
            (['a', 'mine'], [[1.0, 0.0], [nan, 1.0]])

        Args:
            *others: The benchmarks to merge into this one.
            name: The merged benchmark's name (default: the names joined by ``+``).
            on_conflict: When two benchmarks give the same model different scores on
                the same input: ``"error"`` (default), ``"first"`` or ``"last"``.

        Returns:
            A new benchmark; models in order of first appearance, model information
            merged (the first benchmark's values win).

        Raises:
            BenchmarkFormatError: On inputs with the same id and different texts,
                metrics or references, different thresholds, or conflicting scores
                under ``on_conflict="error"``.
        """
        return merge_benchmarks([self, *others], name=name, on_conflict=on_conflict, cls=Benchmark)

    def rename_models(self, mapping: Mapping[str, str]) -> Benchmark:
        """A copy with some models renamed, e.g. to the names your app configures.

        Example:
            >>> Benchmark.bundled().rename_models({"qwen2.5-7b-instruct": "qwen"}).models[-1]
            'qwen'

        Args:
            mapping: ``{old name: new name}``; models not named keep their names.

        Returns:
            A new benchmark.

        Raises:
            UnknownModelError: If an old name is not a model of the benchmark.
            BenchmarkFormatError: If two models would end up with one name.
        """
        return rename_models(self, mapping)

    @overload
    def collect(
        self, models: Mapping[str, Any], *, dry_run: Literal[False] = ..., **options: Any
    ) -> Benchmark: ...

    @overload
    def collect(
        self, models: Mapping[str, Any], *, dry_run: Literal[True], **options: Any
    ) -> CollectionPlan: ...

    def collect(
        self, models: Mapping[str, Any], *, dry_run: bool = False, **options: Any
    ) -> Benchmark | CollectionPlan:
        """Evaluate chat models on these inputs and grade them into a new benchmark.

        Delegates to :func:`langchain_benchrouter.collect.runner.collect` (see its
        options: ``store=``, ``graders=``, ``max_cost=``, ``concurrency=``, ...).

        Args:
            models: ``{name: chat model or "provider:model" string}``.
            dry_run: Return the plan (calls and estimated cost) and call nothing.
            **options: The options of :func:`~langchain_benchrouter.collect.runner.collect`.

        Returns:
            A benchmark holding the graded scores of ``models`` on these inputs (merge
            it with this one to route among both), or the plan of a dry run.
        """
        # The one import from data/ up to collect/, deferred to the call: collecting
        # builds on Benchmark, and this method is only a convenient door to it.
        from langchain_benchrouter.collect.runner import collect

        if dry_run:
            plan: CollectionPlan = collect(models, self, dry_run=True, **options)
            return plan
        result: Benchmark = collect(models, self, **options)
        return result

    def sample(self, per_task: int, *, seed: int = 0) -> Benchmark:
        """A seeded random sample of at most ``per_task`` inputs of every task.

        The inputs to evaluate your own models on when the whole benchmark would cost
        too much; the rows keep the benchmark's order.

        Example:
            >>> Benchmark.bundled().sample(20).n_inputs
            280

        Args:
            per_task: inputs kept per task (all of a smaller task).
            seed: seed of the draw.

        Returns:
            A new benchmark with the same models.

        Raises:
            BenchmarkFormatError: If ``per_task`` is not a positive integer.
        """
        rows = _sample_rows(self, per_task, seed)
        return _derive(self, rows, note=f"sample of {per_task} input(s) per task (seed={seed})")

    def random_split(self, test_size: float = 0.2, seed: int = 0) -> tuple[Benchmark, Benchmark]:
        """Split the inputs at random into train and test, stratified by task.

        Each task contributes about ``test_size`` of its inputs to the test part; the
        total is ``round(test_size * n_inputs)``. Both parts keep every model.

        Args:
            test_size: Fraction of the inputs to hold out, in ``(0, 1)``.
            seed: Seed of the random generator.

        Returns:
            ``(train, test)``, each keeping the inputs' original order.

        Raises:
            BenchmarkFormatError: If ``test_size`` is not in ``(0, 1)`` or a part would
                be empty.
        """
        is_test = _test_rows(self, test_size, seed)
        note = f"random split (test_size={test_size}, seed={seed}, stratified by task)"
        train = _derive(self, np.flatnonzero(~is_test), name=f"{self.name}/train", note=note)
        test = _derive(self, np.flatnonzero(is_test), name=f"{self.name}/test", note=note)
        return train, test

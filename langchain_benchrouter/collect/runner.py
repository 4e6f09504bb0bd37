"""Evaluate your chat models on a benchmark's inputs and grade them into a :class:`Benchmark`.

:func:`collect` (and its async twin :func:`acollect`) sends each input's text as one human
message to each of your chat models, grades every answer against the input's reference
answer, and returns a :class:`~langchain_benchrouter.data.benchmark.Benchmark` of your
models' scores on those inputs, with measured per-call costs and latencies: exactly what
a :class:`~langchain_benchrouter.Router` needs to route among your own models.

How a run proceeds:

1. Every option is checked, every task's grader is resolved (the task's ``metric``
   picks it unless ``graders=`` says otherwise) and every model is resolved (an
   ``init_chat_model`` string with a missing provider package or API key fails here),
   before anything is spent.
2. The store (``store=path``, SQLite) is opened; a store made for other inputs is
   refused. Calls already stored are skipped: the plan counts the calls left and
   estimates their cost from the models' prices. ``dry_run=True`` stops here and
   returns the :class:`CollectionPlan` (no model is called). ``max_cost`` refuses to
   start when the estimate exceeds it.
3. **Preflight**: one short call per model (:data:`PREFLIGHT_PROMPT`) checks that its
   credentials and configuration work; an authentication, permission or configuration
   error stops the run before any input is sent. These calls are the only spend before
   the run is confirmed.
4. The calls run concurrently (``concurrency`` at a time per model), each with a
   timeout, retried with exponential backoff and jitter on rate limits and transient
   errors (HTTP 408/409/425/429/5xx, timeouts, connection errors: recognised by status
   code or exception class name, whatever the provider package). Each result is
   committed to the store as it arrives; a call that still fails is stored with its
   error and scores ``NaN``. The run stops once the measured spend reaches ``max_cost``.
5. Every stored answer is graded (grades are stored per grader name, so
   :func:`regrade` with another grader makes no new calls) and the benchmark assembled.

A run killed at any point (even ``kill -9``) resumes from its store when started again
with the same inputs: no committed result is lost or made again; only the calls that were
in flight (at most ``concurrency`` per model) are made again.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypedDict, Unpack, overload

from langchain_benchrouter.collect._assembly import graded_benchmark
from langchain_benchrouter.collect._calls import (
    PREFLIGHT_PROMPT,
    CallResult,
    RunState,
    preflight_all,
    run_calls,
)
from langchain_benchrouter.collect._grading import GraderSpec, GradingJob, resolve_graders
from langchain_benchrouter.collect._plan import (
    CollectionPlan,
    ModelPlan,
    check_budget,
    plan_calls,
)
from langchain_benchrouter.collect._retries import classify_error
from langchain_benchrouter.collect._run_setup import (
    OptionError,
    RunOptions,
    check_float,
    check_int,
    check_option_names,
    inputs_of,
    model_prices,
    rate_limiters,
    resolve_models,
)
from langchain_benchrouter.collect.store import CollectionStore
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.errors import CollectionError

__all__ = [
    "PREFLIGHT_PROMPT",
    "CallResult",
    "CollectOptions",
    "CollectionPlan",
    "GraderSpec",
    "ModelPlan",
    "RegradeOptions",
    "acollect",
    "aregrade",
    "classify_error",
    "collect",
    "regrade",
]


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class CollectOptions(TypedDict, total=False):
    """The keyword options of :func:`collect` and :func:`acollect` (see :func:`collect`)."""

    graders: GraderSpec | Mapping[str, GraderSpec] | None
    store: str | os.PathLike[str] | None
    concurrency: int
    max_retries: int
    timeout: float | None
    max_cost: float | None
    allow_code_execution: bool
    progress: bool
    model_info: Mapping[str, Mapping[str, Any]] | None
    expected_output_tokens: int
    tokenizer: Callable[[str], int] | None
    preflight: bool
    retry_failed: bool
    requests_per_second: float | Mapping[str, float] | None
    backoff: float
    max_backoff: float
    on_result: Callable[[CallResult], None] | None
    name: str | None


async def _collect(
    models: Mapping[str, Any],
    inputs: Benchmark,
    *,
    graders: GraderSpec | Mapping[str, GraderSpec] | None = None,
    store: str | os.PathLike[str] | None = None,
    concurrency: int = 4,
    max_retries: int = 5,
    timeout: float | None = 120.0,
    max_cost: float | None = None,
    dry_run: bool,
    allow_code_execution: bool = False,
    progress: bool = True,
    model_info: Mapping[str, Mapping[str, Any]] | None = None,
    expected_output_tokens: int = 256,
    tokenizer: Callable[[str], int] | None = None,
    preflight: bool = True,
    retry_failed: bool = False,
    requests_per_second: float | Mapping[str, float] | None = None,
    backoff: float = 1.0,
    max_backoff: float = 60.0,
    on_result: Callable[[CallResult], None] | None = None,
    name: str | None = None,
) -> Benchmark | CollectionPlan:
    """The run behind :func:`collect` and :func:`acollect`."""
    opts = RunOptions(
        concurrency=check_int("concurrency", concurrency, 1),
        max_retries=check_int("max_retries", max_retries, 0),
        timeout=None if timeout is None else check_float("timeout", timeout, positive=True),
        max_cost=None if max_cost is None else check_float("max_cost", max_cost, positive=False),
        expected_output_tokens=check_int("expected_output_tokens", expected_output_tokens, 0),
        tokenizer=tokenizer,
        backoff=check_float("backoff", backoff, positive=False),
        max_backoff=check_float("max_backoff", max_backoff, positive=False),
        preflight=bool(preflight),
        retry_failed=bool(retry_failed),
        progress=bool(progress),
        on_result=on_result,
        limiters={},
    )
    if tokenizer is not None and not callable(tokenizer):
        msg = f"tokenizer must be a callable text -> token count, got {tokenizer!r}"
        raise OptionError(msg)
    stored_inputs = inputs_of(inputs)
    grader_map = resolve_graders(graders, stored_inputs, allow_code_execution=allow_code_execution)
    resolved = resolve_models(models)
    names = list(resolved)
    infos = model_prices(names, model_info, inputs.model_info)
    opts.limiters = rate_limiters(names, requests_per_second)
    for model_name, (_, identity) in resolved.items():
        infos[model_name]["model"] = identity

    if dry_run:
        exists = store is not None and str(store) != ":memory:" and os.path.exists(store)
        if not exists:
            everything = range(len(stored_inputs.texts))
            return plan_calls(names, None, everything, stored_inputs, infos, opts)[0]
        with CollectionStore(store, lock=False) as db:
            positions = db.bind_inputs(stored_inputs, check_only=True)
            for model_name, (_, identity) in resolved.items():
                db.register_model(model_name, identity, infos[model_name], check_only=True)
            return plan_calls(names, db, positions, stored_inputs, infos, opts)[0]

    with CollectionStore(store) as db:
        positions = db.bind_inputs(stored_inputs)
        for model_name, (_, identity) in resolved.items():
            db.register_model(model_name, identity, infos[model_name])
        plan, pending = plan_calls(names, db, positions, stored_inputs, infos, opts)
        check_budget(plan, opts.max_cost)
        state = RunState(max_cost=opts.max_cost)
        pending = {k: v for k, v in pending.items() if v}
        chats = {k: resolved[k][0] for k in names}
        if pending and opts.preflight:
            await preflight_all({k: chats[k] for k in pending}, infos, opts, state)
        if pending:
            await run_calls(chats, pending, stored_inputs, positions, infos, db, opts, state)
        state.raise_if_stopped(pending, db.path)
        notes = [
            f"this run made {state.calls} calls (plus {len(pending) if opts.preflight else 0}"
            f" preflight) and spent ${state.spent:.6f} (measured; unpriced calls count 0)"
        ]
        return await graded_benchmark(
            GradingJob(db, stored_inputs, positions, names, grader_map),
            concurrency=opts.concurrency,
            progress=opts.progress,
            name=name or f"{inputs.name}-collected",
            notes=notes,
        )


@overload
async def acollect(
    models: Mapping[str, Any],
    inputs: Benchmark,
    *,
    dry_run: Literal[False] = ...,
    **options: Unpack[CollectOptions],
) -> Benchmark: ...


@overload
async def acollect(
    models: Mapping[str, Any],
    inputs: Benchmark,
    *,
    dry_run: Literal[True],
    **options: Unpack[CollectOptions],
) -> CollectionPlan: ...


async def acollect(
    models: Mapping[str, Any],
    inputs: Benchmark,
    *,
    dry_run: bool = False,
    **options: Unpack[CollectOptions],
) -> Benchmark | CollectionPlan:
    """Async twin of :func:`collect` (same arguments, same result).

    Example:
        >>> bench = await acollect({"mini": "openai:gpt-4o-mini"}, inputs)  # doctest: +SKIP

    Args:
        models: As in :func:`collect`.
        inputs: As in :func:`collect`.
        dry_run: As in :func:`collect`.
        **options: As in :func:`collect`.

    Returns:
        As :func:`collect`.
    """
    check_option_names("acollect()", options, CollectOptions.__optional_keys__)
    return await _collect(models, inputs, dry_run=dry_run, **options)


@overload
def collect(
    models: Mapping[str, Any],
    inputs: Benchmark,
    *,
    dry_run: Literal[False] = ...,
    **options: Unpack[CollectOptions],
) -> Benchmark: ...


@overload
def collect(
    models: Mapping[str, Any],
    inputs: Benchmark,
    *,
    dry_run: Literal[True],
    **options: Unpack[CollectOptions],
) -> CollectionPlan: ...


def collect(
    models: Mapping[str, Any],
    inputs: Benchmark,
    *,
    dry_run: bool = False,
    **options: Unpack[CollectOptions],
) -> Benchmark | CollectionPlan:
    """Evaluate chat models on a benchmark's inputs and grade them into a new benchmark.

    See the module docstring for how a run proceeds. The only money spent before the
    run is confirmed (options checked, graders and models resolved, the store matching,
    the estimate within ``max_cost``) is the one short preflight call per model.

    Example:
        >>> from langchain_benchrouter import Benchmark
        >>> from langchain_benchrouter.collect.runner import collect
        >>> inputs = Benchmark.bundled().select_tasks("mmlu")  # doctest: +SKIP
        >>> plan = collect({"mini": "openai:gpt-4o-mini"}, inputs, dry_run=True,
        ...                model_info={"mini": {"input_price": 0.15, "output_price": 0.6}})
        ... # doctest: +SKIP
        >>> bench = collect({"mini": "openai:gpt-4o-mini"}, inputs, store="mmlu.sqlite",
        ...                 max_cost=1.0)  # doctest: +SKIP
        >>> bench.save("my_models")  # doctest: +SKIP

    Args:
        models: ``{name: chat model}``: a LangChain chat model instance (any runnable
            taking a list of messages) or an ``init_chat_model`` string
            (``"openai:gpt-4o-mini"``).
        inputs: A benchmark whose texts are sent (each as one human message) and whose
            ``references`` the answers are graded against; its scores are not used.
        graders: How to grade: ``None`` picks each task's grader from its ``metric``
            (:func:`~langchain_benchrouter.collect.graders.grader_for_metric`); one
            grader spec (a name, a ``Grader`` or a callable) grades every task; a mapping
            ``{task: spec}`` overrides some tasks.
        store: An SQLite file to keep every result in and resume from (created if
            missing; refused if made for other inputs). ``None``: in memory, nothing
            survives the process.
        concurrency: Calls in flight at once per model (>= 1).
        max_retries: Retries of a call after a transient error (>= 0).
        timeout: Seconds one attempt may take (``None``: no limit); a timeout is retried.
        max_cost: USD this run may spend: refused up front when the estimate exceeds
            it; stopped (:class:`~langchain_benchrouter.errors.CostLimitError`) once the
            measured spend reaches it (calls in flight still finish and are stored).
            Needs both prices of every model with calls left.
        dry_run: Return the :class:`CollectionPlan` (calls per model, skipping what the
            store holds, and the estimated cost) without calling any model.
        allow_code_execution: Let code-running graders (``code_eval``) run model code.
        progress: Show a progress bar per model on stderr (only on a terminal).
        model_info: ``{name: {"input_price": ..., "output_price": ...}}`` in USD per
            million tokens; a model named like one of ``inputs.models`` falls back to
            its prices there.
        expected_output_tokens: Output tokens per call assumed by the estimate.
        tokenizer: Counts the tokens of a text for the estimate (and for the cost of a
            call whose model reports no ``usage_metadata``); default ``ceil(chars / 4)``.
        preflight: Make the one preflight call per model (see above).
        retry_failed: Call again the inputs stored as failed.
        requests_per_second: Rate limit per model (one number for all, or per name),
            with langchain-core's ``InMemoryRateLimiter``.
        backoff: First retry wait in seconds (doubling, plus up to as much jitter).
        max_backoff: Longest retry wait in seconds (also caps a ``Retry-After``).
        on_result: Called with each :class:`CallResult` right after it is committed.
        name: The returned benchmark's name (default ``"<inputs name>-collected"``).
        **options: The options above but ``dry_run`` (:class:`CollectOptions`).

    Returns:
        A :class:`~langchain_benchrouter.data.benchmark.Benchmark` of the models' graded
        scores on ``inputs`` (``NaN`` where a call failed after its retries, counted in
        ``notes``), keeping ``references`` and ``metrics``, with ``costs`` the measured
        cost of each call and ``model_info`` holding each model's prices, ``model`` (what
        it was configured as), ``cost_per_call`` (mean USD), ``latency_s`` (median
        seconds of a successful call), ``latency_mean_s``, ``input_tokens_per_call`` and
        ``output_tokens_per_call`` (means over the calls that reported
        ``usage_metadata``), ``calls`` and ``failed_calls``. With ``dry_run=True``, the
        :class:`CollectionPlan`.

    Raises:
        CollectionError: A bad option, a store made for other inputs or in use, or a
            model with no graded answer at all.
        CostLimitError: The estimate exceeds ``max_cost``, or the spend reached it.
        ModelConfigError: A model cannot be created, or fails its preflight call with an
            authentication, permission or configuration error (also raised, with the
            run stopped, on an authentication error during the run).
        GraderError: No grader for a task, or a grader needs references the inputs lack.
    """
    check_option_names("collect()", options, CollectOptions.__optional_keys__)
    if _loop_running():
        msg = (
            "collect() was called inside a running event loop (e.g. a notebook or an async "
            "app): use `await acollect(...)` instead"
        )
        raise CollectionError(msg)
    return asyncio.run(_collect(models, inputs, dry_run=dry_run, **options))


async def aregrade(
    store: str | os.PathLike[str],
    graders: GraderSpec | Mapping[str, GraderSpec] | None = None,
    *,
    models: Sequence[str] | None = None,
    allow_code_execution: bool = False,
    concurrency: int = 4,
    progress: bool = True,
    name: str | None = None,
) -> Benchmark:
    """Async twin of :func:`regrade`."""
    concurrency = check_int("concurrency", concurrency, 1)
    if not os.path.exists(store):
        msg = f"no collection store at {store}: collect into it first"
        raise CollectionError(msg)
    with CollectionStore(store) as db:
        inputs = db.inputs()
        grader_map = resolve_graders(graders, inputs, allow_code_execution=allow_code_execution)
        stored = db.models()
        chosen = stored if models is None else list(models)
        unknown = [m for m in chosen if m not in stored]
        if unknown or not chosen:
            msg = f"the store has no model(s) {unknown or chosen}; it has {stored}"
            raise CollectionError(msg)
        return await graded_benchmark(
            GradingJob(db, inputs, range(len(inputs.texts)), chosen, grader_map),
            concurrency=concurrency,
            progress=progress,
            name=name or f"{inputs.name}-collected",
            notes=["regraded from the stored answers (no model was called)"],
        )


class RegradeOptions(TypedDict, total=False):
    """The keyword options of :func:`regrade` and :func:`aregrade` (see :func:`regrade`)."""

    models: Sequence[str] | None
    allow_code_execution: bool
    concurrency: int
    progress: bool
    name: str | None


def regrade(
    store: str | os.PathLike[str],
    graders: GraderSpec | Mapping[str, GraderSpec] | None = None,
    **options: Unpack[RegradeOptions],
) -> Benchmark:
    """Grade the answers stored by a collection run again, without calling any model.

    Grades already stored under a grader's name are reused; the others are computed and
    stored. The inputs come from the store itself.

    Example:
        >>> bench = regrade("mmlu.sqlite", "exact_match")  # doctest: +SKIP

    Args:
        store: The store file of a :func:`collect` run.
        graders: As in :func:`collect` (``None``: each task's metric picks its grader).
        models: The stored models to include, in order (default: all, as collected).
        allow_code_execution: Let code-running graders run model code.
        concurrency: Grades computed at once.
        progress: Show progress on stderr (only on a terminal).
        name: The benchmark's name.
        **options: The options above but ``store`` and ``graders``
            (:class:`RegradeOptions`).

    Returns:
        The benchmark, as :func:`collect` returns it.

    Raises:
        CollectionError: No store at that path, or it lacks the models.
        GraderError: As in :func:`collect`.
    """
    check_option_names("regrade()", options, RegradeOptions.__optional_keys__)
    if _loop_running():
        msg = "regrade() was called inside a running event loop: use `await aregrade(...)`"
        raise CollectionError(msg)
    return asyncio.run(aregrade(store, graders, **options))

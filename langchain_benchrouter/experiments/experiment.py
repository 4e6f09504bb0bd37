"""Prompt-level A/B experiments: a Runnable that splits traffic between arms.

An :class:`Experiment` assigns every prompt to one of its arms (the router in any
configuration, a fixed chat model, or any other runnable) by a stable hash of a unit
key and the experiment's name, so the same key lands in the same arm in every process
and after every restart. It calls that arm, tags the run with the experiment, the arm
and the model (so LangSmith and other tracers can group by them), and appends an
:class:`~langchain_benchrouter.experiments.exposure_log.Exposure` to the exposure log. Scores
recorded later with :meth:`Experiment.record_feedback` feed the report
(:mod:`langchain_benchrouter.experiments.report`) and can become labels of the router
(:func:`~langchain_benchrouter.experiments.report.feedback_to_labels`). The assignment
draw lives in ``_assignment``, the reading of an arm's output in ``_arm_output``.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from langchain_core.callbacks import (
    AsyncCallbackManagerForChainRun,
    CallbackManagerForChainRun,
)
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import BaseMessage
from langchain_core.runnables import Runnable, RunnableConfig, RunnableSerializable
from langchain_core.runnables.config import ensure_config, patch_config, run_in_executor
from langchain_core.runnables.utils import ConfigurableFieldSpec, get_unique_config_specs
from pydantic import ConfigDict, Field, PrivateAttr, SkipValidation
from typing_extensions import override

from langchain_benchrouter.errors import BenchRouterError, ExperimentError
from langchain_benchrouter.experiments._arm_output import Chunks, message_of, usage
from langchain_benchrouter.experiments._assignment import assign_arm, bucket, check_weights, pick
from langchain_benchrouter.experiments.exposure_log import (
    Exposure,
    ExposureLog,
    ExposureLogError,
    Feedback,
    UnknownRunError,
    open_log,
    unit_hash,
)
from langchain_benchrouter.langchain._decision import METADATA_KEY as ROUTER_METADATA_KEY
from langchain_benchrouter.langchain._decision import annotate
from langchain_benchrouter.langchain.messages import routing_text

if TYPE_CHECKING:
    from langchain_benchrouter.core.router import Router
    from langchain_benchrouter.experiments.report import ExperimentReport, LabeledFeedback

__all__ = ["METADATA_KEY", "Experiment", "ExperimentError", "assign_arm", "unit_hash"]

logger = logging.getLogger(__name__)

METADATA_KEY = "benchrouter_experiment"
"""Key of the experiment's record in ``response_metadata`` and of its name in run metadata."""


class Experiment(RunnableSerializable[LanguageModelInput, Any]):
    """A prompt-level A/B experiment between arms, usable wherever a chat model goes.

    Each call is assigned to an arm by a stable hash of its unit key (by default the
    text of the latest human message; or a user id passed as
    ``config={"configurable": {"unit_id": ...}}`` or in ``config["metadata"]``) salted
    with the experiment's name, with the given weights. The arm's run is a child of the
    experiment's run; both carry the metadata ``benchrouter_experiment`` (the name),
    ``benchrouter_arm``, ``benchrouter_unit`` (the key hash) and ``benchrouter_model``
    (the model, when the arm has a fixed one; a router arm's choice is added to the
    experiment's run when it ends), and the tags ``experiment:NAME``, ``arm:ARM`` and
    ``model:MODEL``. A message output gets ``response_metadata["benchrouter_experiment"]``
    with the experiment, arm, model, unit hash and run id (the id to record feedback for).

    Args:
        name: the experiment's name (also the salt of the assignment and the run name).
        arms: the arms: a :class:`~langchain_benchrouter.langchain.runnable.RoutedChatModel`, a chat
            model, or any runnable taking the experiment's input.
        weights: traffic share per arm (any non-negative numbers; default equal). Arms
            left out get weight 0.
        log: the exposure log: a SQLite file path or an
            :class:`~langchain_benchrouter.experiments.exposure_log.ExposureLog`; ``None`` logs
            nothing (assignment and tracing still work).
        arm_models: the model behind a fixed arm, for the log and the price table
            (default: the arm's ``model_name``/``model`` attribute, else the output's
            ``response_metadata``). A router arm reports its own choice.
        prices: USD per million tokens per model, ``{"model": {"input": 0.15,
            "output": 0.6}}``; the exposure's cost is computed from the message's
            ``usage_metadata`` when both are known.
        unit_key: a function from the input to the unit key (overrides the default).
        unit_id_key: the ``configurable``/``metadata`` key of a user-supplied unit id.
        salt: the assignment salt (default: ``name``); change it to re-randomise.
        raise_on_log_error: raise when the exposure cannot be logged (default: log a
            warning and return the answer anyway).

    Example:
        >>> from langchain_core.language_models import FakeListChatModel
        >>> exp = Experiment(
        ...     name="router-vs-small",
        ...     arms={"router": FakeListChatModel(responses=["A"]),
        ...           "small": FakeListChatModel(responses=["B"])},
        ...     weights={"router": 0.5, "small": 0.5},
        ... )
        >>> exp.arm_for_key("What is 2 + 2?") == exp.arm_for("What is 2 + 2?")
        True
        >>> exp.invoke("What is 2 + 2?").response_metadata["benchrouter_experiment"]["arm"]
        'router'
    """

    name: str  # required here (Runnable's is optional)
    arms: dict[str, Runnable[Any, Any]]
    weights: dict[str, float] | None = None
    log: SkipValidation[ExposureLog | str | os.PathLike[str] | None] = None
    arm_models: dict[str, str] = Field(default_factory=dict)
    prices: dict[str, dict[str, float]] = Field(default_factory=dict)
    unit_key: SkipValidation[Callable[[Any], str] | None] = None
    unit_id_key: str = "unit_id"
    salt: str | None = None
    raise_on_log_error: bool = False

    model_config = ConfigDict(arbitrary_types_allowed=True)

    _log: ExposureLog | None = PrivateAttr(default=None)
    _arm_names: list[str] = PrivateAttr(default_factory=list)
    _arm_weights: list[float] = PrivateAttr(default_factory=list)

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)
        self._setup()

    def _setup(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            msg = "an experiment needs a non-empty name"
            raise ExperimentError(msg)
        names = list(self.arms)
        if weights := self.weights:
            unknown = [a for a in weights if a not in self.arms]
            if unknown:
                msg = f"weights name unknown arm(s) {unknown}; the arms are {names}"
                raise ExperimentError(msg)
            ws = [float(weights.get(a, 0.0)) for a in names]
        else:
            ws = [1.0] * len(names)
        check_weights(names, ws)
        if unknown := [a for a in self.arm_models if a not in self.arms]:
            msg = f"arm_models name unknown arm(s) {unknown}; the arms are {names}"
            raise ExperimentError(msg)
        for model, price in self.prices.items():
            if set(price) - {"input", "output"} or not all(
                math.isfinite(v) and v >= 0 for v in price.values()
            ):
                msg = (
                    f"prices[{model!r}] must be {{'input': USD/1M tokens, 'output': USD/1M "
                    f"tokens}} with non-negative numbers, got {price!r}"
                )
                raise ExperimentError(msg)
        self._arm_names, self._arm_weights = names, ws
        if self.log is not None:
            try:
                self._log = open_log(self.log)
            except TypeError as exc:
                raise ExperimentError(str(exc)) from exc

    @property
    def exposure_log(self) -> ExposureLog | None:
        """The opened exposure log (``None`` when the experiment logs nothing)."""
        return self._log

    # ------------------------------------------------------------------ assignment
    @property
    def experiment_salt(self) -> str:
        """The salt of the assignment hash (``salt`` or the name)."""
        return self.salt if self.salt is not None else self.name

    def unit_key_of(self, input: Any, config: RunnableConfig | None = None) -> str:
        """The unit key of a call: the configured unit id, else ``unit_key(input)``, else its text.

        Args:
            input: the call's input.
            config: the call's config (read for ``configurable``/``metadata`` ``unit_id``).

        Returns:
            The key.

        Raises:
            ExperimentError: the input has no text and no unit id is given.
        """
        config = config or {}
        for where in ("configurable", "metadata"):
            section = cast("Mapping[str, Any]", config.get(where) or {})
            value = section.get(self.unit_id_key)
            if value is not None:
                return str(value)
        if self.unit_key is not None:
            return str(self.unit_key(input))
        try:
            text = routing_text(input, "last_human")
        except BenchRouterError:
            text = ""
        if not text and isinstance(input, Mapping):
            text = "\n".join(f"{k}={input[k]}" for k in sorted(input, key=str))
        if not text:
            msg = (
                "cannot derive a unit key: the input has no text; pass a unit id as "
                f"config={{'configurable': {{{self.unit_id_key!r}: ...}}}} or set unit_key="
            )
            raise ExperimentError(msg)
        return text

    def arm_for_key(self, key: str) -> str:
        """The arm of a unit key (deterministic across processes and restarts).

        Args:
            key: the unit key.

        Returns:
            The arm's name.
        """
        return pick(
            bucket(unit_hash(self.experiment_salt, key)), self._arm_names, self._arm_weights
        )

    def arm_for(self, input: Any, config: RunnableConfig | None = None) -> str:
        """The arm a call with this input and config goes to."""
        return self.arm_for_key(self.unit_key_of(input, config))

    # ------------------------------------------------------------------ models and costs
    def _static_model(self, arm: str) -> str | None:
        if arm in self.arm_models:
            return self.arm_models[arm]
        runnable = self.arms[arm]
        for attr in ("model_name", "model"):
            value = getattr(runnable, attr, None)
            if isinstance(value, str) and value:
                return value
        return None

    def _model_of(self, arm: str, message: BaseMessage | None) -> str | None:
        meta: Mapping[str, Any] = message.response_metadata if message is not None else {}
        routed = meta.get(ROUTER_METADATA_KEY)
        if isinstance(routed, Mapping) and isinstance(routed.get("model"), str):
            return cast("str", routed["model"])
        static = self._static_model(arm)
        if static is not None:
            return static
        for key in ("model_name", "model"):
            value = meta.get(key)
            if isinstance(value, str) and value:
                return value
        return None

    def _cost(
        self, model: str | None, tokens_in: int | None, tokens_out: int | None
    ) -> float | None:
        price = self.prices.get(model) if model is not None else None
        if price is None or tokens_in is None or tokens_out is None:
            return None
        return (tokens_in * price.get("input", 0.0) + tokens_out * price.get("output", 0.0)) / 1e6

    # ------------------------------------------------------------------ config and tracing
    @property
    @override
    def InputType(self) -> Any:
        """The input type: whatever the arms take (chat model input by default)."""
        return next(iter(self.arms.values())).InputType

    @property
    @override
    def config_specs(self) -> list[ConfigurableFieldSpec]:
        """The unit id knob plus the arms' own knobs."""
        mine = ConfigurableFieldSpec(
            id=self.unit_id_key,
            annotation=str | None,
            name="Experiment unit id",
            description="Assign by this id (e.g. a user id) instead of the prompt text.",
            default=None,
        )
        return get_unique_config_specs(
            [mine, *(s for a in self.arms.values() for s in a.config_specs)]
        )

    def _prepare(
        self, input: Any, config: RunnableConfig | None, kwargs: dict[str, Any]
    ) -> tuple[RunnableConfig, _Call]:
        config = ensure_config(config)
        hashed = unit_hash(self.experiment_salt, self.unit_key_of(input, config))
        arm = pick(bucket(hashed), self._arm_names, self._arm_weights)
        model = self._static_model(arm)
        metadata = {
            **(config.get("metadata") or {}),
            METADATA_KEY: self.name,
            "benchrouter_arm": arm,
            "benchrouter_unit": hashed,
        }
        tags = [*(config.get("tags") or []), f"experiment:{self.name}", f"arm:{arm}"]
        if model is not None:
            metadata["benchrouter_model"] = model
            tags.append(f"model:{model}")
        config = cast("RunnableConfig", {**config, "metadata": metadata, "tags": tags})
        return config, _Call(arm, hashed, kwargs)

    @staticmethod
    def _tag_run(run_manager: Any, model: str | None, static: str | None) -> None:
        """Add a router arm's choice to the experiment's run in the tracers (before it ends)."""
        if model is None or model == static:
            return
        for handler in getattr(run_manager, "handlers", []):
            run = getattr(handler, "run_map", {}).get(str(run_manager.run_id))
            if run is None:
                continue
            try:
                run.extra.setdefault("metadata", {})["benchrouter_model"] = model
                run.tags = [*(run.tags or []), f"model:{model}"]
            except (AttributeError, TypeError):  # pragma: no cover - an unusual tracer
                continue

    # ------------------------------------------------------------------ logging
    def _exposure(
        self, call: _Call, run_id: str, output: Any, latency: float, error: BaseException | None
    ) -> Exposure:
        arm = call.arm
        message = message_of(output)
        model = self._model_of(arm, message)
        tin, tout, total = usage(message)
        return Exposure(
            experiment=self.name,
            arm=arm,
            unit_hash=call.hashed,
            run_id=run_id,
            model=model,
            latency_s=latency,
            input_tokens=tin,
            output_tokens=tout,
            total_tokens=total,
            cost=self._cost(model, tin, tout),
            error=None if error is None else f"{type(error).__name__}: {error}"[:500],
        )

    def _write(self, exposure: Exposure) -> None:
        if self._log is None:
            return
        try:
            self._log.log_exposures([exposure])
        except ExposureLogError:
            if self.raise_on_log_error:
                raise
            logger.warning(
                "experiment %r: exposure %s not logged", self.name, exposure.run_id, exc_info=True
            )

    def _finish(self, exposure: Exposure, output: Any) -> Any:
        info = {
            "experiment": self.name,
            "arm": exposure.arm,
            "model": exposure.model,
            "unit_hash": exposure.unit_hash,
            "run_id": exposure.run_id,
        }
        return annotate(output, info, METADATA_KEY)

    def _begin(
        self, run_manager: Any, config: RunnableConfig, call: _Call
    ) -> tuple[RunnableConfig, Callable[..., Exposure]]:
        """The arm's config, and the timer that makes this run's exposure.

        ``timed(output, error=None, first=False)`` is the exposure with the latency from
        now (0 for the ``first`` chunk of a stream, whose model is known by then).
        """
        child = patch_config(config, callbacks=run_manager.get_child())
        start = time.perf_counter()
        run_id = str(run_manager.run_id)

        def timed(output: Any, error: BaseException | None = None, first: bool = False) -> Exposure:
            latency = 0.0 if first else time.perf_counter() - start
            return self._exposure(call, run_id, output, latency, error)

        return child, timed

    def _ended(self, run_manager: Any, call: _Call, exposure: Exposure) -> Exposure:
        """Tag the run with the model the arm chose; returns ``exposure``, to be logged."""
        self._tag_run(run_manager, exposure.model, self._static_model(call.arm))
        return exposure

    # ------------------------------------------------------------------ invoke
    def _run(
        self,
        value: Any,
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
        call: _Call,
    ) -> Any:
        child, timed = self._begin(run_manager, config, call)
        try:
            output = self.arms[call.arm].invoke(value, child, **call.kwargs)
        except BaseException as exc:
            self._write(timed(None, exc))
            raise
        exposure = self._ended(run_manager, call, timed(output))
        self._write(exposure)
        return self._finish(exposure, output)

    async def _arun(
        self,
        value: Any,
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
        call: _Call,
    ) -> Any:
        child, timed = self._begin(run_manager, config, call)
        try:
            output = await self.arms[call.arm].ainvoke(value, child, **call.kwargs)
        except BaseException as exc:
            await run_in_executor(None, self._write, timed(None, exc))
            raise
        exposure = self._ended(run_manager, call, timed(output))
        await run_in_executor(None, self._write, exposure)
        return self._finish(exposure, output)

    @override
    def invoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Any:
        """Assign the input to an arm, call it, log the exposure; returns the arm's output."""
        config, call = self._prepare(input, config, kwargs)
        return self._call_with_config(partial(self._run, call=call), input, config)

    @override
    async def ainvoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Any:
        """Async :meth:`invoke` (the log write runs in an executor)."""
        config, call = self._prepare(input, config, kwargs)
        return await self._acall_with_config(partial(self._arun, call=call), input, config)

    # ------------------------------------------------------------------ streaming
    def _stream_run(
        self,
        values: Iterator[Any],
        run_manager: CallbackManagerForChainRun,
        config: RunnableConfig,
        call: _Call,
    ) -> Iterator[Any]:
        value = next(values)
        child, timed = self._begin(run_manager, config, call)
        chunks = Chunks(self._finish, timed)
        try:
            for chunk in self.arms[call.arm].stream(value, child, **call.kwargs):
                yield chunks.take(chunk)
        except GeneratorExit:
            self._write(timed(chunks.total))
            raise
        except BaseException as exc:
            self._write(timed(chunks.total, exc))
            raise
        self._write(self._ended(run_manager, call, timed(chunks.total)))

    async def _astream_run(
        self,
        values: AsyncIterator[Any],
        run_manager: AsyncCallbackManagerForChainRun,
        config: RunnableConfig,
        call: _Call,
    ) -> AsyncIterator[Any]:
        value = await anext(values)
        child, timed = self._begin(run_manager, config, call)
        chunks = Chunks(self._finish, timed)
        try:
            async for chunk in self.arms[call.arm].astream(value, child, **call.kwargs):
                yield chunks.take(chunk)
        except GeneratorExit:
            self._write(timed(chunks.total))
            raise
        except BaseException as exc:
            await run_in_executor(None, self._write, timed(chunks.total, exc))
            raise
        exposure = self._ended(run_manager, call, timed(chunks.total))
        await run_in_executor(None, self._write, exposure)

    @override
    def stream(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> Iterator[Any]:
        """Stream the arm's chunks (the first carries the experiment's record); logs at the end."""
        config, call = self._prepare(input, config, kwargs)
        run = partial(self._stream_run, call=call)
        yield from self._transform_stream_with_config(iter([input]), run, config)

    @override
    async def astream(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any | None
    ) -> AsyncIterator[Any]:
        """Async :meth:`stream`."""
        config, call = self._prepare(input, config, kwargs)

        async def single() -> AsyncIterator[Any]:
            yield input

        run = partial(self._astream_run, call=call)
        async for chunk in self._atransform_stream_with_config(single(), run, config):
            yield chunk

    # ------------------------------------------------------------------ feedback
    def _require_log(self) -> ExposureLog:
        if self._log is None:
            msg = f"experiment {self.name!r} has no exposure log (pass log=PATH)"
            raise ExperimentError(msg)
        return self._log

    def record_feedback(
        self,
        score: float,
        *,
        run_id: str | None = None,
        key: str | None = None,
        metric: str = "score",
        comment: str | None = None,
    ) -> str:
        """Record a score for a run, or for the latest run of a unit key.

        Args:
            score: the score (e.g. 1.0/0.0 for thumbs up/down, or a grade in [0, 1]).
            run_id: the run's id (``response_metadata["benchrouter_experiment"]["run_id"]``,
                or the ``run_id`` you passed in the config).
            key: the unit key (the prompt text, or the unit id); the latest exposure of
                that unit in this experiment gets the score.
            metric: the name of what is scored.
            comment: free text.

        Returns:
            The run id the score was recorded for.

        Raises:
            ExperimentError: neither or both of ``run_id`` and ``key`` given, or no log.
            UnknownRunError: no exposure for that run id or key.
        """
        log = self._require_log()
        if (run_id is None) == (key is None):
            msg = "pass exactly one of run_id= and key="
            raise ExperimentError(msg)
        if key is not None:
            runs = log.runs_for_unit(self.name, unit_hash(self.experiment_salt, key))
            if not runs:
                msg = f"no exposure of that unit key in experiment {self.name!r}"
                raise UnknownRunError(msg)
            run_id = runs[-1]
        assert run_id is not None
        log.log_feedback([Feedback(str(run_id), score, metric=metric, comment=comment)])
        return str(run_id)

    def report(
        self, *, metric: str = "score", alpha: float = 0.05, baseline: str | None = None
    ) -> ExperimentReport:
        """This experiment's report.

        See :func:`~langchain_benchrouter.experiments.report.compute_report`.
        """
        from langchain_benchrouter.experiments.report import compute_report

        return compute_report(
            self._require_log(), self.name, metric=metric, alpha=alpha, baseline=baseline
        )

    def feedback_labels(
        self,
        texts: Sequence[str] | Mapping[str, str],
        *,
        router: Router | None = None,
        metric: str = "score",
    ) -> LabeledFeedback:
        """This experiment's feedback as labelled inputs for ``Router.add_labeled``.

        See :func:`~langchain_benchrouter.experiments.report.feedback_to_labels`.
        """
        from langchain_benchrouter.experiments.report import feedback_to_labels

        return feedback_to_labels(
            self._require_log(),
            self.name,
            texts,
            router=router,
            metric=metric,
            salt=self.experiment_salt,
        )


@dataclass(frozen=True)
class _Call:
    """What one invoke or stream call runs: its arm, its unit's hash, the extra kwargs."""

    arm: str
    hashed: str
    kwargs: dict[str, Any]

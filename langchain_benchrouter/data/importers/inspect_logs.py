"""Import Inspect AI evaluation logs (``.eval`` or ``.json``), read with Inspect's log API."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from langchain_benchrouter.data._checks import _count, _fail, _listing, _short
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.data.importers._common import (
    PathLike,
    _assemble,
    _check_choice,
    _model_names,
    _paths,
    _Record,
    _Run,
    _score,
)
from langchain_benchrouter.errors import BenchmarkFormatError

__all__ = ["from_inspect"]

_TEXT_CHOICES = ("input", "user")
_VALUE_WORDS = frozenset({"yes", "no", "true", "false"})


def from_inspect(
    logs: PathLike | Any | Iterable[PathLike | Any],
    *,
    model: str | Sequence[str] | None = None,
    scorer: str | None = None,
    text: str = "input",
    name: str = "inspect",
    threshold: float = 0.5,
) -> Benchmark:
    """Read Inspect AI evaluation logs into a benchmark, one model per log.

    Each log is read with ``inspect_ai.log.read_eval_log`` (so every log format Inspect
    reads works). Per sample: its ``id`` becomes the instance id, its input the text,
    its ``target`` the reference, the chosen scorer's value the score (``C``/``I``/``P``/
    ``N``, booleans, ``yes``/``no`` and numbers are mapped by Inspect's own
    ``value_to_float``: 1, 0, 0.5, 0), and the evaluated model's ``total_cost`` (when
    Inspect priced the calls) the cost. Samples run over several epochs get their mean
    score and mean cost; samples that errored or were not scored stay ``NaN``. The mean
    input and output tokens per sample go into ``model_info`` (``mean_input_tokens``,
    ``mean_output_tokens``).

    Needs ``inspect-ai`` (``pip install inspect-ai``).

    Example:
        >>> bench = from_inspect("logs/")  # doctest: +SKIP
        >>> bench = from_inspect(["logs/a.eval", "logs/b.eval"], scorer="match")  # doctest: +SKIP

    Args:
        logs: A log file, a directory of logs (``*.eval`` and ``*.json``), an
            ``EvalLog`` object, or several of them.
        model: Model name(s) overriding the logs' (``log.eval.model``, e.g.
            ``"openai/gpt-4o"``): one name (one log) or one per log, in order.
        scorer: The scorer whose value is the score; by default each log's first.
        text: ``"input"``: the sample input as given (a chat input's message texts,
            joined by blank lines); ``"user"``: only its user messages' texts.
        name: The benchmark's name.
        threshold: Scores at or above it count as a success.

    Returns:
        The benchmark; ``notes`` say which scorer was used and what was skipped.

    Raises:
        BenchmarkFormatError: On a log Inspect cannot read, a log without samples,
            an unknown scorer (the log's scorers named), a score that is not a number in
            ``[0, 1]``, or duplicate sample ids.
        ImportError: If ``inspect-ai`` is not installed.
    """
    _check_choice("text", text, _TEXT_CHOICES)
    try:
        from inspect_ai.log import EvalLog, read_eval_log
    except ImportError as exc:  # pragma: no cover - depends on the environment
        msg = "from_inspect needs inspect-ai: pip install inspect-ai"
        raise ImportError(msg) from exc

    items: list[Any] = (
        list(logs) if isinstance(logs, Iterable) and not isinstance(logs, str) else [logs]
    )
    if isinstance(logs, EvalLog):
        items = [logs]
    sources: list[Any] = []
    for item in items:
        if isinstance(item, EvalLog):
            sources.append(item)
            continue
        for path in _paths(item, "logs"):
            if path.is_dir():
                found = sorted(
                    p for p in path.iterdir() if p.suffix in (".eval", ".json") and p.is_file()
                )
                if not found:
                    _fail(str(path), "no Inspect logs (*.eval, *.json) in the directory")
                sources.extend(found)
            else:
                sources.append(path)
    names = _model_names(model, len(sources), "log")
    notes: list[str] = []
    runs: list[_Run] = []
    for source, given in zip(sources, names, strict=True):
        if isinstance(source, Path):
            try:
                log = read_eval_log(str(source))
            except Exception as exc:  # Inspect raises ValueError, KeyError, zip errors...
                _fail(str(source), f"not a readable Inspect log ({type(exc).__name__}: {exc})")
        else:
            log = source
        runs.append(_read_log(log, given, scorer, text, notes))
    return _assemble(runs, name=name, threshold=threshold, notes=notes, kind="Inspect")


def _message_text(message: Any) -> str:
    content = getattr(message, "text", None)
    return content if isinstance(content, str) else ""


def _input_text(value: Any, mode: str, where: str) -> str:
    if isinstance(value, str):
        out = value
    elif isinstance(value, list):
        messages = [m for m in value if mode == "input" or getattr(m, "role", None) == "user"]
        out = "\n\n".join(t for t in (_message_text(m) for m in messages) if t.strip())
    else:
        _fail(where, f"sample input is neither text nor messages: {_short(value)}")
    if not out.strip():
        _fail(where, "sample input has no text")
    return out


def _value(value: Any, where: str, scorer: str) -> float:
    from inspect_ai.scorer import value_to_float

    if isinstance(value, list | dict):
        _fail(
            where,
            f"scorer {scorer!r} gives {_short(value)}, not one value; choose a scorer with a"
            " single value (scorer=)",
        )
    if isinstance(value, str):
        known = value in ("C", "I", "P", "N") or value.lower() in _VALUE_WORDS
        try:
            float(value)
            known = True
        except ValueError:
            pass
        if not known:
            _fail(
                where,
                f"scorer {scorer!r} gives {value!r}, which is not C, I, P, N, yes/no or a number",
            )
    return _score(value_to_float()(value), where, f"scorer {scorer!r} value")


def _read_log(log: Any, given: str | None, scorer: str | None, text: str, notes: list[str]) -> _Run:
    location = str(getattr(log, "location", "") or "<EvalLog>")
    model = given or log.eval.model
    task = log.eval.task
    samples = log.samples
    if not samples:
        _fail(location, "the log holds no samples (was it written with samples?)")
    available: list[str] = []
    if log.results is not None:
        available = [s.name for s in log.results.scores]
    for sample in samples:
        for key in sample.scores or {}:
            if key not in available:
                available.append(key)
    chosen = scorer
    if chosen is None:
        if not available:
            _fail(location, "no sample is scored")
        chosen = available[0]
    elif chosen not in available:
        _fail(
            location,
            f"scorer {chosen!r} is not in the log; its scorers: {_listing(available) or 'none'}",
        )
    per_id: dict[str, list[Any]] = {}
    for sample in samples:
        per_id.setdefault(str(sample.id), []).append(sample)
    run = _Run(model=model, source=location)
    errored = unscored = 0
    epochs = 1
    tokens_in: list[float] = []
    tokens_out: list[float] = []
    for iid, group in per_id.items():
        where = f"{location}, sample {iid!r}"
        epoch_list = [s.epoch for s in group]
        if len(set(epoch_list)) != len(epoch_list):
            _fail(location, f"duplicate sample id {iid!r} within one epoch")
        epochs = max(epochs, len(group))
        first = group[0]
        values: list[float] = []
        costs: list[float] = []
        for sample in group:
            if sample.error:
                errored += 1
                continue
            score = (sample.scores or {}).get(chosen)
            if score is None:
                unscored += 1
                continue
            values.append(_value(score.value, where, chosen))
            usage = (sample.model_usage or {}).get(log.eval.model)
            if usage is not None:
                tokens_in.append(float(usage.input_tokens))
                tokens_out.append(float(usage.output_tokens))
                if usage.total_cost is not None:
                    costs.append(float(usage.total_cost))
        target = first.target
        if isinstance(target, list):
            target = target[0] if target else None
        known = [v for v in values if not math.isnan(v)]
        run.records.append(
            _Record(
                task=task,
                instance_id=iid,
                text=_input_text(first.input, text, where),
                score=sum(known) / len(known) if known else math.nan,
                where=where,
                reference=target if isinstance(target, str) and target.strip() else None,
                metric=chosen,
                cost=sum(costs) / len(costs) if costs else math.nan,
            )
        )
    if tokens_in:
        run.info["mean_input_tokens"] = sum(tokens_in) / len(tokens_in)
        run.info["mean_output_tokens"] = sum(tokens_out) / len(tokens_out)
    status = getattr(log, "status", "success")
    if status != "success":
        notes.append(f"{location}: the log's status is {status!r}")
    if errored:
        notes.append(f"{location}: skipped {_count(errored, 'sample')} that errored")
    if unscored:
        notes.append(f"{location}: {_count(unscored, 'sample')} without a {chosen!r} score")
    if epochs > 1:
        notes.append(f"{location}: averaged the scores of up to {epochs} epochs per sample")
    notes.append(f"{task} ({model}): score = scorer {chosen!r}")
    if not run.records:  # pragma: no cover - samples is non-empty
        msg = f"{location}: no samples"
        raise BenchmarkFormatError(msg)
    return run

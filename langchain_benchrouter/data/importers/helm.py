"""Import HELM per-instance results (``helm-run`` run directories).

A HELM run directory (``benchmark_output/runs/<suite>/<run name>/``) holds, among
others, ``run_spec.json`` (the run's scenario, adapter and model),
``scenario_state.json`` (every request: the instance with its input, references and
split, the prompt sent, the completion) and ``per_instance_stats.json`` (per instance
and train trial, the statistics of every metric)::

    [{"instance_id": "id58485", "train_trial_index": 0,
      "stats": [{"name": {"name": "exact_match", "split": "test"},
                 "count": 1, "sum": 1, "mean": 1.0, ...}, ...]}, ...]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from langchain_benchrouter.data._checks import _count, _fail, _listing, _short
from langchain_benchrouter.data._formats import _read_json_file
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.data.importers import _common
from langchain_benchrouter.data.importers._common import PathLike

__all__ = ["HELM_MAIN_METRICS", "from_helm"]

HELM_MAIN_METRICS: tuple[str, ...] = (
    "math_equiv_chain_of_thought",
    "math_equiv",
    "final_number_exact_match",
    "exact_match",
    "quasi_exact_match",
    "prefix_exact_match",
    "quasi_prefix_exact_match",
    "f1_score",
    "rouge_l",
    "bleu_4",
)
"""The per-instance metrics taken as a run's main metric, in order of preference."""

_TEXT_CHOICES = ("input", "prompt")
_RUN_FILES = ("scenario_state.json", "per_instance_stats.json")


def from_helm(
    run_dirs: PathLike | Iterable[PathLike],
    *,
    metric: str | Mapping[str, str] | None = None,
    text: str = "input",
    name: str = "helm",
    threshold: float = 0.5,
) -> Benchmark:
    """Read HELM run directories into a benchmark, one model per run.

    The task of a run is its run-spec name without the ``model=`` (and
    ``model_deployment=``) arguments, so the runs of several models on one scenario
    share a task: ``bbq:subject=all,method=multiple_choice_joint,model=openai_gpt-4o``
    is task ``bbq:subject=all,method=multiple_choice_joint``. The model is the run
    spec's ``adapter_spec.model``. Per instance: its id, its input text (or the full
    prompt sent), the text of its ``correct`` reference, and the main metric's mean
    over the train trials. Perturbed instances (HELM's robustness and fairness
    variants) are skipped and counted in ``notes``.

    Example:
        >>> bench = from_helm("benchmark_output/runs/v1")  # doctest: +SKIP
        >>> bench = from_helm(["runs/v1/mmlu:subject=anatomy,model=openai_gpt2"],
        ...                   metric="exact_match")  # doctest: +SKIP

    Args:
        run_dirs: A run directory (with ``scenario_state.json`` and
            ``per_instance_stats.json``), a suite directory holding run directories,
            or several of them.
        metric: The metric to use as the score, for every task or ``{task: metric}``;
            by default the first of :data:`HELM_MAIN_METRICS` the run has.
        text: ``"input"``: the instance's input text; ``"prompt"``: the whole prompt
            sent to the model (instructions and in-context examples included).
        name: The benchmark's name.
        threshold: Scores at or above it count as a success.

    Returns:
        The benchmark; ``notes`` say which metric each task used and what was skipped.

    Raises:
        BenchmarkFormatError: On malformed files (file and record named), an unknown
            metric (the run's metrics named), or values outside ``[0, 1]``.
    """
    _common._check_choice("text", text, _TEXT_CHOICES)
    dirs: list[Path] = []
    for root in _common._paths(run_dirs, "run_dirs"):
        if not root.is_dir():
            _fail(str(root), "not a directory (give a HELM run directory)")
        if all((root / f).is_file() for f in _RUN_FILES):
            dirs.append(root)
            continue
        inner = sorted(
            d for d in root.iterdir() if d.is_dir() and all((d / f).is_file() for f in _RUN_FILES)
        )
        if not inner:
            missing = [f for f in _RUN_FILES if not (root / f).is_file()]
            _fail(
                str(root),
                f"not a HELM run directory (missing {_listing(missing)}) and holds no run"
                " directories",
            )
        dirs.extend(inner)
    notes: list[str] = []
    runs = [_read_run(d, metric, text, notes) for d in dirs]
    _common._check_per_task_keys(
        "metric", metric, {rec.task for run in runs for rec in run.records}
    )
    return _common._assemble(runs, name=name, threshold=threshold, notes=notes, kind="HELM")


def _get(obj: Any, key: str, where: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(obj, Mapping):
        _fail(where, f"expected a JSON object, got {_short(obj)}")
    if key not in obj:
        _fail(where, f"missing field {key!r}")
    value = obj[key]
    if not isinstance(value, kind):
        _fail(where, f"field {key!r} has the wrong type ({_short(value)})")
    return value


def _task_of(run_name: str) -> str:
    scenario, sep, args = run_name.partition(":")
    if not sep:
        return run_name
    kept = [a for a in args.split(",") if a.split("=")[0] not in ("model", "model_deployment")]
    return f"{scenario}:{','.join(kept)}" if kept else scenario


def _read_run(
    directory: Path, metric_option: str | Mapping[str, str] | None, text: str, notes: list[str]
) -> _common._Run:
    state_path = directory / "scenario_state.json"
    stats_path = directory / "per_instance_stats.json"
    spec_path = directory / "run_spec.json"
    state = _read_json_file(state_path)
    adapter = _get(state, "adapter_spec", str(state_path), dict)
    run_name = directory.name
    if spec_path.is_file():
        spec = _read_json_file(spec_path)
        run_name = _get(spec, "name", str(spec_path), str)
        adapter = _get(spec, "adapter_spec", str(spec_path), dict)
    model = _get(adapter, "model", f"{state_path}, adapter_spec", str)
    task = _task_of(run_name)

    # instances (the first request state of each unperturbed instance)
    instances: dict[str, dict[str, Any]] = {}
    perturbed = 0
    states = _get(state, "request_states", str(state_path), list)
    for k, rs in enumerate(states):
        where = f"{state_path}, request_states[{k}]"
        instance = _get(rs, "instance", where, dict)
        iid = _get(instance, "id", f"{where}.instance", str)
        if instance.get("perturbation"):
            perturbed += 1
            continue
        if iid in instances:
            continue
        inp = _get(instance, "input", f"{where}.instance", dict)
        if text == "prompt":
            request = _get(rs, "request", where, dict)
            body = _common._text(request.get("prompt"), f"{where}.request", "prompt")
        else:
            body = _common._text(inp.get("text"), f"{where}.instance.input", "text")
        refs = instance.get("references") or []
        correct = [
            r["output"]["text"]
            for r in refs
            if isinstance(r, Mapping)
            and "correct" in (r.get("tags") or [])
            and isinstance(r.get("output"), Mapping)
            and isinstance(r["output"].get("text"), str)
        ]
        split = instance.get("split") if isinstance(instance.get("split"), str) else None
        instances[iid] = {
            "text": body,
            "reference": correct[0] if correct else None,
            "split": split,
            "where": where,
        }
    if not instances:
        _fail(str(state_path), "no unperturbed instance in request_states")

    # per-instance stats: {instance: {metric: [mean per train trial]}}
    stats_doc = _read_json_file(stats_path)
    if not isinstance(stats_doc, list):
        _fail(str(stats_path), f"expected a JSON array, got {type(stats_doc).__name__}")
    values: dict[str, dict[str, list[tuple[float, str]]]] = {}
    seen_metrics: list[str] = []
    for k, entry in enumerate(stats_doc):
        where = f"{stats_path}, entry {k}"
        iid = _get(entry, "instance_id", where, str)
        if entry.get("perturbation"):
            continue
        for s, stat in enumerate(_get(entry, "stats", where, list)):
            swhere = f"{where}, stats[{s}]"
            stat_name = _get(stat, "name", swhere, dict)
            metric_name = _get(stat_name, "name", f"{swhere}.name", str)
            if stat_name.get("perturbation"):
                continue
            count = stat.get("count", 0)
            if not count:
                continue
            mean = stat.get("mean")
            if mean is None and isinstance(stat.get("sum"), int | float):
                mean = stat["sum"] / count
            if metric_name not in seen_metrics:
                seen_metrics.append(metric_name)
            values.setdefault(iid, {}).setdefault(metric_name, []).append((mean, swhere))

    chosen = _common._per_task("metric", metric_option, task)
    if chosen is None:
        chosen = next((m for m in HELM_MAIN_METRICS if m in seen_metrics), None)
        if chosen is None:
            _fail(
                str(stats_path),
                f"none of the main metrics {_listing(HELM_MAIN_METRICS)} is in the run; pass"
                f" metric= (the run's metrics: {_listing(seen_metrics)})",
            )
    elif chosen not in seen_metrics:
        ordered = [m for m in HELM_MAIN_METRICS if m in seen_metrics]
        ordered += [m for m in seen_metrics if m not in ordered]
        _fail(
            str(stats_path),
            f"metric {chosen!r} is not in the run; its metrics (main ones first):"
            f" {_listing(ordered, 60)}",
        )
    unknown = sorted(set(values) - set(instances))
    if unknown:
        _fail(
            str(stats_path),
            f"{_count(len(unknown), 'instance')} ({_listing(unknown, 3)}) not in {state_path.name}",
        )
    run = _common._Run(model=model, source=str(directory))
    without = 0
    for iid, inst in instances.items():
        trial_values = values.get(iid, {}).get(chosen, [])
        scores = [_common._score(v, w, f"metric {chosen!r}") for v, w in trial_values]
        known = [x for x in scores if not math.isnan(x)]
        if not known:
            without += 1
        run.records.append(
            _common._Record(
                task=task,
                instance_id=iid,
                text=inst["text"],
                score=sum(known) / len(known) if known else math.nan,
                where=inst["where"],
                reference=inst["reference"],
                metric=chosen,
                split=inst["split"],
            )
        )
    if perturbed:
        notes.append(f"{run_name}: skipped {_count(perturbed, 'perturbed request')}")
    if without:
        notes.append(f"{run_name}: {_count(without, 'instance')} without a {chosen!r} value")
    notes.append(f"{task}: score = {chosen!r}")
    return run

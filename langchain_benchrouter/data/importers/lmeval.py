"""Import lm-evaluation-harness ``--log_samples`` output.

``lm_eval ... --log_samples --output_path OUT`` writes, per model, a directory
``OUT/<model>/`` holding ``results_<timestamp>.json`` (the run's configuration, with
the model name) and one ``samples_<task>_<timestamp>.jsonl`` per task, one JSON object
a line per (document, filter)::

    {"doc_id": 0, "doc": {...}, "target": "1",
     "arguments": {"gen_args_0": {"arg_0": "Question: ... Answer:", "arg_1": " Paris"}},
     "filter": "none", "metrics": ["acc", "acc_norm"], "acc": 1.0, "acc_norm": 1.0, ...}

Older versions (before 0.4.3 or so) wrote ``arguments`` as a list of lists
(``[["prompt", " continuation"], ...]``) and no ``metrics`` list; both are read.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from langchain_benchrouter.data._checks import _count, _fail, _listing, _short
from langchain_benchrouter.data._formats import (
    _decode,
    _decompress,
    _read_json_file,
    _read_json_lines,
)
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.data.importers import _common
from langchain_benchrouter.data.importers._common import PathLike
from langchain_benchrouter.errors import BenchmarkFormatError

__all__ = ["from_lm_eval"]

_SAMPLES = re.compile(
    r"^samples_(?P<task>.+)_(?P<stamp>\d{4}-\d{2}-\d{2}T[0-9.\-]+)\.jsonl(\.gz)?$"
)
_RESULTS = re.compile(r"^results_(?P<stamp>\d{4}-\d{2}-\d{2}T[0-9.\-]+)\.json$")
# Per-sample fields that are never metrics.
_FIELDS = frozenset(
    {
        "doc_id",
        "doc",
        "target",
        "arguments",
        "resps",
        "filtered_resps",
        "filter",
        "metrics",
        "doc_hash",
        "prompt_hash",
        "target_hash",
    }
)


def from_lm_eval(
    paths: PathLike | Iterable[PathLike],
    *,
    model: str | Sequence[str] | None = None,
    metric: str | Mapping[str, str] | None = None,
    filter: str | Mapping[str, str] | None = None,
    name: str = "lm-eval",
    threshold: float = 0.5,
) -> Benchmark:
    """Read lm-evaluation-harness per-sample logs (``--log_samples``) into a benchmark.

    Each directory holding ``samples_<task>_<timestamp>.jsonl`` files is one run of one
    model (directories are searched recursively, so the ``--output_path`` of several
    models can be given at once); several runs are merged, one model column each. The
    model name is the run's ``model_name`` in ``results_<timestamp>.json`` (else its
    ``pretrained=`` model argument, else the model type). When a directory holds several
    runs of one task, the newest is read and the others are reported in ``notes``.

    Per sample: ``doc_id`` becomes the instance id, the first request's prompt
    (``arguments``) the text, ``target`` the reference (for multiple-choice tasks, the
    text of the target choice), the chosen metric's value the score.

    Example:
        >>> bench = from_lm_eval("lm_eval_out/")  # doctest: +SKIP
        >>> bench = from_lm_eval(["out/model-a", "out/model-b"],
        ...                      metric={"gsm8k": "exact_match"})  # doctest: +SKIP

    Args:
        paths: A ``samples_*.jsonl`` file, a directory, or several of them.
        model: Model name(s) overriding the results file: one name (one run found) or
            one per run, in the order the runs are found (sorted paths).
        metric: The per-sample metric to use as the score, for every task (a string)
            or per task (``{task: metric}``). By default the task's first metric (the
            first of the sample's ``metrics`` list, else of the task's
            ``metric_list``). It must hold numbers in ``[0, 1]``.
        filter: Which filter's results to use when a task logs several (e.g.
            ``"strict-match"`` or ``"flexible-extract"`` for gsm8k); one for every task
            or ``{task: filter}``. By default the task's first filter.
        name: The benchmark's name.
        threshold: Scores at or above it count as a success.

    Returns:
        The benchmark; ``notes`` list the filters and metrics used and what was skipped.

    Raises:
        BenchmarkFormatError: On malformed files (file and line named), a missing model
            name, an unknown metric or filter (the valid ones named), or scores outside
            ``[0, 1]``.
    """
    roots = _common._paths(paths, "paths")
    files: list[Path] = []
    for root in roots:
        if root.is_dir():
            found = sorted(p for p in root.rglob("samples_*.jsonl*") if _SAMPLES.match(p.name))
            if not found:
                _fail(str(root), "no lm-eval samples_<task>_<timestamp>.jsonl files found")
            files.extend(found)
        else:
            if not _SAMPLES.match(root.name):
                _fail(
                    str(root),
                    "not an lm-eval samples file (expected samples_<task>_<timestamp>.jsonl)",
                )
            files.append(root)
    by_dir: dict[Path, list[Path]] = {}
    for f in dict.fromkeys(files):
        by_dir.setdefault(f.parent, []).append(f)
    names = _common._model_names(model, len(by_dir), "run")
    notes: list[str] = []
    runs: list[_common._Run] = []
    for (directory, dir_files), given in zip(by_dir.items(), names, strict=True):
        runs.append(_read_run(directory, dir_files, given, metric, filter, notes))
    tasks = {rec.task for run in runs for rec in run.records}
    _common._check_per_task_keys("metric", metric, tasks)
    _common._check_per_task_keys("filter", filter, tasks)
    return _common._assemble(runs, name=name, threshold=threshold, notes=notes, kind="lm-eval")


def _results_for(directory: Path, stamp: str) -> tuple[Path | None, dict[str, Any] | None]:
    """The ``results_*.json`` of a run: same timestamp, else the only one in the dir."""
    exact = directory / f"results_{stamp}.json"
    candidates = [exact] if exact.is_file() else []
    if not candidates:
        candidates = sorted(p for p in directory.glob("results_*.json") if _RESULTS.match(p.name))
        if len(candidates) != 1:
            return None, None
    doc = _read_json_file(candidates[0])
    if not isinstance(doc, dict):
        _fail(str(candidates[0]), f"expected a JSON object, got {type(doc).__name__}")
    return candidates[0], doc


def _model_from_results(path: Path, doc: Mapping[str, Any]) -> str | None:
    name = doc.get("model_name")
    if isinstance(name, str) and name.strip():
        return name
    config = doc.get("config")
    if not isinstance(config, Mapping):
        return None
    args = config.get("model_args")
    if isinstance(args, Mapping):
        pretrained = args.get("pretrained") or args.get("model")
        if isinstance(pretrained, str) and pretrained.strip():
            return pretrained
    elif isinstance(args, str):
        found = re.search(r"(?:^|,)\s*(?:pretrained|model)=([^,]+)", args)
        if found:
            return found.group(1).strip()
    kind = config.get("model")
    return kind if isinstance(kind, str) and kind.strip() else None


def _read_run(
    directory: Path,
    files: list[Path],
    given: str | None,
    metric_option: str | Mapping[str, str] | None,
    filter_option: str | Mapping[str, str] | None,
    notes: list[str],
) -> _common._Run:
    # newest run per task
    newest: dict[str, tuple[str, Path]] = {}
    skipped: list[str] = []
    for f in files:
        found = _SAMPLES.match(f.name)
        assert found is not None
        task, stamp = found.group("task"), found.group("stamp")
        if task in newest:
            old_stamp, old = newest[task]
            keep, drop = ((stamp, f), old) if stamp > old_stamp else ((old_stamp, old), f)
            newest[task] = keep
            skipped.append(drop.name)
        else:
            newest[task] = (stamp, f)
    if skipped:
        notes.append(
            f"{directory}: read the newest run of each task; skipped {len(skipped)} older"
            f" samples file(s): {_listing(skipped)}"
        )
    stamps = sorted({s for s, _ in newest.values()})
    results_path, results = _results_for(directory, stamps[-1])
    model = given
    if model is None:
        model = _model_from_results(results_path, results) if results and results_path else None
        if model is None:
            _fail(
                str(directory),
                "cannot tell the model: no results_<timestamp>.json with a model name beside"
                " the samples files; pass model=",
            )
    run = _common._Run(model=model, source=str(directory))
    configs = results.get("configs") if results else None
    for task, (_, path) in newest.items():
        config = configs.get(task) if isinstance(configs, Mapping) else None
        config = config if isinstance(config, Mapping) else {}
        run.records.extend(
            _read_samples(
                path,
                task,
                config,
                _common._per_task("metric", metric_option, task),
                _common._per_task("filter", filter_option, task),
                notes,
            )
        )
    return run


def _prompt_and_choices(arguments: Any, where: str) -> tuple[str, list[str]]:
    """The first request's prompt, and the continuations (choices) of all requests."""
    requests: list[list[Any]] = []
    if isinstance(arguments, Mapping):
        for key in sorted(arguments, key=lambda k: int(re.sub(r"\D", "", str(k)) or 0)):
            req = arguments[key]
            if isinstance(req, Mapping):
                requests.append([req[k] for k in sorted(req)])
            else:
                requests.append([req])
    elif isinstance(arguments, list):
        for req in arguments:
            requests.append(list(req) if isinstance(req, list | tuple) else [req])
    else:
        _fail(where, f"'arguments' must be an object or a list, got {_short(arguments)}")
    if not requests or not requests[0]:
        _fail(where, "'arguments' holds no request (no prompt to read)")
    prompt = _common._text(requests[0][0], where, "the prompt (arguments' first argument)")
    choices = [r[1] for r in requests if len(r) > 1 and isinstance(r[1], str)]
    return prompt, choices


def _metric_names(row: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    listed = row.get("metrics")
    if isinstance(listed, list) and listed:
        return [str(m) for m in listed]
    from_config = [
        str(m["metric"])
        for m in config.get("metric_list", []) or []
        if isinstance(m, Mapping) and isinstance(m.get("metric"), str)
    ]
    present = [k for k in row if k not in _FIELDS]
    return [m for m in from_config if m in row] or present


def _reference(target: Any, choices: list[str], multiple_choice: bool) -> str | None:
    if isinstance(target, list):
        target = target[0] if target else None
    if target is None:
        return None
    if multiple_choice and choices:
        index: int | None = None
        if isinstance(target, int) and not isinstance(target, bool):
            index = target
        elif isinstance(target, str) and target.strip().isdigit():
            index = int(target.strip())
        if index is not None and 0 <= index < len(choices):
            return choices[index].strip()
    text = str(target).strip()
    return text or None


def _read_samples(
    path: Path,
    task: str,
    config: Mapping[str, Any],
    metric: str | None,
    filter_name: str | None,
    notes: list[str],
) -> list[_common._Record]:
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        _fail(source, f"cannot read the file ({exc.strerror or exc})")
    raw, _ = _decompress(raw, source, [s.lower() for s in path.suffixes])
    table = _read_json_lines(_decode(raw, source), source)
    if not table.rows:
        _fail(source, "no samples in the file")
    filters = list(dict.fromkeys(str(row.get("filter", "none")) for row in table.rows))
    if filter_name is None:
        configured = [
            f.get("name")
            for f in config.get("filter_list", []) or []
            if isinstance(f, Mapping) and f.get("name") in filters
        ]
        filter_name = configured[0] if configured else filters[0]
    elif filter_name not in filters:
        _fail(
            source,
            f"filter {filter_name!r} is not in task {task!r}; its filters: {_listing(filters)}",
        )
    if len(filters) > 1:
        notes.append(
            f"{task}: used filter {filter_name!r}, skipped the other filter(s)"
            f" {_listing(f for f in filters if f != filter_name)}"
        )
    multiple_choice = config.get("output_type") == "multiple_choice"
    split = config.get("test_split") if isinstance(config.get("test_split"), str) else None
    records: list[_common._Record] = []
    seen: dict[str, int] = {}
    chosen: str | None = metric
    for k, row in enumerate(table.rows):
        if str(row.get("filter", "none")) != filter_name:
            continue
        where = table.where(k)
        if "doc_id" not in row:
            _fail(where, "missing field 'doc_id'")
        doc_id = row["doc_id"]
        if isinstance(doc_id, bool) or not isinstance(doc_id, int | str):
            _fail(where, f"doc_id must be an integer or a string, got {_short(doc_id)}")
        iid = str(doc_id)
        if iid in seen:
            _fail(
                f"{source}, lines {seen[iid]} and {table.locs[k]}",
                f"duplicate doc_id {iid!r} for filter {filter_name!r}",
            )
        seen[iid] = table.locs[k]
        if "arguments" not in row:
            _fail(where, "missing field 'arguments' (the prompt)")
        prompt, choices = _prompt_and_choices(row["arguments"], where)
        names = _metric_names(row, config)
        if chosen is None:
            if not names:
                _fail(where, "no metric in the sample (no 'metrics' list and no metric values)")
            chosen = names[0]
        if chosen not in row:
            valid = [n for n in names if n in row]
            _fail(
                where,
                f"metric {chosen!r} is not in the sample of task {task!r}; its metrics:"
                f" {_listing(valid) or 'none'}",
            )
        value = row[chosen]
        if isinstance(value, list | dict):
            _fail(
                where,
                f"metric {chosen!r} of task {task!r} holds {_short(value)}, not a per-sample"
                " score (it is aggregated over the whole task); choose another with metric=",
            )
        score = _common._score(value, where, f"metric {chosen!r}")
        records.append(
            _common._Record(
                task=task,
                instance_id=iid,
                text=prompt,
                score=score,
                where=where,
                reference=_reference(row.get("target"), choices, multiple_choice),
                metric=chosen,
                split=split,
            )
        )
    n_missing = sum(math.isnan(r.score) for r in records)
    if n_missing:
        notes.append(f"{task}: {_count(n_missing, 'sample')} without a {chosen!r} value")
    if not records:  # pragma: no cover - filter_name comes from the rows
        msg = f"{source}: no samples for filter {filter_name!r}"
        raise BenchmarkFormatError(msg)
    notes.append(f"{task}: score = per-sample {chosen!r} (filter {filter_name!r})")
    return records

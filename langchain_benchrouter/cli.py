"""The ``benchrouter`` command: evaluate, fit, route and demo on benchmark data.

Errors the user can fix (bad paths, malformed files, unknown models or embedders) are
printed as one line on stderr with a non-zero exit code, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import numpy as np
from rich.console import Console
from rich.table import Table

from langchain_benchrouter.core.decisions import Routes
from langchain_benchrouter.core.router import Router
from langchain_benchrouter.data.benchmark import Benchmark
from langchain_benchrouter.errors import BenchRouterError
from langchain_benchrouter.evaluation.harness import METHODS, PROTOCOLS, EvaluationResult, evaluate

__all__ = ["main"]

#: Held out by the demo: fitted on the other 13 tasks, the router must pick a model for it.
DEMO_TASK = "gsm8k"
DEMO_PROMPTS = [
    "Write a Python function that returns the n-th Fibonacci number.",
    "Natalia sold clips to 48 friends in April and half as many in May. How many in total?",
    "Which planet is known as the Red Planet?",
    "What is the derivative of x^3 * sin(x)?",
]


def load_benchmark(spec: str) -> Benchmark:
    """``bundled`` (or ``bundled:NAME``) or a path to any layout :class:`Benchmark` loads."""
    if spec == "bundled" or spec.startswith("bundled:"):
        return Benchmark.bundled(spec.partition(":")[2] or "llmrouter")
    return Benchmark.load(spec)


def _embedder_arg(value: str | None) -> str | None:
    return None if value in (None, "default", "minilm") else value


def _cmd_fit(args: argparse.Namespace, console: Console) -> int:
    bench = load_benchmark(args.data)
    spec = _embedder_arg(args.embedder)
    approximate_above = None if args.approximate_above == 0 else args.approximate_above
    router = Router(
        k=args.k,
        embedder=spec,
        predictor=args.predictor,
        index_dtype=args.index_dtype,
        approximate_above=approximate_above,
    )
    if args.engine == "ray":
        # Embedding is the step that outgrows one machine: run it on a Ray cluster.
        from langchain_benchrouter.core.engines import embed_texts

        X = embed_texts(bench.texts, spec, engine="ray", address=args.ray_address)
        router.fit(bench, embeddings=X)
    else:
        router.fit(bench)
    out = router.save(args.output)
    console.print(f"fitted {router!r}\nsaved to {out}")
    return 0


def _looks_like(routes: Routes, i: int) -> str:
    """The benchmark task input ``i`` resembles, with its probability."""
    if not routes.tasks or routes.task_proba is None:
        return "-"
    return f"{routes.tasks[i]} ({routes.task_proba[i]:.2f})"


def _cmd_route(args: argparse.Namespace, console: Console) -> int:
    router = Router.load(args.router_dir, embedder=_embedder_arg(args.embedder))
    if args.task:
        sel = router.select_model(args.texts, method=args.method, metric=args.metric)
        console.print(_selection_table(sel, f"selection for {len(args.texts)} task inputs"))
        console.print(f"[bold]chosen:[/bold] {sel.model}\n{sel.why}")
        return 0
    routes = router.route(args.texts)
    table = Table(title="per-input routing")
    table.add_column("input")
    table.add_column("chosen model", no_wrap=True, min_width=max(map(len, routes.model_names)))
    table.add_column("P(correct)", justify="right")
    table.add_column("distance", justify="right")
    table.add_column("looks like", no_wrap=True)
    for i, text in enumerate(args.texts):
        j = routes.model_names.index(routes[i])
        table.add_row(
            _clip(text),
            routes[i],
            f"{routes.proba[i, j]:.2f}",
            f"{routes.distance[i]:.3f}",
            _looks_like(routes, i),
        )
    console.print(table)
    return 0


def _cmd_demo(args: argparse.Namespace, console: Console) -> int:
    start = time.perf_counter()
    bench = load_benchmark(args.data)
    console.print(f"[bold]benchmark[/bold] {bench!r}")
    task = (
        args.task
        if args.task
        else (DEMO_TASK if DEMO_TASK in bench.task_names else bench.task_names[0])
    )
    train, held = bench.drop_tasks([task]), bench.select_tasks([task])
    console.print(
        f"fitting on {train.n_tasks} tasks ({train.n_inputs} inputs); holding out {task!r}"
    )
    router = Router(embedder=_embedder_arg(args.embedder)).fit(train)
    paper = router.select_model(held.texts, method="s3")
    console.print(
        _selection_table(
            paper, f"the paper's scores for the unseen task {task!r} ({held.n_inputs} inputs)"
        )
    )
    sel = router.select_model(held.texts)  # the library's default method
    true_acc = dict(zip(held.models, held.task_accuracy()[0], strict=True))
    best = max(true_acc, key=lambda m: true_acc[m])
    console.print(
        f"[bold]S3 (paper) chose[/bold] {paper.model} (true accuracy {true_acc[paper.model]:.3f})\n"
        f"[bold]{sel.method} (default) chose[/bold] {sel.model} "
        f"(true accuracy {true_acc[sel.model]:.3f}): {sel.why}\n"
        f"best on average: {sel.bma} ({true_acc[sel.bma]:.3f}); "
        f"oracle: {best} ({true_acc[best]:.3f})"
    )
    metric = held.task_metrics[0]
    if metric is not None and metric in router.metrics:
        told = router.select_model(held.texts, metric=metric)
        console.print(
            f"[bold]told the task's metric {metric!r}, {told.method} chose[/bold] {told.model} "
            f"(true accuracy {true_acc[told.model]:.3f}): {told.why}"
        )
    elif metric is not None:
        console.print(
            f"the task's metric {metric!r} scores no other benchmark task: its inputs alone"
            " decide (hold out a task whose metric another task shares to see metric= at work)"
        )
    full = Router(embedder=_embedder_arg(args.embedder)).fit(bench)
    routes = full.route(DEMO_PROMPTS)
    table = Table(title="per-input routing (router fitted on all tasks)")
    table.add_column("prompt")
    table.add_column("chosen model", no_wrap=True, min_width=max(map(len, routes.model_names)))
    table.add_column("P(correct)", justify="right")
    table.add_column("decided by")
    for i, prompt in enumerate(DEMO_PROMPTS):
        j = routes.model_names.index(routes[i])
        switched = routes.lexical is not None and bool(routes.lexical[i])
        by = "its words (lexical)" if switched else "kNN"
        table.add_row(_clip(prompt), routes[i], f"{routes.proba[i, j]:.2f}", by)
    console.print(table)
    console.print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


# --------------------------------------------------------------------------- evaluate

Rows = list[list[str]]


def _int_list(value: str) -> list[int]:
    """``"0,5,20"`` -> ``[0, 5, 20]`` (each item a non-negative int)."""
    try:
        items = [int(v) for v in value.replace(",", " ").split()]
    except ValueError:
        msg = f"expected non-negative integers, got {value!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not items or any(v < 0 for v in items):
        msg = f"expected non-negative integers, got {value!r}"
        raise argparse.ArgumentTypeError(msg)
    return items


def _methods_arg(value: str | None) -> list[str]:
    if not value:
        return list(METHODS)
    chosen = [m.strip() for m in value.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in METHODS]
    if unknown or not chosen:
        msg = f"unknown method(s) {unknown or [value]}; choose from {', '.join(METHODS)}"
        raise ValueError(msg)
    return chosen


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def method_rows(
    result: EvaluationResult, methods: Sequence[str], sweep: int = 0
) -> tuple[list[str], Rows]:
    """Headers and rows of the per-method table of one sweep point."""
    point = result.sweeps[sweep]
    headers = ["method", "accuracy", "ratio to oracle", "BMA rate", "mean cost"]
    rows = [
        [
            m,
            _fmt(point.methods[m].accuracy),
            _fmt(point.methods[m].oracle_ratio),
            _fmt(point.methods[m].bma_rate, 2),
            _fmt(point.methods[m].mean_cost),
        ]
        for m in methods
        if m in point.methods
    ]
    return headers, rows


def task_rows(
    result: EvaluationResult, methods: Sequence[str], sweep: int = 0
) -> tuple[list[str], Rows]:
    """Headers and rows of the per-task table of one sweep point."""
    point = result.sweeps[sweep]
    methods = [m for m in methods if m in point.methods]
    headers = ["task", "n", *methods, "oracle model", "S3 model", "p true", "p est."]
    rows = [
        [
            t.task,
            str(t.n),
            *(_fmt(t.accuracy[m]) for m in methods),
            str(t.selected["oracle"]),
            str(t.selected["s3"]),
            _fmt(t.p_true, 2),
            _fmt(t.p_estimated, 2),
        ]
        for t in point.tasks
    ]
    return headers, rows


def render_table(console: Console, fmt: str, title: str, headers: list[str], rows: Rows) -> None:
    """Print a table as a rich table, plain aligned text or a Markdown table."""
    if fmt == "rich":
        table = Table(title=title)
        for i, h in enumerate(headers):
            table.add_column(h, justify="left" if i == 0 or "model" in h else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
        return
    if fmt == "markdown":
        lines = [f"**{title}**", "", "| " + " | ".join(headers) + " |"]
        left = [i == 0 or "model" in h for i, h in enumerate(headers)]
        lines.append("|" + "|".join("---" if lt else "---:" for lt in left) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    else:
        widths = [
            max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
            for i, h in enumerate(headers)
        ]
        lines = [title, "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    console.print("\n".join(lines) + "\n", markup=False, highlight=False, soft_wrap=True)


def _progress(console: Console) -> tuple[Any, Callable[[str, int, int], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    ids: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in ids:
            ids[stage] = progress.add_task(stage, total=total)
        progress.update(ids[stage], completed=done, total=total)

    return progress, update


def _cmd_new_model(args: argparse.Namespace, console: Console) -> int:
    """``evaluate --protocol new-model``: a model added from a few evaluations."""
    from langchain_benchrouter.evaluation.new_model import (
        DEFAULT_BUDGETS,
        evaluate_new_model,
        save_new_model,
    )

    budgets = [b for group in (args.budget or [list(DEFAULT_BUDGETS)]) for b in group]
    if any(b < 1 for b in budgets):
        msg = f"--budget values must be >= 1, got {budgets}"
        raise ValueError(msg)
    bench = load_benchmark(args.data)
    progress, update = _progress(console)
    with progress:
        result = evaluate_new_model(
            bench,
            budgets=budgets,
            embedder=_embedder_arg(args.embedder),
            router_params={"k": args.k, "predictor": args.predictor},
            seed=args.seed,
            random_seeds=args.repeats,
            progress=update,
        )
    result["new_model"]["config"]["data"] = args.data
    headers = ["budget", "MAE", "random MAE", "AUROC", "AUROC full", "random AUROC"]
    headers += ["routing", "routing full", "routing without", "random routing"]
    rows = [
        [
            key,
            _fmt(e["task_accuracy_mae"]),
            _fmt(e["random"]["task_accuracy_mae"]),
            _fmt(e["auroc"]),
            _fmt(e["auroc_full"]),
            _fmt(e["random"]["auroc"]),
            _fmt(e["routing_accuracy"], 4),
            _fmt(e["routing_accuracy_full"], 4),
            _fmt(e["routing_accuracy_without"], 4),
            _fmt(e["random"]["routing_accuracy"], 4),
        ]
        for key, e in result["new_model"]["budgets"].items()
    ]
    render_table(
        console, args.format, f"A new model from a few evaluations: {bench!r}", headers, rows
    )
    if args.json:
        for path in save_new_model(result, args.json):
            console.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)
    return 0


def _cmd_evaluate(args: argparse.Namespace, console: Console) -> int:
    if args.budget is not None and args.protocol != "new-model":
        msg = "--budget is only valid with --protocol new-model"
        raise ValueError(msg)
    if args.protocol == "new-model":
        return _cmd_new_model(args, console)
    methods = _methods_arg(args.methods)
    if args.protocol != "random-split" and not args.methods:
        methods = [m for m in methods if m != "task_best_train"]
    # Methods a sweep point lacks (labels_best without labels) are left out of its tables.
    shots = [n for group in (args.labeled_per_task or [[0]]) for n in group]
    bench = load_benchmark(args.data)
    params: dict[str, Any] = {"k": args.k, "predictor": args.predictor}
    progress, update = _progress(console)
    with progress:
        result = evaluate(
            bench,
            embedder=_embedder_arg(args.embedder),
            router_params=params,
            protocol=args.protocol,
            labeled_per_task=shots,
            repeats=args.repeats,
            seed=args.seed,
            progress=update,
        )
    result.config["data"] = args.data
    fmt = args.format
    console.print(
        f"{bench!r}; embedder {result.embedder}; protocol {args.protocol}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    for i, point in enumerate(result.sweeps):
        label = (
            "no labelled inputs"
            if point.labeled_per_task == 0
            else (f"{point.labeled_per_task} labelled inputs per task, {point.repeats} repeats")
        )
        headers, rows = method_rows(result, methods, i)
        render_table(console, fmt, f"Methods ({label})", headers, rows)
    headers, rows = task_rows(result, methods, 0)
    render_table(
        console,
        fmt,
        f"Per task ({'no labelled inputs' if shots[0] == 0 else shots[0]})",
        headers,
        rows,
    )
    diag = result.sweeps[0].diagnostics
    lines = [
        f"predictor accuracy on held-out tasks: true {_fmt(diag['predictor_accuracy'])}, "
        f"estimated {_fmt(diag['estimated_predictor_accuracy'])}; "
        f"per-input oracle {_fmt(diag['per_input_oracle'])}"
    ]
    if result.cost_curve is not None:
        lines.append(
            f"cost-quality AIQ: routing {result.cost_curve.aiq:.3f}, "
            f"single models {result.cost_curve.models_aiq:.3f}"
        )
    console.print("\n".join(lines), markup=False, highlight=False, soft_wrap=True)
    if args.json:
        path = result.save_json(args.json)
        console.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)
    if args.plots:
        from langchain_benchrouter.evaluation.plots import write_plots

        for path in write_plots(result, args.plots, prefix=args.plot_prefix):
            console.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)
    return 0


# --------------------------------------------------------------------------- collect


def _name_value(value: str, what: str) -> tuple[str, str]:
    name, sep, rest = value.partition("=")
    if not sep or not name.strip() or not rest.strip():
        msg = f"expected {what}, got {value!r}"
        raise argparse.ArgumentTypeError(msg)
    return name.strip(), rest.strip()


def _model_arg(value: str) -> tuple[str, str]:
    """``"small=openai:gpt-4o-mini"`` -> ``("small", "openai:gpt-4o-mini")``."""
    return _name_value(value, "NAME=PROVIDER:MODEL, e.g. small=openai:gpt-4o-mini")


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        msg = f"expected a positive integer, got {value!r}"
        raise argparse.ArgumentTypeError(msg)
    return number


def _price_arg(value: str) -> tuple[str, float, float]:
    """``"small=0.15,0.6"`` -> ``("small", 0.15, 0.6)`` (USD per million tokens)."""
    name, prices = _name_value(value, "NAME=INPUT_PRICE,OUTPUT_PRICE, e.g. small=0.15,0.6")
    try:
        pin, pout = (float(p) for p in prices.split(","))
    except ValueError:
        msg = f"expected NAME=INPUT_PRICE,OUTPUT_PRICE (two numbers), got {value!r}"
        raise argparse.ArgumentTypeError(msg) from None
    return name, pin, pout


def _cmd_collect(args: argparse.Namespace, console: Console) -> int:
    from langchain_benchrouter.collect.runner import collect

    models: dict[str, str] = {}
    for name, spec in args.models:
        if name in models:
            msg = f"--models names {name!r} twice"
            raise ValueError(msg)
        models[name] = spec
    if not args.dry_run and not args.out:
        msg = "collect needs --out DIR to write the benchmark to (or --dry-run to see the plan)"
        raise ValueError(msg)
    bench = load_benchmark(args.inputs)
    if args.tasks:
        bench = bench.select_tasks([t for group in args.tasks for t in group.split(",") if t])
    if args.limit_per_task is not None:
        rows = [
            i
            for k in range(bench.n_tasks)
            for i in np.flatnonzero(bench.task_index == k)[: args.limit_per_task].tolist()
        ]
        bench = bench.subset(np.sort(np.asarray(rows, dtype=np.intp)))
    info: dict[str, dict[str, float]] = {}
    for name, pin, pout in args.price or []:
        info[name] = {"input_price": pin, "output_price": pout}
    options: dict[str, Any] = {
        "store": args.store,
        "concurrency": args.concurrency,
        "max_retries": args.max_retries,
        "timeout": args.timeout,
        "max_cost": args.max_cost,
        "allow_code_execution": args.allow_code_execution,
        "model_info": info,
        "expected_output_tokens": args.output_tokens,
        "retry_failed": args.retry_failed,
    }
    if args.dry_run:
        plan = collect(models, bench, dry_run=True, **options)
        console.print(plan.table())
        console.print(f"dry run on {bench!r}: no model was called")
        return 0
    result = collect(models, bench, **options)
    path = result.save(args.out)
    table = Table(title=f"collected {result!r}")
    for i, col in enumerate(("model", "mean score", "failed calls", "USD / call", "median s")):
        table.add_column(col, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for j, m in enumerate(result.models):
        info_m = result.model_info[m]
        column = result.scores[:, j]
        table.add_row(
            m,
            _fmt(float(np.nanmean(column)) if (~np.isnan(column)).any() else None),
            str(info_m.get("failed_calls", 0)),
            _fmt(info_m.get("cost_per_call"), 6),
            _fmt(info_m.get("latency_s"), 2),
        )
    console.print(table)
    console.print("\n".join(result.notes), markup=False, highlight=False, soft_wrap=True)
    console.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)
    return 0


def _selection_table(sel: object, title: str) -> Table:
    from langchain_benchrouter.core.decisions import Selection

    assert isinstance(sel, Selection)
    table = Table(title=title)
    for col in ("model", "S1", "S2", "S3", "p"):
        if col == "model":
            table.add_column(col, no_wrap=True, min_width=max(map(len, sel.s1)) + 2)
        else:
            table.add_column(col, justify="right")
    order = sorted(sel.s1, key=lambda m: -(sel.s3.get(m, sel.s2[m])))
    for m in order:
        mark = " *" if m == sel.model else ""
        table.add_row(
            m + mark,
            f"{sel.s1[m]:.3f}",
            f"{sel.s2[m]:.3f}",
            f"{sel.s3[m]:.3f}" if sel.s3 else "-",
            f"{sel.p[m]:.3f}" if sel.p else "-",
        )
    return table


def _clip(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage dump) with exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``benchrouter``."""
    parser = _Parser(prog="benchrouter", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser(
        "evaluate",
        help="leave-one-task-out evaluation: does routing beat the best single model?",
        description="Leave-one-task-out evaluation of the router (see docs/results.md).",
    )
    ev.add_argument("data", help="benchmark path (any layout Benchmark.load reads) or 'bundled'")
    ev.add_argument(
        "--embedder", default=None, help="'default' (offline MiniLM), 'hashing' or a model path"
    )
    ev.add_argument("--predictor", choices=["knn", "mlp"], default="knn")
    ev.add_argument("--k", type=int, default=5, help="neighbours of the kNN predictor (default 5)")
    ev.add_argument(
        "--labeled-per-task",
        type=_int_list,
        action="append",
        metavar="N[,N...]",
        help="labelled inputs of the held-out task added to the memory; several values "
        "(comma-separated or repeated) make a sweep (default 0)",
    )
    ev.add_argument("--repeats", type=int, default=10, help="random draws per N > 0 (default 10)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--protocol", choices=[*sorted(PROTOCOLS), "new-model"], default="loto")
    ev.add_argument(
        "--budget",
        type=_int_list,
        action="append",
        metavar="N[,N...]",
        help="evaluations of the held-out model the library chooses (--protocol new-model"
        " only; default 10,25,50,100; --repeats sets the random draws compared)",
    )
    ev.add_argument(
        "--methods",
        default=None,
        help=f"comma-separated methods to show (default all: {','.join(METHODS)})",
    )
    ev.add_argument("--json", default=None, metavar="OUT", help="write the results as JSON")
    ev.add_argument("--plots", default=None, metavar="DIR", help="write PNG figures into DIR")
    ev.add_argument("--plot-prefix", default="", help="prefix of the figure file names")
    ev.add_argument(
        "--format", choices=["rich", "plain", "markdown"], default="rich", help="table style"
    )
    ev.set_defaults(func=_cmd_evaluate)

    demo = sub.add_parser(
        "demo", help="fit on the bundled data; show a task selection and per-input routing"
    )
    demo.add_argument("--data", default="bundled", help="benchmark path or 'bundled' (default)")
    demo.add_argument("--task", default=None, help=f"task to hold out (default {DEMO_TASK})")
    demo.add_argument(
        "--embedder", default=None, help="'default' (offline MiniLM), 'hashing' or a model path"
    )
    demo.set_defaults(func=_cmd_demo)

    fit = sub.add_parser("fit", help="fit a router on DATA and save it")
    fit.add_argument("data", help="benchmark path or 'bundled'")
    fit.add_argument("-o", "--output", required=True, help="router directory to write")
    fit.add_argument("--k", type=int, default=5)
    fit.add_argument("--predictor", choices=["knn", "mlp"], default="knn")
    fit.add_argument("--embedder", default=None)
    fit.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="where to embed the benchmark: in this process, or on Ray (the 'ray' extra)",
    )
    fit.add_argument("--ray-address", default=None, help="Ray cluster address (default: local)")
    fit.add_argument("--index-dtype", choices=["float32", "float16"], default="float32")
    fit.add_argument(
        "--approximate-above",
        type=int,
        default=50_000,
        help="use an approximate faiss index above this many inputs (0: always exact)",
    )
    fit.set_defaults(func=_cmd_fit)

    route = sub.add_parser("route", help="route texts with a saved router")
    route.add_argument("router_dir")
    route.add_argument("texts", nargs="+")
    route.add_argument(
        "--task", action="store_true", help="treat the texts as one task and select a model"
    )
    route.add_argument(
        "--method",
        choices=["eb_select", "calibrated", "s1", "s2", "s3"],
        default="eb_select",
        help="task-level method with --task (default: eb_select; the paper's: s1, s2, s3)",
    )
    route.add_argument(
        "--metric",
        default=None,
        help="with --task: how the task is scored, one of the benchmark's metrics"
        " (e.g. em_mc, code_eval, MATH, f1_score on the bundled data)",
    )
    route.add_argument("--embedder", default=None)
    route.set_defaults(func=_cmd_route)

    col = sub.add_parser(
        "collect",
        help="evaluate your chat models on benchmark inputs into a new benchmark",
        description="Call each chat model on each input (resumable from --store), grade the "
        "answers against the references, and write the scores, costs and latencies as a "
        "benchmark directory. Before any input is sent, one short preflight call per model "
        "checks its credentials (the only spend before the run is confirmed).",
    )
    col.add_argument(
        "--models",
        nargs="+",
        type=_model_arg,
        required=True,
        metavar="NAME=PROVIDER:MODEL",
        help="the models, as init_chat_model strings (e.g. small=openai:gpt-4o-mini)",
    )
    col.add_argument(
        "--inputs", required=True, help="benchmark path (file or directory) or 'bundled'"
    )
    col.add_argument("--out", default=None, help="directory to write the collected benchmark")
    col.add_argument(
        "--store", required=True, help="SQLite file keeping every result (resumes a run)"
    )
    col.add_argument("--tasks", nargs="+", default=None, help="only these tasks (or a,b,c)")
    col.add_argument(
        "--limit-per-task",
        type=_positive_int,
        default=None,
        metavar="N",
        help="only the first N inputs of each task",
    )
    col.add_argument(
        "--dry-run", action="store_true", help="print calls and estimated cost; call nothing"
    )
    col.add_argument(
        "--max-cost",
        type=float,
        default=None,
        metavar="USD",
        help="refuse to start above this estimate; stop once the measured spend reaches it",
    )
    col.add_argument("--concurrency", type=int, default=4, help="calls in flight per model")
    col.add_argument("--max-retries", type=int, default=5, help="retries on transient errors")
    col.add_argument("--timeout", type=float, default=120.0, help="seconds per attempt")
    col.add_argument(
        "--price",
        action="append",
        type=_price_arg,
        metavar="NAME=IN,OUT",
        help="a model's prices in USD per million input and output tokens (repeatable)",
    )
    col.add_argument(
        "--output-tokens",
        type=int,
        default=256,
        metavar="N",
        help="output tokens per call assumed by the estimate (default 256)",
    )
    col.add_argument(
        "--allow-code-execution",
        action="store_true",
        help="let code_eval graders run the models' code on this machine",
    )
    col.add_argument(
        "--retry-failed", action="store_true", help="call again inputs stored as failed"
    )
    col.set_defaults(func=_cmd_collect)

    # `benchrouter experiment report|feedback`: the A/B experiment log (experiment_report.py).
    from langchain_benchrouter.experiments.report import add_experiment_parser

    add_experiment_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed on one line
        return exc.code if isinstance(exc.code, int) else 2
    console = Console()
    try:
        code: int = args.func(args, console)
    except (BenchRouterError, OSError, ValueError, ImportError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"benchrouter: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("benchrouter: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

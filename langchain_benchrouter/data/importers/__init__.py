"""Turn the per-input results of evaluation frameworks into a :class:`Benchmark`.

So that your own models become routable: evaluate them with the tool you already use,
import the per-input results, and merge them with a public benchmark
(:meth:`Benchmark.merge <langchain_benchrouter.Benchmark.merge>`) or route among them
alone.

- :func:`from_lm_eval`: lm-evaluation-harness ``--log_samples`` output.
- :func:`from_inspect`: Inspect AI evaluation logs (needs ``inspect-ai``).
- :func:`from_helm`: HELM run directories (``scenario_state.json`` and
  ``per_instance_stats.json``).
- :func:`from_routerbench`: RouterBench-style per-prompt tables (CSV, JSON lines,
  Parquet).

Every importer checks what it reads: ids unique within a task, texts non-empty,
scores in ``[0, 1]`` (missing ones stay ``NaN``, never 0); anything malformed raises a
:class:`~langchain_benchrouter.errors.BenchmarkFormatError` naming the file, the
line or record and the problem, and the returned benchmark's ``notes`` say what was
chosen and what was skipped.

Example:
    >>> from langchain_benchrouter import Benchmark
    >>> from langchain_benchrouter.data.importers import from_lm_eval
    >>> mine = from_lm_eval("lm_eval_out/")  # doctest: +SKIP
    >>> both = Benchmark.merge(Benchmark.bundled(), mine)  # doctest: +SKIP
"""

from __future__ import annotations

from langchain_benchrouter.data.importers.helm import HELM_MAIN_METRICS, from_helm
from langchain_benchrouter.data.importers.inspect_logs import from_inspect
from langchain_benchrouter.data.importers.lmeval import from_lm_eval
from langchain_benchrouter.data.importers.routerbench import ON_DUPLICATE, from_routerbench

__all__ = [
    "HELM_MAIN_METRICS",
    "ON_DUPLICATE",
    "from_helm",
    "from_inspect",
    "from_lm_eval",
    "from_routerbench",
]

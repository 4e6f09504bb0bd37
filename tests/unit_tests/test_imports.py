"""The public surface: ``__all__`` is pinned, the core imports without LangChain faces."""

from __future__ import annotations

import subprocess
import sys

import langchain_benchrouter

EXPECTED_ALL = [
    "error_decision",
    "RoutingTimeoutError",
    "RoutingError",
    "ModelTimeoutError",
    "ModelOutputError",
    "CheckedEmbedder",
    "ArtifactError",
    "BenchRouterError",
    "Benchmark",
    "BenchmarkFormatError",
    "CachedEmbedder",
    "Embedder",
    "EmbedderError",
    "EmbedderMismatchError",
    "Experiment",
    "ExperimentError",
    "ExposureLog",
    "HashingEmbedder",
    "KNNCorrectnessPredictor",
    "LangChainEmbedder",
    "MLPCorrectnessPredictor",
    "NotFittedError",
    "Router",
    "RouterMiddleware",
    "RoutedChatModel",
    "Routes",
    "RoutingInputError",
    "SQLiteExposureLog",
    "Selection",
    "SentenceTransformerEmbedder",
    "UnknownModelError",
    "compute_report",
    "feedback_to_labels",
    "resolve_embedder",
]


def test_all_is_pinned_and_every_name_resolves() -> None:
    assert sorted(langchain_benchrouter.__all__) == sorted(EXPECTED_ALL)
    for name in EXPECTED_ALL:
        assert getattr(langchain_benchrouter, name) is not None


def test_core_import_does_not_load_langchain_faces_or_torch() -> None:
    code = (
        "import sys, langchain_benchrouter as m; "
        "bad = [k for k in ('langchain', 'langchain_benchrouter.langchain.runnable', 'torch', "
        "'sentence_transformers', 'langchain_benchrouter.langchain.middleware') "
        "if k in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_core_modules_do_not_import_langchain() -> None:
    import ast
    from pathlib import Path

    pkg = Path(langchain_benchrouter.__file__).parent
    core = [
        pkg / "errors.py",
        *sorted((pkg / "core").rglob("*.py")),
        *sorted((pkg / "data").rglob("*.py")),
    ]
    assert len(core) > 15
    for path in core:
        mod = path.relative_to(pkg).with_suffix("").as_posix()
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                top = node.module.split(".")[0]
                assert top not in {"langchain", "langgraph"}, (mod, node.module)
                assert not node.module.startswith("langchain_benchrouter.langchain"), mod
                if top == "langchain_core":
                    # only the LangChain Embeddings adapter knows langchain_core
                    assert mod in {"core/embeddings/_langchain", "core/embeddings/_resolve"}, (
                        f"{mod} imports {node.module}"
                    )


def _import_graph() -> dict[str, set[str]]:
    """Every import of a package module by another, at any depth of the code
    (deferred imports inside functions included), but those under TYPE_CHECKING."""
    import ast
    from pathlib import Path

    pkg = Path(langchain_benchrouter.__file__).parent
    modules: dict[str, Path] = {}
    for path in pkg.rglob("*.py"):
        parts = path.relative_to(pkg.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path

    def target(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()

        def visit(node: ast.AST, edges: set[str] = edges) -> None:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                return
            if isinstance(node, ast.Import):
                for alias in node.names:
                    edges.add(alias.name)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # ``from pkg import sub`` imports the submodule; ``from mod import name``
                # the module (a package's own __init__ runs before any of its modules).
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    edges.add(sub if sub in modules else node.module)
            for child in ast.iter_child_nodes(node):
                visit(child)

        visit(ast.parse(path.read_text()))
        found = {target(e) for e in edges if e.startswith("langchain_benchrouter")}
        graph[name] = {t for t in found if t and t != name}
    return graph


# The one deliberate upward door: Benchmark.collect imports the collection runner when
# called (collect/ builds on data/); documented at the import.
ALLOWED_DEFERRED = {
    ("langchain_benchrouter.data.benchmark", "langchain_benchrouter.collect.runner")
}


def test_the_import_graph_has_no_circle() -> None:
    graph = _import_graph()
    assert len(graph) > 60
    for edge in ALLOWED_DEFERRED:
        graph[edge[0]].discard(edge[1])
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def walk(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt in graph and not state.get(nxt):
                walk(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if not state.get(node):
            walk(node, [])
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles)


def test_no_module_is_over_800_lines() -> None:
    from pathlib import Path

    pkg = Path(langchain_benchrouter.__file__).parent
    sizes = {
        path.relative_to(pkg).as_posix(): len(path.read_text().splitlines())
        for path in pkg.rglob("*.py")
    }
    assert len(sizes) > 60
    assert {name: n for name, n in sizes.items() if n > 800} == {}


def test_top_level_exports_stay_few() -> None:
    assert len(langchain_benchrouter.__all__) <= 45
    assert "RouterRunnable" not in langchain_benchrouter.__all__

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
        *sorted((pkg / "core").glob("*.py")),
        *sorted((pkg / "data").glob("*.py")),
    ]
    assert len(core) > 15
    for path in core:
        mod = path.stem
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                top = node.module.split(".")[0]
                assert top not in {"langchain", "langgraph"}, (mod, node.module)
                assert not node.module.startswith("langchain_benchrouter.langchain"), mod
                if top == "langchain_core":
                    assert mod == "embeddings", f"{mod} imports {node.module}"

"""The rooms of the house and what each may import (README, "How it is built")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "bench", "bot", "chains", "devtools", "knowledge", "ops")
# What each package must never import (any module of it, at any place in a file).
FORBIDDEN = {
    "app": {"tests"},
    "bench": {"tests"},  # what a bench shares with the tests lives in devtools
    "devtools": {"tests"},
    "bot": {"app", "devtools", "ops", "knowledge", "tests"},
    "ops": {"app", "bot", "chains", "devtools", "knowledge", "tests"},
    "chains": {"app", "bot", "devtools", "ops", "tests"},  # knowledge: ALLOWED_FROM_KNOWLEDGE
    "knowledge": {"app", "bot", "chains", "devtools", "ops", "tests"},
}
NIO_USERS = {"bot", "devtools", "bench"}  # bench_bot races a bare nio bot


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_imports_only_what_it_may(package: str):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no module in {package}/"
    wrong = {}
    for path in files:
        roots = imported_roots(path)
        bad = roots & FORBIDDEN.get(package, set())
        if "nio" in roots and package not in NIO_USERS:
            bad.add("nio")
        if bad:
            wrong[str(path.relative_to(ROOT))] = sorted(bad)
    assert wrong == {}


# chains sees retrieval through langchain-core; of knowledge it takes only the French text
# helpers (one folding, one stop-word list) and the evaluation-file reader
ALLOWED_FROM_KNOWLEDGE = {"knowledge.text", "knowledge.evaluate"}


def test_chains_takes_from_knowledge_only_its_text_helpers_and_file_reader():
    wrong = {}
    for path in sorted((ROOT / "chains").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            bad = [n for n in names if n.split(".")[0] == "knowledge"]
            bad = [n for n in bad if n not in ALLOWED_FROM_KNOWLEDGE]
            if bad:
                wrong.setdefault(str(path.relative_to(ROOT)), []).extend(bad)
    assert wrong == {}

"""The code's layout, checked from the source (no imports, no TensorFlow):

* no import circles among the modules of ``keras_model`` and ``hls_project``
  (every import counts, also one inside a function; an import under
  ``if TYPE_CHECKING:`` is for annotations only and does not);
* no function longer than 100 lines;
* the HT math imports no Keras, TensorFlow or hls4ml, the plumbing none of
  the model, data or hardware code;
* the plumbing lives in ``keras_model.common`` only (no old top-level copies).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("keras_model", "hls_project")
MAX_FUNCTION_LINES = 100

# no import circle at all (every import counts)
KNOWN_CIRCLES = []

# the old paths of keras_model.common's modules (gone)
SHIMS = ("errors", "config", "fixedtype", "keras2")


def _modules() -> Dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _type_checking_only(tree: ast.AST) -> Set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:``."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                for sub in ast.walk(inner):
                    skip.add(id(sub))
    return skip


def _imports(name: str, path: Path) -> Set[str]:
    """The project modules ``name`` imports, anywhere in the file."""
    tree = ast.parse(path.read_text())
    skip = _type_checking_only(tree)
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # "from pkg import sub" imports the sub-module when there is one
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module for a in node.names]
        else:
            continue
        out.update(t for t in targets if t in MODULES and t != name)
    return out


def import_graph() -> Dict[str, Set[str]]:
    return {name: _imports(name, path) for name, path in MODULES.items()}


def circles(graph: Dict[str, Set[str]]) -> List[Set[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[Set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles():
    found = circles(import_graph())
    unexpected = [sorted(c) for c in found if c not in KNOWN_CIRCLES]
    assert not unexpected, f"import circles: {unexpected}"


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def test_no_function_over_100_lines():
    long = []
    for path in MODULES.values():
        rel = _rel(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{rel}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, long


def _third_party(path: Path) -> Set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package, banned", [
    ("keras_model.ht", {"tensorflow", "tf_keras", "keras", "qkeras", "hls4ml"}),
    ("keras_model.common", {"hls4ml", "qkeras"}),
    ("keras_model.data", {"tensorflow", "tf_keras", "keras", "qkeras", "hls4ml"}),
])
def test_sub_packages_keep_to_their_concern(package, banned):
    graph = import_graph()
    for name, path in MODULES.items():
        if name != package and not name.startswith(package + "."):
            continue
        assert not (_third_party(path) & banned), f"{name} imports {_third_party(path) & banned}"
        outside = {m for m in graph[name] if not m.startswith(package)}
        if package == "keras_model.common":  # the plumbing depends on nothing of ours
            assert not outside, f"{name} imports {outside}"
        else:  # the math and the data build on the plumbing only
            assert all(m.startswith("keras_model.common") for m in outside), \
                f"{name} imports {outside}"


@pytest.mark.parametrize("name", SHIMS)
def test_the_plumbing_has_one_home(name):
    assert not (ROOT / "keras_model" / f"{name}.py").exists(), \
        f"keras_model/{name}.py: the module lives in keras_model/common/ only"

"""The package's layers hold (ARCHITECTURE.md): every import of every module, those inside
functions and under TYPE_CHECKING included, goes to the same layer or one below, and no modules
import each other in a circle. And each idea has its one home: the n-gram context width, the
mixing of probabilities, the check of sampling requests and the run directory's file names."""

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "nnlm"

# bottom first; a module's layer is its first name below nnlm
LAYERS = [("errors", "version", "device", "losses", "display"), ("settings",), ("data",), ("models",),
          ("ngram",), ("run",), ("inference",), ("training",), ("tools", "export"), ("serve",), ("cli",),
          ("__main__", "__init__")]


def modules() -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its own name)."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("nnlm",) + path.relative_to(PACKAGE).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)] = path
    return out


MODULES = modules()


def layer(module: str) -> int:
    first = module.split(".")[1] if "." in module else "__init__"
    return next(i for i, names in enumerate(LAYERS) if first in names)


def imports(module: str, path: Path) -> set[str]:
    """The package's modules that `module` imports anywhere in its source."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "nnlm")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").split(".")[0] == "nnlm":
                target = node.module
            else:
                continue
            for alias in node.names:
                found.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in MODULES else target)
    return {m for m in found if m in MODULES and m != module}


GRAPH = {m: imports(m, p) for m, p in MODULES.items()}


def test_no_import_goes_up_a_layer():
    upward = [f"{m} ({LAYERS[layer(m)][0]}) imports {t} ({LAYERS[layer(t)][0]})"
              for m, targets in GRAPH.items() for t in targets if layer(t) > layer(m)]
    assert not upward, "\n".join(upward)


def test_no_import_circle():
    state, path, circles = {}, [], []

    def visit(m):
        state[m] = "open"
        path.append(m)
        for t in sorted(GRAPH[m]):
            if state.get(t) == "open":
                circles.append(" -> ".join(path[path.index(t):] + [t]))
            elif t not in state:
                visit(t)
        path.pop()
        state[m] = "done"

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)
    assert not circles, "\n".join(circles)


def test_the_checks_see_imports_inside_functions_and_type_checking(tmp_path):
    """The walk is not blind to the imports that run late."""
    assert "nnlm.inference.lm" in GRAPH["nnlm.tools.plot"]  # imported inside plot_run only
    assert "nnlm.inference.lm" in GRAPH["nnlm"]  # under TYPE_CHECKING only


def source_lines():
    for path in sorted(PACKAGE.rglob("*.py")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            yield path.relative_to(PACKAGE).as_posix(), n, line


def where_found(pattern: str, outside: tuple[str, ...] = ()) -> list[str]:
    return [f"{path}:{n}" for path, n, line in source_lines()
            if re.search(pattern, line) and not path.startswith(outside)]


@pytest.mark.parametrize("pattern, home", [
    (r"order\s*-\s*1\s*,\s*1\)", ("ngram/counts.py",)),  # the n-gram's context width
    (r"w \* p_model|log\(w \*|logaddexp", ("ngram/mixture.py",)),  # probabilities mixed
    (r"def check_controls|\.check\(getattr\(self", ("inference/sample.py",)),  # sampling checked
    (r"\"(config|vocab|splits|tokenizer|summary|mix)\.json\"|\.safetensors\"|metrics\.jsonl\"",
     ("run/", "export/")),  # the run directory's file names (and the export formats' own)
])
def test_each_idea_has_one_home(pattern, home):
    found = where_found(pattern)
    assert found and all(f.startswith(home) for f in found), found

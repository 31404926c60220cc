"""The documentation holds what it says: every public name in the API reference, every command in
the command reference, every results file on the results page and every page in the navigation;
README.md short, with its three commands and a current results table; the notebook on the public
API only. These read the sources (no Sphinx needed); tests/test_docs_browser.py opens the built
site in Chromium."""

import ast
import importlib.util
import json
import re

import pytest

import nnlm
import nnlm.data
import nnlm.models
from helpers import ROOT
from nnlm.cli import COMMANDS

DOCS = ROOT / "docs"
README = ROOT / "README.md"


def load_tables():
    spec = importlib.util.spec_from_file_location("tables", DOCS / "tables.py")
    tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tables)
    return tables


def fenced_block(text: str, marker: str) -> str:
    """The fenced block after the line `<!-- marker -->`, as .ci/run's awk reads it."""
    lines = text.splitlines()
    start = lines.index(f"<!-- {marker} -->") + 1
    assert lines[start].startswith("```"), f"no fenced block right after <!-- {marker} -->"
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("```"))
    return "\n".join(lines[start + 1:end])


def toctree_entries() -> list[str]:
    entries, inside = [], False
    for line in (DOCS / "index.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("```{toctree}"):
            inside = True
        elif line.startswith("```"):
            inside = False
        elif inside and line and not line.startswith(":"):
            entries.append(line.strip())
    return entries


@pytest.mark.parametrize("module", [nnlm, nnlm.data, nnlm.models], ids=lambda m: m.__name__)
def test_every_public_name_is_in_the_api_reference(module):
    api = (DOCS / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\.\. auto\w+:: ([\w.]+)", api, re.MULTILINE))
    missing = [name for name in module.__all__ if f"{module.__name__}.{name}" not in documented]
    assert not missing, f"docs/api.md documents none of {missing}"


def test_every_command_is_in_the_command_reference():
    cli = (DOCS / "cli.md").read_text(encoding="utf-8")
    for name in COMMANDS:
        assert f"## nnlm {name}\n" in cli and f":path: {name}\n" in cli, f"docs/cli.md lacks nnlm {name}"


def test_every_results_file_is_on_the_results_page():
    results = (DOCS / "results.md").read_text(encoding="utf-8")
    included = set(re.findall(r"^```\{include\} \.\./benchmarks/results/(.+)$", results, re.MULTILINE))
    files = {p.name for p in (ROOT / "benchmarks" / "results").glob("*.md")}
    assert files - included == set(), "docs/results.md does not include these"
    assert included - files == set(), "docs/results.md includes files that do not exist"


def test_every_page_is_in_the_navigation_and_every_entry_is_a_page():
    entries = toctree_entries()
    pages = {p.stem for p in DOCS.glob("*.md") if p.name not in ("README.md", "index.md")} | {"lecture"}
    assert pages - set(entries) == set(), "pages missing from docs/index.md's toctree"
    sources = {p.stem for p in DOCS.iterdir() if p.suffix in (".md", ".ipynb")}
    assert set(entries) - sources == set(), "toctree entries with no page"
    assert {"export", "constraints", "results", "api", "cli"} <= set(entries)


def test_the_readme_is_short_and_has_its_three_commands():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    assert fenced_block(text, "main-command").strip() == "pip install -e . && nnlm train"
    assert fenced_block(text, "test-command").strip() == "pip install -e '.[test]' && python -m pytest"
    docs = fenced_block(text, "docs-command")
    assert docs.startswith("pip install -e '.[docs]'") and "sphinx-build -W" in docs
    assert "docs/_build/html" in docs


def test_the_readme_results_table_is_what_docs_tables_py_makes():
    text = README.read_text(encoding="utf-8")
    assert load_tables().written(text) == text, "README.md's results table is stale: python docs/tables.py"


def test_the_readme_s_links_into_the_repository_resolve():
    text = README.read_text(encoding="utf-8")
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)]+)\)", text) if "://" not in t]
    assert targets, "README.md links nothing"
    assert [t for t in targets if t and not (ROOT / t).exists()] == []


def test_the_notebook_uses_the_public_api_only():
    notebook = json.loads((DOCS / "lecture.ipynb").read_text(encoding="utf-8"))
    imported = set()
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            for node in ast.walk(ast.parse("".join(cell["source"]))):
                if isinstance(node, ast.Import):
                    imported.update(a.name for a in node.names)
                elif isinstance(node, ast.ImportFrom):
                    imported.add(node.module)
    ours = {m for m in imported if m.split(".")[0] == "nnlm"}
    assert ours == {"nnlm", "nnlm.data", "nnlm.models"}
    assert {m.split(".")[0] for m in imported} <= {"nnlm", "torch", "matplotlib"}

"""Sphinx configuration of nnlm's documentation site (docs/README.md says why Sphinx).

    pip install -e '.[docs]' && sphinx-build -W --keep-going -b html docs docs/_build/html
"""

import re
import sys
from pathlib import Path

import nnlm

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS))  # cli_reference, which the command reference is made from

project = "nnlm"
author = "the nnlm authors"
copyright = "2026, the nnlm authors"
release = version = nnlm.__version__

extensions = [
    "myst_nb",  # MyST Markdown pages and the notebook, rendered from its stored outputs
    "sphinx.ext.autodoc",  # the API reference, from the docstrings
    "sphinx.ext.napoleon",  # Google-style docstrings (Args, Returns, Raises)
    "sphinxarg.ext",  # the command reference, from nnlm.cli.build_parser()
]

root_doc = "index"
exclude_patterns = ["_build", "README.md", "runs", "jupyter_execute", ".ipynb_checkpoints"]

# MyST: GitHub's heading anchors, so page.md#a-heading links work on GitHub and here alike
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# myst-nb: the notebook is shown with the outputs it was saved with; it is never run here
nb_execution_mode = "off"

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "show-inheritance": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

smartquotes = False  # "--out" stays two hyphens, as typed

html_theme = "furo"
html_title = f"nnlm {release}"
html_show_sourcelink = False


# -- links to a results file go to its section of the results page ---------------------------
# Pages link benchmarks/results/NAME.md as a relative path (which works on GitHub); on the site
# that file is part of results.md, under its own heading.

RESULT_LINK = re.compile(r"\]\(\.\./benchmarks/results/([\w.-]+)\.md\)")
INCLUDE = re.compile(r"```\{include\} \.\./benchmarks/results/([\w.-]+)\.md")


def results_sections() -> dict[str, str]:
    """Each results file's anchor on results.md: its own title, or the heading above it."""
    from myst_parser.mdit_to_docutils.base import default_slugify

    anchors, heading = {}, None
    for line in (DOCS / "results.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif match := INCLUDE.match(line):
            first = (DOCS.parent / "benchmarks" / "results" / f"{match[1]}.md").read_text(encoding="utf-8")
            own = first.splitlines()[0][2:] if first.startswith("# ") else None
            anchors[match[1]] = default_slugify(own or heading)
    return anchors


def link_results(app, docname, source):
    anchors = results_sections()
    source[0] = RESULT_LINK.sub(lambda m: f"](results.md#{anchors[m[1]]})" if m[1] in anchors else m[0],
                                source[0])


def setup(app):
    app.connect("source-read", link_results)

"""docs/lecture.ipynb runs top to bottom in a real Jupyter kernel and prints the lecture's numbers."""

import re
import shutil

import pytest

from helpers import ROOT

NOTEBOOK = ROOT / "docs" / "lecture.ipynb"
FIRST_WINDOWS = """emma
... -> e
..e -> m
.em -> m
emm -> a
mma -> .

olivia
... -> o
..o -> l
.ol -> i
oli -> v
liv -> i
ivi -> a
via -> .

ava
... -> a
..a -> v
.av -> a
ava -> .

isabella
... -> i
..i -> s
.is -> a
isa -> b
sab -> e
abe -> l
bel -> l
ell -> a
lla -> .

sophia
... -> s
..s -> o
.so -> p
sop -> h
oph -> i
phi -> a
hia -> .
"""  # as the seed notebook prints them


def printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o["output_type"] == "stream")


@pytest.mark.slow
def test_the_lecture_notebook_runs_and_prints_the_lecture_s_numbers(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    copy = tmp_path / "lecture.ipynb"
    shutil.copy(NOTEBOOK, copy)
    notebook = nbformat.read(copy, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises on a cell that fails
    assert not [o for c in notebook.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    text = [printed(c) for c in notebook.cells if c.cell_type == "code"]
    vocabulary = next(t for t in text if "tokens" in t and "{1: 'a'" in t)
    assert vocabulary.strip().endswith("27 tokens") and "26: 'z', 0: '.'}" in vocabulary
    assert next(t for t in text if t.startswith("emma")).strip() == FIRST_WINDOWS.strip()
    assert "the same logits: True" in "".join(text) and "11,897 parameters" in "".join(text)
    dev = float(re.search(r"the lecture's model: dev (\d\.\d+)", "".join(text)).group(1))
    assert abs(dev - 2.17) <= 0.01
    images = [o for c in notebook.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # the loss curve and the embedding maps, inline
    streams = sum(len(t.splitlines()) for t in text)
    assert streams < 200  # no wall of log lines

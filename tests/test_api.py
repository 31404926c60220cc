"""The Python API: every command a function, and results that show well in a notebook."""

import pytest

import nnlm
from helpers import TINY_SETTINGS


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    names = tmp_path_factory.mktemp("api") / "names.txt"
    from nnlm.data.text import bundled_names_path, read_items

    names.write_text("\n".join(read_items(bundled_names_path())[:300]) + "\n")
    out = names.parent / "run"
    result = nnlm.train(str(names), str(out), progress=False, **TINY_SETTINGS)
    return names, out, result


def test_a_result_and_a_model_show_as_small_tables(run):
    _, out, result = run
    html = result._repr_html_()
    assert html.startswith("<table>") and str(out) in html and "loss (nats/token)" in html
    assert f"dev {result.model_dev_loss:.4f}" in str(result)
    lm = nnlm.load(out, device="cpu")
    assert "<table>" in lm._repr_html_() and "parameters" in repr(lm) and "mlp" in repr(lm)


def test_every_command_is_a_function(run):
    names, out, _ = run
    pytest.importorskip("matplotlib")
    figures = nnlm.plot(out)
    assert set(figures) == {"loss_curve", "embedding_map"}
    assert all(hasattr(f, "savefig") for f in figures.values())  # matplotlib figures, left open
    assert (out / "loss_curve.png").exists()
    nearest = nnlm.neighbors(out, "a", k=3)
    assert len(nearest) == 3 and all(isinstance(t, str) and -1 <= s <= 1 for t, s in nearest)
    report = nnlm.ngram(str(names), order=3)
    assert report["order"] == 3 and report["dev"]["tokens"] > 0
    assert callable(nnlm.lr_find) and callable(nnlm.sweep)

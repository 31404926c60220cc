"""A head start: a run that starts from another's weights keeps every token's rows, gives the
data's new tokens and labels rows of their own, and takes the other run's family and sizes."""

import json

import pytest
import torch

import nnlm
from helpers import TINY_SETTINGS
from nnlm.errors import NnlmError


@pytest.fixture(scope="module")
def origin(tmp_path_factory, names):
    data = tmp_path_factory.mktemp("origin") / "names.txt"
    data.write_text("\n".join(names[:400]) + "\n")
    out = tmp_path_factory.mktemp("runs") / "origin"
    nnlm.train(str(data), str(out), progress=False, **TINY_SETTINGS)
    return out


def test_a_head_start_keeps_the_rows_of_known_tokens(origin, tmp_path, names):
    from nnlm.run import rundir
    from nnlm.run.spec import build_spec
    from nnlm.training.headstart import start_from

    small = tmp_path / "small.txt"
    small.write_text("\n".join(names[1000:1200] + ["zoë", "josé"]) + "\n")
    lines = []
    nnlm.train(str(small), str(tmp_path / "run"), progress=False, log=lines.append, init_from=str(origin),
               steps=5, mix=False)
    said = next(line for line in lines if line.startswith("weights from"))
    assert said.endswith("new rows for 2: é, ë") and "27 of 29 tokens keep their rows" in said
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["train"]["init_from"] == str(origin.resolve())
    own = ("vocab_size", "labels", "dropout")  # (dropout: the new data's, the next test)
    old_model = json.loads((origin / "config.json").read_text())["model"]
    sizes = {k: v for k, v in old_model.items() if k not in own}
    assert {k: v for k, v in config["model"].items() if k not in own} == sizes
    old = nnlm.load(origin, mix=False)
    spec = build_spec(str(small), str(tmp_path / "again"), origin=rundir.load_spec(origin),
                      settings={"init_from": str(origin)})
    assert spec.vocab.chars[:len(old.vocab.chars)] == old.vocab.chars  # known ids kept, new ones after
    model = spec.family.build(spec.model_config)
    fresh = model.embeddings().detach().clone()
    start_from(model, spec, rundir.load_spec(origin))
    C_old, C_new = old.model.embeddings(), model.embeddings()
    assert torch.equal(C_new[:len(old.vocab)], C_old)  # every known token's row, as it was
    assert torch.equal(C_new[len(old.vocab):], fresh[len(old.vocab):])  # the new ones: the new model's
    assert torch.equal(model.out.bias[:len(old.vocab)], old.model.out.bias)


def test_a_labelled_run_can_start_from_an_unlabelled_one(origin, tmp_path, names):
    files = []
    for label, part in (("a", names[2000:2100]), ("b", names[3000:3100])):
        (tmp_path / f"{label}.txt").write_text("\n".join(part) + "\n")
        files.append(str(tmp_path / f"{label}.txt"))
    lines = []
    nnlm.train(files, str(tmp_path / "run"), progress=False, log=lines.append, init_from=str(origin),
               steps=5, mix=False)
    said = next(line for line in lines if line.startswith("weights from"))
    assert said.endswith("<label:a>, <label:b>")
    assert nnlm.load(tmp_path / "run").source.labels == ["a", "b"]


def test_a_labelled_runs_own_layers_start_fresh_from_an_unlabelled_one(origin, tmp_path, names):
    """What the unlabelled run has is taken; what only a labelled model has (the MLP's FiLM) starts
    as a fresh model's: gain 1, shift 0."""
    from nnlm.run import rundir
    from nnlm.run.spec import build_spec
    from nnlm.training.headstart import start_from

    files = []
    for label, part in (("a", names[2000:2100]), ("b", names[3000:3100])):
        (tmp_path / f"{label}.txt").write_text("\n".join(part) + "\n")
        files.append(str(tmp_path / f"{label}.txt"))
    spec = build_spec(files, str(tmp_path / "run"), origin=rundir.load_spec(origin),
                      settings={"init_from": str(origin)})
    model = spec.family.build(spec.model_config)
    with torch.no_grad():
        model.film.weight.fill_(1.0)  # what start_from must leave as the model has it
    start_from(model, spec, rundir.load_spec(origin))
    old = nnlm.load(origin, mix=False).model
    assert torch.equal(model.hidden.weight, old.hidden.weight)
    assert (model.film.weight == 1.0).all()


def test_how_a_label_is_read_is_the_labelled_runs_own_not_an_unlabelled_origins(tmp_path, names):
    from nnlm.run import rundir
    from nnlm.run.spec import build_spec

    data = tmp_path / "names.txt"
    data.write_text("\n".join(names[:200]) + "\n")
    nnlm.train(str(data), str(tmp_path / "origin"), progress=False, mix=False, film=False,
               **{**TINY_SETTINGS, "steps": 5})
    files = []
    for label, part in (("a", names[2000:2100]), ("b", names[3000:3100])):
        (tmp_path / f"{label}.txt").write_text("\n".join(part) + "\n")
        files.append(str(tmp_path / f"{label}.txt"))
    origin = rundir.load_spec(tmp_path / "origin")
    assert origin.model_config.film is False  # (meaningless without labels)
    for given, film in (({}, True), ({"film": False}, False)):
        spec = build_spec(files, str(tmp_path / "run"), origin=origin,
                          settings={"init_from": str(tmp_path / "origin"), **given})
        assert spec.model_config.film is film


def test_a_head_start_takes_the_runs_family_and_sizes(origin, tmp_path, names):
    small = tmp_path / "small.txt"
    small.write_text("\n".join(names[:200]) + "\n")
    with pytest.raises(NnlmError, match="is a mlp run: a run that starts from its weights is one too"):
        nnlm.train(str(small), str(tmp_path / "a"), family="gru", init_from=str(origin), progress=False)
    with pytest.raises(NnlmError, match="n_hidden: a run that starts from another.s weights takes the "
                                        "settings that shape them"):
        nnlm.train(str(small), str(tmp_path / "b"), n_hidden=8, init_from=str(origin), progress=False)
    with pytest.raises(NnlmError, match="tie: a run that starts from another.s weights takes the settings"):
        nnlm.train(str(small), str(tmp_path / "b"), tie=True, init_from=str(origin), progress=False)
    with pytest.raises(NnlmError, match="no such run directory"):
        nnlm.train(str(small), str(tmp_path / "c"), init_from=str(tmp_path / "nowhere"), progress=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()



@pytest.mark.parametrize("name", ["mlp", "transformer"])
def test_a_vocabulary_as_large_as_the_embeddings_are_wide_keeps_its_columns(tmp_path, name):
    """Twelve token ids on both sides (a labelled run's 10 and 2 labels; then 10 and 2 new
    characters) and 12-wide embeddings: each kept token's row is its old row as it was, its
    columns not remapped as if they were tokens."""
    from nnlm.run import rundir
    from nnlm.run.spec import build_spec
    from nnlm.training.headstart import start_from

    for label, items in (("a", ["abcdefghi", "acegi"]), ("b", ["ihgfedcba", "bdfh"])):
        (tmp_path / f"{label}.txt").write_text("\n".join(items * 30) + "\n")
    (tmp_path / "new.txt").write_text("\n".join(["abcdefghijk", "kjihgfedcba"] * 30) + "\n")
    sizes = dict(n_embd=12, block_size=3) if name == "mlp" else \
        dict(n_embd=12, n_head=1, n_layer=1, block_size=8)
    nnlm.train([str(tmp_path / "a.txt"), str(tmp_path / "b.txt")], str(tmp_path / "old"), family=name,
               steps=3, mix=False, progress=False, **sizes)
    origin = rundir.load_spec(tmp_path / "old")
    spec = build_spec(str(tmp_path / "new.txt"), str(tmp_path / "new"), origin=origin,
                      settings={"init_from": str(tmp_path / "old")})
    assert spec.model_config.vocab_size == origin.model_config.vocab_size == 12
    model = spec.family.build(spec.model_config)
    start_from(model, spec, origin)
    old = nnlm.load(tmp_path / "old", mix=False).model.embeddings()
    assert torch.equal(model.embeddings()[:10], old[:10])  # the boundary and a..i, as they were


def test_a_head_start_takes_what_does_not_shape_the_weights_from_the_data(origin, tmp_path, names):
    """Dropout is the new data's (the default run's rule: more for less data) or given; the sizes
    are the other run's."""
    small = tmp_path / "small.txt"
    small.write_text("\n".join(names[:300]) + "\n")
    nnlm.train(str(small), str(tmp_path / "auto"), init_from=str(origin), steps=2, mix=False, progress=False)
    nnlm.train(str(small), str(tmp_path / "given"), init_from=str(origin), dropout=0.25, steps=2, mix=False,
               progress=False)
    old = json.loads((origin / "config.json").read_text())
    for run, dropout in (("auto", None), ("given", 0.25)):
        config = json.loads((tmp_path / run / "config.json").read_text())
        assert config["model"]["n_hidden"] == old["model"]["n_hidden"] == 16
        assert config["model"]["dropout"] == (dropout or config["model"]["dropout"])
        assert config["model"]["dropout"] != old["model"]["dropout"]
    why = json.loads((tmp_path / "auto" / "config.json").read_text())["why"]
    assert any("its own dropout" in line for line in why)


def test_a_head_start_takes_a_third_of_a_fresh_runs_peak_lr_unless_one_is_given(origin, tmp_path, names):
    from nnlm.run import rundir
    from nnlm.run.spec import build_spec

    small = tmp_path / "small.txt"
    small.write_text("\n".join(names[1000:1300]) + "\n")
    fresh = build_spec(str(small), str(tmp_path / "fresh"))
    started = build_spec(str(small), str(tmp_path / "started"), origin=rundir.load_spec(origin),
                         settings={"init_from": str(origin)})
    assert started.train.lr == pytest.approx(fresh.train.lr / 3)
    assert any(line.startswith(f"peak lr {fresh.train.lr / 3:g}, a third") for line in started.why)
    given = build_spec(str(small), str(tmp_path / "given"), origin=rundir.load_spec(origin),
                       settings={"init_from": str(origin), "lr": 0.02})
    assert given.train.lr == 0.02 and not any(line.startswith("peak lr") for line in given.why)

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
    sizes = {k: v for k, v in json.loads((origin / "config.json").read_text())["model"].items()
             if k not in ("vocab_size", "labels")}
    assert {k: v for k, v in config["model"].items() if k not in ("vocab_size", "labels")} == sizes
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


def test_a_head_start_takes_the_runs_family_and_sizes(origin, tmp_path, names):
    small = tmp_path / "small.txt"
    small.write_text("\n".join(names[:200]) + "\n")
    with pytest.raises(NnlmError, match="is a mlp run: a run that starts from its weights is one too"):
        nnlm.train(str(small), str(tmp_path / "a"), family="gru", init_from=str(origin), progress=False)
    with pytest.raises(NnlmError, match="n_hidden: a run that starts from another's weights takes its"):
        nnlm.train(str(small), str(tmp_path / "b"), n_hidden=8, init_from=str(origin), progress=False)
    with pytest.raises(NnlmError, match="no such run directory"):
        nnlm.train(str(small), str(tmp_path / "c"), init_from=str(tmp_path / "nowhere"), progress=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()

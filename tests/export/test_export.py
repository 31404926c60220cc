"""`nnlm export`: the folder's files (the vocabulary, a BPE's tokenizer, the card with the model
alone's figures, the n-gram model as ARPA), its help, and the refusals: one line each, nothing written."""

import json
import shutil
import sys

import kenlm
import pytest
import torch

import nnlm
from helpers import run_error, run_ok
from nnlm.export import formats, write
from nnlm.export.formats import Format
from nnlm.run import rundir


def test_the_command_writes_the_folder(trained, tmp_path, capsys):
    run, out = trained("mlp", "char"), tmp_path / "names-onnx"
    printed = run_ok(capsys, "export", run, "--out", out)
    assert printed.strip() == f"{out}: README.md, card.json, model.onnx, ngram.arpa, vocab.json"
    lm = nnlm.load(run, mix=False)
    vocab = json.loads((out / "vocab.json").read_text())
    assert vocab["tokens"] == ["<e>"] + [lm.vocab.decode([i]) for i in range(1, len(lm.vocab))]
    assert vocab["level"] == "char" and vocab["boundary_id"] == 0 and len(vocab["tokens"]) == len(lm.vocab)
    card = json.loads((out / "card.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    assert card["figures"]["dev"]["loss"] == summary["model_dev_loss"] != summary["dev_loss"]  # model alone
    assert card["figures"]["test"]["loss"] == summary["model_test_loss"]
    assert card["mixture"]["order"] == summary["mixture"]["order"] and card["labels"] == {}
    assert card["model"]["family"] == "mlp" and card["ids"]["ends"] is True
    readme = (out / "README.md").read_text()
    assert f"{summary['model_dev_loss']:.4f}" in readme and "neural model alone" in readme


def test_a_bpe_folder_carries_the_runs_tokenizer(trained, exported):
    run, out = trained("lstm", "bpe"), exported("lstm", "bpe")
    assert (json.loads((out / "tokenizer.json").read_text()) ==
            json.loads((run / "tokenizer.json").read_text()))
    vocab = json.loads((out / "vocab.json").read_text())
    lm = nnlm.load(run, mix=False)
    assert vocab["tokenizer"] == "tokenizer.json" and vocab["id_offset"] == 1
    assert vocab["size"] == len(vocab["tokens"]) == len(lm.vocab)
    card = json.loads((out / "card.json").read_text())
    assert card["ids"] == {"vocab_size": len(lm.vocab), "boundary_id": 0, "level": "bpe", "ends": False,
                           "default_max_len": 150}


def test_the_ngram_model_leaves_as_an_arpa_file_kenlm_reads(trained, exported):
    mixture = json.loads((trained("mlp", "char") / "mix.json").read_text())
    model = kenlm.Model(str(exported("mlp", "char") / "ngram.arpa"))
    assert model.order == mixture["order"] and model.score("e m m a", bos=True, eos=True) < 0


def test_help_lists_the_formats_and_what_each_takes(capsys):
    from nnlm.cli import main

    with pytest.raises(SystemExit):
        main(["export", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "onnx: one sampling step as an ONNX model" in text and "takes every family, characters or BPE " \
        "subwords or words" in text
    assert "hf: a Hugging Face transformers folder" in text and "takes the transformer family" in text
    assert "(default: onnx)" in text and "(default: off)" in text


def test_a_run_still_training_is_refused(trained, tmp_path, capsys):
    run = trained("bigram", "char")
    with rundir.locked(run):
        err = run_error(capsys, "export", run, "--out", tmp_path / "out")
    assert "still training" in err and not (tmp_path / "out").exists()


def test_an_existing_out_is_replaced_only_when_asked(trained, tmp_path, capsys):
    run, out = trained("bigram", "char"), tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("earlier")
    err = run_error(capsys, "export", run, "--out", out)
    assert "already exists; pass --overwrite" in err and (out / "old.txt").exists()
    run_ok(capsys, "export", run, "--out", out, "--overwrite")
    assert not (out / "old.txt").exists() and (out / "model.onnx").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder left beside it


def test_the_run_directory_itself_is_never_the_out(trained, capsys):
    run = trained("bigram", "char")
    for out in (run, run.parent):
        err = run_error(capsys, "export", run, "--out", out, "--overwrite")
        assert "is or holds the run directory" in err
    assert (run / "model.safetensors").exists()


@pytest.mark.parametrize("damage, said", [("shape", "weights do not match config.json"),
                                          ("cut", "not a readable safetensors file")])
def test_weights_that_fail_their_check_are_refused(damage, said, trained, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained("bigram", "char"), run)
    if damage == "shape":
        rundir.save_tensors(run / "model.safetensors", {"logits": torch.zeros(3, 3)}, {})
    else:
        data = (run / "model.safetensors").read_bytes()
        (run / "model.safetensors").write_bytes(data[:len(data) // 2])
    err = run_error(capsys, "export", run, "--out", tmp_path / "out")
    assert said in err and not (tmp_path / "out").exists()


def test_a_token_kind_a_format_cannot_take_is_refused(trained, tmp_path, monkeypatch, capsys):
    characters_only = Format("hf", "GPT-2", families=("transformer",), levels=("char",))
    monkeypatch.setitem(formats.FORMATS, "hf", characters_only)
    out = tmp_path / "out"
    err = run_error(capsys, "export", trained("transformer", "bpe"), "--format", "hf", "--out", out)
    assert err.endswith("--format hf does not take BPE subwords as tokens") and not out.exists()


def test_a_failed_export_leaves_nothing_and_the_old_folder_whole(trained, tmp_path, monkeypatch):
    run, out = trained("bigram", "char"), tmp_path / "out"
    write.export(run, out)
    before = sorted(p.name for p in out.iterdir())

    def fail(*args):
        raise nnlm.NnlmError("the disk is full")

    monkeypatch.setattr(write, "write_card", fail)
    with pytest.raises(nnlm.NnlmError, match="the disk is full"):
        write.export(run, out, overwrite=True)
    with pytest.raises(nnlm.NnlmError, match="the disk is full"):
        write.export(run, tmp_path / "new")
    assert sorted(p.name for p in out.iterdir()) == before  # the old folder, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing else, no temporary folder


@pytest.mark.parametrize("format, package", [("onnx", "onnxruntime"), ("hf", "transformers")])
def test_a_missing_package_is_named_with_the_extra_to_install(format, package, trained, tmp_path, monkeypatch,
                                                              capsys):
    monkeypatch.setitem(sys.modules, package, None)  # import fails
    run = trained("transformer", "char")
    err = run_error(capsys, "export", run, "--format", format, "--out", tmp_path / "out")
    assert package in err and "pip install 'nnlm[export]'" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []

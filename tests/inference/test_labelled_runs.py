"""A labelled run: samples of a label or across labels (each marked), losses per label, the
likeliest label of an item, from the Python API, the command line and the server."""

import json
import math

import pytest
import torch

import nnlm
from helpers import TINY_SETTINGS, run_error, run_ok


@pytest.fixture(scope="module")
def labelled_run(tmp_path_factory, names):
    """Two labels that differ in form: names as they are, and names spelled backwards."""
    folder = tmp_path_factory.mktemp("labelled")
    (folder / "plain.txt").write_text("\n".join(names[:300]) + "\n")
    (folder / "reversed.txt").write_text("\n".join(n[::-1] for n in names[300:500]) + "\n")
    run = folder / "run"
    nnlm.train([str(folder / "plain.txt"), str(folder / "reversed.txt")], str(run), progress=False,
               **{**TINY_SETTINGS, "steps": 300, "n_hidden": 64})
    return run


def test_samples_of_a_label_and_across_labels(labelled_run):
    lm = nnlm.load(labelled_run, device="cpu")
    assert lm.source.labels == ["plain", "reversed"]
    mine = lm.sample(20, label="reversed", seed=1)
    assert {s.label for s in mine} == {"reversed"}
    mixed = lm.sample(400, seed=2, max_len=20)
    shares = {label: sum(s.label == label for s in mixed) / len(mixed) for label in lm.source.labels}
    assert abs(shares["plain"] - 240 / 400) < 0.08  # the labels' shares of the training items
    again = [s.text for s in lm.sample(5, label="plain", seed=3)]
    assert [s.text for s in lm.sample(5, label="plain", seed=3)] == again
    with pytest.raises(nnlm.NnlmError, match="no label 'orcs': its labels are plain, reversed"):
        lm.sample(1, label="orcs")


def test_losses_per_label_sum_to_the_split_s(labelled_run):
    lm = nnlm.load(labelled_run, device="cpu")
    result = lm.evaluate("test")
    assert set(result.by_label) == {"plain", "reversed"}
    total = sum(r.loss * r.tokens for r in result.by_label.values())
    assert sum(r.tokens for r in result.by_label.values()) == result.tokens
    assert math.isclose(total / result.tokens, result.loss, rel_tol=1e-9)
    item = lm.source.split.test[0]
    label = lm.source.labels[lm.source.item_labels["test"][0]]
    assert lm.score([item], label)[0].logprob < 0
    with pytest.raises(nnlm.NnlmError, match="a labelled run reads an item under a label"):
        lm.score([item])


def test_classify_by_bayes_and_the_accuracy_of_the_test_split(labelled_run):
    lm = nnlm.load(labelled_run, device="cpu")
    found = lm.classify(["christopher", "rehpotsirhc"])
    assert [c.label for c in found] == ["plain", "reversed"]
    assert all(math.isclose(sum(c.posterior.values()), 1.0) for c in found)
    accuracy, items = lm.accuracy("test")
    assert items == len(lm.source.split.test) and accuracy > 0.8


def test_the_command_line_on_a_labelled_run(labelled_run, capsys, tmp_path):
    out = run_ok(capsys, "sample", labelled_run, "-n", 6, "--label", "reversed", "--seed", 1, "--json")
    assert {json.loads(line)["label"] for line in out.splitlines()} == {"reversed"}
    for label in ([], ["--label", "plain"]):  # --plain: the items alone, with or without --label
        plain = run_ok(capsys, "sample", labelled_run, "-n", 6, "--seed", 1, "--plain", *label).splitlines()
        assert len(plain) == 6 and not any("\t" in line or " " in line for line in plain)
    assert run_ok(capsys, "sample", labelled_run, "-n", 6, "--seed", 1, "--plain", "--label", "plain") != \
        run_ok(capsys, "sample", labelled_run, "-n", 6, "--seed", 1, "--plain", "--label", "reversed")
    printed = run_ok(capsys, "eval", labelled_run, "--split", "test")
    assert "  plain: loss" in printed and "  reversed: loss" in printed and "classification:" in printed
    evaluated = json.loads(run_ok(capsys, "eval", labelled_run, "--split", "test", "--json"))
    assert set(evaluated["labels"]) == {"plain", "reversed"}
    assert evaluated["classification"]["split"] == "test"
    items = tmp_path / "items.txt"
    items.write_text("christopher\nrehpotsirhc\n")
    assert run_ok(capsys, "classify", labelled_run, items) == "christopher\tplain\nrehpotsirhc\treversed\n"
    assert "a labelled run reads an item under a label" in run_error(capsys, "score", labelled_run, "emma")
    assert "no label 'x'" in run_error(capsys, "sample", labelled_run, "--label", "x")


def test_the_server_samples_a_label_under_a_pattern(labelled_run):
    from starlette.testclient import TestClient

    from nnlm.serve.app import create_app

    with TestClient(create_app([labelled_run])) as client:
        cards = client.get("/api/runs").json()["runs"]
        assert cards[0]["labels"] == ["plain", "reversed"]
        body = {"run": cards[0]["name"], "n": 8, "label": "plain", "regex": "[a-z]*a", "seed": 4}
        samples = client.post("/api/sample", json=body).json()["samples"]
        assert len(samples) == 8 and all(s["label"] == "plain" and s["text"].endswith("a") for s in samples)
        scored = client.post("/api/score", json={"run": cards[0]["name"], "text": "emma", "label": "plain"})
        assert scored.status_code == 200 and scored.json()["logprob"] < 0
        refused = client.post("/api/sample", json={"run": cards[0]["name"], "label": "orcs"})
        assert refused.status_code == 400 and "label: no label 'orcs'" in refused.json()["error"]


@pytest.mark.parametrize("family, settings", [("mlp", {}), ("gru", dict(block_size=16, n_embd=8, n_hidden=16,
                                                                         preset="default"))])
def test_a_labelled_sampling_step_reads_what_training_read(tmp_path, names, family, settings):
    """Token by token from a label, as sampling reads (the model and its n-gram model, each with
    its own window), the log p of items is what score gives: the window models read the label
    last in every context, in training and in sampling alike."""
    from nnlm.data.vocab import BOUNDARY_ID
    from nnlm.inference.predictor import Predictor
    from nnlm.ngram.baseline import fit_ngram
    from nnlm.ngram.mixture import RunMixture

    for label, part in (("a", names[:200]), ("b", [n[::-1] for n in names[200:400]])):
        (tmp_path / f"{label}.txt").write_text("\n".join(part) + "\n")
    nnlm.train([str(tmp_path / "a.txt"), str(tmp_path / "b.txt")], str(tmp_path / "run"), family=family,
               progress=False, mix=False, **{**TINY_SETTINGS, "block_size": 4, **settings})
    lm = nnlm.load(tmp_path / "run", device="cpu")
    mixed = Predictor(lm.model, lm.device, RunMixture(fit_ngram(lm.source, 4)[0], 0.6))
    items = lm.source.split.dev[:12]
    for label in ("a", "b"):
        start = lm.source.label_token(label)
        stepped = 0.0
        for item in items:
            logits, state = mixed.begin(torch.tensor([[start]]))
            for token in lm.source.encode(item, item) + [BOUNDARY_ID]:
                stepped += float(torch.log_softmax(logits.double(), -1)[0, token])
                logits, state = mixed.advance(state, torch.tensor([token]))
        scored = nnlm.LanguageModel(mixed, lm.spec).score(items, label)
        assert stepped == pytest.approx(sum(s.logprob for s in scored), rel=1e-5)


def test_a_labelled_window_reads_its_label_last():
    from nnlm.data.windows import Windows, first_window, next_window

    ids = torch.tensor([5, 6, 7])  # one item of three tokens, label token 9
    windows = Windows.from_ids(ids, torch.tensor([3]), 3, starts=torch.tensor([9]))
    X, Y = windows.tensors()
    assert X.tolist() == [[0, 0, 9], [0, 5, 9], [5, 6, 9], [6, 7, 9]] and Y.tolist() == [5, 6, 7, 0]
    window = first_window(torch.tensor([[9]]), 3, labelled=True)
    steps = [window.tolist()[0]]
    for token in (5, 6, 7):
        window = next_window(window, torch.tensor([token]), labelled=True)
        steps.append(window.tolist()[0])
    assert steps == X.tolist()
    assert first_window(torch.tensor([[9, 5, 6]]), 3, labelled=True).tolist() == [[5, 6, 9]]
    # a window of one: the label where the item starts, as the boundary is without labels
    one = Windows.from_ids(ids, torch.tensor([3]), 1, starts=torch.tensor([9]))
    assert one.tensors()[0].flatten().tolist() == [9, 5, 6, 7]

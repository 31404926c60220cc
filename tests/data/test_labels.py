"""Labelled lists: read from several files or a CSV/TSV file, split label by label, each item
read from its label's token."""

from collections import Counter

import pytest
import torch

from nnlm.data.labels import SPLITS, Labelled, read_delimited, read_labelled_files, split_labelled
from nnlm.data.split import split_items
from nnlm.data.sources import read_source
from nnlm.errors import NnlmError
from nnlm.settings.data import DataConfig

SPLIT = (0.8, 0.1, 0.1)


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_several_files_are_labelled_by_their_names(tmp_path):
    elves = write(tmp_path / "elves.txt", "legolas\narwen\nelrond\n")
    orcs = write(tmp_path / "orcs.txt", "azog\nbolg\narwen\n")
    labelled = read_labelled_files([str(elves), str(orcs)])
    assert labelled.names == ["elves", "orcs"]
    assert list(zip(labelled.items, labelled.labels, strict=True)) == [
        ("legolas", 0), ("arwen", 0), ("elrond", 0), ("azog", 1), ("bolg", 1), ("arwen", 1)]
    assert labelled.notes == ["warning: 1 item appears under two labels or more (e.g. 'arwen': elves, "
                              "orcs); each is kept under each, its copies in one split"]
    other = tmp_path / "x"
    other.mkdir()
    with pytest.raises(NnlmError, match="two data files are named 'elves'"):
        read_labelled_files([str(elves), str(write(other / "elves.txt", "a\n"))])


def test_a_csv_or_tsv_file_names_its_columns(tmp_path):
    csv = write(tmp_path / "names.csv", 'name,language\nemma,en\n"renée, the first",fr\n,en\nluca,it\n')
    labelled = read_delimited(str(csv), "language")
    assert labelled.items == ["emma", "renée, the first", "luca"] and labelled.labels == [0, 1, 2]
    assert labelled.names == ["en", "fr", "it"]
    tsv = write(tmp_path / "names.tsv", "lang\tid\tname\nen\t1\temma\nfr\t2\trenée\n")
    assert read_delimited(str(tsv), "lang", "name").items == ["emma", "renée"]
    assert read_delimited(str(tsv), "lang").items == ["1", "2"]  # the first other column
    with pytest.raises(NnlmError, match=r"names.csv:1: no column named 'lang' \(the first row names 'name'"):
        read_delimited(str(csv), "lang")
    bad = write(tmp_path / "bad.csv", "name,language\nemma,en\nluca,\n")
    with pytest.raises(NnlmError, match=r"bad.csv:3: the item 'luca' has an empty label"):
        read_delimited(str(bad), "language")


def test_each_label_is_split_on_its_own(tmp_path):
    items = [f"a{i}" for i in range(40)] + [f"b{i}" for i in range(20)]
    split, labels = split_labelled(Labelled(items, [0] * 40 + [1] * 20, ["a", "b"]), 42, (0.8, 0.1, 0.1),
                                   False)
    assert (len(split.train), len(split.dev), len(split.test)) == (48, 6, 6)
    assert labels["dev"] == [0] * 4 + [1] * 2 and all(s.startswith("b") for s in split.dev[4:])
    with pytest.raises(NnlmError, match="the label 'b' has 3 items: too few for a"):
        split_labelled(Labelled(items[:40] + ["b1", "b2", "b3"], [0] * 40 + [1] * 3, ["a", "b"]), 42,
                       (0.8, 0.1, 0.1), False)


def test_every_copy_of_an_item_under_several_labels_is_in_one_split():
    shared = [f"s{i}" for i in range(30)]  # under both labels, and twice under "a"
    items = [f"a{i}" for i in range(50)] + shared + shared + [f"b{i}" for i in range(10)] + shared
    labels = [0] * 110 + [1] * 40
    split, by = split_labelled(Labelled(items, labels, ["a", "b"]), 42, SPLIT, False)
    where = {name: set(getattr(split, name)) for name in SPLITS}
    assert not (where["train"] & where["dev"]) and not (where["train"] & where["test"])
    assert not (where["dev"] & where["test"])
    kept = Counter(pair for name in SPLITS for pair in zip(getattr(split, name), by[name], strict=True))
    assert kept == Counter(zip(items, labels, strict=True))  # every copy kept once, with its own label
    alone = split_items(items[110:], 42, SPLIT)  # "b", the smaller label, as a list alone
    for name in SPLITS:  # "b"'s split decided where each shared item went
        assert {item for item, k in zip(getattr(split, name), by[name], strict=True) if k == 1} == set(
            getattr(alone, name))
    repeats = split_labelled(Labelled(items + ["r"] * 20, labels + [1] * 20, ["a", "b"]), 42, SPLIT,
                             False)[0]  # "r", under one label alone, is split as a list's repeats are
    assert sum("r" in getattr(repeats, name) for name in SPLITS) >= 2
    a = next(placed("a", j) for j in range(20) if "s" in split_items(placed("a", j), 42, SPLIT).train)
    b = next(placed("b", j) for j in range(20) if "s" not in split_items(placed("b", j), 42, SPLIT).train)
    split, _ = split_labelled(Labelled(a + b, [0] * 20 + [1] * 20, ["a", "b"]), 42, SPLIT, False)
    assert "s" in split.train and "s" not in split.dev + split.test  # a tie: "a" decides, not "b"


def placed(label: str, at: int) -> list[str]:
    """Nineteen items of `label` and "s" at `at`: where "s" falls in the label's own split."""
    return [f"{label}{i}" for i in range(at)] + ["s"] + [f"{label}{i}" for i in range(at, 19)]


@pytest.mark.parametrize("fractions, left_out, refused", [(SPLIT, "dev", "dev"), (SPLIT, "test", "test"),
                                                          ((0.9, 0.0, 0.1), "dev", None)])
def test_a_label_whose_items_went_to_others_splits(fractions, left_out, refused):
    own = [f"a{i}" for i in range(10)]
    small = split_items(own, 42, fractions)  # as split_labelled splits "a", the smaller label
    kept = [name for name in SPLITS if name != left_out]
    larger = [item for name in kept for item in getattr(small, name) * 2]  # none of "a"'s `left_out`
    labelled = Labelled(own + larger, [0] * 10 + [1] * len(larger), ["a", "b"])
    if refused is None:  # a split of fraction 0 needs no items
        assert split_labelled(labelled, 42, fractions, False)[1]["dev"] == []
        return
    with pytest.raises(NnlmError, match=f"the label 'b' has no {refused} items: each item under several"):
        split_labelled(labelled, 42, fractions, False)


def test_a_labelled_source_reads_each_item_from_its_label(tmp_path, names):
    files = [str(write(tmp_path / f"{label}.txt", "\n".join(names[k * 100:(k + 1) * 100]) + "\n"))
             for k, label in enumerate(("x", "y"))]
    source = read_source(files, DataConfig())
    assert source.labels == ["x", "y"] and source.id_count() == len(source.vocab) + 2
    assert source.label_token("y") == len(source.vocab) + 1
    with pytest.raises(NnlmError, match="no label 'z': its labels are x, y"):
        source.label_token("z")
    windows = source.windows("train", 3)
    X, Y = windows.tensors()
    assert int(Y.max()) < len(source.vocab)  # a label is never predicted
    first = source.split.train[0]
    assert X[0].tolist() == [0, 0, source.label_token(source.labels[source.item_labels["train"][0]])]
    assert source.decode(source.encode(first, "") + [source.label_token("x")]) == first
    sequences = windows.sequences()
    x, y = sequences.batch(torch.tensor([0]))
    assert x[0, 0] >= len(source.vocab) and y[0, len(first)] == 0  # read from the label, end predicted
    assert "2 labels (training items: x 80, y 80)" in source.notes
    with pytest.raises(NnlmError, match="labels are for a list"):
        read_source(files, DataConfig(kind="text"))

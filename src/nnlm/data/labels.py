"""Labelled lists: items with a category each (elves, dwarves, orcs; a name's language), read from
several list files (each file's stem is its items' label) or from one CSV or TSV file (a column of
items and a column of labels), and split label by label, so that every label has items in every
split, every copy of an item under several labels in one.

A labelled run conditions everything on the label: an item is read from its label's token instead
of the boundary (`0 e m m a 0` becomes `<en> e m m a 0`), so every family and the n-gram model see
it where an item starts (a sequence model throughout the item; a window model and the n-gram model
while the start is in their context). The label tokens follow the vocabulary's own ids.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NnlmError, TooFew, where
from .split import Split, split_items
from .text import read_items, read_text

SPLITS = ("train", "dev", "test")


@dataclass
class Labelled:
    """Items and the label of each, by index into `names`."""

    items: list[str]
    labels: list[int]
    names: list[str]
    notes: list[str] = field(default_factory=list)  # what reading them found (items under two labels)


def read_labelled_files(paths: list[str]) -> Labelled:
    """The items of several list files, each labelled with its file's stem."""
    stems = [Path(p).stem for p in paths]
    twice = next((s for s in stems if stems.count(s) > 1), None)
    if twice is not None:
        raise NnlmError(f"two data files are named {twice!r}: a file's name is its items' label, so each "
                        "must differ")
    items, labels = [], []
    for k, path in enumerate(paths):
        found = read_items(path)
        items += found
        labels += [k] * len(found)
    return with_notes(Labelled(items, labels, stems))


def delimiter_of(path: str, head: str) -> str:
    """A tab for .tsv, a comma for .csv, else whichever of the two the first line has more of."""
    suffix = Path(path).suffix.lower()
    if suffix in (".tsv", ".tab"):
        return "\t"
    if suffix == ".csv":
        return ","
    first = head.split("\n", 1)[0]
    return "\t" if first.count("\t") >= first.count(",") else ","


def read_delimited(path: str, label_column: str, item_column: str = "") -> Labelled:
    """The items and labels of a CSV or TSV file whose first row names its columns: the labels in
    `label_column`, the items in `item_column` (default: the first other column). Rows with an
    empty item are skipped (as blank lines of a list); an empty label is an error (file:line)."""
    text = read_text(path)
    rows = list(csv.reader(text.splitlines(), delimiter=delimiter_of(path, text)))
    header = [h.strip() for h in rows[0]] if rows else []
    if label_column not in header:
        raise NnlmError(f"{where(path, 1)}: no column named {label_column!r} (the first row names "
                        f"{', '.join(map(repr, header)) or 'none'})")
    others = [h for h in header if h != label_column]
    item_column = item_column or (others[0] if others else "")
    if item_column not in header:
        raise NnlmError(f"{where(path, 1)}: no item column {item_column!r} (the first row names "
                        f"{', '.join(map(repr, header))})")
    at_label, at_item = header.index(label_column), header.index(item_column)
    items, labels, names = [], [], {}
    for line, row in enumerate(rows[1:], 2):
        item = row[at_item].strip() if at_item < len(row) else ""
        if not item:
            continue
        label = row[at_label].strip() if at_label < len(row) else ""
        if not label:
            raise NnlmError(f"{where(path, line)}: the item {item!r} has an empty label")
        items.append(item)
        labels.append(names.setdefault(label, len(names)))
    if not items:
        raise NnlmError(f"{path}: no items (every row's {item_column!r} is empty)")
    return with_notes(Labelled(items, labels, list(names)))


def labels_by_item(labelled: Labelled) -> dict[str, set[int]]:
    """Each item (in the order first read) and the labels it appears under."""
    seen: dict[str, set[int]] = {}
    for item, label in zip(labelled.items, labelled.labels, strict=True):
        seen.setdefault(item, set()).add(label)
    return seen


def with_notes(labelled: Labelled) -> Labelled:
    """The same, noting items that appear under two labels or more (each is kept, with each, its
    copies in one split: split_labelled)."""
    seen = labels_by_item(labelled)
    shared = [item for item, labels in seen.items() if len(labels) > 1]
    if shared:
        example = ", ".join(labelled.names[k] for k in sorted(seen[shared[0]]))
        many = f"{len(shared):,} items appear" if len(shared) > 1 else "1 item appears"
        labelled.notes.append(f"warning: {many} under two labels or more (e.g. {shared[0]!r}: {example}); "
                              "each is kept under each, its copies in one split")
    return labelled


def split_labelled(labelled: Labelled, seed: int, fractions, dedupe: bool
                   ) -> tuple[Split, dict[str, list[int]]]:
    """Each label's items split as a list is (split_items), then the splits joined: a Split and
    the label of every item of each split. An item under several labels has every copy in one
    split, the one its smallest label gave it (homes): no dev or test item is a training item
    under another label, so that their losses and the classification measure items that no model
    has seen under another label. (Repeats under one label alone are split as a list's are.)

    Raises:
        NnlmError: a label without items, or with too few (of its own, or left in a split once
            shared items have moved) for every split to have some.
    """
    splits = {}
    for k, label in enumerate(labelled.names):
        own = [item for item, at in zip(labelled.items, labelled.labels, strict=True) if at == k]
        if not own:
            raise NnlmError(f"the label {label!r} has no items")
        try:
            splits[k] = split_items(own, seed, fractions, dedupe)
        except TooFew:
            raise NnlmError(f"the label {label!r} has {len(own)} item{'s' if len(own) != 1 else ''}: too "
                            f"few for a {fractions} split (each label is split on its own)") from None
    shared = {item for item, labels in labels_by_item(labelled).items() if len(labels) > 1}
    sizes = Counter(labelled.labels)  # label -> its items
    home = homes(splits, sorted(splits, key=lambda k: (sizes[k], k)), shared)
    parts = {name: [] for name in SPLITS}
    labels = {name: [] for name in SPLITS}
    for k, split in splits.items():
        for name in SPLITS:
            for item in getattr(split, name):
                parts[home.get(item, name)].append(item)
                labels[home.get(item, name)].append(k)
    check_every_split(labelled.names, labels, fractions)
    return Split(parts["train"], parts["dev"], parts["test"]), labels


def homes(splits: dict[int, Split], order: list[int], shared: set[str]) -> dict[str, str]:
    """The split of each shared item: the first that a label gives it, the labels in `order`
    (fewest items first, ties by label order: the label that can least spare an item decides)."""
    home: dict[str, str] = {}
    for k in order:
        for name in SPLITS:
            for item in set(getattr(splits[k], name)) & shared:
                home.setdefault(item, name)
    return home


def check_every_split(names: list[str], labels: dict[str, list[int]], fractions) -> None:
    """Refuse a label left without items in a split that its fraction asks for: its items are
    mostly other labels' too, and went where those put them."""
    for name, fraction in zip(SPLITS, fractions, strict=True):
        missing = sorted(set(range(len(names))) - set(labels[name])) if fraction > 0 else []
        if missing:
            raise NnlmError(f"the label {names[missing[0]]!r} has no {name} items: each item under several "
                            "labels is kept in one split, and its items went to others' splits (give it more "
                            "items of its own)")

import random

import pytest

from nnlm.data.text import bundled_names_path, read_items


@pytest.fixture(scope="session")
def names():
    return read_items(bundled_names_path())


@pytest.fixture
def tiny_file(tmp_path, names):
    """300 real names: enough for a split, small enough to train in a second."""
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(names[:300]) + "\n")
    return path


@pytest.fixture
def sentences(tmp_path, names):
    """600 sentences of real names in a few patterns, with case and punctuation."""
    rng = random.Random(0)
    pool = names[:40]
    patterns = ["{} met {} .", "Did {} see {} ?", "{} , {} and {} sang !", "{} ran ."]
    lines = []
    for _ in range(600):
        p = rng.choice(patterns)
        lines.append(p.format(*(rng.choice(pool).capitalize() for _ in range(p.count("{}")))))
    path = tmp_path / "words.txt"
    path.write_text("\n".join(lines) + "\n")
    return path

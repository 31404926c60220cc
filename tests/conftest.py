import pytest

from nnlm.data import bundled_names_path, read_items


@pytest.fixture(scope="session")
def names():
    return read_items(bundled_names_path())


@pytest.fixture
def tiny_file(tmp_path, names):
    """300 real names: enough for a split, small enough to train in a second."""
    path = tmp_path / "tiny.txt"
    path.write_text("\n".join(names[:300]) + "\n")
    return path


TINY_SETTINGS = dict(block_size=3, n_embd=4, n_hidden=16, batch_size=32, steps=60,
                     eval_interval=20, log_interval=10, lr=1e-2)

import pytest

from helpers import VERSE
from nnlm.data.bpe import BPEVocab, train_bpe


@pytest.fixture(scope="session")
def vocab():
    """A byte-level BPE of 400 tokens trained on the verse fixture (read-only: shared)."""
    return BPEVocab(train_bpe([VERSE.read_text()], 400))

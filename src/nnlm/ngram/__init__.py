"""Count-based models: Kneser-Ney and the count bigram, ARPA files, the n-gram baseline, mixtures;
and `ngram`, the baseline of a text file (`nnlm.ngram`, `nnlm ngram`)."""

from __future__ import annotations

import os


def ngram(data: str | os.PathLike | None = None, order: int | None = None, method: str = "kn", *,
          smoothing: float = 1.0, arpa: str | None = None, samples: int = 0, max_len: int | None = None,
          seed: int | None = None, **data_settings) -> dict:
    """The n-gram baseline of a text file (`nnlm ngram`): a Kneser-Ney model (or the count
    bigram) fitted on its train split, evaluated over the same tokens as the neural models.

    Args:
        data: a text file, as for nnlm.train (None: the bundled names).
        order: the n-gram order, 1..10 (None: the order with the lowest dev loss).
        method: "kn" (interpolated modified Kneser-Ney) or "bigram" (the count bigram).
        smoothing: the bigram's add-k.
        arpa: write the model to this ARPA file (KenLM reads it).
        samples: how many samples to draw. max_len: the longest, in tokens (None: the data's
            default). seed: for the samples (None: a fresh one).
        **data_settings: how to read and split the data, as nnlm.train takes them
            (tokens="word", dev="valid.txt", ...).

    Returns:
        The report: method, order, vocab_size, ngrams per order, fit_seconds, the dev and test
        losses (loss, perplexity, bits per token and per character, tokens), dev_loss_by_order
        where the order was chosen, and arpa and samples where asked.

    Raises:
        NnlmError: bad data or settings, or an order or method it cannot take.
    """
    from ..data.sources import read_source  # (here: importing nnlm needs no PyTorch)
    from ..settings.data import DataConfig
    from ..settings.partition import partition
    from .baseline import ngram_baseline

    parts = partition(data_settings, None, scopes=(), purpose="nnlm ngram")  # data settings only
    source = read_source(data, DataConfig(**parts.data))
    return ngram_baseline(source, order, method, smoothing=smoothing, arpa=arpa, samples=samples,
                          max_len=max_len, seed=seed)

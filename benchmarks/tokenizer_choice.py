"""Which library trains nnlm's subword tokens: Hugging Face `tokenizers` (a byte-level BPE, what
`--tokens bpe` uses) beside SentencePiece (BPE and unigram, each with byte fallback and no
normalisation, the settings closest to an exact round trip), on the same training text at the
same vocabulary size.

    pip install sentencepiece          # only this benchmark needs it
    python benchmarks/tokenizer_choice.py

Data: tinyshakespeare in nanoGPT's split and Python's standard library (2.5 MB, its first 90%
to train on, the rest to score), as benchmarks/text.py writes them. For each tokenizer:
training seconds, encoding speed (MB/s over the training text), tokens per character, whether
decode(encode(text)) gives back the training and the held-out text exactly, and the loss that
follows: test bits per character of an interpolated Kneser-Ney model over the tokens (orders 2
to 6, the best shown), a cheap stand-in for a neural model's loss at that tokenization that
needs no training. nnlm encodes with tiktoken built from the trained tokens (src/nnlm/data/
fastbpe.py); the row "encoded by tokenizers itself" times the library's own encoder in the same
run. Then nnlm's tokenizer on 10 MB of text (tinyshakespeare and Python): the seconds to train it
(8,192 tokens) and to encode the 10 MB, both ways. Writes
benchmarks/results/tokenizer_choice.md.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import text as text_bench  # noqa: E402
from nnlm.data.bpe import BPEVocab, auto_vocab_size, train_bpe  # noqa: E402
from nnlm.ngram.counts import KneserNey  # noqa: E402

RESULTS = HERE / "results" / "tokenizer_choice.md"
ORDERS = range(2, 7)


class HFByteBPE:
    name = "tokenizers, byte-level BPE (nnlm's `--tokens bpe`, encoded by tiktoken)"

    def __init__(self, train: str, size: int):
        self.vocab = BPEVocab(train_bpe([train], size))
        assert self.vocab.fast is not None

    def encode(self, text: str) -> np.ndarray:
        return self.vocab.encode_array(text)  # ids from 1; 0 is the boundary

    def decode(self, ids: np.ndarray) -> str:
        return self.vocab.decode(ids.tolist())


class HFOwnEncoder(HFByteBPE):
    """The same tokenizer encoded by `tokenizers` itself, as nnlm did before (same tokens)."""
    name = "the same BPE, encoded by tokenizers itself"

    def __init__(self, train: str, size: int):
        super().__init__(train, size)
        self.vocab.fast = None


class SentencePiece:
    """SentencePiece with the settings closest to an exact round trip. It reads sentences, not
    running text: a line end is not one of its pieces, so lines are encoded one by one with the
    byte token of a line end between them."""

    def __init__(self, train: str, size: int, model_type: str):
        import io

        import sentencepiece as spm

        self.name = f"sentencepiece {model_type} (byte fallback, no normalisation)"
        proto = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(train.split("\n")), model_writer=proto, vocab_size=size,
            model_type=model_type, byte_fallback=True, normalization_rule_name="identity",
            remove_extra_whitespaces=False, add_dummy_prefix=False, character_coverage=1.0,
            max_sentence_length=1 << 20, unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, num_threads=2,
            minloglevel=2, allow_whitespace_only_pieces=True)
        self.sp = spm.SentencePieceProcessor(model_proto=proto.getvalue())
        self.newline = self.sp.piece_to_id("<0x0A>")

    def encode(self, text: str) -> np.ndarray:
        out = []
        for line in self.sp.encode(text.split("\n"), num_threads=2):
            out += line + [self.newline]
        return np.array(out[:-1], dtype=np.int64) + 1  # ids from 1, as nnlm's

    def decode(self, ids: np.ndarray) -> str:
        return self.sp.decode((ids - 1).tolist())


def windows(ids: np.ndarray, width: int) -> np.ndarray:
    """(N, width) the `width` tokens before each of ids, boundary 0 before the start."""
    padded = np.concatenate([np.zeros(width, dtype=np.int64), ids])
    return np.lib.stride_tricks.sliding_window_view(padded[:-1], width)


def kn_bits_per_char(train_ids: np.ndarray, test_ids: np.ndarray, chars: int) -> tuple[float, int]:
    vocab = int(max(train_ids.max(), test_ids.max())) + 1
    best = (math.inf, 0)
    for order in ORDERS:
        model = KneserNey(order, vocab).fit(windows(train_ids, order - 1), train_ids)
        nats = -model.logprob(windows(test_ids, order - 1), test_ids).sum()
        best = min(best, (nats / math.log(2) / chars, order))
    return best


def measure(build, train: str, test: str, size: int) -> dict:
    start = time.perf_counter()
    tok = build(train, size)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    train_ids = tok.encode(train)
    encode_s = time.perf_counter() - start
    test_ids = tok.encode(test)
    exact = tok.decode(train_ids) == train and tok.decode(test_ids) == test
    bpc, order = kn_bits_per_char(train_ids, test_ids, len(test))
    return {"name": tok.name, "train_s": train_s, "mb_s": len(train.encode()) / 1e6 / encode_s,
            "tokens_per_char": len(test_ids) / len(test), "exact": exact, "bpc": bpc, "order": order}


def ten_megabytes(work: Path) -> str:
    """Training a BPE on 10 MB of text, and encoding it."""
    text = (text_bench.SHARED / "data" / "tinyshakespeare.txt").read_text(encoding="utf-8")
    code = text_bench.code_file(work).read_text(encoding="utf-8")
    big = ((text + code) * 10)[:10_000_000]
    start = time.perf_counter()
    vocab = BPEVocab(train_bpe([big], 8192))
    trained = time.perf_counter() - start
    start = time.perf_counter()
    ids = vocab.encode_array(big)
    encoded = time.perf_counter() - start
    fast, vocab.fast = vocab.fast, None
    start = time.perf_counter()
    library_ids = vocab.encode_array(big)  # tokenizers' own encoder, in the same run
    library = time.perf_counter() - start
    vocab.fast = fast
    exact = vocab.decode(ids.tolist()) == big
    mb = len(big.encode("utf-8")) / 1e6
    return (f"BPE tokenizer on {mb:.1f} MB of text (tinyshakespeare and Python, 8,192 tokens): trained "
            f"in {trained:.1f} s, encoded at {mb / encoded:.1f} MB/s ({len(ids):,} tokens; tokenizers' own "
            f"encoder {mb / library:.1f} MB/s, {library / encoded:.1f}x slower, the same ids: "
            f"{'yes' if np.array_equal(ids, library_ids) else 'NO'}), decoded back exactly: "
            f"{'yes' if exact else 'NO'}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.parse_args(argv)
    builders = [HFByteBPE, HFOwnEncoder, lambda train, size: SentencePiece(train, size, "bpe"),
                lambda train, size: SentencePiece(train, size, "unigram")]
    lines = [f"`python benchmarks/tokenizer_choice.py`, {time.strftime('%Y-%m-%d')}, 2-core CPU", ""]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        train_path, val_path, _ = text_bench.shakespeare_files(work)
        code = text_bench.code_file(work).read_text(encoding="utf-8")
        cut = int(0.9 * len(code))
        prose = (train_path.read_text(encoding="utf-8"), val_path.read_text(encoding="utf-8"))
        data = {"tinyshakespeare": prose, "Python stdlib": (code[:cut], code[cut:])}
        for name, (train, test) in data.items():
            size, _ = auto_vocab_size(len(train))
            lines += [f"**{name}**: {len(train):,} training characters, {len(test):,} scored; "
                      f"{size:,} tokens (nnlm's rule).", "",
                      "| tokenizer | train s | encode MB/s | tokens/char | exact round trip | "
                      "Kneser-Ney test bits/char (order) |", "|---|---|---|---|---|---|"]
            for build in builders:
                r = measure(build, train, test, size)
                lines.append(f"| {r['name']} | {r['train_s']:.1f} | {r['mb_s']:.2f} | "
                             f"{r['tokens_per_char']:.3f} | {'yes' if r['exact'] else 'NO'} | "
                             f"{r['bpc']:.4f} ({r['order']}) |")
                print(lines[-1], flush=True)
            lines.append("")
        lines.append(ten_megabytes(work))
    text = "\n".join(lines)
    RESULTS.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Sample and score with a model that nnlm exported as ONNX, with numpy and onnxruntime alone: no
PyTorch, no nnlm, no tokenizers (a BPE run's tokenizer is read from its JSON and run here).

    nnlm export runs/names --format onnx --out names-onnx
    python examples/onnx_consumer.py score names-onnx emma          # log p of the item, its end included
    python examples/onnx_consumer.py sample names-onnx -n 10 --temperature 0.8 --seed 0

`score` prints each token's log-probability, then the total in nats alone on the last line, as
`nnlm score RUN --no-mix` counts it: a list's item with its end, running text without one (a text
longer than the model's block size is read here in one pass, as sampling reads it, where `nnlm
score` reads it in windows). `sample` prints one sample a line, a line break in it as its escape
(\\n). The folder's card.json says what the graph takes: `ids` (batch, length) and the state
before them in, `logits` (batch, length, vocab) and the state after them out.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np
import onnxruntime

BATCH = 8192  # samples drawn together


class StepModel:
    """The ONNX step and the state it carries: each state tensor batch first, zeros to start; a
    network with learned positions (card: max_positions) re-reads its last positions past them."""

    def __init__(self, folder: Path, card: dict):
        onnx = card["onnx"]
        self.session = onnxruntime.InferenceSession(str(folder / onnx["file"]),
                                                    providers=["CPUExecutionProvider"])
        self.states, self.limit = onnx["state"], onnx["max_positions"]
        self.outputs = ["logits"] + [s["output"] for s in self.states]

    def start(self, rows: int) -> dict:
        """The state of `rows` rows that have read nothing (the transformer's cache: 0 positions)."""
        sizes = {"batch": rows, "past": 0}
        state = {s["input"]: np.zeros([sizes.get(d, d) for d in s["shape"]], dtype=s["dtype"])
                 for s in self.states}
        return state | ({"history": np.zeros((rows, 0), dtype=np.int64)} if self.limit else {})

    def run(self, state: dict, ids: np.ndarray) -> tuple[np.ndarray, dict]:
        """One call of the graph: ids (B, T) -> logits (B, T, V), the state after them."""
        feed = {"ids": ids} | {s["input"]: state[s["input"]] for s in self.states}
        logits, *after = self.session.run(self.outputs, feed)
        new = {s["input"]: a for s, a in zip(self.states, after, strict=True)}
        if self.limit:
            new["history"] = np.concatenate([state["history"], ids], 1)[:, -self.limit:]
        return logits, new

    def read(self, state: dict, ids: np.ndarray) -> tuple[np.ndarray, dict]:
        """ids (B, T) after `state` -> the logits after each (B, T, V), and the state after them all.
        Past the last position, each id re-reads the last `limit` ids from the empty state, as nnlm does."""
        room = self.limit - state["history"].shape[1] if self.limit else ids.shape[1]
        fit = max(0, min(ids.shape[1], room))  # the ids the state still has positions for
        pieces = []
        if fit:
            logits, state = self.run(state, ids[:, :fit])
            pieces.append(logits)
        for t in range(fit, ids.shape[1]):
            window = np.concatenate([state["history"], ids[:, t:t + 1]], 1)[:, -self.limit:]
            logits, state = self.run(self.start(len(ids)), window)
            pieces.append(logits[:, -1:])
        return np.concatenate(pieces, 1), state

    @staticmethod
    def keep(state: dict, rows: np.ndarray) -> dict:
        """The state of the rows `rows` only (a bool mask or indices)."""
        return {name: value[rows] for name, value in state.items()}


def byte_alphabet() -> list[str]:
    """GPT-2's byte-level alphabet: the character each byte is written as in tokenizer.json (printable
    bytes as themselves, the others as the characters from U+0100 on, in order)."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    moved = {b: chr(256 + n) for n, b in enumerate(b for b in range(256) if b not in kept)}
    return [chr(b) if b in kept else moved[b] for b in range(256)]


class ByteLevelBPE:
    """nnlm's byte-level BPE from its tokenizer.json: split by GPT-2's pattern (vocab.json's
    split_pattern, spelled out for Python's re), each piece's bytes merged lowest rank first."""

    def __init__(self, spec: dict, pattern: str):
        self.vocab = spec["model"]["vocab"]
        merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in spec["model"]["merges"]]
        self.ranks = {pair: rank for rank, pair in enumerate(merges)}
        self.split = re.compile(pattern)
        self.chars = byte_alphabet()
        byte_of = {c: b for b, c in enumerate(self.chars)}
        self.bytes = {i: bytes(byte_of[c] for c in token) for token, i in self.vocab.items()}
        self.cache: dict[str, list[str]] = {}

    def encode(self, text: str) -> list[int]:
        return [self.vocab[token] for piece in self.split.findall(text) for token in self.merged(piece)]

    def merged(self, piece: str) -> list[str]:
        if piece not in self.cache:
            word = [self.chars[b] for b in piece.encode("utf-8")]
            while len(word) > 1:
                pairs = zip(word, word[1:], strict=False)
                rank, pair = min((self.ranks.get(pair, len(self.ranks)), pair) for pair in pairs)
                if rank == len(self.ranks):
                    break
                merged, j = [], 0
                while j < len(word):  # every (a, b) of the pair, left to right
                    if j + 1 < len(word) and (word[j], word[j + 1]) == pair:
                        merged.append(word[j] + word[j + 1])
                        j += 2
                    else:
                        merged.append(word[j])
                        j += 1
                word = merged
            self.cache[piece] = word
        return self.cache[piece]

    def decode(self, ids: list[int]) -> str:
        return b"".join(self.bytes[i] for i in ids).decode("utf-8", "replace")


class Tokens:
    """Text to nnlm's ids and back, for a run of characters, words or BPE subwords (vocab.json)."""

    def __init__(self, folder: Path, card: dict):
        vocab = json.loads((folder / card["files"]["vocab"]).read_text(encoding="utf-8"))
        self.level, self.tokens, self.boundary = vocab["level"], vocab["tokens"], vocab["boundary_id"]
        self.ids = {token: i for i, token in enumerate(self.tokens) if i != self.boundary}
        self.vocab = vocab
        if self.level == "bpe":
            spec = json.loads((folder / vocab["tokenizer"]).read_text(encoding="utf-8"))
            self.bpe = ByteLevelBPE(spec, vocab["split_pattern"])

    def encode(self, text: str) -> list[int]:
        if self.level == "bpe":
            return [i + self.vocab["id_offset"] for i in self.bpe.encode(text)]
        if self.level == "word":
            return self.encode_words(text)
        unknown = [c for c in text if c not in self.ids]
        if unknown:
            sys.exit(f"onnx_consumer: character {unknown[0]!r} is not in the model's vocabulary")
        return [self.ids[c] for c in text]

    def encode_words(self, text: str) -> list[int]:
        """Whitespace-separated words (lowercased where the run is), <unk> for unknown ones, and a
        line end token between lines where the run keeps line ends."""
        text = text.lower() if self.vocab["lowercase"] else text
        lines = re.split(r"\r\n|\r|\n", text) if self.vocab["line_ends"] else [text]
        ids = []
        for n, line in enumerate(lines):
            ids += ([self.ids.get("\n", self.vocab["unk_id"])] if n else [])
            ids += [self.ids.get(w, self.vocab["unk_id"]) for w in line.split()]
        return ids

    def decode(self, ids) -> str:
        ids = [int(i) for i in ids if i != self.boundary]
        if self.level == "bpe":
            return self.bpe.decode([i - self.vocab["id_offset"] for i in ids])
        if self.level == "word":
            text = " ".join(self.tokens[i] for i in ids)
            return text.replace(" \n ", "\n").replace(" \n", "\n").replace("\n ", "\n")
        return "".join(self.tokens[i] for i in ids)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def score(model: StepModel, tokens: Tokens, ends: bool, text: str, start: int) -> list[tuple[str, float]]:
    """(token, log p) of each token of `text` read from `start` (the boundary, or a labelled run's
    label's id), then of its end where the run has ends."""
    ids = tokens.encode(text)
    targets = ids + ([tokens.boundary] if ends else [])
    logits, _ = model.read(model.start(1), np.array([[start, *ids]], dtype=np.int64))  # (1, T, V)
    logp = log_softmax(logits[0, :len(targets)].astype(np.float64))
    return [(tokens.tokens[t], float(logp[k, t])) for k, t in enumerate(targets)]


def choose(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """One id per row of logits (R, V): the most likely at temperature 0, else drawn from the softmax."""
    if temperature == 0:
        return logits.argmax(-1)
    p = np.exp(log_softmax(logits / temperature))
    cdf = p.cumsum(-1)  # (R, V)
    u = rng.random((len(p), 1)) * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(-1), p.shape[1] - 1)


def sample(model: StepModel, tokens: Tokens, ends: bool, num: int, max_len: int, temperature: float,
           rng: np.random.Generator, prefix: list[int], start: int) -> list[list[int]]:
    """`num` id sequences starting with `prefix`, read from `start` (the boundary, or a labelled
    run's label's id): to the boundary (a list) or max_len ids."""
    out = np.zeros((num, max_len), dtype=np.int64)
    out[:, :len(prefix)] = prefix
    lengths = np.full(num, max_len)
    rows = np.arange(num)  # the rows still being drawn
    context = np.tile(np.array([start, *prefix], dtype=np.int64), (num, 1))  # (num, 1 + prefix)
    logits, state = model.read(model.start(num), context)
    logits = logits[:, -1]
    for pos in range(len(prefix), max_len):
        if not ends:
            logits[:, tokens.boundary] = -np.inf  # running text has no end
        token = choose(logits, temperature, rng)
        out[rows, pos] = token
        going = token != tokens.boundary
        lengths[rows[~going]] = pos
        rows = rows[going]
        if not rows.size or pos + 1 == max_len:
            break
        logits, state = model.read(model.keep(state, going), token[going][:, None])
        logits = logits[:, -1]
    return [list(seq[:n]) for seq, n in zip(out, lengths, strict=True)]


LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # what ends a line for str.splitlines


def one_line(text: str) -> str:
    """`text` on one line: each line break written as its escape (a line end as \\n)."""
    return "".join(repr(c)[1:-1] if c in LINE_BREAKS else c for c in text)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("score", help="the total log-probability of TEXT, in nats")
    s.add_argument("folder")
    s.add_argument("text")
    s.add_argument("--label", help="a labelled run: the item's label (card.json's labels; default: none)")
    d = sub.add_parser("sample", help="samples, one a line")
    d.add_argument("folder")
    d.add_argument("-n", type=int, default=10, help="how many (default: 10)")
    d.add_argument("--temperature", type=float, default=1.0, help="0: the most likely token (default: 1)")
    d.add_argument("--seed", type=int, default=None, help="the same seed, the same samples (default: fresh)")
    d.add_argument("--prefix", default="", help="every sample starts with this text (default: none)")
    d.add_argument("--max-len", type=int, default=None,
                   help="the longest sample, in tokens (default: the card's default_max_len)")
    d.add_argument("--label", help="a labelled run: the samples' label (card.json's labels; default: none)")
    args = ap.parse_args(argv)
    folder = Path(args.folder)
    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    model, tokens, ends = StepModel(folder, card), Tokens(folder, card), card["ids"]["ends"]
    labels = card["labels"]
    if args.label is not None and args.label not in labels:
        raise SystemExit(f"no label {args.label!r}: the run's labels are {', '.join(labels) or 'none'}")
    start = labels[args.label] if args.label is not None else tokens.boundary  # what an item starts from
    if args.command == "score":
        scored = score(model, tokens, ends, args.text, start)
        for token, lp in scored:
            print(f"{token!r}\t{lp:.4f}")
        print(f"{sum(lp for _, lp in scored):.6f}")
        return
    rng, prefix = np.random.default_rng(args.seed), tokens.encode(args.prefix)
    max_len = args.max_len or card["ids"]["default_max_len"]
    for done in range(0, args.n, BATCH):
        rows = min(BATCH, args.n - done)
        for ids in sample(model, tokens, ends, rows, max_len, args.temperature, rng, prefix, start):
            print(one_line(tokens.decode(ids)))


if __name__ == "__main__":
    main()

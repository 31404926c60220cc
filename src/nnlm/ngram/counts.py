"""Count-based models: interpolated modified Kneser-Ney (orders 1..10) and the count bigram.

Both are fitted on exactly the examples the neural models see: a context matrix X (N, order - 1),
most recent token last, boundary-padded like `data.Windows`, and the targets Y (N,).
So perplexities are over the same predicted tokens as theirs.

Kneser-Ney here is Chen & Goodman's (1998) interpolated modified KN, as KenLM's lmplz:
the highest order uses raw counts, lower orders continuation counts N1+(. h w), except
n-grams that start with the boundary (the start of an item has no left context, so
their raw count is their only count). Three discounts D1, D2, D3+ per order come from
the count-of-counts; the unigram level interpolates with the uniform distribution.

N-grams are stored as sorted int64 keys (context id * V + token). A context of length j
gets its id from the id of its own suffix of length j - 1 and its leftmost token, so a
lookup extends a context leftwards one `searchsorted` per order, all examples at once.
Nothing here imports torch or the CLI: arrays in, arrays out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import NnlmError

MAX_ORDER = 10
METHODS = {"kn": "Kneser-Ney", "bigram": "count bigram"}  # --method: what it names
DEFAULT_DISCOUNTS = (0.5, 1.0, 1.5)  # used only when the counts are too few to estimate them


def check_order(order: int) -> None:
    """NnlmError for an order outside 1..MAX_ORDER."""
    if not 1 <= order <= MAX_ORDER:
        raise NnlmError.about("order", "--order", f"must be between 1 and {MAX_ORDER}, got {order}")


def context_width(order: int) -> int:
    """Context tokens a model of `order` reads: order - 1, and one for the unigram (its
    examples still need a context matrix, which it ignores)."""
    return max(order - 1, 1)


@dataclass
class Level:
    """One order k of the model: n-grams (context of length k - 1, token) and their contexts."""

    keys: np.ndarray  # (M,) int64, sorted: context id * V + token
    discounted: np.ndarray  # (M,) float64: max(a - D(a), 0) / S(context)
    gamma: np.ndarray  # (contexts,) float64: the weight of the lower order, per context
    discounts: tuple  # D1, D2, D3+


class KneserNey:
    """Interpolated modified Kneser-Ney language model over integer tokens 0..V-1."""

    def __init__(self, order: int, vocab_size: int):
        check_order(order)
        self.order, self.V = order, vocab_size
        self.context_keys: list[np.ndarray] = []  # [j]: sorted keys of contexts of length j
        self.levels: list[Level] = []  # [k - 1]: order k

    @property
    def width(self) -> int:
        """Context tokens it reads (context_width)."""
        return context_width(self.order)

    # -- fitting ---------------------------------------------------------------------
    def fit(self, X: np.ndarray, Y: np.ndarray) -> KneserNey:
        """X (N, >= order - 1) contexts, most recent last; Y (N,) the tokens they predict."""
        X, Y = self._check(X, Y)
        if len(Y) == 0:
            raise NnlmError("no training tokens for the n-gram model")
        reach = context_reach(X, self.order)  # (N,) each example's longest real context
        ids = [np.zeros(len(Y), dtype=np.int64)]  # ids[j]: each example's context of length j
        parents = [np.zeros(0, dtype=np.int64)]  # parents[j][c]: id of c's suffix of length j-1
        self.context_keys = [np.zeros(1, dtype=np.int64)]
        for j in range(1, self.order):
            keys = ids[-1] * self.V + X[:, -j]
            unique = np.unique(keys[reach >= j])  # contexts that exist: none past a start
            self.context_keys.append(unique)
            ids.append(np.searchsorted(unique, keys))  # meaningful only where reach >= j
            parents.append(unique // self.V)
        counts = self._adjusted_counts(ids, parents, Y, reach)
        self.levels = [self._level(keys, a, len(self.context_keys[k]))
                       for k, (keys, a) in enumerate(counts)]
        return self

    def _adjusted_counts(self, ids, parents, Y, reach) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per order (lowest first): sorted n-gram keys and their KN counts a.

        As KenLM's lmplz: the top order and n-grams that begin at the start (`<s> ...`, the
        longest an example near the start of its item has) keep their raw counts; every other
        n-gram's count is the number of distinct tokens seen before it (`<s>` included)."""
        top = self.order - 1
        out = [np.unique(ids[top][reach >= top] * self.V + Y[reach >= top], return_counts=True)]
        for j in range(top - 1, -1, -1):  # context lengths below the top
            above_keys = out[0][0]
            suffix = parents[j + 1][above_keys // self.V] * self.V + above_keys % self.V
            keys, a = np.unique(suffix, return_counts=True)
            at_start = reach == j  # their whole context begins with the start token
            if j >= 1 and at_start.any():
                raw_keys, raw = np.unique(ids[j][at_start] * self.V + Y[at_start], return_counts=True)
                keys, order = np.unique(np.concatenate([keys, raw_keys]), return_index=True)
                a = np.concatenate([a, raw])[order]  # the two sets are disjoint
            out.insert(0, (keys, a))
        return out

    def _level(self, keys: np.ndarray, a: np.ndarray, n_contexts: int) -> Level:
        D = estimate_discounts(a)
        ctx = keys // self.V
        total = np.bincount(ctx, weights=a, minlength=n_contexts)  # S(context)
        d_of = np.array([0.0, *D])[np.minimum(a, 3)]  # (M,) the discount of each n-gram
        lower = np.bincount(ctx, weights=d_of, minlength=n_contexts)
        with np.errstate(divide="ignore", invalid="ignore"):
            gamma = np.where(total > 0, lower / total, 1.0)
        discounted = np.maximum(a - d_of, 0.0) / total[ctx]
        return Level(keys, discounted, gamma, D)

    def _check(self, X, Y) -> tuple[np.ndarray, np.ndarray]:
        Y = np.asarray(Y, dtype=np.int64)
        X = _matrix(X, len(Y))
        if X.shape[1] < self.order - 1:
            raise NnlmError(f"order {self.order} needs contexts of {self.order - 1} tokens, "
                            f"got {X.shape[1]}")
        if len(Y) and (min(X.min(initial=0), Y.min()) < 0 or max(X.max(initial=0), Y.max()) >= self.V):
            raise NnlmError(f"token ids must be in 0..{self.V - 1}")
        return X, Y

    # -- lookups ---------------------------------------------------------------------
    def context_ids(self, X: np.ndarray) -> list[np.ndarray]:
        """[j]: each row's context of length j as a context id, or -1 if never seen."""
        X = np.asarray(X, dtype=np.int64)
        ids = [np.zeros(len(X), dtype=np.int64)]
        for j in range(1, min(self.order, X.shape[1] + 1)):
            ids.append(_find(self.context_keys[j], ids[-1] * self.V + X[:, -j], ids[-1] >= 0))
        return ids

    def prob(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """p(Y | X) for each row: (N,) float64. Contexts may be shorter than order - 1."""
        Y = np.asarray(Y, dtype=np.int64)
        X = _matrix(X, len(Y))
        p = np.full(len(Y), 1.0 / self.V)
        for j, c in enumerate(self.context_ids(X)):
            level, seen = self.levels[j], c >= 0
            if not len(level.gamma):  # no context of this length exists (short items, high order)
                break
            cs = np.where(seen, c, 0)
            at = _find(level.keys, cs * self.V + Y, seen)
            own = np.where(at >= 0, level.discounted[np.maximum(at, 0)], 0.0)
            p = np.where(seen, own + level.gamma[cs] * p, p)
        return p

    def logprob(self, X, Y) -> np.ndarray:
        """Natural log of p(Y | X): (N,)."""
        return np.log(self.prob(X, Y))

    def distribution(self, x: np.ndarray) -> np.ndarray:
        """p(. | x) over the whole vocabulary for one context x: (V,)."""
        return self.distributions(np.asarray(x).reshape(1, -1))[0]

    def distributions(self, X: np.ndarray) -> np.ndarray:
        """p(. | x) over the whole vocabulary for each row x of X: (N, V), all rows at once."""
        X = np.asarray(X, dtype=np.int64).reshape(len(X), -1)
        P = np.full((len(X), self.V), 1.0 / self.V)
        for j, c in enumerate(self.context_ids(X)):
            rows = np.flatnonzero(c >= 0)  # a context unseen at length j is unseen beyond it
            if not len(rows):
                break
            level, cs = self.levels[j], c[rows]
            P[rows] *= level.gamma[cs][:, None]
            lo = np.searchsorted(level.keys, cs * self.V)
            hi = np.searchsorted(level.keys, (cs + 1) * self.V)
            owner = np.repeat(np.arange(len(rows)), hi - lo)  # for each n-gram of these contexts
            at = lo[owner] + np.arange(len(owner)) - np.repeat(np.cumsum(hi - lo) - (hi - lo), hi - lo)
            P[rows[owner], level.keys[at] - cs[owner] * self.V] += level.discounted[at]
        return P

    def num_ngrams(self) -> list[int]:
        """N-grams per order, lowest first."""
        return [len(level.keys) for level in self.levels]

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        """Every array of the fitted model, by name, and what else it needs (JSON)."""
        arrays = {f"context_keys.{j}": keys for j, keys in enumerate(self.context_keys)}
        for k, level in enumerate(self.levels, 1):
            arrays.update({f"order{k}.keys": level.keys, f"order{k}.discounted": level.discounted,
                           f"order{k}.gamma": level.gamma})
        meta = {"order": self.order, "vocab_size": self.V,
                "discounts": [list(level.discounts) for level in self.levels]}
        return arrays, meta

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict) -> KneserNey:
        """The model `to_arrays` describes; NnlmError if a piece is missing or inconsistent."""
        try:
            model = cls(int(meta["order"]), int(meta["vocab_size"]))
            model.context_keys = [arrays[f"context_keys.{j}"] for j in range(model.order)]
            model.levels = [Level(arrays[f"order{k}.keys"], arrays[f"order{k}.discounted"],
                                  arrays[f"order{k}.gamma"], tuple(meta["discounts"][k - 1]))
                            for k in range(1, model.order + 1)]
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise NnlmError(f"not a Kneser-Ney model ({e})") from None
        for k, level in enumerate(model.levels):
            contexts = len(model.context_keys[k])
            if not (len(level.keys) == len(level.discounted) and len(level.gamma) == contexts):
                raise NnlmError(f"not a Kneser-Ney model (order {k + 1}: sizes disagree)")
        return model


def _matrix(X, n: int) -> np.ndarray:
    """X as an (n, width) int64 matrix; width may be 0."""
    X = np.asarray(X, dtype=np.int64)
    return X if X.ndim == 2 else X.reshape(n, -1)


def _find(sorted_keys: np.ndarray, keys: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Index of each key in sorted_keys, or -1 where absent or not `valid`."""
    at = np.searchsorted(sorted_keys, keys)
    inside = at < len(sorted_keys)
    hit = valid & inside
    hit[inside] &= sorted_keys[at[inside]] == keys[inside]
    return np.where(hit, at, -1)


def context_reach(X: np.ndarray, order: int) -> np.ndarray:
    """How far back each row's context really goes (at most order - 1): to its first start
    token (id 0), included. Positions before it are padding, not context: KenLM's `<s>` is
    never preceded by anything, so `<s> <s> a` is just `<s> a`."""
    width = min(order - 1, X.shape[1])
    if width == 0:
        return np.zeros(len(X), dtype=np.int64)
    starts = X[:, ::-1][:, :width] == 0  # (N, width), nearest position first
    return np.where(starts.any(1), starts.argmax(1) + 1, width)


def estimate_discounts(a: np.ndarray) -> tuple[float, float, float]:
    """Chen & Goodman's D1, D2, D3+ from the count-of-counts n1..n4 of the counts a; when
    the counts are too few for the estimate (n1, n2 or n3 is 0, or a D falls outside
    [0, j]), all three fall back to DEFAULT_DISCOUNTS, as lmplz --discount_fallback."""
    n1, n2, n3, n4 = (int(np.count_nonzero(a == i)) for i in (1, 2, 3, 4))
    if min(n1, n2, n3) == 0:
        return DEFAULT_DISCOUNTS
    y = n1 / (n1 + 2 * n2)
    D = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    if any(not 0 <= d <= j for j, d in enumerate(D, 1)):
        return DEFAULT_DISCOUNTS
    return tuple(float(d) for d in D)


class CountBigram:
    """The lecture's part 1: p(w | prev) = (c(prev, w) + k) / (c(prev) + k V)."""

    order = 2
    width = context_width(order)

    def __init__(self, vocab_size: int, smoothing: float = 1.0):
        if smoothing < 0:
            raise NnlmError.about("smoothing", "--smoothing", f"must be >= 0, got {smoothing}")
        self.V, self.k = vocab_size, smoothing

    def fit(self, X, Y) -> CountBigram:
        """Count the (previous token, token) pairs of X (N, >= 1) and Y (N,)."""
        prev = _matrix(X, len(Y))[:, -1]
        self.keys, self.counts = np.unique(prev * self.V + np.asarray(Y, np.int64), return_counts=True)
        self.context_total = np.bincount(prev, minlength=self.V)
        return self

    def prob(self, X, Y) -> np.ndarray:
        """p(Y | the last token of X) for each row: (N,) float64."""
        Y = np.asarray(Y, dtype=np.int64)
        prev = _matrix(X, len(Y))[:, -1]
        at = _find(self.keys, prev * self.V + Y, np.ones(len(Y), dtype=bool))
        c = np.where(at >= 0, self.counts[np.maximum(at, 0)], 0)
        total = self.context_total[prev] + self.k * self.V
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total > 0, (c + self.k) / total, 1.0 / self.V)

    def logprob(self, X, Y) -> np.ndarray:
        """Natural log of p(Y | X): (N,)."""
        with np.errstate(divide="ignore"):
            return np.log(self.prob(X, Y))

    def distribution(self, x) -> np.ndarray:
        """p(. | x) over the whole vocabulary for one context x: (V,)."""
        prev = int(np.asarray(x).reshape(-1)[-1])
        return self.prob(np.full((self.V, 1), prev), np.arange(self.V))

    def num_ngrams(self) -> list[int]:
        """Bigrams seen."""
        return [len(self.keys)]


def sample(model, num: int, block: int, max_len: int, rng: np.random.Generator,
           stop_at_boundary: bool = True) -> list[list[int]]:
    """`num` token sequences from boundary-padded starts, each ending before the boundary
    token or at max_len tokens (with stop_at_boundary=False, the boundary is never drawn)."""
    out = []
    for _ in range(num):
        ctx, seq = [0] * block, []
        while len(seq) < max_len:
            p = model.distribution(np.array(ctx[len(ctx) - block:] if block else [0]))
            if not stop_at_boundary:
                p[0] = 0.0
            token = int(rng.choice(len(p), p=p / p.sum()))
            if token == 0:
                break
            seq.append(token)
            ctx.append(token)
        out.append(seq)
    return out


def perplexity(logprobs: np.ndarray) -> tuple[float, float]:
    """(loss in nats per token, perplexity) of natural-log probabilities."""
    loss = float(-np.sum(logprobs) / max(len(logprobs), 1))
    return loss, math.exp(loss) if loss < 700 else math.inf

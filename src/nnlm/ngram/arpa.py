"""A Kneser-Ney model as an ARPA file (the back-off format KenLM, SRILM and others read)."""

from __future__ import annotations

import math

import numpy as np

from .counts import KneserNey

START, END = "<s>", "</s>"  # how ARPA names the boundary token (id 0) before and after text


def context_tokens(model: KneserNey) -> list[np.ndarray]:
    """[j]: the tokens of every context of length j, (contexts, j), in context-id order."""
    out = [np.zeros((1, 0), dtype=np.int64)]
    for j in range(1, model.order):
        keys = model.context_keys[j]
        out.append(np.hstack([(keys % model.V)[:, None], out[-1][keys // model.V]]))
    return out


def arpa_sections(model: KneserNey) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per order k: tokens (M, k), log10 p, log10 backoff (nan: none), in the backoff form.

    p of a seen n-gram is its interpolated probability; the backoff weight of a context
    is its interpolation weight gamma, so the ARPA lookup p(w | h) = bow(h) p(w | h')
    for unseen (h, w) reproduces the interpolation exactly. Contexts that are never
    n-grams themselves (the all-boundary starts, KenLM's `<s>`) get log10 p = -99.
    """
    ctx = context_tokens(model)
    out = []
    for k in range(1, model.order + 1):
        if k == 1:  # every token of the vocabulary, seen or not
            tokens = np.arange(model.V, dtype=np.int64)[:, None]
        else:
            keys = model.levels[k - 1].keys
            tokens = np.hstack([ctx[k - 1][keys // model.V], (keys % model.V)[:, None]])
        logp = np.log10(model.prob(tokens[:, :-1], tokens[:, -1]))
        bow = np.full(len(tokens), np.nan)
        if k < model.order:
            as_context = model.context_ids(tokens)[k]
            has = (as_context >= 0) & (tokens[:, -1] != 0)  # an end token is never a context
            bow[has] = np.log10(model.levels[k].gamma[as_context[has]])
            starts = _context_only(len(ctx[k]), has, as_context)
            tokens = np.vstack([tokens, ctx[k][starts]])
            logp = np.concatenate([logp, np.full(len(starts), -99.0)])
            bow = np.concatenate([bow, np.log10(model.levels[k].gamma[starts])])
        out.append((tokens, logp, bow))
    return out


def _context_only(n_contexts: int, has, as_context) -> np.ndarray:
    """Ids of contexts of this length that are not already n-gram entries."""
    covered = np.zeros(n_contexts, dtype=bool)
    covered[as_context[has]] = True
    return np.flatnonzero(~covered)


def write_arpa(model: KneserNey, path, names: list[str]) -> list[int]:
    """Write the model as an ARPA file; `names[i]` names token i (0 is `<s>`/`</s>`).
    Returns the number of entries per order."""
    names = [_arpa_name(n) for n in names]
    sections = arpa_sections(model)
    with open(path, "w", encoding="utf-8") as f:
        f.write("\\data\\\n")
        f.writelines(f"ngram {k}={len(s[0])}\n" for k, s in enumerate(sections, 1))
        for k, (tokens, logp, bow) in enumerate(sections, 1):
            f.write(f"\n\\{k}-grams:\n")
            f.writelines(_arpa_lines(tokens, logp, bow, names))
        f.write("\n\\end\\\n")
    return [len(s[0]) for s in sections]


def _arpa_lines(tokens, logp, bow, names):
    for row, lp, b in zip(tokens.tolist(), logp.tolist(), bow.tolist(), strict=False):
        words = [START if t == 0 else names[t] for t in row[:-1]]
        words.append((START if lp == -99.0 else END) if row[-1] == 0 else names[row[-1]])
        line = f"{lp:.7f}\t{' '.join(words)}"
        yield line + (f"\t{b:.7f}\n" if not math.isnan(b) else "\n")


def _arpa_name(name: str) -> str:
    """ARPA separates words by whitespace: spell whitespace characters as <U+XXXX>."""
    return "".join(f"<U+{ord(c):04X}>" if c.isspace() else c for c in name) or "<U+>"

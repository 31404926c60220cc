"""Looking inside a trained model: nearest tokens in C, a 2-D map of C, token
frequencies and hidden-unit saturation.

No matplotlib and no CLI here: plot.py draws what these functions compute.
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass

import torch

from ..errors import NnlmError

SATURATED = 0.99  # |tanh| above this: the unit's gradient is < 2% of its unsaturated value
BINS = 50  # of the activation histogram over [-1, 1]
CHUNK_VALUES = 1 << 22  # activation values held at once (16 MB), whatever the model and its inputs
PERMUTED = 1 << 24  # examples up to which the random ones are picked by a permutation of all


def nearest(C: torch.Tensor, index: int, k: int = 10) -> list[tuple[int, float]]:
    """The k rows of C (V, n_embd) most cosine-similar to row `index`, itself excluded.

    Returns [(row, similarity)], most similar first; ties keep the lower row first.
    """
    if not 0 <= index < C.shape[0]:
        raise NnlmError(f"token index {index} is outside the table of {C.shape[0]} rows")
    unit = torch.nn.functional.normalize(C.double(), dim=1)  # (V, n_embd), zero rows stay zero
    sims = unit @ unit[index]  # (V,)
    sims[index] = -math.inf  # never one's own neighbour
    k = max(0, min(k, C.shape[0] - 1))
    # a stable sort, so equal similarities come out in row order
    order = torch.sort(sims, descending=True, stable=True).indices[:k]
    return [(int(i), float(sims[i])) for i in order]


def token_index(vocab, token: str) -> int:
    """The id of a token as people write it ('<e>' for the boundary), or NnlmError."""
    for i in range(len(vocab)):
        if vocab.token_str(i) == token:
            return i
    raise NnlmError(f"token {token!r} is not in the model's vocabulary of {len(vocab)} tokens")


def project_2d(C: torch.Tensor) -> tuple[torch.Tensor, str]:
    """C (V, n_embd) -> (V, 2) points and the axis-label prefix.

    With n_embd == 2 the two dimensions themselves (the lecture's picture); otherwise
    the first two principal components (of the n_embd x n_embd scatter matrix: any V is quick).
    """
    C = C.detach().double().cpu()
    if C.shape[1] == 1:
        return torch.cat([C, torch.zeros_like(C)], 1), "dim"
    if C.shape[1] == 2:
        return C, "dim"
    centered = C - C.mean(0)
    # the principal directions: eigenvectors of the (n_embd, n_embd) scatter matrix, largest
    # eigenvalue first (an SVD of the (V, n_embd) table gives the same, far slower for big V)
    _, vectors = torch.linalg.eigh(centered.T @ centered)  # ascending eigenvalues
    points = centered @ vectors[:, [-1, -2]]  # (V, 2)
    # fix each component's sign (SVD's is arbitrary) so the picture is reproducible
    # (the point farthest along each axis lies on its positive side)
    signs = torch.sign(points.gather(0, points.abs().argmax(0, keepdim=True))).squeeze(0)  # (2,)
    return points * signs, "PC"


def project_tsne(C: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """C (V, n_embd) -> (V, 2) with scikit-learn's t-SNE (an optional dependency)."""
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise NnlmError("tsne=True needs scikit-learn: pip install scikit-learn",
                        cli="--tsne needs scikit-learn: pip install scikit-learn") from None
    data = C.detach().double().cpu().numpy()
    perplexity = max(1.0, min(30.0, (len(data) - 1) / 3))  # must be below the point count
    return torch.from_numpy(TSNE(2, perplexity=perplexity, init="pca", random_state=seed)
                            .fit_transform(data))


def most_frequent(counts, n: int) -> list[int]:
    """Ids of the n largest of `counts` (V,), most frequent first; ties in id order."""
    counts = torch.as_tensor(counts)
    return torch.sort(counts, descending=True, stable=True).indices[:n].tolist()


def random_examples(n: int, num: int, seed: int = 0) -> torch.Tensor:
    """`num` distinct random indices of n examples (all if fewer), in memory that grows with
    `num`, not with n (a permutation of all only where n is small)."""
    if n <= PERMUTED:
        return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:num]
    return torch.tensor(random.Random(seed).sample(range(n), min(num, n)))


@torch.no_grad()
def hidden_activations(model, windows, num: int = 4096, seed: int = 0) -> dict[str, torch.Tensor]:
    """{layer: (num, units)} hidden activations on `num` random examples of `windows`,
    from the model's own `activations` hook (every hidden layer, normalisation included; a
    sequence model: every position of each example's window). All in memory at once: for a
    picture of any model, activation_summary."""
    index = random_examples(len(windows), num, seed)
    was_training = model.training
    model.eval()
    try:
        return model.activations(windows.contexts(index))
    finally:
        model.train(was_training)


@dataclass
class LayerSummary:
    """What the histogram of a layer's activations shows: counts of its values in BINS equal
    bins over [-1, 1] (values outside are left out, as a histogram of that range does), how many
    values there were and how many had |h| > SATURATED."""

    counts: torch.Tensor  # (BINS,) float64
    values: int
    saturated: int

    @property
    def saturation(self) -> float:
        """The share of values with |h| > SATURATED."""
        return self.saturated / max(self.values, 1)


@torch.no_grad()
def activation_summary(model, windows, num: int = 4096, seed: int = 0) -> dict[str, LayerSummary]:
    """{layer: LayerSummary} of the hidden activations on `num` random examples of `windows` (a
    sequence model, which reads every position of a window: on num positions, in windows of its
    block), computed a chunk of examples at a time so that at most about CHUNK_VALUES values are
    held at once, whatever the model, its context and its width."""
    rows = num if model.window else -(-num // windows.block_size)
    index = random_examples(len(windows), rows, seed)
    was_training = model.training
    model.eval()
    try:
        first = model.activations(windows.contexts(index[:1]))  # values one example gives, per layer
        per_example = max([h.numel() for h in first.values()] + [1])
        summary = {name: LayerSummary(torch.zeros(BINS, dtype=torch.float64), 0, 0) for name in first}
        for chunk in index.split(max(1, CHUNK_VALUES // per_example)):
            for name, h in model.activations(windows.contexts(chunk)).items():
                s, h = summary[name], h.float()
                s.counts += torch.histc(h, bins=BINS, min=-1.0, max=1.0).double()
                s.values += h.numel()
                s.saturated += int((h.abs() > SATURATED).sum())
        return summary
    finally:
        model.train(was_training)


def saturation(h: torch.Tensor) -> float:
    """Fraction of tanh outputs with |h| > 0.99, where almost no gradient flows back."""
    return float((h.abs() > SATURATED).float().mean())


def ema(values: list[float], beta: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction, so it starts at the first value."""
    out, avg = [], 0.0
    for t, v in enumerate(values, 1):
        avg = beta * avg + (1 - beta) * v
        out.append(avg / (1 - beta**t))
    return out


def neighbors(run_dir: str | os.PathLike, token: str, k: int = 10) -> list[tuple[str, float]]:
    """The tokens nearest to `token` in a run's embedding table C, by cosine similarity
    (`nnlm neighbors`).

    Args:
        run_dir: the run directory.
        token: a token as nnlm shows it ("a", "the", "<e>" for the boundary).
        k: how many neighbours.

    Returns:
        [(token, similarity)], nearest first.

    Raises:
        NnlmError: k < 1, a token the vocabulary lacks, or a bad run directory.
    """
    from ..inference.lm import load

    if k < 1:
        raise NnlmError(f"-k must be at least 1, got {k}")
    lm = load(run_dir, device="cpu")
    found = nearest(lm.model.embeddings().detach(), token_index(lm.vocab, token), k)
    return [(lm.vocab.token_str(i), score) for i, score in found]

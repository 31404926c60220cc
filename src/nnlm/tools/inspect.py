"""Looking inside a trained model: nearest tokens in C, a 2-D map of C, token
frequencies and hidden-unit saturation.

No matplotlib and no CLI here: plot.py draws what these functions compute.
"""

from __future__ import annotations

import math

import torch

from ..errors import NnlmError

SATURATED = 0.99  # |tanh| above this: the unit's gradient is < 2% of its unsaturated value


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
    the first two principal components, from an exact SVD (C is small: V x n_embd).
    """
    C = C.detach().double().cpu()
    if C.shape[1] == 1:
        return torch.cat([C, torch.zeros_like(C)], 1), "dim"
    if C.shape[1] == 2:
        return C, "dim"
    centered = C - C.mean(0)
    _, _, vh = torch.linalg.svd(centered, full_matrices=False)  # vh (n_embd, n_embd)
    points = centered @ vh[:2].T  # (V, 2)
    # fix each component's sign (SVD's is arbitrary) so the picture is reproducible
    # (the point farthest along each axis lies on its positive side)
    signs = torch.sign(points.gather(0, points.abs().argmax(0, keepdim=True))).squeeze(0)  # (2,)
    return points * signs, "PC"


def project_tsne(C: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """C (V, n_embd) -> (V, 2) with scikit-learn's t-SNE (an optional dependency)."""
    try:
        from sklearn.manifold import TSNE
    except ImportError:
        raise NnlmError("--tsne needs scikit-learn: pip install scikit-learn") from None
    data = C.detach().double().cpu().numpy()
    perplexity = max(1.0, min(30.0, (len(data) - 1) / 3))  # must be below the point count
    return torch.from_numpy(TSNE(2, perplexity=perplexity, init="pca", random_state=seed)
                            .fit_transform(data))


def most_frequent(counts, n: int) -> list[int]:
    """Ids of the n largest of `counts` (V,), most frequent first; ties in id order."""
    counts = torch.as_tensor(counts)
    return torch.sort(counts, descending=True, stable=True).indices[:n].tolist()


@torch.no_grad()
def hidden_activations(model, windows, num: int = 4096, seed: int = 0) -> dict[str, torch.Tensor]:
    """{layer: (num, units)} hidden activations on `num` random examples of `windows`,
    from the model's own `activations` hook (every hidden layer, normalisation included)."""
    g = torch.Generator().manual_seed(seed)
    index = torch.randperm(len(windows), generator=g)[:num]
    was_training = model.training
    model.eval()
    try:
        return model.activations(windows.contexts(index))
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


def neighbors(run_dir, token: str, k: int = 10) -> list[tuple[str, float]]:
    """The k tokens nearest to `token` in a run's embedding table C, by cosine similarity:
    [(token, similarity)], nearest first (`nnlm neighbors`)."""
    from ..inference.lm import load

    if k < 1:
        raise NnlmError(f"-k must be at least 1, got {k}")
    lm = load(run_dir, device="cpu")
    found = nearest(lm.model.embeddings().detach(), token_index(lm.vocab, token), k)
    return [(lm.vocab.token_str(i), score) for i, score in found]

"""PNG pictures of a run: loss curve, embedding map, tanh activations, lr sweep.

matplotlib is an optional extra (pip install 'nnlm[plot]'), imported only here and
only when a picture is asked for. The Agg backend draws without a display.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import torch

from ..errors import NnlmError
from ..run import rundir
from .inspect import SATURATED, ema

DPI = 120
BIG_LABELS = 60  # up to this many labelled tokens: the lecture's labelled discs
RUN_PICTURES = ("loss_curve", "embedding_map")  # drawn by run_picture; <name>.png in a run


def pyplot():
    """matplotlib.pyplot on the Agg backend (a notebook keeps its inline one, so pictures show
    in it), or a one-line NnlmError if matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        raise NnlmError("plotting needs matplotlib: pip install 'nnlm[plot]'") from None
    if "inline" not in matplotlib.get_backend():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save(fig, out: Path | BinaryIO, keep: bool = False):
    """The figure as PNG into `out`: a path (its folder made) or a binary file object; returns
    `out`, or with keep=True the figure itself, left open (for a notebook to show)."""
    if hasattr(out, "write"):  # drawn in memory (nnlm serve): nothing touches the disk
        fig.savefig(out, format="png", dpi=DPI, bbox_inches="tight")
    else:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=DPI, bbox_inches="tight")
    if keep:
        return fig
    pyplot().close(fig)
    return out


def loss_curve(train: list[dict], dev: list[dict], title: str, out: Path,
               log_scale: bool = False, keep: bool = False):
    """Train loss (raw and EMA) and dev loss against step, examples seen along the top."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    if train:
        steps = [r["step"] for r in train]
        losses = [r["train_loss"] for r in train]
        ax.plot(steps, losses, color="tab:blue", alpha=0.3, lw=1, label="train (per log interval)")
        # each point already averages a log interval: smooth over ~5% of the run, not more,
        # or a short run's curve trails far behind its points
        beta = min(0.9, max(0.0, 1 - 20 / len(losses)))
        ax.plot(steps, ema(losses, beta), color="tab:blue", lw=2, label="train (EMA)")
        per_step = train[-1]["examples"] / max(train[-1]["step"], 1)  # the batch size
        top = ax.secondary_xaxis("top", functions=(lambda s: s * per_step, lambda e: e / per_step))
        top.set_xlabel("training examples seen")
    if dev:
        ax.plot([r["step"] for r in dev], [r["dev_loss"] for r in dev], "o-", color="tab:orange",
                lw=2, ms=3, label="dev")
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, out, keep)


def embedding_map(points: torch.Tensor, labels: dict[int, str], title: str, axis: str,
                  out: Path, keep: bool = False):
    """points (V, 2); labels {row: token} for the rows to name (the rest are grey dots)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 8))
    xy = points.tolist()
    big = len(labels) <= BIG_LABELS
    rest = [p for i, p in enumerate(xy) if i not in labels]
    if rest:
        ax.scatter(*zip(*rest, strict=False), s=4, color="0.7")
    named = [xy[i] for i in labels]
    ax.scatter(*zip(*named, strict=False), s=420 if big else 6, color="tab:blue")
    placed = []  # label positions so far, as fractions of the plot's extent
    low = points.min(0).values  # (2,)
    span = (points.max(0).values - low).clamp_min(1e-9)  # (2,)
    for i, text in labels.items():
        at = ((points[i] - low) / span).tolist()
        crowded = any(abs(at[0] - u) < 0.04 and abs(at[1] - v) < 0.04 for u, v in placed)
        placed.append(at)
        if big and not crowded:  # white text on its disc, as in the lecture
            ax.text(*xy[i], text, ha="center", va="center", color="white", fontsize=11 if
                    len(text) < 3 else 8, fontweight="bold")
        else:  # beside its point, so two points almost on top of each other stay readable
            ax.annotate(text, xy[i], xytext=(14, 10) if big else (2, 2), textcoords="offset points",
                        fontsize=11 if big else 7, fontweight="bold" if big else "normal",
                        arrowprops={"arrowstyle": "-", "color": "0.4"} if big else None)
    ax.margins(0.08)
    ax.set_xlabel(f"{axis} 1")
    ax.set_ylabel(f"{axis} 2")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return save(fig, out, keep)


def activation_histogram(layers: dict, title: str, out: Path, keep: bool = False):
    """One histogram per hidden layer {name: inspect.LayerSummary}: mass piled at +-1 means
    saturation."""
    plt = pyplot()
    fig, axes = plt.subplots(len(layers), 1, figsize=(8, 2.5 + 2.5 * len(layers)), squeeze=False)
    for ax, (name, layer) in zip(axes[:, 0], layers.items(), strict=True):
        edges = torch.linspace(-1, 1, len(layer.counts) + 1)
        ax.stairs(layer.counts.numpy(), edges.numpy(), fill=True, color="tab:green")
        for edge in (-SATURATED, SATURATED):
            ax.axvline(edge, color="tab:red", ls="--", lw=1)
        ax.set_ylabel("count")
        ax.set_title(f"{name}: {layer.saturation:.1%} have |h| > {SATURATED}", fontsize=10)
    axes[-1, 0].set_xlabel("activation h")
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, out, keep)


def lr_sweep(result, out: Path) -> Path:
    """Loss against lr (log x) from lrfind.LRFindResult, the suggestion marked."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot(result.lrs, result.losses, color="tab:blue", alpha=0.3, lw=1, label="minibatch loss")
    ax.plot(result.lrs, result.smoothed, color="tab:blue", lw=2, label="smoothed")
    ax.axvline(result.suggestion, color="tab:red", ls="--",
               label=f"suggested lr {result.suggestion:.2g}")
    ax.set_xscale("log")
    # the explosion at the end would squash the interesting part: cap the y range
    low = min(result.smoothed)
    ax.set_ylim(low - 0.1 * (result.smoothed[0] - low), result.smoothed[0] * 1.15)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss (nats/token)")
    ax.set_title(f"lr finder on {result.data}: {len(result.lrs)} steps, "
                 f"suggested lr {result.suggestion:.2g}")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return save(fig, out)


def figures(run_dir: str | Path, *, log_scale: bool = False, tsne: bool = False, top: int = 300,
            activations: bool = False) -> dict:
    """A run's pictures as matplotlib figures, what a notebook shows (`nnlm plot`; each is also
    written into the run directory as a PNG).

    Args:
        run_dir: the run directory.
        log_scale: the loss axis in log scale.
        tsne: the embedding map by t-SNE (scikit-learn), not the first two principal components.
        top: label the `top` most frequent tokens on the map.
        activations: also a histogram of the hidden activations (their saturation).

    Returns:
        {"loss_curve": Figure, "embedding_map": Figure[, "activations": Figure]}.

    Raises:
        NnlmError: no matplotlib (pip install 'nnlm[plot]'), a bad run directory, or a model
            with no hidden activations to draw.
    """
    options = dict(log_scale=log_scale, tsne=tsne, top=top, activations=activations)
    shown = plot_run(run_dir, keep=True, **options)
    return dict(zip(["loss_curve", "embedding_map", "activations"], shown, strict=False))


def plot_run(run_dir: str | Path, *, log_scale: bool = False, tsne: bool = False, top: int = 300,
             activations: bool = False, keep: bool = False) -> list:
    """Every picture of a run directory, written into it (options as `figures`); returns their
    paths (keep=True: the figures, left open)."""
    from ..inference.lm import load
    from .inspect import activation_summary

    pyplot()  # fail on a missing matplotlib before any work
    if top < 1:
        raise NnlmError.about("top", "--top", f"must be at least 1, got {top}")
    lm = load(run_dir, device="cpu")
    run_dir = lm.spec.run_dir
    paths = [draw_loss_curve(lm, rundir.picture_path(run_dir, "loss_curve"), log_scale, keep),
             draw_embedding_map(lm, rundir.picture_path(run_dir, "embedding_map"), tsne, top, keep)]
    if activations:
        windows = lm.spec.windows("train")
        layers = activation_summary(lm.model, windows)
        if not layers:
            raise NnlmError.about("activations:", "--activations:",
                                  f"a {lm.spec.family.name} model exposes no hidden activations")
        n = min(len(windows), 4096)
        paths.append(activation_histogram(layers, f"{lm_title(lm)}\nhidden activations on {n} training "
                                          "examples", rundir.picture_path(run_dir, "activations"), keep))
    return paths


def run_picture(lm, name: str) -> bytes:
    """One of RUN_PICTURES of a loaded run as PNG bytes, drawn as `nnlm plot` draws it with
    its default options, in memory: nothing is written into the run directory."""
    draw = {"loss_curve": draw_loss_curve, "embedding_map": draw_embedding_map}.get(name)
    if draw is None:
        raise NnlmError(f"no run picture named {name!r} (choose from {', '.join(RUN_PICTURES)})")
    pyplot()
    buf = io.BytesIO()
    draw(lm, buf)
    return buf.getvalue()


def draw_loss_curve(lm, out: Path | BinaryIO, log_scale: bool = False, keep: bool = False):
    """The loss curve of a loaded run, into `out` (a path or a binary file)."""
    from ..training.metrics import read_metrics

    train, dev = read_metrics(lm.spec.run_dir)
    return loss_curve(train, dev, run_title(lm.spec.run_dir, dev), out, log_scale, keep)


def draw_embedding_map(lm, out: Path | BinaryIO, tsne: bool = False, top: int = 300, keep: bool = False):
    """The embedding map of a loaded run, into `out` (a path or a binary file)."""
    from ..data.sources import token_frequencies
    from .inspect import most_frequent, project_2d, project_tsne

    vocab = lm.vocab
    C = lm.model.embeddings().detach()  # (V, n_embd)
    points, axis = (project_tsne(C), "t-SNE") if tsne else project_2d(C)
    labels = {i: vocab.token_str(i) for i in most_frequent(token_frequencies(lm.source), top)}
    shown = f"{len(labels)} most frequent of {len(vocab)} tokens" if len(labels) < len(vocab) \
        else f"{len(vocab)} tokens"
    return embedding_map(points, labels, f"{lm_title(lm)}\nembeddings C, n_embd {C.shape[1]}, "
                         f"{shown}", axis, out, keep)


def lm_title(lm) -> str:
    """The title of a loaded run's pictures (run_title)."""
    from ..training.metrics import read_metrics

    return run_title(lm.spec.run_dir, read_metrics(lm.spec.run_dir)[1])


def run_title(run_dir: Path, dev: list[dict]) -> str:
    """'<run name>: best dev loss x (final y)', the run name being its directory's."""
    name = Path(run_dir).resolve().name
    if not dev:
        return name
    best, final = min(r["dev_loss"] for r in dev), dev[-1]["dev_loss"]
    return f"{name}: best dev loss {best:.4f} (final {final:.4f})"

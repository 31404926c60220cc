"""A head start: a new run begins from a trained run's weights (`--init-from RUN`), so a small
list learns from what a big one already knows (its spelling, its sounds).

The new run has the trained run's family and sizes (run/spec.py takes them) and its vocabulary
kept and extended (data/base.py `based_vocab`): every token the trained run knows keeps its
rows of the embeddings and the output layer; the data's new tokens, and a labelled list's
labels, get the new model's own first rows.
"""

from __future__ import annotations

import dataclasses

import torch

from ..errors import NnlmError
from ..run import rundir
from ..run.spec import RunSpec


def start_from(model: torch.nn.Module, spec: RunSpec, origin: RunSpec) -> str:
    """Copy `origin`'s best weights into `model` (built, and initialised, for `spec`), each token's
    rows where origin has the token; returns a line that says what was kept.

    Raises:
        NnlmError: origin's weights fail their check, or do not fit the model (not its family
            and sizes).
    """
    old, _ = rundir.load_tensors(rundir.best_weights_path(origin.run_dir))
    old_keys, new_keys = origin.source.token_keys(), spec.source.token_keys()
    at = {key: i for i, key in enumerate(old_keys)}
    index = torch.tensor([at.get(key, -1) for key in new_keys])  # (V,) origin's id of each token, or -1
    kept = index >= 0
    dims = token_dims(spec.family, spec.model_config)
    own = label_only(spec.family, spec.model_config) if not origin.model_config.labels else set()
    with torch.no_grad():
        for name, new in model.state_dict(keep_vars=True).items():
            if name in own:  # a labelled run from an unlabelled one: its label layers start fresh
                continue
            if name not in old:
                raise NnlmError(f"{origin.run_dir}: its weights have no {name}: not the model this run "
                                "builds")
            new.copy_(mapped(old[name], new, index, kept, dims[name], f"{origin.run_dir}: {name}"))
    fresh = [spec.source.token_str(i) for i in torch.nonzero(~kept).flatten().tolist()]
    shown = ", ".join(fresh[:12]) + (", ..." if len(fresh) > 12 else "")
    return (f"weights from {origin.run_dir}: {int(kept.sum()):,} of {len(new_keys):,} tokens keep their "
            f"rows" + (f"; new rows for {len(fresh)}: {shown}" if fresh else ""))


def token_dims(family, config) -> dict[str, list[int]]:
    """Each weight's dimensions that run over token ids: those that grow with the vocabulary,
    found by building the model (on the meta device: no memory) with one token more. (A size
    alone cannot tell: a vocabulary of 64 characters beside 64-wide embeddings.)"""
    with torch.device("meta"):
        now = family.build(config).state_dict()
        more = family.build(dataclasses.replace(config, vocab_size=config.vocab_size + 1)).state_dict()
    return {name: [d for d in range(t.dim()) if t.shape[d] != more[name].shape[d]] for name, t in now.items()}


def label_only(family, config) -> set[str]:
    """The weights a model of `config` has only because its run is labelled (e.g. the MLP's FiLM),
    found by building it (on the meta device) without labels."""
    if not config.labels:
        return set()
    with torch.device("meta"):
        names = set(family.build(config).state_dict())
        return names - set(family.build(dataclasses.replace(config, labels=0)).state_dict())


def mapped(old: torch.Tensor, new: torch.Tensor, index: torch.Tensor, kept: torch.Tensor,
           token_dims: list[int], what: str) -> torch.Tensor:
    """`old` laid out as `new`: along each of `token_dims` (dimensions of token ids), the rows of
    the tokens origin has (`index`, where `kept`); new's own values elsewhere. Every other
    dimension must agree."""
    if old.dim() != new.dim() or any(old.shape[d] != new.shape[d] for d in range(new.dim())
                                     if d not in token_dims):
        raise NnlmError(f"{what} is {tuple(old.shape)}, this run's model has {tuple(new.shape)}")
    gathered, keep = old.to(new.dtype), torch.ones(new.shape, dtype=torch.bool)
    for d in token_dims:
        gathered = gathered.index_select(d, index.clamp(min=0))
        shape = [1] * new.dim()
        shape[d] = -1
        keep = keep & kept.view(shape)
    return torch.where(keep, gathered, new.detach())

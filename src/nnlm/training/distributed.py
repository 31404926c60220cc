"""Data-parallel training under torchrun: process group set-up and the few collectives.

Every rank holds the whole model; each step it computes gradients on its own slice of
the global batch, and the flat gradient buffer is averaged across ranks with one
all-reduce (the same arithmetic as DistributedDataParallel, in a single bucket, so the
hand-written backward keeps working). Evaluation sums negative log-likelihoods and
token counts across ranks, so the numbers equal a single process's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from ..errors import Failure, NnlmError

LAUNCHER_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
DEFAULT_TIMEOUT_S = 300  # a dead or stuck peer fails the run after this, rather than hang


@dataclass
class Group:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")  # where this process trains (and collectives run)

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, which writes the run directory and reports."""
        return self.rank == 0

    def all_reduce_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """Sum `tensor` over the ranks, in place (one process: as it is)."""
        return self._all_reduce(tensor, dist.ReduceOp.SUM)

    def all_reduce_max(self, tensor: torch.Tensor) -> torch.Tensor:
        """The maximum of `tensor` over the ranks, in place (one process: as it is)."""
        return self._all_reduce(tensor, dist.ReduceOp.MAX)

    def _all_reduce(self, tensor: torch.Tensor, op) -> torch.Tensor:
        """In place, also for a tensor on another device than the backend's."""
        if self.world == 1:
            return tensor
        work = tensor if tensor.device == self.device else tensor.to(self.device)
        try:
            dist.all_reduce(work, op=op)
        except RuntimeError as e:  # a peer died or timed out
            raise Failure(f"rank {self.rank}: lost contact with the other processes "
                            f"({str(e).splitlines()[0][:200]})") from None
        if work is not tensor:
            tensor.copy_(work)
        return tensor

    def broadcast(self, tensor: torch.Tensor) -> torch.Tensor:
        """Rank 0's `tensor` on every rank, in place."""
        if self.world > 1:
            dist.broadcast(tensor, src=0)
        return tensor

    def barrier(self) -> None:
        """Wait until every rank gets here."""
        if self.world > 1:
            dist.barrier()


def launched() -> bool:
    """Whether torchrun (or another launcher) set this process's rank variables."""
    return any(v in os.environ for v in LAUNCHER_VARS)


def setup(device: torch.device) -> Group:
    """Join the process group that torchrun describes; a single process otherwise. The group's
    device is where this process trains: `device`, or under torchrun on GPUs its local one."""
    if not launched():
        return Group(device=device)
    missing = [v for v in LAUNCHER_VARS if v not in os.environ]
    if missing:
        raise NnlmError(f"distributed launch half-configured: {', '.join(missing)} not set "
                        "(start with torchrun, or unset RANK/WORLD_SIZE/... for one process)")
    try:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local_rank = int(os.environ["LOCAL_RANK"])
    except ValueError:
        raise NnlmError("RANK, WORLD_SIZE and LOCAL_RANK must be integers") from None
    if not 0 <= rank < world:
        raise NnlmError(f"RANK {rank} is outside WORLD_SIZE {world}")
    if world == 1:
        return Group(device=device)
    timeout = timedelta(seconds=float(os.environ.get("NNLM_DIST_TIMEOUT", DEFAULT_TIMEOUT_S)))
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=rank, world_size=world, timeout=timeout)
    return Group(rank, world, local_rank, device)


def teardown(group: Group) -> None:
    """Leave the process group, where there is one."""
    if group.world > 1 and dist.is_initialized():
        dist.destroy_process_group()

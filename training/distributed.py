"""Data-parallel training across processes with ``torch.distributed``, as ``torchrun`` launches it.

``torchrun --nproc_per_node=N -m training.train RECIPE --out X.pt`` starts N processes and gives
each ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` and the rendezvous address in its environment; a
plain ``python -m training.train`` has none of them, and then the context is a world of one and
nothing here talks to another process.  The trainer wraps its loss in ``DistributedDataParallel``
(NCCL between GPUs, Gloo between CPU processes), so every update averages the gradients of all
ranks; what this module adds is the bookkeeping around that: which items each rank draws, how
a recipe's batch is split over ranks and passes, and the few numbers the ranks must agree on.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    """This process's place in the run: rank ``rank`` of ``world_size`` (``local_rank`` on its node)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = ""                  # "nccl" | "gloo"; "" for a world of one

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 validates, logs and writes the state and the checkpoint."""
        return self.rank == 0


def context_from_environment() -> DistContext:
    """The torchrun variables of this process (a world of one when they are absent)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError:
        raise ValueError("RANK, LOCAL_RANK and WORLD_SIZE must be whole numbers (torchrun sets them)") from None
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ValueError(f"RANK={rank} is not a rank of WORLD_SIZE={world}")
    return DistContext(rank, world, local)


def setup(device: str) -> tuple[DistContext, str]:
    """Join the process group torchrun set up; returns the context and this rank's device.

    GPUs: NCCL, one GPU per process (``cuda:LOCAL_RANK``); CPU: Gloo.  A world of one joins
    nothing and keeps ``device`` as given."""
    ctx = context_from_environment()
    if not ctx.enabled:
        return ctx, device
    on_gpu = torch.device(device).type == "cuda"
    if on_gpu:
        if ctx.local_rank >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK {ctx.local_rank} has no GPU ({torch.cuda.device_count()} visible): "
                             "give --nproc_per_node at most the node's GPU count")
        device = f"cuda:{ctx.local_rank}"
        torch.cuda.set_device(device)
    backend = "nccl" if on_gpu else "gloo"
    dist.init_process_group(backend)
    return DistContext(ctx.rank, ctx.world_size, ctx.local_rank, backend), device


def shutdown(ctx: DistContext) -> None:
    """Wait for every rank (rank 0 writes the checkpoint last), then leave the process group."""
    if ctx.enabled and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


@dataclass(frozen=True)
class BatchPlan:
    """How one update's ``batch_size`` items are split: each of ``world_size`` ranks runs
    ``accumulation`` passes of ``micro_batch`` items, so every update sees the recipe's batch
    whatever the number of processes."""

    batch_size: int
    world_size: int
    micro_batch: int
    accumulation: int

    @property
    def per_rank(self) -> int:
        return self.micro_batch * self.accumulation


def batch_plan(batch_size: int, world_size: int = 1, micro_batch: int = 0) -> BatchPlan:
    """Split ``batch_size`` over ``world_size`` ranks, in passes of at most ``micro_batch`` items
    (0: each rank's whole share at once).  Raises ``ValueError`` for a split that is not whole."""
    if batch_size < 1 or world_size < 1 or micro_batch < 0:
        raise ValueError(f"batch_size {batch_size}, {world_size} processes and micro batch {micro_batch} "
                         "must be positive")
    if batch_size % world_size:
        raise ValueError(f"batch_size {batch_size} does not split over {world_size} processes; use a process "
                         f"count that divides it or --set batch_size=N")
    share = batch_size // world_size
    micro = min(micro_batch or share, share)
    if share % micro:
        raise ValueError(f"each process's {share} items per update do not split into passes of {micro}; "
                         f"give --micro-batch a divisor of {share}")
    return BatchPlan(batch_size, world_size, micro, share // micro)


class RankShare(torch.utils.data.Sampler):
    """This rank's items of an epoch: of every update's ``batch_size`` consecutive items of
    ``order`` (the shuffle one process would draw), the rank's own slice of ``batch_size /
    world_size``.  So the ranks draw different items (different dynamic mixtures), and together
    each update sees exactly the batch one process would; an incomplete last batch is dropped, as
    the single-process loader drops it."""

    def __init__(self, order: list[int], batch_size: int, ctx: DistContext) -> None:
        if batch_size % ctx.world_size:
            raise ValueError(f"batch_size {batch_size} does not split over {ctx.world_size} processes")
        self.order, self.batch_size, self.ctx = list(order), batch_size, ctx
        self.share = batch_size // ctx.world_size

    def __iter__(self):
        first = self.ctx.rank * self.share
        for k in range(len(self.order) // self.batch_size):
            yield from self.order[k * self.batch_size + first: k * self.batch_size + first + self.share]

    def __len__(self) -> int:
        return len(self.order) // self.batch_size * self.share


def _tensor(values: list[float], device: torch.device) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64, device=device)


def sum_over_ranks(values: list[float], ctx: DistContext, device: torch.device) -> list[float]:
    """Each value summed over the ranks (as is, in a world of one)."""
    if not ctx.enabled:
        return list(values)
    t = _tensor(values, device)
    dist.all_reduce(t)
    return t.tolist()


def any_rank(flag: bool, ctx: DistContext, device: torch.device) -> bool:
    """True on every rank when it is true on one (e.g. one rank ran out of time: all stop)."""
    return sum_over_ranks([float(flag)], ctx, device)[0] > 0


def from_main(values: list[float], ctx: DistContext, device: torch.device) -> list[float]:
    """Rank 0's values on every rank (e.g. the validation loss only rank 0 computes)."""
    if not ctx.enabled:
        return list(values)
    t = _tensor(values, device)
    dist.broadcast(t, src=0)
    return t.tolist()

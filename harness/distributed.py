"""Data-parallel runs across processes (several GPUs, several machines) through PyTorch's own
engine: ``torchrun`` or ``accelerate launch`` start one process per GPU and set ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK``; the harness then joins the process group (NCCL on GPUs, Gloo
on CPUs) and:

- fine-tunes with ``DistributedDataParallel``: every optimizer step's batch (the protocol's batch
  size, drawn by the same seeded generator on every rank) is split across the ranks, and each
  rank's loss is weighted so that the averaged gradient is the one of the whole batch;
- encodes a share of the texts on each rank and gathers the rows;
- builds each artifact on every rank (the collectives need them all) and publishes rank 0's copy
  (:meth:`harness.store.ArtifactStore.get_or_build`).

Nothing changes for fixtures or claims: ``torchrun --nproc_per_node 8 -m pytest claims -m full``
or ``accelerate launch -m pytest claims -m full`` is the same command on every GPU; only rank 0
writes the report. With one process (no ``WORLD_SIZE``, or 1) every function here is a no-op.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
import torch.distributed as dist


def world_size() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def active() -> bool:
    """Whether this process is one of several: joins the process group on first use."""
    if world_size() <= 1:
        return False
    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            dist.init_process_group("nccl")
        else:
            dist.init_process_group("gloo")
    return True


def local_device() -> str:
    """``cuda:LOCAL_RANK`` for a rank of a GPU run; ``cuda`` otherwise (where CUDA exists)."""
    if active() and torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return "cuda"


def barrier() -> None:
    if active():
        dist.barrier()


def broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_rows(rows: np.ndarray, part: np.ndarray, n: int) -> np.ndarray:
    """Each rank holds the rows ``part`` (indices into ``n``) of an array: the whole array, rows
    in index order, on every rank (in one process: ``rows`` put in their places)."""
    parts: list[Any] = [(part, rows)]
    if active():
        parts = [None] * world_size()
        dist.all_gather_object(parts, (part, rows))
    out = np.empty((n,) + rows.shape[1:], dtype=rows.dtype)
    for idx, block in parts:
        out[idx] = block
    return out


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    if not active():
        return tensor
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor / world_size()

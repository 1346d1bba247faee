"""Data-parallel training under torchrun: which process this is, and the few collective steps the loop needs.

``torchrun --nproc-per-node N -m daedalus train ...`` starts N processes and gives each ``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``; :func:`join` reads them and opens the process group (gloo on
CPU, NCCL on CUDA, one GPU per process: ``cuda:LOCAL_RANK``). Without those variables (or with ``WORLD_SIZE=1``)
the run is one process and nothing here talks to anyone. docs/training.md "Several processes" says how the loop
splits the work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from daedalus.errors import UsageError


@dataclass(frozen=True)
class World:
    """This process's place in the run: ``rank`` of ``size`` processes (``local_rank`` on its machine)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one process that logs, shows progress, writes the run folder and draws the figures."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def all_sum(self, values: torch.Tensor) -> torch.Tensor:
        """The element-wise sum of ``values`` over every process (``values`` itself in a one-process run)."""
        if self.distributed:
            dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def gather(self, obj) -> list:
        """Every process's ``obj``, in rank order (``[obj]`` in a one-process run)."""
        if not self.distributed:
            return [obj]
        out = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj):
        """Rank 0's ``obj`` on every process."""
        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"environment variable {name}={text!r} must be an integer (torchrun sets it)") from None


def local_processes(world: World) -> int:
    """How many of the run's processes share this machine (torchrun's ``LOCAL_WORLD_SIZE``; the whole world when
    it is not set)."""
    return max(1, _env_int("LOCAL_WORLD_SIZE", world.size))


def world_from_env() -> World:
    """The world torchrun describes in the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``); one process
    when they are absent."""
    size = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local = _env_int("LOCAL_RANK", rank)
    if size < 1 or not 0 <= rank < size:
        raise UsageError(f"RANK={rank} and WORLD_SIZE={size} do not describe a process of the run "
                         f"(expected 0 <= RANK < WORLD_SIZE)")
    return World(rank, size, local)


def join(world: World, device: torch.device) -> torch.device:
    """Open the process group for ``world`` (nothing for one process) and return the device this process trains on:
    ``cuda:LOCAL_RANK`` for a CUDA run (NCCL), the CPU otherwise (gloo)."""
    if not world.distributed:
        return device
    if device.type == "cuda":
        if world.local_rank >= torch.cuda.device_count():
            raise UsageError(f"LOCAL_RANK={world.local_rank} but torch sees {torch.cuda.device_count()} CUDA "
                             f"device(s): start at most that many processes per machine (--nproc-per-node)")
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
        backend = "nccl"
    else:
        backend = "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, rank=world.rank, world_size=world.size,
                                **({"device_id": device} if backend == "nccl" else {}))
    return device


def joined() -> bool:
    """Whether this process's group is open (a caller that opened it also closes it)."""
    return dist.is_available() and dist.is_initialized()


def leave(world: World) -> None:
    """Close the process group :func:`join` opened."""
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()

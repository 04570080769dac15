"""Multi-process runs under ``torchrun``: who am I, which device, and the few collective steps.

``torchrun --nproc-per-node N -m attention_visual generate CONFIG`` sets ``WORLD_SIZE``, ``RANK``,
``LOCAL_RANK`` and ``LOCAL_WORLD_SIZE`` for every process. :class:`RankContext` reads them; a plain run (no
``WORLD_SIZE`` or ``WORLD_SIZE=1``) is rank 0 of 1 and never touches ``torch.distributed``.

Collectives used by the batch, in order: rank 0 chooses and prepares the batch folder and
:meth:`RankContext.share` sends its path (or its error) to the others; every rank runs its share
of videos (each with its own render workers, :mod:`.workers`); :meth:`RankContext.barrier` waits for
all; rank 0 merges the manifest.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

try:
    import torch
    import torch.distributed as dist
except ModuleNotFoundError:
    from attention_visual.extras import GENERATION_EXTRA, require_extra

    require_extra(
        GENERATION_EXTRA, __name__
    )  # one line naming the extra when torch, diffusers or transformers is missing
    raise

from attention_visual.errors import ConfigError

log = logging.getLogger(__name__)

#: How long ranks wait for each other at a barrier (rank 0 may render batch-end videos meanwhile).
BARRIER_TIMEOUT = datetime.timedelta(hours=6)


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}={raw!r} is not an integer") from None


@dataclass(frozen=True)
class RankContext:
    """This process's place in a (possibly single-process) run.

    Attributes:
        rank: Global rank, 0 in a plain run.
        world_size: Number of processes, 1 in a plain run.
        local_rank: Rank on this node; picks the GPU (``cuda:LOCAL_RANK``).
        local_world_size: Processes on this node (they share its cores: each has its own render workers).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RankContext:
        """Read ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` (as set by ``torchrun``).

        Raises:
            ConfigError: A variable is not an integer or the ranks are inconsistent.
        """
        env = os.environ if env is None else env
        world_size = _env_int(env, "WORLD_SIZE", 1)
        rank = _env_int(env, "RANK", 0)
        local_rank = _env_int(env, "LOCAL_RANK", rank)
        local_world_size = _env_int(env, "LOCAL_WORLD_SIZE", world_size)
        if world_size < 1 or not 0 <= rank < world_size or local_rank < 0 or local_world_size < 1:
            raise ConfigError(f"inconsistent torchrun environment: WORLD_SIZE={world_size}, RANK={rank}")
        return cls(rank, world_size, local_rank, local_world_size)

    @property
    def is_distributed(self) -> bool:
        """True with more than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True on rank 0, which owns the batch folder, the manifest and the batch-end work."""
        return self.rank == 0

    def device(self, configured: str) -> str:
        """The device this rank runs on.

        In a multi-process run on CUDA every rank takes ``cuda:LOCAL_RANK`` (the configured
        ``"auto"``/``"cuda"`` is refined; an explicit ``cuda:N`` is an error, as all ranks would
        share it). Otherwise the configured device is returned unchanged.
        """
        if not self.is_distributed:
            return configured
        wants_cuda = configured.startswith("cuda") or (configured == "auto" and torch.cuda.is_available())
        if not wants_cuda:
            return configured
        if configured not in ("auto", "cuda"):
            raise ConfigError(
                f"generation.device={configured!r} with {self.world_size} processes: use 'auto' or 'cuda', "
                "each rank then takes cuda:LOCAL_RANK"
            )
        return f"cuda:{self.local_rank}"

    def init(self, device: str) -> None:
        """Join the process group (``nccl`` on CUDA, ``gloo`` otherwise); no-op in a plain run."""
        if not self.is_distributed or dist.is_initialized():
            return
        if device.startswith("cuda"):
            torch.cuda.set_device(torch.device(device))
            dist.init_process_group(backend="nccl", timeout=BARRIER_TIMEOUT, device_id=torch.device(device))
            backend = "nccl"
        else:
            dist.init_process_group(backend="gloo", timeout=BARRIER_TIMEOUT)
            backend = "gloo"
        log.info("rank %d of %d joined the %s process group (device %s)", self.rank, self.world_size, backend, device)

    def share(self, value: Any) -> Any:
        """Return rank 0's ``value`` on every rank (a picklable object); identity in a plain run."""
        if not self.is_distributed:
            return value
        box = [value if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        """Wait until every rank gets here; no-op in a plain run."""
        if self.is_distributed and dist.is_initialized():
            dist.barrier()

    def close(self) -> None:
        """Leave the process group (safe to call more than once, or when never joined)."""
        if self.is_distributed and dist.is_initialized():
            dist.destroy_process_group()


__all__ = ["BARRIER_TIMEOUT", "RankContext"]

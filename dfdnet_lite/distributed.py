"""Feature extraction on several processes (one per GPU) launched by `torchrun` (Sec. 3.1; Notebook 06).

    torchrun --nproc_per_node N -m dfdnet_lite build-dictionary --faces DIR --out OUT --profile paper --device cuda

Under torchrun (WORLD_SIZE > 1 in the environment) every rank takes the candidates
`paths[rank::world]`, extracts their features into its own resumable shard cache
`OUT/cache/rank{r}` (each with its own manifest, so `--resume` resumes every shard; resume with
the same N), then waits at a barrier. Rank 0 alone reads the shards back in the original
candidate order (every row stores its candidate index), so the K-means input, and therefore the
dictionary, is the one a single process makes; it clusters and writes the outputs, the other ranks
exit 0. Backend: nccl on CUDA (rank r uses cuda:LOCAL_RANK), gloo on CPU, where each of the
LOCAL_WORLD_SIZE processes gets its share of the cores (torchrun itself sets OMP_NUM_THREADS=1).
A plain single process keeps the single cache in `OUT/cache`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

TIMEOUT = timedelta(hours=4)  # ranks wait at the barrier for the slowest shard's alignment and encoding


@dataclass(frozen=True)
class Dist:
    """Rank, world size and local rank of this process (0, 1, 0 for a plain single process)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    started: bool = False  # this module initialised torch.distributed (and tears it down)

    @property
    def main(self) -> bool:
        """True on the process that clusters and writes (rank 0)."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every rank (a no-op for a single process)."""
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        """Destroy the process group if this module made it."""
        if self.started:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def env_world() -> Dist:
    """Rank, world size and local rank from the variables torchrun sets; single process without them."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    return Dist(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def setup(device) -> "tuple[Dist, object]":
    """Join the torchrun group (nccl on CUDA, gloo otherwise) and pick this rank's device: (Dist, torch.device)."""
    import torch

    info = env_world()
    if info.world <= 1:
        return info, device
    import torch.distributed as dist

    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    else:  # torchrun sets OMP_NUM_THREADS=1 for N > 1 processes: give each its share of the cores instead
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", info.world))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, local_world)))
    started = not dist.is_initialized()
    if started:
        kwargs = {"device_id": device} if device.type == "cuda" else {}
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=TIMEOUT, **kwargs)
    return Dist(info.rank, info.world, info.local_rank, started), device


class MergedCache:
    """Read-only view of the shard caches as one cache, rows in candidate order (what `cluster` and `montage` read)."""

    def __init__(self, shards: list, paths: list):
        self.shards = shards
        index = np.concatenate([np.asarray(s.manifest["index"], np.int64) for s in shards])
        self.order = np.argsort(index, kind="stable")  # merged row j = concatenated row order[j]
        position = {str(p): i for i, p in enumerate(paths)}
        skipped = sorted((s for c in shards for s in c.manifest["skipped"]), key=lambda s: position.get(s, -1))
        used = [u for c in shards for u in c.manifest["used"]]
        self.manifest = {"rows": len(index), "used": [used[j] for j in self.order], "skipped": skipped}

    @property
    def rows(self) -> int:
        """Number of faces whose features are on disk, over all shards."""
        return int(self.manifest["rows"])

    def _merge(self, arrays: list) -> np.ndarray:
        return np.concatenate([np.asarray(a) for a in arrays])[self.order]

    def features(self, part: str, scale: int) -> np.ndarray:
        """Features (rows, C*s*s) of one part at one scale, in candidate order (in RAM)."""
        return self._merge([s.features(part, scale) for s in self.shards])

    def boxes(self) -> np.ndarray:
        """Part boxes (rows, 4, 4) at 512 px, in candidate order."""
        return self._merge([s.boxes() for s in self.shards])

    def thumbs(self) -> np.ndarray:
        """Image crops (rows, 4, T, T, 3) uint8, in candidate order."""
        return self._merge([s.thumbs() for s in self.shards])


def shard_cache(info: Dist, rank: int, folder, prints: dict, n: int, dtype: str, resume: bool):
    """The FeatureCache of `rank`'s shard of n candidates: `folder` for a single process, folder/rank{r} under torchrun."""
    from .feature_cache import FeatureCache

    if info.world == 1:
        return FeatureCache(folder, prints, n, dtype, resume)
    size = len(range(rank, n, info.world))
    return FeatureCache(folder / f"rank{rank}", dict(prints, shard=f"{rank}/{info.world}"), size, dtype, resume)


def merge_shards(info: Dist, own, folder, prints: dict, paths: list, dtype: str):
    """On rank 0 after the barrier: `own` for a single process, else every rank's shard merged in candidate order."""
    if info.world == 1:
        return own
    others = [shard_cache(info, r, folder, prints, len(paths), dtype, resume=True) for r in range(1, info.world)]
    return MergedCache([own, *others], paths)

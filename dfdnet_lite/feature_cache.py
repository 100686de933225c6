"""The on-disk feature cache of the dictionary build: one memory-mapped array per (part, scale) (Sec. 3.1; Notebook 06).

Part features of every face are written row by row into `np.memmap` files, so 10,000 faces
never have to fit in RAM, and a JSON manifest says how many candidate photos are done. A build
that stops (Ctrl-C, a crash, a lost machine) resumes from the manifest: rows past its count are
rewritten, rows before it are kept. The manifest is replaced atomically after the arrays are
flushed, so it never claims a row that is not on disk.

Files in the cache folder: `{part}_{scale}.{dtype}` (capacity, C*s*s), `boxes.int32`
(capacity, 4, 4) part boxes at 512 px, `thumbs.uint8` (capacity, 4, T, T, 3) image crops of the
parts (for the montages) and `manifest.json` (with `index`: each row's candidate index, which
puts the shards of a multi-process build back in candidate order; see `distributed`).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .config import PARTS, SCALES, entry_shape

MANIFEST = "manifest.json"
THUMB = 48  # side of the stored image crop of each part, px
OVERWRITE_HINT = "rerun with --overwrite to start the build again"


class CacheError(ValueError):
    """A feature cache that does not match the build (wrong size, other settings, broken manifest)."""


def cache_layout(capacity: int, dtype: str) -> dict[str, tuple[tuple[int, ...], str]]:
    """File name -> (shape, dtype) of every array in a cache for `capacity` faces."""
    layout = {}
    for part in PARTS:
        for scale in SCALES:
            layout[f"{part}_{scale}.{dtype}"] = ((capacity, int(np.prod(entry_shape(part, scale)))), dtype)
    layout["boxes.int32"] = ((capacity, len(PARTS), 4), "int32")
    layout["thumbs.uint8"] = ((capacity, len(PARTS), THUMB, THUMB, 3), "uint8")
    return layout


class FeatureCache:
    """Memory-mapped part features of up to `capacity` faces plus a resumable manifest (Sec. 3.1; Notebook 06)."""

    def __init__(self, folder, fingerprint: dict, capacity: int, dtype: str = "float16", resume: bool = False):
        """Create the arrays (resume=False) or open and check existing ones (resume=True, if a manifest exists)."""
        if dtype not in ("float16", "float32"):
            raise ValueError(f"cache dtype must be float16 or float32, got {dtype!r}")
        self.folder, self.dtype, self.capacity = Path(folder), dtype, int(capacity)
        self.layout = cache_layout(self.capacity, dtype)
        self.fingerprint = dict(fingerprint, capacity=self.capacity, dtype=dtype)
        if resume and (self.folder / MANIFEST).is_file():
            self.manifest = self._read_manifest()
            self._check_files()
            mode = "r+"
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.manifest = {"fingerprint": self.fingerprint, "rows": 0, "next_candidate": 0,
                             "used": [], "skipped": [], "index": []}
            mode = "w+"
        self.arrays = {name: np.memmap(self.folder / name, dtype=dt, mode=mode, shape=shape)
                       for name, (shape, dt) in self.layout.items()}
        if mode == "w+":
            self.commit()

    @property
    def rows(self) -> int:
        """Number of faces whose features are on disk."""
        return int(self.manifest["rows"])

    @property
    def next_candidate(self) -> int:
        """Index of the first candidate photo not yet processed."""
        return int(self.manifest["next_candidate"])

    def _read_manifest(self) -> dict:
        try:
            manifest = json.loads((self.folder / MANIFEST).read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise CacheError(f"{self.folder / MANIFEST} cannot be read ({err}); {OVERWRITE_HINT}") from None
        old = manifest.get("fingerprint", {})
        diff = [k for k in sorted(set(old) | set(self.fingerprint)) if old.get(k) != self.fingerprint.get(k)]
        if diff:
            k = diff[0]
            raise CacheError(f"the feature cache in {self.folder} was made with other settings ({k}: "
                             f"{old.get(k)!r} there, {self.fingerprint.get(k)!r} now); {OVERWRITE_HINT}")
        if not 0 <= manifest.get("rows", -1) <= self.capacity or len(manifest.get("used", [])) != manifest["rows"]:
            raise CacheError(f"{self.folder / MANIFEST} is inconsistent (rows {manifest.get('rows')}, "
                             f"{len(manifest.get('used', []))} faces listed); {OVERWRITE_HINT}")
        manifest.setdefault("index", list(range(manifest["rows"])))  # caches made before rows had an index
        if len(manifest["index"]) != manifest["rows"]:
            raise CacheError(f"{self.folder / MANIFEST} is inconsistent (rows {manifest['rows']}, "
                             f"{len(manifest['index'])} indices); {OVERWRITE_HINT}")
        return manifest

    def _check_files(self) -> None:
        for name, (shape, dt) in self.layout.items():
            path = self.folder / name
            expected = int(np.prod(shape)) * np.dtype(dt).itemsize
            size = path.stat().st_size if path.is_file() else None
            if size != expected:
                raise CacheError(f"cache file {path} has {size} bytes, expected {expected} (missing, truncated or "
                                 f"from another build); {OVERWRITE_HINT}")

    def write(self, feats: dict, boxes: np.ndarray, thumbs: np.ndarray, used: list[str],
              skipped: list[str], next_candidate: int, index: "list[int] | None" = None) -> None:
        """Append one batch: feats[(part, scale)] (B, C*s*s), boxes (B, 4, 4), thumbs (B, 4, T, T, 3); then commit.

        `index`: the candidate index of each of the B faces (default: the row numbers).
        """
        start, stop = self.rows, self.rows + len(used)
        if stop > self.capacity:
            raise CacheError(f"cache capacity {self.capacity} exceeded ({stop} rows)")
        for (part, scale), value in feats.items():
            value = np.asarray(value, dtype=self.dtype)
            if not np.isfinite(value).all():
                raise ValueError(f"{part}@{scale} features overflow {self.dtype}; use cache dtype float32")
            self.arrays[f"{part}_{scale}.{self.dtype}"][start:stop] = value
        self.arrays["boxes.int32"][start:stop] = boxes
        self.arrays["thumbs.uint8"][start:stop] = thumbs
        self.manifest["rows"] = stop
        self.manifest["used"] = self.manifest["used"] + list(used)
        self.manifest["skipped"] = self.manifest["skipped"] + list(skipped)
        index = range(start, stop) if index is None else index
        self.manifest["index"] = self.manifest["index"] + [int(j) for j in index]
        self.manifest["next_candidate"] = int(next_candidate)
        self.commit()

    def commit(self) -> None:
        """Flush the arrays, then replace the manifest atomically."""
        for array in getattr(self, "arrays", {}).values():
            array.flush()
        tmp = self.folder / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(self.manifest))
        os.replace(tmp, self.folder / MANIFEST)

    def features(self, part: str, scale: int) -> np.ndarray:
        """Read-only view (rows, C*s*s) of one part's features at one scale, still on disk."""
        return self.arrays[f"{part}_{scale}.{self.dtype}"][: self.rows]

    def boxes(self) -> np.ndarray:
        """Part boxes (rows, 4, 4) at 512 px of the faces on disk."""
        return np.asarray(self.arrays["boxes.int32"][: self.rows])

    def thumbs(self) -> np.ndarray:
        """Image crops (rows, 4, T, T, 3) uint8 of every part of the faces on disk."""
        return self.arrays["thumbs.uint8"][: self.rows]

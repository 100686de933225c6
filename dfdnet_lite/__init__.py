"""dfdnet-lite: a tutorial book and reproduction kit for DFDNet (Li et al., ECCV 2020).

Public names are imported lazily, so `import dfdnet_lite` (and `dfdnet-lite --help`) stays fast
and torch, dlib and OpenCV load only when a step needs them.
"""
from __future__ import annotations

import importlib

from .config import PARTS, SCALES, CHANNELS, PART_SIZES_512, FACE_SIZE, resolve_device

__version__ = "0.1.0"

# public name -> module that defines it (filled in as modules land)
_LAZY = {
    "load_official": "dfdnet_lite.official",
}

__all__ = ["PARTS", "SCALES", "CHANNELS", "PART_SIZES_512", "FACE_SIZE", "resolve_device", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dfdnet_lite' has no attribute {name!r}")

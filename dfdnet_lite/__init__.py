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
    # faces and alignment (Notebook 02)
    "sample_faces": "dfdnet_lite.data",
    "sample_split": "dfdnet_lite.data",
    "demo_photos": "dfdnet_lite.data",
    "FaceFolder": "dfdnet_lite.data",
    "read_image": "dfdnet_lite.files",
    "align_photo": "dfdnet_lite.align",
    "part_boxes": "dfdnet_lite.align",
    "FaceCrop": "dfdnet_lite.align",
    "paste_back": "dfdnet_lite.pasteback",
    # degradation (Notebook 03)
    "degrade": "dfdnet_lite.degrade",
    "DegradeConfig": "dfdnet_lite.degrade",
    # the network (Notebooks 04-07)
    "VGGEncoder": "dfdnet_lite.encoder",
    "ComponentDictionary": "dfdnet_lite.dictionary",
    "load_dictionary": "dfdnet_lite.dictionary",
    "DFDNet": "dfdnet_lite.model",
    "DFDNetConfig": "dfdnet_lite.model",
    "load_official": "dfdnet_lite.official",
    # losses and training (Notebooks 08-09)
    "LossConfig": "dfdnet_lite.losses",
    "GeneratorLoss": "dfdnet_lite.losses",
    "MultiScaleDiscriminator": "dfdnet_lite.losses",
    "TrainConfig": "dfdnet_lite.train",
    "Trainer": "dfdnet_lite.train",
    "ensure_quick_run": "dfdnet_lite.train",
    # whole photos (Notebook 11)
    "resolve_weights": "dfdnet_lite.restore",
    "load_generator": "dfdnet_lite.restore",
    "restore_photo": "dfdnet_lite.restore",
    # metrics and evaluation (Notebook 10)
    "psnr": "dfdnet_lite.metrics",
    "ssim": "dfdnet_lite.metrics",
    "landmark_distance": "dfdnet_lite.metrics",
    "identity_similarity": "dfdnet_lite.metrics",
}

__all__ = ["PARTS", "SCALES", "CHANNELS", "PART_SIZES_512", "FACE_SIZE", "resolve_device", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dfdnet_lite' has no attribute {name!r}")

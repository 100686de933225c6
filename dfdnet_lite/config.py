"""Names, sizes and profiles shared by every module, and `resolve_device`.

The constants are the paper's vocabulary (Li et al., ECCV 2020, Sec. 3) with the values of
the official code (csxmli2016/DFDNet, models/networks.py); `book/vocabulary.md` lists them.
"""
from __future__ import annotations

import os

#: Facial components, in the order used by the official code and by every part-box tensor.
PARTS: tuple[str, ...] = ("left_eye", "right_eye", "nose", "mouth")
#: Side of the VGG feature maps for a 512 x 512 input: relu2_2, relu3_4, relu4_4 and conv5_4
#: (before its ReLU), as the official split of vgg19().features leaves them.
SCALES: tuple[int, ...] = (256, 128, 64, 32)
#: Channels of the feature map at each scale.
CHANNELS: dict[int, int] = {256: 128, 128: 256, 64: 512, 32: 512}
#: Nominal part side in pixels on the 512 face (the paper's 40/25/55 at 256 px, doubled).
PART_SIZES_512: dict[str, int] = {"left_eye": 80, "right_eye": 80, "nose": 50, "mouth": 110}
#: Side of the aligned face every model in the kit works on.
FACE_SIZE: int = 512
#: Names of the run profiles: "quick" for CPU and CI, "medium" for about an hour of CPU,
#: "paper" for the full GPU reproduction.
PROFILES: tuple[str, ...] = ("quick", "medium", "paper")


def part_size(part: str, scale: int) -> int:
    """Side of a dictionary entry for `part` at feature scale `scale` (integer division, as the official code)."""
    if part not in PART_SIZES_512:
        raise ValueError(f"unknown part {part!r}; expected one of {PARTS}")
    if scale not in CHANNELS:
        raise ValueError(f"unknown scale {scale!r}; expected one of {SCALES}")
    return PART_SIZES_512[part] // (FACE_SIZE // scale)


def entry_shape(part: str, scale: int) -> tuple[int, int, int]:
    """Shape (C, s, s) of one dictionary entry, e.g. nose at 32 -> (512, 3, 3)."""
    s = part_size(part, scale)
    return (CHANNELS[scale], s, s)


def check_profile(profile: str) -> str:
    """Return `profile` if it names a known profile, else raise a ValueError that lists them."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
    return profile


def resolve_device(device: "str | None" = None):
    """The torch device to run on: `device` if given, else $DFDNET_DEVICE, else CUDA, MPS or CPU.

    Asking for CUDA on a machine without it raises a clear error instead of failing later.
    """
    import torch

    name = device or os.environ.get("DFDNET_DEVICE") or "auto"
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} was asked for, but torch sees no CUDA GPU here; use --device cpu")
    return dev




def require(module: str, install: str):
    """Import an optional heavy dependency lazily; fail with the command that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(f"{module} is needed for this step but is not installed: {install}") from err

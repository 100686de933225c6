"""Load the released DFDNet generator into `DFDNet`, mapping every key of its state dict (Notebook 07).

The official checkpoint is a plain `UNetDictFace` state dict (no `module.` prefix). Each of its
keys is either mapped onto ours, or checked and dropped for a stated reason; anything else, a
key of ours left unfilled, or a shape mismatch is an error that lists the keys.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import torch

from .config import PARTS
from .model import DFDNet, DFDNetConfig

DOWNLOAD_HINT = "get the official files with `python data_scripts/download_official.py`"
_PART_PREFIX = {"le": "left_eye", "re": "right_eye", "no": "nose", "mo": "mouth"}
assert tuple(_PART_PREFIX.values()) == PARTS
#: (official key pattern, our key template); the first match wins.
_RENAMES: tuple[tuple[str, str], ...] = (
    (r"VggExtract\.RGB_mean", "encoder.rgb_mean"),
    (r"VggExtract\.RGB_std", "encoder.rgb_std"),
    (r"VggExtract\.model\.features\.(\d+)\.(weight|bias)", r"encoder.features.\1.\2"),
    # the same VGG tensors under their second name (VGGFeat.features shares vgg19's modules)
    (r"VggExtract\.features\.\d\.(\d+)\.(weight|bias)", r"encoder.features.\1.\2"),
    (r"(le|re|no|mo)_(\d+)\.(\d)\.(\w+)", r"confidence.{part}_\2.\3.\4"),
    (r"MSDilate\.conv(\d)\.(\d)\.(\w+)", r"ms_dilate.conv\1.\2.\3"),
    (r"MSDilate\.convi\.(\w+)", r"ms_dilate.fuse.\1"),
    (r"up(\d)\.conv1\.1\.(\w+)", r"up.\1.conv.\2"),
    (r"up(\d)\.convup\.1\.(\w+)", r"up.\1.up_conv.\2"),
    (r"up(\d)\.ScaleModel1\.(\d)\.(\w+)", r"up.\1.scale.\2.\3"),
    (r"up(\d)\.ShiftModel1\.(\d)\.(\w+)", r"up.\1.shift.\2.\3"),
    (r"up4\.(\d)\.Model\.(\d)\.(\w+)", r"head.\1.body.\2.\3"),
    (r"up4\.(\d)\.(\w+)", r"head.\1.\2"),
)
#: Official keys we consume without a counterpart, and why.
_DROPPED: tuple[tuple[str, str], ...] = (
    (r"VggExtract\.model\.classifier\..*", "VGG19 classifier, never run by the forward"),
    (r"up\d\.conv1\.0\.(weight|weight_flip)", "fixed [1 2 1] blur kernel (checked, rebuilt by Blur)"),
    (r"to_rgb\d\..*", "ToRGB heads whose use is commented out in the official forward"),
)


def map_official_key(key: str) -> tuple["str | None", str]:
    """Our key for one official key, or (None, the reason it is dropped); raises KeyError if unknown."""
    for pattern, template in _RENAMES:
        m = re.fullmatch(pattern, key)
        if m:
            part = _PART_PREFIX.get(m.group(1), "") if m.groups() else ""
            return m.expand(template.replace("{part}", part)), "mapped"
    for pattern, reason in _DROPPED:
        if re.fullmatch(pattern, key):
            return None, reason
    raise KeyError(key)


def _check_dropped(key: str, value: torch.Tensor, state: dict) -> "str | None":
    """Check a dropped tensor where it has a known value; returns an error line or None."""
    if re.fullmatch(r"up\d\.conv1\.0\.(weight|weight_flip)", key):
        k = torch.tensor([1.0, 2.0, 1.0])
        kernel = (k[:, None] * k[None, :] / 16).expand(value.shape[0], 1, 3, 3)
        if value.shape[1:] != (1, 3, 3) or not torch.allclose(value.float(), kernel):
            return f"{key}: not the fixed [1 2 1] blur kernel"
    return None


def convert_official_state_dict(state: dict, net: DFDNet) -> dict[str, torch.Tensor]:
    """Our state dict from an official one; one ValueError listing every unknown, missing or mis-shaped key."""
    if state and all(k.startswith("module.") for k in state):  # saved from nn.DataParallel
        state = {k[len("module."):]: v for k, v in state.items()}
    ours = net.state_dict()
    converted, errors, seen = {}, [], set()
    # torch's load_state_dict fills VggExtract.model before VggExtract.features, so when the two
    # names of a VGG tensor disagree, the official model ends with the VggExtract.features value.
    ordered = sorted(state.items(), key=lambda kv: kv[0].startswith("VggExtract.features."))
    for key, value in ordered:
        try:
            target, _ = map_official_key(key)
        except KeyError:
            errors.append(f"unexpected key {key!r} (not in the official UNetDictFace)")
            continue
        if target is None:
            problem = _check_dropped(key, value, state)
            errors += [problem] if problem else []
            continue
        seen.add(target)
        if target not in ours:
            errors.append(f"{key!r} maps to {target!r}, which this DFDNet does not have")
        elif tuple(value.shape) != tuple(ours[target].shape):
            errors.append(f"wrong shape for {key!r}: checkpoint {tuple(value.shape)}, "
                          f"expected {tuple(ours[target].shape)}")
        else:
            if target in converted and not torch.equal(converted[target], value.float()):
                warnings.warn(f"{key} differs from the other copy of {target} in the checkpoint; using "
                              f"{key}, the value the official model ends up with", stacklevel=3)
            converted[target] = value.float()
    errors += [f"missing key: nothing in the checkpoint fills {k!r}" for k in sorted(set(ours) - seen)]
    if errors:
        head = "\n  ".join(errors[:20]) + (f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else "")
        raise ValueError(f"this is not an official DFDNet UNetDictFace checkpoint ({len(errors)} problems):\n  {head}")
    return converted


def _require_file(path: "str | Path", what: str) -> Path:
    """The path if it exists, else a FileNotFoundError naming it and the download command."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} not found at {path}; {DOWNLOAD_HINT}")
    return path


def _compare_vgg(vgg_weights: "str | Path", net: DFDNet) -> None:
    """Warn if vgg19.pth differs from the checkpoint's VGG copy, which wins as in the official code."""
    from .encoder import vgg19_weights

    state, _ = vgg19_weights(_require_file(vgg_weights, "the official vgg19.pth"))
    ours = net.encoder.features.state_dict()
    if any(not torch.equal(state[k].float(), ours[k]) for k in ours):
        warnings.warn(f"{vgg_weights} differs from the VGG stored in the generator checkpoint; the "
                      "checkpoint's copy is used (the official model loads it last)", stacklevel=3)


def load_official(generator_checkpoint, dictionary_dir, vgg_weights=None) -> torch.nn.Module:
    """The released DFDNet as our DFDNet in eval mode, fp32, on CPU; call net(lq, boxes) (Notebook 07).

    lq: (B, 3, 512, 512) RGB in [-1, 1]; boxes: (B, 4, 4) float (x1, y1, x2, y2) per part in
    512-px coordinates, PARTS order. `vgg_weights` (the official vgg19.pth) is optional: the
    checkpoint carries the VGG weights it was trained with, and those win, as in the official code.
    """
    ckpt = _require_file(generator_checkpoint, "the official generator checkpoint")
    _require_file(dictionary_dir, "the official dictionary folder (DictionaryCenter512)")
    from .dictionary import ComponentDictionary

    try:
        dictionary = ComponentDictionary.load_official(dictionary_dir)
    except ValueError as err:
        if "allow_pickle" not in str(err):
            raise
        # the official code reads these files with np.load(..., allow_pickle=True); a pickled
        # array from the release the user asked for is loaded the same way, with a warning
        warnings.warn(f"{dictionary_dir}: dictionary files are pickled numpy arrays; loading them "
                      "with allow_pickle=True as the official code does", stacklevel=2)
        dictionary = ComponentDictionary.load_official(dictionary_dir, allow_pickle=True)
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{ckpt} does not hold a state dict (got {type(state).__name__})")
    net = DFDNet(DFDNetConfig(crop_mode="official", vgg_weights=False), dictionary)
    net.load_state_dict(convert_official_state_dict(state, net))
    if vgg_weights is not None:
        _compare_vgg(vgg_weights, net)
    return net.float().eval()

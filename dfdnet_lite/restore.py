"""Whole photos: align every face, restore them in batches, paste them back (Sec. 4; Notebook 11).

`resolve_weights` finds the weights to use (an explicit checkpoint, else the official release at
its default place, else the checkpoint of `make reproduce`); `load_generator` turns them into a
DFDNet in eval mode. There is no silent fallback to random weights: `random_generator` exists for
demos and tests and says so.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

OWN_FORMAT = "dfdnet-lite-generator"  # the "format" tag of our training checkpoint
OFFICIAL_GENERATOR = Path("checkpoints/facefh_dictionary/latest_net_G.pth")  # inside the release folder
OFFICIAL_DICTIONARY = Path("DictionaryCenter512")
OFFICIAL_ROOT = Path("weights/official")  # where `dfdnet-lite download official` puts the release
REPRODUCE_CHECKPOINT = Path("runs/quick/checkpoint.pt")  # what `make reproduce` trains
REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout, when the package is installed editable
HOW_TO_GET_WEIGHTS = (
    f"get the official weights with `dfdnet-lite download official` (into {OFFICIAL_ROOT}, found there by "
    "default; the same as `python data_scripts/download_official.py --out weights/official`), or train your own "
    f"with `make reproduce` or `dfdnet-lite train --profile quick --dictionary DIR --out runs/quick` (found at "
    f"{REPRODUCE_CHECKPOINT} by default), or pass --checkpoint PATH "
    "(--random-weights runs an UNTRAINED net, for demos and tests only)"
)
UNTRAINED = "UNTRAINED: random weights, the output is not a restoration"


@dataclass
class RestoreResult:
    """One photo through the whole pipeline, every stage kept for plots and reports (Notebook 11)."""

    photo: np.ndarray  # (H, W, 3) uint8 input
    crops: list  # FaceCrop per face, largest first
    restored: list  # (512, 512, 3) uint8 restored face per crop
    final: np.ndarray  # (H * upscale, W * upscale, 3) uint8 photo with every face pasted back
    upscale: int = 1
    timings: dict = field(default_factory=dict)  # stage -> seconds (detect, align, restore, paste)
    notes: list = field(default_factory=list)  # one line per problem: no face, too-small faces, poor fits
    faces_found: int = 0  # faces the detector saw, too-small ones included

    @property
    def seconds(self) -> float:
        """Total wall time of the stages (Notebook 11)."""
        return float(sum(self.timings.values()))


# -- weights ---------------------------------------------------------------------------------


def _is_official(state: dict) -> bool:
    """True for a state dict in the official UNetDictFace key names (VggExtract.*, le_256.*, MSDilate.*)."""
    keys = [k[len("module."):] if k.startswith("module.") else k for k in state]
    return any(k.startswith(("VggExtract.", "MSDilate.", "le_256.", "mo_32.")) for k in keys)


def _official_dictionary_dir(checkpoint: Path) -> "Path | None":
    """The release's DictionaryCenter512 next to checkpoints/facefh_dictionary/latest_net_G.pth, if there."""
    for parent in checkpoint.resolve().parents:
        if (parent / OFFICIAL_DICTIONARY).is_dir():
            return parent / OFFICIAL_DICTIONARY
    return None


def _weight_roots() -> list[Path]:
    """Folders where the default weights are looked for: the current one, then the checkout's root."""
    return list(dict.fromkeys([Path.cwd(), REPO_ROOT]))


def _shown(path: Path) -> Path:
    """`path` relative to the current folder when it lies inside it (shorter messages)."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def resolve_weights(checkpoint=None, dictionary=None) -> tuple[Path, "Path | None", str]:
    """(checkpoint, dictionary or None, label) of the weights to use, in order (Notebook 11, "Weights").

    1. `checkpoint` as given; 2. the official release at weights/official (`dfdnet-lite download
    official`); 3. runs/quick/checkpoint.pt (`make reproduce`). Each default is looked for in the
    current folder, then in the checkout's root. None found: FileNotFoundError naming the commands.
    """
    if checkpoint is not None:
        return Path(checkpoint), None if dictionary is None else Path(dictionary), "given with --checkpoint"
    for root in _weight_roots():
        release = root / OFFICIAL_ROOT
        if (release / OFFICIAL_GENERATOR).is_file() and (release / OFFICIAL_DICTIONARY).is_dir():
            dict_path = Path(dictionary) if dictionary is not None else _shown(release / OFFICIAL_DICTIONARY)
            return (_shown(release / OFFICIAL_GENERATOR), dict_path,
                    f"the official DFDNet release in {_shown(release)} (CC BY-NC-SA 4.0, non-commercial)")
    for root in _weight_roots():
        if (root / REPRODUCE_CHECKPOINT).is_file():
            path = _shown(root / REPRODUCE_CHECKPOINT)
            return path, None if dictionary is None else Path(dictionary), f"our own training, {path} (make reproduce)"
    looked = ", ".join(str(r / p) for r in _weight_roots() for p in (OFFICIAL_ROOT / OFFICIAL_GENERATOR, REPRODUCE_CHECKPOINT))
    raise FileNotFoundError(f"no trained weights are available yet (no --checkpoint given, none at {looked}): "
                            f"{HOW_TO_GET_WEIGHTS}")


def _reason(err: BaseException) -> str:
    """The first useful sentence of an exception (torch's multi-line load errors shortened)."""
    lines = [ln.strip() for ln in str(err).split("WeightsUnpickler error:", 1)[-1].splitlines() if ln.strip()]
    line = " ".join(lines[:2]) if lines and lines[0].endswith(":") else (lines[0] if lines else "")
    line = line.split(". ")[0].rstrip(".")
    return f"{type(err).__name__}: {line}" if line else type(err).__name__


def _read_checkpoint(checkpoint: Path, mmap: bool = False) -> dict:
    """torch.load(weights_only=True) of a checkpoint; ValueError with a one-line reason if unreadable.

    `mmap` maps the file instead of reading it, for callers that only look at its small entries
    (step, configs); an old non-zip file, which cannot be mapped, is read whole.
    """
    import torch

    try:
        try:
            payload = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=mmap)
        except RuntimeError:
            if not mmap:
                raise
            payload = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as err:  # random bytes, a truncated zip, an empty file, a pickled module
        raise ValueError(f"checkpoint {checkpoint} is not a readable torch file: {_reason(err)} (expected a state "
                         "dict or a dfdnet-lite checkpoint written by torch.save; the file may be truncated or "
                         "not a checkpoint)") from None
    if not isinstance(payload, dict):
        raise ValueError(f"{checkpoint} holds a {type(payload).__name__}, not a state dict or checkpoint dict")
    return payload


def _load_own(payload: dict, checkpoint: Path, dictionary):
    """DFDNet from our training checkpoint (format in `load_generator`'s docstring)."""
    from dataclasses import fields

    from .dictionary import load_dictionary
    from .model import DFDNet, DFDNetConfig

    known = {f.name for f in fields(DFDNetConfig)}
    config = {k: v for k, v in dict(payload.get("config") or {}).items() if k in known}
    if "dilations" in config:
        config["dilations"] = tuple(config["dilations"])
    config["vgg_weights"] = False  # the encoder's weights are in the state dict
    cfg = DFDNetConfig(**config)
    dict_path = dictionary or payload.get("dictionary")
    if cfg.use_dictionary and not dict_path:
        raise ValueError(f"{checkpoint} names no dictionary: pass --dictionary (the file or folder it was trained with)")
    net = DFDNet(cfg)
    if cfg.use_dictionary:
        dict_path = Path(dict_path)
        if not dict_path.is_absolute() and not dict_path.exists():
            dict_path = checkpoint.parent / dict_path  # stored relative to the checkpoint's folder
        try:
            net.set_dictionary(load_dictionary(dict_path))
        except Exception as err:  # a wrong folder, entry shapes of another net, a file that is no dictionary
            raise ValueError(f"dictionary {dict_path} does not fit checkpoint {checkpoint} (trained with "
                             f"{payload.get('dictionary')}): {_reason(err)}") from None
    try:
        net.load_state_dict(payload["generator"])
    except RuntimeError as err:
        raise ValueError(f"checkpoint {checkpoint}: its generator weights do not fit the config stored with them "
                         f"(ngf {cfg.ngf}): {_reason(err)}") from None
    return net


def _load_release(checkpoint: Path, folder):
    """The official generator with its DictionaryCenter512 folder; ValueError naming both if they do not fit."""
    from .official import load_official

    if folder is None:
        raise FileNotFoundError(f"{checkpoint} is the official generator, but no {OFFICIAL_DICTIONARY} folder was "
                                f"given or found beside it: {HOW_TO_GET_WEIGHTS}")
    try:
        return load_official(checkpoint, folder)
    except Exception as err:  # a wrong folder, entry shapes of another net, unreadable .npy files
        raise ValueError(f"dictionary {folder} does not fit the official checkpoint {checkpoint}: "
                         f"{_reason(err)}") from None


def load_generator(checkpoint=None, dictionary=None, official_dictionary_dir=None, device="cpu"):
    """DFDNet in eval mode from the official release or our own checkpoint (Notebook 11, "Weights").

    Official: `checkpoint` is `latest_net_G.pth` (a plain UNetDictFace state dict, recognised by
    its keys VggExtract.*, le_256.*, ...); the 16 `.npy` dictionaries come from
    `official_dictionary_dir` or `dictionary` or, failing both, the release's DictionaryCenter512.
    Ours (`OUT/checkpoint.pt` of `dfdnet-lite train`), a torch.save'd dict loadable with
    weights_only=True: {"format": "dfdnet-lite-generator", "generator": DFDNet.state_dict(),
    "config": dataclasses.asdict(DFDNetConfig), "dictionary": path of the dictionary file or
    official folder it was trained with (absolute, or relative to the checkpoint's folder),
    optional "step", "epoch", ...}. `dictionary` overrides the stored path. Missing files raise
    FileNotFoundError with the command that downloads or trains them; an unreadable checkpoint or
    a dictionary that does not fit it raises ValueError naming the file(s).
    """
    if checkpoint is None:
        raise FileNotFoundError(f"no trained weights are available yet (no checkpoint given): {HOW_TO_GET_WEIGHTS}")
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint {checkpoint} not found: {HOW_TO_GET_WEIGHTS}")
    for path in (dictionary, official_dictionary_dir):
        if path is not None and not Path(path).exists():
            raise FileNotFoundError(f"dictionary {path} not found: {HOW_TO_GET_WEIGHTS}")
    payload = _read_checkpoint(checkpoint)
    if "generator" in payload:
        net = _load_own(payload, checkpoint, dictionary)
    elif _is_official(payload):
        net = _load_release(checkpoint, official_dictionary_dir or dictionary or _official_dictionary_dir(checkpoint))
    else:
        raise ValueError(f"{checkpoint} is neither an official DFDNet checkpoint (keys VggExtract.*, le_256.*) nor a "
                         f"{OWN_FORMAT} checkpoint (keys generator, config, dictionary); first keys: {list(payload)[:5]}")
    return net.to(device).eval()


def random_generator(ngf: int = 64, k: int = 8, seed: int = 0, device="cpu"):
    """An UNTRAINED DFDNet (random weights, random dictionary) for demos, tests and speed runs (Notebook 11)."""
    import torch

    from .dictionary import ComponentDictionary
    from .model import DFDNet, DFDNetConfig

    torch.manual_seed(seed)
    return DFDNet(DFDNetConfig(ngf=ngf, vgg_weights=False), ComponentDictionary.random(k=k, seed=seed)).to(device).eval()


# -- faces -----------------------------------------------------------------------------------


def _autocast(device, dtype):
    """bf16/fp16 autocast on the device, or a no-op context for fp32."""
    import contextlib

    import torch

    if dtype in (None, torch.float32):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


class OutOfMemory(RuntimeError):
    """The GPU ran out of memory even with one face per batch."""


def _is_oom(err: BaseException) -> bool:
    """True for torch.cuda.OutOfMemoryError and any RuntimeError that says "out of memory"."""
    import torch

    return isinstance(err, torch.cuda.OutOfMemoryError) or (isinstance(err, RuntimeError) and "out of memory" in str(err))


def _empty_cache() -> None:
    """Give the CUDA caching allocator's free blocks back (no-op without CUDA)."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _forward(net, chunk: list, device, dtype, channels_last: bool) -> list[np.ndarray]:
    """Restored (512, 512, 3) uint8 faces of one batch of FaceCrops."""
    import torch

    from .model import from_net_range, to_net_range

    lq = to_net_range([c.face for c in chunk], device)  # (B, 3, 512, 512) in [-1, 1]
    if channels_last:
        lq = lq.contiguous(memory_format=torch.channels_last)
    boxes = torch.as_tensor(np.stack([c.boxes for c in chunk]), dtype=torch.float32, device=device)  # (B, 4, 4)
    with torch.no_grad(), _autocast(device, dtype):
        restored = net(lq, boxes)  # (B, 3, 512, 512) in [-1, 1]
    return list(from_net_range(restored))


def restore_faces(net, crops: list, batch_size: int = 4, device=None, dtype=None,
                  channels_last: bool = True, notes: "list | None" = None) -> list[np.ndarray]:
    """Restored (512, 512, 3) uint8 faces of aligned FaceCrops, `batch_size` at a time (Notebook 11, "Batches").

    `dtype` torch.bfloat16 runs under autocast; `channels_last` sets the input's memory format
    only (the net is not modified), which lets oneDNN pick its faster NHWC kernels on CPU.
    Out of GPU memory, the CUDA cache is emptied and the same faces are retried at half the batch
    (the rest of the photo keeps the smaller batch), down to 1; then OutOfMemory is raised. Each
    halving appends a line to `notes` when given.
    """
    import torch

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = torch.device(device) if device is not None else next(net.parameters()).device
    out: list[np.ndarray] = []
    start, size = 0, int(batch_size)
    while start < len(crops):
        chunk = crops[start:start + size]
        try:
            out += _forward(net, chunk, device, dtype, channels_last)
            start += len(chunk)
            continue
        except RuntimeError as err:
            if not _is_oom(err):
                raise
            reason = _reason(err)
        _empty_cache()  # outside the except block, so the failed batch's tensors are already released
        if len(chunk) == 1:
            raise OutOfMemory(f"out of memory on {device} even with one face per batch ({reason}); "
                              "free the GPU, or run with --device cpu") from None
        size = len(chunk) // 2
        if notes is not None:
            notes.append(f"out of memory on {device} at batch {len(chunk)}: retried at batch {size}")
    return out


def _notes(found, crops: list, max_fit_rms: float) -> list[str]:
    """One line per face left out (too small) or aligned poorly."""
    notes = [f"face at {list(rect)} not restored: {reason}" for rect, reason in found.too_small]
    notes += [f"face {c.index} at {list(c.rect)}: 5-point fit RMS {c.fit_rms:.1f} px at 512 (above "
              f"{max_fit_rms:.0f}: profile or occluded face, alignment may be poor)" for c in crops if c.fit_rms > max_fit_rms]
    return notes


def drop_low_scores(found, min_score: "float | None"):
    """Detections with the boxes scoring below `min_score` moved to the faces left out, with the reason."""
    if min_score is None or not len(found.rects):
        return found
    low = found.scores < min_score
    for rect, score in zip(found.rects[low], found.scores[low]):
        found.too_small.append((tuple(int(v) for v in rect),
                                f"{found.detector} detection score {score:.2f} is below --min-score {min_score:g}"))
    found.rects, found.scores = found.rects[~low], found.scores[~low]
    if not len(found.rects) and not found.note:
        found.note = f"no face scored at least --min-score {min_score:g} ({int(low.sum())} detection(s) below it)"
    return found


def restore_photo(net, photo: np.ndarray, upscale: int = 1, batch_size: int = 4, device=None, dtype=None,
                  detector: str = "hog", upsample: int = 1, source: "str | None" = None,
                  max_fit_rms: float = 20.0, min_score: "float | None" = None) -> RestoreResult:
    """Every face of a photo aligned, restored in batches and pasted back at `upscale` (Notebook 11).

    `min_score` leaves out detections scoring below it (named in the notes); None keeps them all.
    """
    from . import align
    from .pasteback import paste_back

    timings = {}
    t = time.perf_counter()
    found = drop_low_scores(align.detect_faces(photo, detector, upsample), min_score)
    timings["detect"], t = time.perf_counter() - t, time.perf_counter()
    crops = align.align_photo(photo, source=source, detections=found) if len(found.rects) else []
    timings["align"], t = time.perf_counter() - t, time.perf_counter()
    memory_notes: list[str] = []
    restored = restore_faces(net, crops, batch_size, device, dtype, notes=memory_notes)
    timings["restore"], t = time.perf_counter() - t, time.perf_counter()
    final = paste_back(photo, list(zip(crops, restored)), upscale)  # no faces: the plain bicubic upscale
    timings["paste"] = time.perf_counter() - t
    notes = ([found.note] if not crops and found.note else []) + _notes(found, crops, max_fit_rms) + memory_notes
    return RestoreResult(photo, crops, restored, final, int(upscale), timings, notes,
                         len(found.rects) + len(found.too_small))


def compare_figure(result: RestoreResult, untrained: bool = False) -> np.ndarray:
    """Input (bicubic to the output size) beside the restored photo, labelled, as one uint8 image (Notebook 11)."""
    import cv2
    from PIL import Image, ImageDraw

    h, w = result.final.shape[:2]
    before = cv2.resize(result.photo, (w, h), interpolation=cv2.INTER_CUBIC) if result.upscale > 1 else result.photo
    gap, band = 8, 24
    canvas = np.full((h + band, 2 * w + gap, 3), 255, np.uint8)
    canvas[band:, :w], canvas[band:, w + gap:] = before, result.final
    draw = ImageDraw.Draw(img := Image.fromarray(canvas))
    draw.text((4, 6), "input" + (f" (bicubic x{result.upscale})" if result.upscale > 1 else ""), fill=(0, 0, 0))
    label = f"restored: {len(result.restored)} face(s)" + (f" -- {UNTRAINED}" if untrained else "")
    draw.text((w + gap + 4, 6), label, fill=(200, 0, 0) if untrained else (0, 0, 0))
    return np.asarray(img)

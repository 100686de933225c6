"""The five stages of the DFT block as pure functions (Sec. 3.2, Fig. 3; Notebooks 05 and 07).

crop_parts (RoIAlign) -> cadain (Eq. 1) -> feature_match (Eq. 2) -> confidence (Eq. 3) ->
reverse_roi. Boxes are (B, 4, 4): per item, one (x1, y1, x2, y2) box per part in PARTS order, in
pixels of the 512 face. Two crop modes:

- "official": the official code's integer crop. Boxes are floored to the feature grid
  (`box // (512 / size)`), sliced, and bilinearly resized (align_corners=False, no antialias)
  to the dictionary size; the chosen entry is resized back to the slice with nearest.
- "roi_align": `torchvision.ops.roi_align` (aligned=True, adaptive sampling) straight to the
  dictionary size, and a bilinear reverse RoIAlign for the paste back: sub-pixel accurate.

They agree exactly when a box lies on the feature grid and has the dictionary size (then both
crops are plain slices); otherwise they differ by the flooring (up to one feature pixel) and by
the resampling (bilinear resize of the slice vs. averaged bin samples of the exact box).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import FACE_SIZE, PARTS, part_size

MODES: tuple[str, ...] = ("official", "roi_align")


@dataclass
class Match:
    """Feature-match result per item: softmax scores over the K entries and the best entry."""

    scores: torch.Tensor  # (B, K), rows sum to 1
    index: torch.Tensor  # (B,) int64, argmax of scores


def check_boxes(boxes: torch.Tensor, batch: "int | None" = None) -> torch.Tensor:
    """Validate part boxes (B, 4, 4) in 512-px coordinates and return them as float32 (Notebook 05)."""
    if not isinstance(boxes, torch.Tensor):
        boxes = torch.as_tensor(boxes)
    if boxes.dim() != 3 or boxes.shape[1:] != (len(PARTS), 4):
        raise ValueError(f"boxes must be (B, 4, 4): one (x1, y1, x2, y2) box per part {PARTS}, "
                         f"got shape {tuple(boxes.shape)}")
    if batch is not None and boxes.shape[0] != batch:
        raise ValueError(f"boxes hold {boxes.shape[0]} items but the image batch holds {batch}")
    boxes = boxes.float()
    x1, y1, x2, y2 = boxes.unbind(-1)
    if bool(((x2 <= x1) | (y2 <= y1)).any()):
        raise ValueError("every box needs x2 > x1 and y2 > y1 (x1, y1, x2, y2 order)")
    if bool((boxes < 0).any() or (boxes > FACE_SIZE).any()):
        raise ValueError(f"boxes must lie inside the {FACE_SIZE} x {FACE_SIZE} face, got range "
                         f"[{boxes.min().item():.1f}, {boxes.max().item():.1f}]")
    return boxes


def feature_boxes(boxes: torch.Tensor, scale: int, mode: str) -> torch.Tensor:
    """Boxes (B, 4, 4) in feature pixels at `scale`: floored int64 ("official") or exact float ("roi_align") (Notebook 05)."""
    if mode not in MODES:
        raise ValueError(f"crop mode must be one of {MODES}, got {mode!r}")
    if mode == "roi_align":
        return boxes.float() * (scale / FACE_SIZE)
    fb = torch.div(boxes.float(), FACE_SIZE / scale, rounding_mode="floor").long()
    empty = (fb[..., 2] <= fb[..., 0]) | (fb[..., 3] <= fb[..., 1])
    if bool(empty.any()):
        b, p = [int(i) for i in empty.nonzero()[0]]
        raise ValueError(f"the {PARTS[p]} box of item {b} is empty at scale {scale} after flooring "
                         f"({boxes[b, p].tolist()} // {FACE_SIZE // scale}); boxes must span at least "
                         f"{FACE_SIZE // scale} px for the official crop")
    return fb


def crop_regions(features: torch.Tensor, fboxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Integer slices of one part, zero-padded to the largest (B, C, H, W), with their (B, 1, H, W) mask (Notebook 05)."""
    B, C = features.shape[:2]
    hw = (fboxes[:, 2:] - fboxes[:, :2]).tolist()  # (B, 2) widths, heights
    H, W = max(h for _, h in hw), max(w for w, _ in hw)
    regions = features.new_zeros(B, C, H, W)
    mask = features.new_zeros(B, 1, H, W)
    for b, (x1, y1, x2, y2) in enumerate(fboxes.tolist()):
        regions[b, :, : y2 - y1, : x2 - x1] = features[b, :, y1:y2, x1:x2]
        mask[b, :, : y2 - y1, : x2 - x1] = 1
    return regions, mask


def crop_parts(features: torch.Tensor, boxes: torch.Tensor, scale: int, mode: str = "roi_align") -> dict[str, torch.Tensor]:
    """Part features resized to the dictionary size: part -> (B, C, s, s) (Sec. 3.2 RoIAlign; Notebook 05)."""
    fb = feature_boxes(boxes, scale, mode)
    B = features.shape[0]
    crops = {}
    for p, part in enumerate(PARTS):
        s = part_size(part, scale)
        if mode == "official":
            regions = [features[b : b + 1, :, y1:y2, x1:x2] for b, (x1, y1, x2, y2) in enumerate(fb[:, p].tolist())]
            crops[part] = torch.cat([F.interpolate(r, size=(s, s), mode="bilinear", align_corners=False,
                                                   antialias=False) for r in regions])
        else:
            from torchvision.ops import roi_align

            idx = torch.arange(B, dtype=torch.float32, device=features.device).view(B, 1)
            rois = torch.cat([idx, fb[:, p].to(features.device)], dim=1)  # (B, 5) batch index, x1, y1, x2, y2
            crops[part] = roi_align(features.float(), rois, output_size=(s, s), spatial_scale=1.0,
                                    sampling_ratio=-1, aligned=True).to(features.dtype)
    return crops


def channel_stats(x: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of (..., C, h, w), std = sqrt(unbiased var + eps) as the official code (Eq. 1; Notebook 07)."""
    flat = x.flatten(-2)
    return flat.mean(-1)[..., None, None], (flat.var(-1, unbiased=True) + eps).sqrt()[..., None, None]


def normalise_entries(dictionary: torch.Tensor) -> torch.Tensor:
    """The input-independent half of CAdaIN: each entry (K, C, s, s) to zero mean, unit std per channel (Eq. 1; Notebook 07)."""
    mean, std = channel_stats(dictionary)
    return (dictionary - mean) / std


def cadain(dictionary: torch.Tensor, part: torch.Tensor) -> torch.Tensor:
    """Every entry re-normalised to the part's channel statistics: (B, K, C, s, s) (Sec. 3.2 Eq. 1; Notebook 07)."""
    if part.dim() != 4 or dictionary.dim() != 4 or part.shape[1:] != dictionary.shape[1:]:
        raise ValueError(f"CAdaIN needs part (B, C, s, s) and dictionary (K, C, s, s) of equal entry shape, "
                         f"got {tuple(part.shape)} and {tuple(dictionary.shape)}")
    mean_p, std_p = channel_stats(part)  # (B, C, 1, 1)
    # $\hat{D}_k = \sigma(F^p)\,\frac{D_k - \mu(D_k)}{\sigma(D_k)} + \mu(F^p)$
    return normalise_entries(dictionary)[None] * std_p[:, None] + mean_p[:, None]


def feature_match(part: torch.Tensor, dictionary: torch.Tensor) -> Match:
    """Softmax over inner products with every entry, as a conv2d with the entries as weights (Sec. 3.2 Eq. 2; Notebook 07).

    `dictionary` is shared (K, C, s, s) or per item (B, K, C, s, s), e.g. the output of `cadain`.
    """
    B, C, h, w = part.shape
    if dictionary.shape[-3:] != (C, h, w):
        raise ValueError(f"dictionary entry shape {tuple(dictionary.shape[-3:])} does not match the part "
                         f"features {(C, h, w)}")
    if dictionary.dim() == 4:
        # $s_k = \langle F^p, D_k \rangle$ : a (K, C, s, s) kernel on an s x s input gives one value per entry
        logits = F.conv2d(part, dictionary).flatten(1)  # (B, K)
    elif dictionary.dim() == 5 and dictionary.shape[0] == B:
        K = dictionary.shape[1]
        logits = F.conv2d(part.reshape(1, B * C, h, w), dictionary.reshape(B * K, C, h, w), groups=B).view(B, K)
    else:
        raise ValueError(f"dictionary must be (K, C, s, s) or (B={B}, K, C, s, s), got {tuple(dictionary.shape)}")
    # $p_k = \mathrm{softmax}_k(s_k)$, chosen entry $k^* = \arg\max_k p_k$
    scores = logits.softmax(dim=1)
    return Match(scores=scores, index=scores.argmax(dim=1))


def resize_entries(entries: torch.Tensor, fboxes: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Chosen entries (B, C, s, s) resized with nearest to each item's integer crop, zero-padded like `like` (Notebook 07)."""
    out = torch.zeros_like(like)
    for b, (x1, y1, x2, y2) in enumerate(fboxes.tolist()):
        out[b, :, : y2 - y1, : x2 - x1] = F.interpolate(entries[b : b + 1], size=(y2 - y1, x2 - x1), mode="nearest")[0]
    return out


def confidence(block: nn.Sequential, swap: torch.Tensor, crop: torch.Tensor,
               mask: "torch.Tensor | None" = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Residual of the swapped entry weighted by the learned confidence; returns (output, confidence) (Sec. 3.3 Eq. 3; Notebook 07).

    `block` is conv-LeakyReLU-conv (no sigmoid, as the official code). With `mask` (B, 1, H, W),
    zero-padded crops of different sizes run as one batch and give each crop's own result.
    """
    x = swap - crop
    if mask is None:
        attention = block(x)
    else:  # zero the padding between the convs, so each crop sees only its own zero border
        attention = block[2](block[1](block[0](x)) * mask)
    # $\hat{F}^p = F^p + \mathcal{F}_{c}(\hat{D}_{k^*} - F^p) \otimes \hat{D}_{k^*}$
    return attention * swap + crop, attention


def _paste_bilinear(out: torch.Tensor, b: int, part_feature: torch.Tensor, box: list[float]) -> None:
    """Reverse RoIAlign of one item: sample `part_feature` (C, s, s) at the centres of the pixels inside `box`."""
    H, W = out.shape[-2:]
    s_h, s_w = part_feature.shape[-2:]
    x1, y1, x2, y2 = box
    i0, i1 = max(0, math.ceil(y1 - 0.5)), min(H, math.ceil(y2 - 0.5))  # rows whose centre lies in the box
    j0, j1 = max(0, math.ceil(x1 - 0.5)), min(W, math.ceil(x2 - 0.5))
    if i1 <= i0 or j1 <= j0:
        return
    dev = out.device
    # pixel centre c maps to entry coordinate u = (c - x1) / (x2 - x1) * s - 1/2 (inverse of aligned RoIAlign)
    u = ((torch.arange(j0, j1, device=dev) + 0.5 - x1) / (x2 - x1) * s_w - 0.5) / max(s_w - 1, 1) * 2 - 1
    v = ((torch.arange(i0, i1, device=dev) + 0.5 - y1) / (y2 - y1) * s_h - 0.5) / max(s_h - 1, 1) * 2 - 1
    grid = torch.stack(torch.meshgrid(u, v, indexing="xy"), dim=-1)[None]  # (1, h, w, 2) as (x, y)
    sampled = F.grid_sample(part_feature[None].float(), grid.float(), mode="bilinear",
                            padding_mode="border", align_corners=True)
    out[b, :, i0:i1, j0:j1] = sampled[0].to(out.dtype)


def reverse_roi(feature_map: torch.Tensor, part_features: dict[str, torch.Tensor], boxes: torch.Tensor,
                scale: int, mode: str = "roi_align") -> torch.Tensor:
    """Paste restored parts back into a copy of the map, in PARTS order (later parts win overlaps) (Sec. 3.2; Notebook 07).

    "official": part_features[part] is (B, C, H, W) with each item's crop in its top-left corner
    (as `crop_regions` pads it); "roi_align": (B, C, s, s), resampled bilinearly into the box.
    """
    fb = feature_boxes(boxes, scale, mode)
    out = feature_map.clone()
    for p, part in enumerate(PARTS):
        feats = part_features[part]
        for b, box in enumerate(fb[:, p].tolist()):
            if mode == "official":
                x1, y1, x2, y2 = box
                out[b, :, y1:y2, x1:x2] = feats[b, :, : y2 - y1, : x2 - x1]
            else:
                _paste_bilinear(out, b, feats[b], box)
    return out

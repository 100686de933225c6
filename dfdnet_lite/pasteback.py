"""Paste restored 512 faces back into the upscaled photo with a soft mask (Notebook 02).

This is the official `reverse_align` (test_FaceDict.py): warp the face and a mask of ones back
with the inverse similarity, erode the mask by 2 * upscale px to drop the black border, erode
it again by 2 * w_edge and blur it with a (2 * w_edge + 1) Gaussian, where w_edge is
sqrt(face area) // 20. Three differences, all deliberate: every face is pasted (the official
script keeps the largest), the background is upscaled with bicubic instead of bilinear, and
the upscaled inverse map follows OpenCV's pixel-centre convention (x_up = s x + (s - 1) / 2;
the official `source * upsample_scale` shifts the face by (s - 1) / 2 px). Each face is
processed in its own bounding box, so a 4000 px photo does not need full-size float masks.
"""
from __future__ import annotations

import numpy as np

from .config import FACE_SIZE


def upscale_matrix(M_inv: np.ndarray, upscale: int = 1) -> np.ndarray:
    """The crop -> photo map (2, 3) followed by a resize by `upscale` (pixel centres kept) (Notebook 02)."""
    S = np.array([[upscale, 0, (upscale - 1) / 2], [0, upscale, (upscale - 1) / 2], [0, 0, 1]], float)
    return (S @ np.vstack([M_inv, [0, 0, 1]]))[:2]  # (2, 3)


def _face_box(M_up: np.ndarray, out_hw: tuple[int, int], pad: int = 4) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) of the warped 512 square in the output, padded and clipped."""
    corners = np.array([[0, 0], [FACE_SIZE, 0], [0, FACE_SIZE], [FACE_SIZE, FACE_SIZE]], float)
    mapped = corners @ M_up[:, :2].T + M_up[:, 2]  # (4, 2)
    x0, y0 = np.floor(mapped.min(0)).astype(int) - pad
    x1, y1 = np.ceil(mapped.max(0)).astype(int) + pad
    h, w = out_hw
    return max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)


def _masks(M_box: np.ndarray, box_hw: tuple[int, int], upscale: int) -> tuple[np.ndarray, np.ndarray]:
    """The official border-free mask and soft mask, each (h, w) float32, of one face in its box."""
    import cv2

    h, w = box_hw
    ones = np.ones((FACE_SIZE, FACE_SIZE), np.float32)
    inv_mask = cv2.warpAffine(ones, M_box, (w, h))  # (h, w), fractional at the edges
    k = max(2 * upscale, 1)
    inner = cv2.erode(inv_mask, np.ones((k, k), np.uint8))  # drop the black border
    w_edge = int(float(inner.sum()) ** 0.5) // 20  # fusion edge from the face area
    if w_edge == 0:
        return inner, inner
    centre = cv2.erode(inner, np.ones((2 * w_edge, 2 * w_edge), np.uint8))
    return inner, cv2.GaussianBlur(centre, (2 * w_edge + 1, 2 * w_edge + 1), 0)


def soft_mask(crop, photo_hw: tuple[int, int], upscale: int = 1) -> np.ndarray:
    """The blending mask (H * upscale, W * upscale) float32 in [0, 1] of one FaceCrop (Notebook 02)."""
    out_hw = (photo_hw[0] * upscale, photo_hw[1] * upscale)
    mask = np.zeros(out_hw, np.float32)
    M_up = upscale_matrix(crop.M_inv, upscale)
    x0, y0, x1, y1 = _face_box(M_up, out_hw)
    if x1 > x0 and y1 > y0:
        M_box = M_up - np.array([[0, 0, x0], [0, 0, y0]])
        mask[y0:y1, x0:x1] = _masks(M_box, (y1 - y0, x1 - x0), upscale)[1]
    return mask


def paste_back(photo: np.ndarray, faces: list, upscale: int = 1) -> np.ndarray:
    """Blend each (FaceCrop, restored 512 face) into the photo upscaled by `upscale` (Notebook 02)."""
    import cv2

    if int(upscale) != upscale or upscale < 1:
        raise ValueError(f"upscale must be a whole number >= 1, got {upscale!r}")
    upscale = int(upscale)
    H, W = photo.shape[:2]
    out = photo if upscale == 1 else cv2.resize(photo, (W * upscale, H * upscale), interpolation=cv2.INTER_CUBIC)
    out = out.astype(np.float32)  # (H*s, W*s, 3)
    for crop, restored in faces:
        restored = np.asarray(restored)
        if restored.shape != (FACE_SIZE, FACE_SIZE, 3):
            raise ValueError(f"restored face must be {FACE_SIZE} x {FACE_SIZE} x 3, got {restored.shape}")
        M_up = upscale_matrix(crop.M_inv, upscale)
        x0, y0, x1, y1 = _face_box(M_up, out.shape[:2])
        if x1 <= x0 or y1 <= y0:
            continue  # the face lies outside the photo
        M_box = M_up - np.array([[0, 0, x0], [0, 0, y0]])  # crop -> box
        face = cv2.warpAffine(restored.astype(np.float32), M_box, (x1 - x0, y1 - y0))  # (h, w, 3)
        inner, soft = (m[..., None] for m in _masks(M_box, (y1 - y0, x1 - x0), upscale))  # (h, w, 1)
        out[y0:y1, x0:x1] = soft * (inner * face) + (1 - soft) * out[y0:y1, x0:x1]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)

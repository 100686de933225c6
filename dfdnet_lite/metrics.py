"""Image-quality metrics behind one facade, each number carrying its protocol (Notebook 10).

Protocol of every function here unless stated: H x W x 3 uint8 RGB arrays (0-255), whole
image, no border crop. `psnr`/`ssim` take `channel="rgb"` (mean over R, G, B) or `"y"`
(BT.601 luma, 16-235, the convention of the super-resolution literature). Perceptual and
identity metrics (landmark distance, identity similarity, LPIPS, FID) join this module
with the evaluation issue; none is ever faked when its weights are missing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Score:
    """A metric value with the protocol that produced it, e.g. Score('psnr', 27.3, 'RGB 0-255, whole image')."""

    name: str
    value: float
    protocol: str

    def __float__(self) -> float:
        return float(self.value)


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.dtype != np.uint8 or b.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected H x W x 3 uint8 RGB images, got {a.dtype} {a.shape} and {b.dtype} {b.shape}")


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 luma in [16, 235] as float64 (as MATLAB's rgb2ycbcr), from uint8 RGB."""
    x = img.astype(np.float64) / 255.0
    return 16.0 + 65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]


def _planes(img: np.ndarray, channel: str) -> np.ndarray:
    if channel == "rgb":
        return img.astype(np.float64)
    if channel == "y":
        return rgb_to_y(img)[..., None]
    raise ValueError(f"channel must be 'rgb' or 'y', got {channel!r}")


def psnr(restored: np.ndarray, reference: np.ndarray, channel: str = "rgb") -> Score:
    """Peak signal-to-noise ratio in dB, 10 log10(255^2 / MSE); infinite for identical images."""
    _check_pair(restored, reference)
    # $\mathrm{PSNR} = 10 \log_{10}(255^2 / \mathrm{MSE})$
    mse = np.mean((_planes(restored, channel) - _planes(reference, channel)) ** 2)
    value = float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))
    return Score("psnr", value, f"{channel.upper()} 0-255, whole image, no crop")


def ssim(restored: np.ndarray, reference: np.ndarray, channel: str = "rgb") -> Score:
    """Structural similarity (Wang et al. 2004): 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03."""
    from skimage.metrics import structural_similarity

    _check_pair(restored, reference)
    a, b = _planes(restored, channel), _planes(reference, channel)
    value = structural_similarity(a, b, data_range=255.0, channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False)
    return Score("ssim", float(value), f"{channel.upper()} 0-255, Gaussian window 11 sigma 1.5, mean over channels")

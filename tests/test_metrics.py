"""PSNR and SSIM: identities and reference values."""
from __future__ import annotations

import numpy as np
import pytest

from dfdnet_lite.metrics import psnr, rgb_to_y, ssim


def _img(seed=0, shape=(32, 48, 3)):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_psnr_identity_and_known_value():
    a = _img()
    assert psnr(a, a).value == float("inf")
    b = a.astype(np.int16)
    b = np.clip(b + np.where(b < 128, 10, -10), 0, 255).astype(np.uint8)  # every pixel off by exactly 10
    assert psnr(b, a).value == pytest.approx(10 * np.log10(255**2 / 100), abs=1e-9)  # 28.1308 dB


def test_ssim_identity_and_ordering():
    a = _img(1, (64, 64, 3))
    assert ssim(a, a).value == pytest.approx(1.0)
    noise = np.random.default_rng(2).normal(0, 1, a.shape)
    mild = np.clip(a + 5 * noise, 0, 255).astype(np.uint8)
    strong = np.clip(a + 40 * noise, 0, 255).astype(np.uint8)
    assert 1.0 > ssim(mild, a).value > ssim(strong, a).value


def test_y_channel_reference_values():
    white = np.full((2, 2, 3), 255, np.uint8)
    black = np.zeros((2, 2, 3), np.uint8)
    assert rgb_to_y(white)[0, 0] == pytest.approx(235.0)
    assert rgb_to_y(black)[0, 0] == pytest.approx(16.0)


def test_protocol_is_stated_and_bad_shapes_rejected():
    a = _img()
    assert "RGB 0-255" in psnr(a, a).protocol and "Y 0-255" in psnr(a, a, channel="y").protocol
    with pytest.raises(ValueError, match="differ in shape"):
        psnr(a, a[:10])

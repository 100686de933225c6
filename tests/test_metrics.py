"""PSNR and SSIM, landmark distance and identity (dlib), LPIPS and FID: identities and reference values."""
from __future__ import annotations

import importlib.util

import cv2
import numpy as np
import pytest

from dfdnet_lite import metrics
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


# -- face metrics (dlib), LPIPS and FID --------------------------------------------------------


@pytest.fixture(scope="module")
def faces():
    """Two different people's sample faces, aligned to 512 (sample_faces()[0] and [1])."""
    from dfdnet_lite.build import align_path
    from dfdnet_lite.data import sample_faces

    found = [align_path(p) for p in sample_faces()[:2]]
    assert all(f is not None for f in found)
    return [f[0] for f in found]


def test_landmark_distance_is_zero_on_itself_and_a_shift_over_the_eye_distance(faces):
    a = faces[0]
    assert metrics.landmark_distance(a, a).value < 0.01  # the same image: the same 68 points, exactly 0
    shifted = cv2.warpAffine(a, np.float32([[1, 0, 8], [0, 1, 0]]), (512, 512), borderMode=cv2.BORDER_REFLECT)
    ref = metrics.face_fit(a).landmarks
    expected = 8 / np.linalg.norm(ref[36] - ref[45])  # every point moves 8 px: about 8 / 175 = 0.046
    score = metrics.landmark_distance(shifted, a)
    assert 0.6 * expected < score.value < 1.5 * expected and score.note == ""
    assert metrics.landmark_distance(cv2.GaussianBlur(a, (0, 0), 3), a).value > 0.005
    assert "inter-ocular" in score.protocol and "36-45" in score.protocol


def test_identity_is_one_on_itself_and_higher_for_the_same_face_than_for_another(faces):
    from dfdnet_lite.degrade import degrade

    a, b = faces
    assert metrics.identity_similarity(a, a).value == pytest.approx(1.0, abs=1e-9)
    same = metrics.identity_similarity(degrade(a, "x4", seed=0)[0], a).value
    other = metrics.identity_similarity(b, a).value
    assert same > 0.95 and same > other + 0.05, (same, other)  # measured 0.99 vs 0.86
    assert "128-D" in metrics.identity_similarity(b, a).protocol


def test_face_metrics_need_a_face_in_the_reference_and_note_a_fallback_box(faces):
    grey = np.full((512, 512, 3), 128, np.uint8)
    for fn in (metrics.landmark_distance, metrics.identity_similarity):
        with pytest.raises(ValueError, match="no face found in the reference"):
            fn(faces[0], grey)
    score = metrics.landmark_distance(grey, faces[0])  # no face on the restored image: the reference's box
    assert score.note == metrics.NO_FACE_NOTE and score.value > 0.01


def test_lpips_and_fid_name_what_is_missing_and_where_to_put_it(tmp_path):
    import torch

    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))  # an empty hub cache: the weights are missing whatever is installed
    try:
        with pytest.raises(metrics.MetricUnavailable) as lp:
            metrics.lpips(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8))
        with pytest.raises(metrics.MetricUnavailable) as fd:
            metrics.fid([np.zeros((8, 8, 3), np.uint8)] * 2, [np.zeros((8, 8, 3), np.uint8)] * 2)
    finally:
        torch.hub.set_dir(old)
    assert isinstance(lp.value, RuntimeError)
    assert str(tmp_path / "checkpoints" / "alexnet-owt-7be5be79.pth") in str(lp.value)
    assert str(tmp_path / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth") in str(fd.value)
    if importlib.util.find_spec("lpips") is None:
        assert "pip install lpips" in str(lp.value)
    if importlib.util.find_spec("pytorch_fid") is None:
        assert "pip install pytorch-fid" in str(fd.value)


def test_frechet_distance_reference_values():
    mu1, mu2 = np.zeros(2), np.array([3.0, 4.0])
    s1, s2 = np.diag([1.0, 4.0]), np.diag([4.0, 9.0])
    # |mu1 - mu2|^2 + sum(s1 + s2 - 2 sqrt(s1 s2)) = 25 + (1 + 4 - 4) + (4 + 9 - 12) = 27
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(27.0, abs=1e-9)
    c, s = np.cos(0.7), np.sin(0.7)
    R = np.array([[c, -s], [s, c]])  # the distance is invariant to rotating both Gaussians
    assert metrics.frechet_distance(R @ mu1, R @ s1 @ R.T, R @ mu2, R @ s2 @ R.T) == pytest.approx(27.0, abs=1e-6)
    assert metrics.frechet_distance(mu2, s2, mu2, s2) == pytest.approx(0.0, abs=1e-6)

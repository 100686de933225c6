"""The degradation model (paper Sec. 4; Notebook 03): reproducible, ordered by severity, within its ranges."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dfdnet_lite.cli import main
from dfdnet_lite.data import sample_faces
from dfdnet_lite.degrade import (PRESETS, DegradeConfig, add_noise, degrade, degrade_batch, degrade_pair, item_seed,
                                 jpeg, random_motion_kernel, sample_params)
from dfdnet_lite.files import read_image


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


@pytest.fixture(scope="module")
def faces():
    return [read_image(p) for p in sample_faces()[:8]]


@pytest.mark.parametrize("preset", ["x4", "x8", "mixed"])
def test_same_seed_same_bytes_other_seed_other_bytes(faces, preset):
    x = faces[0]
    a, pa = degrade(x, preset, seed=7)
    b, pb = degrade(x, preset, seed=7)
    c, _ = degrade(x, preset, seed=8)
    assert a.dtype == np.uint8 and a.shape == x.shape
    assert a.tobytes() == b.tobytes() and pa == pb
    assert not np.array_equal(a, c)


def test_motion_blur_path_is_reproducible_too(faces):
    config = DegradeConfig(p_blur=1.0, p_gaussian=0.0)
    a, pa = degrade(faces[1], config, seed=3)
    b, _ = degrade(faces[1], config, seed=3)
    assert pa.blur == "motion" and pa.motion_source == "generated" and pa.preset == "custom"
    assert np.array_equal(a, b)


def test_psnr_falls_from_x4_to_x8_on_every_face(faces):
    x4 = [psnr(x, degrade(x, "x4", seed=0)[0]) for x in faces]
    x8 = [psnr(x, degrade(x, "x8", seed=0)[0]) for x in faces]
    assert all(a > b for a, b in zip(x4, x8)), (x4, x8)
    assert np.mean(x4) - np.mean(x8) > 1.5  # measured: about 2.6 dB on these 8 faces
    assert 18 < np.mean(x8) < np.mean(x4) < 30


def test_fixed_presets_draw_their_documented_values(faces):
    x = faces[0]  # 218 x 178
    _, p4 = degrade(x, "x4", seed=1)
    assert p4.applied == ("blur", "down", "noise", "jpeg", "up")
    assert (p4.blur, p4.blur_ksize, p4.blur_sigma) == ("gaussian", 11, 1.5)
    assert (p4.scale, p4.low_res, p4.noise_sigma, p4.jpeg_quality) == (4.0, (54, 44), 5.0, 60)
    _, p8 = degrade(x, "x8", seed=1)
    assert (p8.scale, p8.low_res) == (8.0, (27, 22))
    assert json.loads(json.dumps(p8.to_dict()))["size"] == [218, 178]


def test_mixed_preset_draws_stay_in_the_official_ranges():
    config, rng, n = PRESETS["mixed"], np.random.default_rng(0), 3000
    draws = [sample_params(config, (512, 512), rng) for _ in range(n)]
    share = lambda step: np.mean([step in p.applied for p in draws])  # noqa: E731
    tol = lambda p: 4 * np.sqrt(p * (1 - p) / n)  # noqa: E731  four binomial standard deviations
    for step, p in (("blur", 0.9), ("down", 0.95), ("noise", 0.9), ("jpeg", 0.6)):
        assert abs(share(step) - p) < tol(p), step
    blurred = [p for p in draws if "blur" in p.applied]
    assert abs(np.mean([p.blur == "gaussian" for p in blurred]) - 0.65) < tol(0.65)
    gauss = [p for p in blurred if p.blur == "gaussian"]
    assert {p.blur_ksize for p in gauss} == set(range(3, 36, 2))
    assert {round(p.blur_sigma * 10) for p in gauss} == set(range(3, 21))
    motion = [p for p in blurred if p.blur == "motion"]
    assert all(7 <= p.blur_ksize <= 35 and p.blur_ksize % 2 and abs(p.kernel.sum() - 1) < 1e-5 for p in motion)
    scales = [p.scale for p in draws if "down" in p.applied]
    assert min(scales) == 2.0 and max(scales) == 10.0 and all(abs(s * 10 - round(s * 10)) < 1e-9 for s in scales)
    assert {p.noise_sigma for p in draws if "noise" in p.applied} == set(map(float, range(1, 11)))
    assert {p.jpeg_quality for p in draws if "jpeg" in p.applied} == set(range(40, 81))
    factors = np.array([p.jitter for p in draws])
    assert factors.min() >= 0.7 and factors.max() <= 1.3 and all(len(set(p.jitter_order)) == 3 for p in draws)


def test_no_step_applied_gives_the_input_back(faces):
    config = DegradeConfig(jitter=0.0, p_blur=0.0, p_down=0.0, p_noise=0.0, p_jpeg=0.0)
    y, params = degrade(faces[2], config, seed=0)
    assert params.applied == ("up",) and np.array_equal(y, faces[2])


def test_official_motion_kernels_load_from_a_user_folder(tmp_path):
    from scipy.io import savemat

    savemat(tmp_path / "m_01.mat", {"kernel": np.ones((7, 7)) * 2.0})
    savemat(tmp_path / "m_02.mat", {"kernel": np.eye(9)})
    config = DegradeConfig(p_blur=1.0, p_gaussian=0.0, motion_kernel_dir=str(tmp_path))
    seen = {sample_params(config, (64, 64), np.random.default_rng(s)).motion_source for s in range(20)}
    assert seen == {"m_01.mat", "m_02.mat"}
    p = sample_params(config, (64, 64), np.random.default_rng(0))
    assert abs(p.kernel.sum() - 1) < 1e-6 and p.blur_ksize == p.kernel.shape[0]


def test_generated_motion_kernel_is_a_centred_unit_sum_kernel():
    k = random_motion_kernel(21, np.random.default_rng(5))
    assert k.shape == (21, 21) and abs(k.sum() - 1) < 1e-5 and k.min() >= 0
    ys, xs = np.mgrid[:21, :21]
    assert abs((k * ys).sum() - 10) < 1.0 and abs((k * xs).sum() - 10) < 1.0  # centroid at the centre
    assert (k > 0).sum() < 0.5 * k.size  # a thin trajectory, not a box


def test_noise_is_unbiased_with_the_asked_sigma():
    flat = np.full((256, 256, 3), 128, np.uint8)
    noisy = add_noise(flat, 5.0, np.random.default_rng(0)).astype(np.float64)
    assert abs(noisy.mean() - 128) < 0.05 and abs(noisy.std() - np.sqrt(25 + 1 / 12)) < 0.05


def test_jpeg_keeps_rgb_order_and_quality_orders_the_error(faces):
    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 230
    out = jpeg(red, 60)
    assert out[..., 0].mean() > 200 and out[..., 2].mean() < 20
    x = faces[3]
    assert psnr(x, jpeg(x, 95)) > psnr(x, jpeg(x, 60)) > psnr(x, jpeg(x, 20))


def test_batch_helper_matches_single_calls(faces):
    import torch

    batch = torch.from_numpy(np.stack([faces[0], faces[1]])).permute(0, 3, 1, 2).float() / 255
    target, lq, params = degrade_batch(batch, "mixed", seed=4)
    assert target.shape == lq.shape == batch.shape and len(params) == 2
    t1, l1, _ = degrade_pair(faces[1], "mixed", item_seed(4, 1))
    assert torch.equal(lq[1], torch.from_numpy(l1).permute(2, 0, 1).float() / 255)
    assert torch.equal(target[1], torch.from_numpy(t1).permute(2, 0, 1).float() / 255)


def test_bad_arguments_are_refused(faces):
    with pytest.raises(ValueError, match="uint8"):
        degrade(faces[0].astype(np.float32), "x4", seed=0)
    with pytest.raises(ValueError, match="x4, x8, mixed"):
        degrade(faces[0], "x16", seed=0)


def _folder_with_bad_files(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for p in sample_faces()[:2]:
        (src / p.name).write_bytes(p.read_bytes())
    (src / "notes.png").write_text("not an image")
    (src / "cut.jpg").write_bytes(sample_faces()[2].read_bytes()[:2500])
    return src


def test_degrade_cli_reports_bad_files_and_goes_on(tmp_path, capsys):
    src = _folder_with_bad_files(tmp_path)
    assert main(["degrade", str(src), "--preset", "x8", "-o", str(tmp_path / "out"), "--seed", "1"]) == 1
    err = capsys.readouterr().err
    assert "notes.png: not an image file" in err and "cut.jpg: cannot decode image: truncated" in err
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["000001.json", "000001.png", "000002.json", "000002.png", "params.csv"]
    row = json.loads((tmp_path / "out" / "000001.json").read_text())
    assert row["preset"] == "x8" and row["scale"] == 8.0 and row["size"] == [218, 178]
    assert len((tmp_path / "out" / "params.csv").read_text().splitlines()) == 3


def test_degrade_cli_same_seed_same_files_and_refuses_input_folder(tmp_path, capsys):
    src = _folder_with_bad_files(tmp_path)
    for out in ("a", "b"):
        main(["degrade", str(src / "000001.jpg"), "--preset", "mixed", "-o", str(tmp_path / out), "--seed", "5"])
    assert (tmp_path / "a" / "000001.png").read_bytes() == (tmp_path / "b" / "000001.png").read_bytes()
    assert main(["degrade", str(src), "-o", str(src)]) == 1
    assert "is the input folder" in capsys.readouterr().err

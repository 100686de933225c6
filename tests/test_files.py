"""Bad-input rules of `dfdnet_lite.files.read_image`: every odd image becomes 8-bit RGB or one clear error."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dfdnet_lite.files import ImageError, check_output_dir, list_images, read_image, write_image


def _gradient(h: int = 40, w: int = 60) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 4 % 256, y * 6 % 256, (x + y) % 256], axis=-1).astype(np.uint8)


def test_rgb_png_round_trip_is_exact(tmp_path):
    img = _gradient()
    path = write_image(tmp_path / "a.png", img)
    assert np.array_equal(read_image(path), img)


def test_grayscale_becomes_three_equal_channels(tmp_path):
    gray = _gradient()[..., 0]
    Image.fromarray(gray, mode="L").save(tmp_path / "g.png")
    out = read_image(tmp_path / "g.png")
    assert out.shape == (40, 60, 3) and out.dtype == np.uint8
    assert np.array_equal(out[..., 0], gray) and np.array_equal(out[..., 1], gray) and np.array_equal(out[..., 2], gray)


def test_rgba_is_composited_on_white(tmp_path):
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:10, :, 3] = 255  # top half opaque red-ish, bottom half fully transparent
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "t.png")
    out = read_image(tmp_path / "t.png")
    assert out[0, 0].tolist() == [200, 0, 0]
    assert out[15, 0].tolist() == [255, 255, 255]


def test_palette_image_gives_its_colours(tmp_path):
    img = Image.fromarray(_gradient()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    img.save(tmp_path / "p.png")
    expected = np.asarray(img.convert("RGB"))
    assert np.array_equal(read_image(tmp_path / "p.png"), expected)


def test_16_bit_png_is_scaled_to_8_bit(tmp_path):
    arr16 = np.full((16, 16), 65535, np.uint16)
    arr16[:8] = 32896  # 128.5 / 255 of full scale
    Image.fromarray(arr16).save(tmp_path / "d.png")
    out = read_image(tmp_path / "d.png")
    assert out[0, 0].tolist() == [128, 128, 128]
    assert out[12, 0].tolist() == [255, 255, 255]


def test_exif_rotation_is_honoured(tmp_path):
    img = Image.fromarray(_gradient(40, 60))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise on display
    img.save(tmp_path / "r.jpg", exif=exif, quality=95)
    out = read_image(tmp_path / "r.jpg")
    assert out.shape == (60, 40, 3)  # width and height swapped, as a viewer shows it


def test_truncated_jpeg_is_a_clear_error(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(_gradient(200, 200)).save(buf, format="JPEG")
    (tmp_path / "cut.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageError, match=r"cut\.jpg: cannot decode image: truncated"):
        read_image(tmp_path / "cut.jpg")


def test_non_image_and_missing_files_are_clear_errors(tmp_path):
    (tmp_path / "notes.jpg").write_text("this is not a picture")
    with pytest.raises(ImageError, match=r"notes\.jpg: not an image file"):
        read_image(tmp_path / "notes.jpg")
    with pytest.raises(ImageError, match=r"nothere\.png: no such file"):
        read_image(tmp_path / "nothere.png")


def test_list_images_filters_and_sorts(tmp_path):
    for name in ("b.PNG", "a.jpg", "c.webp", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG", "c.webp"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no images"):
        list_images(empty)


def test_output_folder_equal_to_input_folder_is_refused(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    with pytest.raises(ValueError, match="is the input folder"):
        check_output_dir(tmp_path, [tmp_path / "a.png"])
    assert check_output_dir(tmp_path / "out", [tmp_path]).is_dir()

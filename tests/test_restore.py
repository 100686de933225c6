"""Whole-photo restoration (dfdnet_lite.restore, `dfdnet-lite restore`): every face, batches, paste-back, bad inputs."""
import csv
import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from dfdnet_lite import restore
from dfdnet_lite.cli import main
from dfdnet_lite.data import sample_faces
from dfdnet_lite.dictionary import ComponentDictionary
from dfdnet_lite.files import read_image
from dfdnet_lite.model import DFDNet, DFDNetConfig
from dfdnet_lite.pasteback import soft_mask


def _face(i: int, scale: float = 1.5) -> np.ndarray:
    return cv2.resize(read_image(sample_faces()[i]), None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)


def two_face_photo() -> np.ndarray:
    """Two CelebA sample faces (x1.5) side by side on a 400 x 640 grey canvas with a textured background."""
    rng = np.random.default_rng(0)
    canvas = rng.integers(60, 200, (400, 640, 3), dtype=np.uint8)
    a, b = _face(0), _face(1)  # (327, 267, 3)
    canvas[40:40 + a.shape[0], 20:20 + a.shape[1]] = a
    canvas[40:40 + b.shape[0], 340:340 + b.shape[1]] = b
    return canvas


@pytest.fixture(scope="module")
def net():
    """A small random DFDNet (ngf=8, K=2, random VGG), its last conv x20 so that its output depends visibly on the face."""
    net = restore.random_generator(ngf=8, k=2, seed=0)
    with torch.no_grad():
        net.head[4].weight.mul_(20)  # random weights give a near-constant output (faces differ by <= 2 levels)
    return net


@pytest.fixture(scope="module")
def result(net):
    return restore.restore_photo(net, two_face_photo(), batch_size=2)


def test_every_face_is_restored_and_pasted_back(result):
    photo, final = result.photo, result.final
    assert len(result.crops) == 2 and len(result.restored) == 2 and result.faces_found == 2
    assert final.shape == photo.shape and final.dtype == np.uint8
    assert {c.rect[0] < 320 for c in result.crops} == {True, False}  # one face on each side
    diff = np.abs(final.astype(int) - photo.astype(int)).sum(2)  # (H, W)
    for crop in result.crops:
        x1, y1, x2, y2 = crop.rect
        assert diff[y1:y2, x1:x2].mean() > 10, f"face {crop.index} unchanged"
    covered = sum(soft_mask(c, photo.shape[:2]) for c in result.crops)
    outside = covered == 0
    assert outside.mean() > 0.3  # most of the canvas lies outside both masks
    np.testing.assert_array_equal(final[outside], photo[outside])
    assert set(result.timings) == {"detect", "align", "restore", "paste"} and result.seconds > 0
    assert result.notes == []


def test_batch_size_does_not_change_the_faces(net, result):
    one_by_one = restore.restore_faces(net, result.crops, batch_size=1)
    for a, b in zip(one_by_one, result.restored):
        assert a.shape == (512, 512, 3) and a.dtype == np.uint8
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1  # rounding of float noise only
    # the two faces' outputs differ by more than that tolerance, so a mixed-up batch would be caught
    assert np.abs(result.restored[0].astype(int) - result.restored[1].astype(int)).max() > 5


def test_photo_without_a_face_is_upscaled_with_a_note(net):
    photo = np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    res = restore.restore_photo(net, photo, upscale=2)
    assert res.crops == [] and res.restored == [] and res.faces_found == 0
    assert res.final.shape == (240, 320, 3)
    np.testing.assert_array_equal(res.final, cv2.resize(photo, (320, 240), interpolation=cv2.INTER_CUBIC))
    assert len(res.notes) == 1 and "no face found" in res.notes[0]


@pytest.fixture
def photo_dir(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    good = np.full((360, 340, 3), 120, np.uint8)
    good[16:16 + 327, 36:36 + 267] = _face(4)
    cv2.imwrite(str(folder / "good.png"), good[..., ::-1])
    (folder / "notes.jpg").write_text("not an image")
    cv2.imwrite(str(folder / "cut.jpg"), good[..., ::-1])
    data = (folder / "cut.jpg").read_bytes()
    (folder / "cut.jpg").write_bytes(data[: len(data) // 2])
    return folder


def test_cli_restores_good_photos_and_names_each_bad_one(net, photo_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(restore, "random_generator", lambda **kw: net)  # the small net instead of ngf=64
    out = tmp_path / "out"
    code = main(["restore", str(photo_dir), "-o", str(out), "--random-weights", "--upscale", "2", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 1
    assert "WARNING: --random-weights" in err and (out / "UNTRAINED_RANDOM_WEIGHTS.txt").is_file()
    bad_lines = [line for line in err.splitlines() if str(photo_dir) in line]
    assert len(bad_lines) == 2
    assert any("notes.jpg: not an image" in line for line in bad_lines)
    assert any("cut.jpg: cannot decode image" in line for line in bad_lines)
    assert read_image(out / "good.png").shape == (720, 680, 3)  # --upscale 2 doubles the photo
    assert read_image(out / "good_compare.png").shape[1] > 2 * 680
    assert read_image(out / "faces" / "good_0_input.png").shape == (512, 512, 3)
    assert read_image(out / "faces" / "good_0_restored.png").shape == (512, 512, 3)
    assert not (out / "notes.png").exists() and not (out / "cut.png").exists()
    rows = list(csv.DictReader(open(out / "report.csv")))  # one row per face, one per failed photo
    good = [r for r in rows if Path(r["photo"]).name == "good.png"]
    assert len(good) == 1 and good[0]["face"] == "0" and good[0]["status"] == "restored"
    x1, y1, x2, y2 = map(int, good[0]["box"].split())
    assert 0 <= x1 < x2 <= 340 and 0 <= y1 < y2 <= 360  # the face box in the input photo
    assert float(good[0]["score"]) > 0 and float(good[0]["seconds"]) > 0 and "UNTRAINED" in good[0]["notes"]
    cut = [r for r in rows if Path(r["photo"]).name == "cut.jpg"]
    assert len(cut) == 1 and cut[0]["status"] == "failed" and "truncated" in cut[0]["notes"]


@pytest.fixture
def no_default_weights(tmp_path, monkeypatch):
    """An empty current folder and checkout root, so that no default weights are found."""
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setattr(restore, "REPO_ROOT", tmp_path / "repo")
    return tmp_path


def test_cli_refuses_missing_weights_and_the_input_folder_as_output(photo_dir, tmp_path, capsys, no_default_weights):
    assert main(["restore", str(photo_dir), "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "no trained weights are available yet" in err and "download_official.py" in err and "dfdnet-lite train" in err
    assert not (tmp_path / "o").exists()  # refused before any file is written
    assert main(["restore", str(photo_dir), "-o", str(photo_dir), "--random-weights"]) == 1
    assert "is the input folder" in capsys.readouterr().err


def test_load_generator_names_the_commands_for_missing_files(tmp_path):
    for checkpoint in (None, tmp_path / "nope.pt"):
        with pytest.raises(FileNotFoundError, match="download_official.py.*dfdnet-lite train"):
            restore.load_generator(checkpoint)
    torch.save({"something": torch.zeros(1)}, tmp_path / "odd.pt")
    with pytest.raises(ValueError, match="neither an official"):
        restore.load_generator(tmp_path / "odd.pt")


def test_own_checkpoint_round_trip(net, tmp_path):
    ComponentDictionary.random(k=2, seed=0).save(tmp_path / "dict.pt")
    payload = {"format": restore.OWN_FORMAT, "generator": net.state_dict(),
               "config": dataclasses.asdict(net.config), "dictionary": "dict.pt", "step": 10}
    torch.save(payload, tmp_path / "checkpoint.pt")
    loaded = restore.load_generator(tmp_path / "checkpoint.pt")
    assert not loaded.training and loaded.config.ngf == 8
    for key, value in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    torch.testing.assert_close(loaded.dict_nose_64, net.dict_nose_64)


def test_official_checkpoint_is_recognised_by_its_keys(tmp_path):
    from test_official import official_state_from  # tests/ is on sys.path under pytest

    torch.manual_seed(0)
    full = DFDNet(DFDNetConfig(crop_mode="official", vgg_weights=False), ComponentDictionary.random(k=2)).eval()
    release = tmp_path / "release"
    ckpt = release / restore.OFFICIAL_GENERATOR
    ckpt.parent.mkdir(parents=True)
    torch.save(official_state_from(full), ckpt)
    ComponentDictionary.random(k=2).save_official(release / restore.OFFICIAL_DICTIONARY, flatten=True)
    loaded = restore.load_generator(ckpt)  # the dictionary folder is found beside the release
    assert not loaded.training and loaded.config.crop_mode == "official"
    torch.testing.assert_close(loaded.ms_dilate.fuse.weight_orig, full.ms_dilate.fuse.weight_orig)
    torch.testing.assert_close(loaded.dict_mouth_256, full.dict_mouth_256)


# -- weights: which ones, and clear errors for files that do not load -----------------------------


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_resolve_weights_order(no_default_weights):
    cwd, repo = no_default_weights / "cwd", no_default_weights / "repo"
    with pytest.raises(FileNotFoundError) as info:
        restore.resolve_weights()
    for command in ("dfdnet-lite download official", "make reproduce",
                    "dfdnet-lite train --profile quick --dictionary DIR --out runs/quick"):
        assert command in str(info.value)
    assert str(repo / restore.REPRODUCE_CHECKPOINT) in str(info.value)  # it says where it looked
    _touch(repo / restore.REPRODUCE_CHECKPOINT)
    path, dictionary, label = restore.resolve_weights()
    assert path == repo / restore.REPRODUCE_CHECKPOINT and dictionary is None and "make reproduce" in label
    _touch(cwd / restore.REPRODUCE_CHECKPOINT)  # the current folder comes before the checkout
    assert restore.resolve_weights()[0] == Path("runs/quick/checkpoint.pt")
    release = repo / "weights" / "official"
    _touch(release / restore.OFFICIAL_GENERATOR)
    assert restore.resolve_weights()[0] == Path("runs/quick/checkpoint.pt")  # no dictionary folder: not a release
    (release / restore.OFFICIAL_DICTIONARY).mkdir()
    path, dictionary, label = restore.resolve_weights()  # the official release comes before our training
    assert (path, dictionary) == (release / restore.OFFICIAL_GENERATOR, release / restore.OFFICIAL_DICTIONARY)
    assert "CC BY-NC-SA 4.0" in label
    assert restore.resolve_weights(dictionary="d.pt")[1] == Path("d.pt")  # --dictionary overrides
    assert restore.resolve_weights("mine.pt", "d.pt") == (Path("mine.pt"), Path("d.pt"), "given with --checkpoint")


@pytest.fixture
def own_checkpoint(net, tmp_path):
    """Our checkpoint of the small net, trained (so it says) with dict.pt beside it."""
    ComponentDictionary.random(k=2, seed=0).save(tmp_path / "ckpt" / "dict.pt")
    torch.save({"format": restore.OWN_FORMAT, "generator": net.state_dict(), "config": dataclasses.asdict(net.config),
                "dictionary": "dict.pt"}, tmp_path / "ckpt" / "checkpoint.pt")
    return tmp_path / "ckpt" / "checkpoint.pt"


def test_corrupt_checkpoints_give_one_clear_line(own_checkpoint, photo_dir, tmp_path, capsys):
    data = own_checkpoint.read_bytes()
    bad = {"random.pt": (np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(), "UnpicklingError"),
           "truncated.pt": (data[: len(data) // 2], "PytorchStreamReader failed reading zip archive"),
           "empty.pt": (b"", "EOFError")}
    for name, (content, reason) in bad.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=f"checkpoint {tmp_path / name} is not a readable torch file: .*{reason}"):
            restore.load_generator(tmp_path / name)
    code = main(["restore", str(photo_dir), "-o", str(tmp_path / "o"), "--checkpoint", str(tmp_path / "truncated.pt")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith(f"dfdnet-lite restore: error: checkpoint {tmp_path / 'truncated.pt'} is not a readable")


def test_a_dictionary_that_does_not_fit_names_both(own_checkpoint, tmp_path):
    from dfdnet_lite.dictionary import FORMAT_TAG

    other = ComponentDictionary.random(k=16, seed=1)  # K = 16, and the nose entries of another layout
    entries = {f"{p}/{s}": v for (p, s), v in other.entries.items()}
    entries["nose/64"] = torch.rand(16, 512, 7, 7)  # the net's nose entries at scale 64 are (K, 512, 6, 6)
    torch.save({"format": FORMAT_TAG, "version": 1, "entries": entries, "meta": {}}, tmp_path / "other.pt")
    (tmp_path / "wrong_folder").mkdir()
    for dictionary, reason in ((tmp_path / "other.pt", "nose"), (tmp_path / "wrong_folder", "missing"),
                               (own_checkpoint, "not a dfdnet-lite component dictionary")):
        with pytest.raises(ValueError) as info:
            restore.load_generator(own_checkpoint, dictionary)
        message = str(info.value)
        assert message.startswith(f"dictionary {dictionary} does not fit checkpoint {own_checkpoint}"), message
        assert reason in message and "Traceback" not in message


# -- GPU memory: halve the batch and retry, on CPU with a net that fakes CUDA out-of-memory -----------


class OutOfMemoryNet(torch.nn.Module):
    """Identity on faces; raises `error` for batches larger than `limit`, and records every batch size."""

    def __init__(self, limit: int, error: Exception):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))  # restore_faces reads the device from here
        self.limit, self.error, self.calls = limit, error, []

    def forward(self, lq, boxes):
        self.calls.append(lq.shape[0])
        if lq.shape[0] > self.limit:
            raise self.error
        return lq


def _crops(n: int) -> list:
    from types import SimpleNamespace

    rng = np.random.default_rng(0)
    return [SimpleNamespace(face=rng.integers(0, 256, (512, 512, 3), dtype=np.uint8), boxes=np.zeros((4, 4)))
            for _ in range(n)]


@pytest.mark.parametrize("error", [torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
                                   RuntimeError("CUDA error: out of memory")])
def test_out_of_memory_halves_the_batch_and_retries(error, monkeypatch):
    emptied = []
    monkeypatch.setattr(restore, "_empty_cache", lambda: emptied.append(1))
    crops, notes = _crops(5), []
    fake = OutOfMemoryNet(limit=2, error=error)
    faces = restore.restore_faces(fake, crops, batch_size=4, notes=notes)
    assert fake.calls == [4, 2, 2, 1]  # faces 0-3 at 4 fail, then 0-1 and 2-3 at 2, then face 4
    assert len(faces) == 5 and all(np.array_equal(f, c.face) for f, c in zip(faces, crops))  # identity, in order
    assert len(emptied) == 1 and notes == ["out of memory on cpu at batch 4: retried at batch 2"]


def test_out_of_memory_at_batch_one_fails_and_other_errors_pass(monkeypatch):
    monkeypatch.setattr(restore, "_empty_cache", lambda: None)
    fake = OutOfMemoryNet(limit=0, error=torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 8 GiB"))
    with pytest.raises(restore.OutOfMemory, match="even with one face per batch .*CUDA out of memory.*--device cpu"):
        restore.restore_faces(fake, _crops(3), batch_size=4)
    assert fake.calls == [3, 1]  # 4 > 3 faces: the first batch is 3, halved to 1
    other = OutOfMemoryNet(limit=0, error=RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        restore.restore_faces(other, _crops(3), batch_size=4)
    assert other.calls == [3]  # not a memory error: no retry


def test_cli_fails_the_photo_that_does_not_fit_and_goes_on(photo_dir, tmp_path, monkeypatch, capsys):
    fake = OutOfMemoryNet(limit=0, error=torch.cuda.OutOfMemoryError("CUDA out of memory"))
    monkeypatch.setattr(restore, "random_generator", lambda **kw: fake)
    monkeypatch.setattr(restore, "_empty_cache", lambda: None)
    out = photo_dir / "restored"  # inside the input folder: allowed, the listing is not recursive
    before = {p.name: p.read_bytes() for p in photo_dir.iterdir() if p.is_file()}
    assert main(["restore", str(photo_dir), "-o", str(out), "--random-weights", "--batch-size", "2"]) == 1
    err = capsys.readouterr().err
    assert f"{photo_dir / 'good.png'}: out of memory on cpu even with one face per batch" in err
    assert "notes.jpg: not an image" in err  # listed after good.png: the batch went on
    rows = list(csv.DictReader(open(out / "report.csv")))
    assert [(Path(r["photo"]).name, r["status"]) for r in rows] == [("cut.jpg", "failed"), ("good.png", "failed"),
                                                                    ("notes.jpg", "failed")]
    assert fake.calls == [1] and not (out / "good.png").exists()  # one face: nothing to halve
    assert {p.name: p.read_bytes() for p in photo_dir.iterdir() if p.is_file()} == before


def test_cli_never_writes_over_an_input(net, photo_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(restore, "random_generator", lambda **kw: net)
    out = tmp_path / "out"
    inputs = out / "faces"  # an input folder where the outputs' faces/ go
    inputs.mkdir(parents=True)
    good = (photo_dir / "good.png").read_bytes()
    (inputs / "good.png").write_bytes(good)
    (inputs / "good_0_input.png").write_bytes(good)  # what good.png's aligned crop would be written as
    assert main(["restore", str(inputs), "-o", str(out), "--random-weights"]) == 1
    err = capsys.readouterr().err
    assert f"not written: {inputs / 'good_0_input.png'} is an input photo" in err
    assert (inputs / "good_0_input.png").read_bytes() == good and (inputs / "good.png").read_bytes() == good
    assert not (out / "good.png").exists() and read_image(out / "good_0_input.png").shape == (360, 340, 3)


def test_cli_uses_and_prints_the_default_weights(own_checkpoint, photo_dir, no_default_weights, capsys):
    target = no_default_weights / "cwd" / restore.REPRODUCE_CHECKPOINT
    target.parent.mkdir(parents=True)
    own_checkpoint.replace(target)
    (own_checkpoint.parent / "dict.pt").replace(target.parent / "dict.pt")
    assert main(["restore", str(photo_dir / "good.png"), "-o", "out", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "weights: our own training, runs/quick/checkpoint.pt (make reproduce): runs/quick/checkpoint.pt" in printed
    assert read_image(Path("out") / "good.png").shape == (360, 340, 3)


@pytest.mark.parametrize("option, value, message", [("--upscale", "0", "argument --upscale: must be >= 1, got 0"),
                                                    ("--batch-size", "two", "expected a whole number >= 1, got 'two'"),
                                                    ("--device", "gpu", "expected auto, cpu, cuda, cuda:N or mps")])
def test_cli_checks_option_values(option, value, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["restore", "x.png", "-o", "out", option, value])
    assert info.value.code == 2 and message in capsys.readouterr().err


def test_min_score_leaves_out_the_weaker_detections_and_says_so(net, result):
    scores = sorted(float(c.score) for c in result.crops)
    assert scores[0] < scores[1]
    cut = (scores[0] + scores[1]) / 2
    one = restore.restore_photo(net, result.photo, batch_size=2, min_score=cut)
    assert [round(float(c.score), 6) for c in one.crops] == [round(scores[1], 6)] and one.faces_found == 2
    assert len(one.notes) == 1 and f"below --min-score {cut:g}" in one.notes[0]
    none = restore.restore_photo(net, result.photo, batch_size=2, min_score=scores[1] + 1)
    assert none.crops == [] and none.faces_found == 2
    assert "no face scored at least" in none.notes[0] and sum("not restored" in n for n in none.notes) == 2
    np.testing.assert_array_equal(none.final, result.photo)  # nothing restored: the photo as it was


def test_read_checkpoint_maps_zip_files_and_reads_old_ones_whole(tmp_path):
    payload = {"step": 3, "w": torch.arange(4.0)}
    torch.save(payload, tmp_path / "new.pt")
    torch.save(payload, tmp_path / "old.pt", _use_new_zipfile_serialization=False)  # cannot be memory-mapped
    for name in ("new.pt", "old.pt"):
        for mmap in (False, True):
            got = restore._read_checkpoint(tmp_path / name, mmap=mmap)
            assert got["step"] == 3 and torch.equal(got["w"], payload["w"]), (name, mmap)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable torch file"):
        restore._read_checkpoint(tmp_path / "bad.pt", mmap=True)

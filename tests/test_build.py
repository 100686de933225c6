"""Dictionary building (Sec. 3.1; Notebook 06): crops land in their boxes, files load back, resume is exact, bad input fails clearly."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dfdnet_lite import build
from dfdnet_lite.cli import main
from dfdnet_lite.config import CHANNELS, PARTS, SCALES, entry_shape
from dfdnet_lite.dictionary import ComponentDictionary
from dfdnet_lite.feature_cache import CacheError

BOXES = np.array([[150, 200, 230, 280], [282, 200, 362, 280], [200, 250, 264, 314], [190, 330, 310, 420]], np.int32)


def fake_encode(x: torch.Tensor) -> list:
    """Stand-in encoder with the VGG shapes: average-pooled RGB mixed into C channels by a fixed matrix."""
    out = []
    for scale in SCALES:
        w = torch.randn(CHANNELS[scale], 3, generator=torch.Generator().manual_seed(scale))
        out.append(torch.einsum("bchw,kc->bkhw", torch.nn.functional.adaptive_avg_pool2d(x, scale), w))
    return out


def photo_folder(tmp_path: Path, n: int) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(n):
        Image.fromarray(np.full((16, 16, 3), 40 * (i % 6), np.uint8)).save(folder / f"{i:03d}.png")
    return folder


def fake_align(path: Path, skip=("002.png",)):
    """Synthetic aligned face seeded by the file name, boxes jittered a few px; None for names in `skip`."""
    if path.name in skip:
        return None
    rng = np.random.default_rng(int(path.stem))
    return rng.integers(0, 256, (512, 512, 3), dtype=np.uint8), BOXES + rng.integers(-8, 9, (4, 1))


def fake_build(tmp_path, n=9, k=2, out="out", **kw):
    config = build.BuildConfig(faces=str(tmp_path / "photos"), k=k, num_faces=n, batch_size=2, device="cpu")
    return build.build_dictionary(config, tmp_path / out, encode=fake_encode, align=fake_align, **kw)


def test_crops_land_in_the_part_boxes():
    far = BOXES.copy()
    far[0] = (60, 60, 140, 140)  # the left eye well away from the nose
    boxes = far[None]
    def encode(x):  # channel 0: 7 in the nose box (dilated 1 px), 0 elsewhere; channel 1: the x index
        maps = []
        for scale in SCALES:
            f = torch.zeros(1, CHANNELS[scale], scale, scale)
            x1, y1, x2, y2 = (far[2] * scale // 512).tolist()
            f[0, 0, max(y1 - 1, 0):y2 + 1, max(x1 - 1, 0):x2 + 1] = 7.0
            f[0, 1] = torch.arange(scale).float()[None, :]
            maps.append(f)
        return maps
    feats = build.encode_batch([np.zeros((512, 512, 3), np.uint8)], boxes, encode, torch.device("cpu"))
    for scale in SCALES:
        nose = feats[("nose", scale)].reshape(entry_shape("nose", scale))
        assert torch.all(torch.from_numpy(nose[0]) == 7.0)
        assert np.all(feats[("left_eye", scale)].reshape(entry_shape("left_eye", scale))[0] == 0)
        for p, part in enumerate(PARTS):  # bilinear sampling of a ramp is exact: mean x = box centre - 1/2
            ramp = feats[(part, scale)].reshape(entry_shape(part, scale))[1]
            centre = (far[p, 0] + far[p, 2]) / 2 * scale / 512 - 0.5
            assert ramp.mean() == pytest.approx(centre, abs=1e-4)


def test_official_layout_loads_back_and_into_the_generator(tmp_path):
    photo_folder(tmp_path, 7)
    result = fake_build(tmp_path, n=7, k=2)
    assert result.used == 6 and len(result.skipped) == 1
    official = ComponentDictionary.load_official(tmp_path / "out" / "official")
    mine = ComponentDictionary.load(tmp_path / "out" / "dictionary.pt")
    assert mine.meta["num_faces"] == 6 and mine.meta["profile"] == "paper" and mine.meta["encoder_weights"] == "custom"
    for key, value in official.entries.items():
        assert value.shape == (2, *entry_shape(*key))
        assert torch.equal(value, mine.entries[key]) and torch.equal(value, result.dictionary.entries[key])
        sizes = np.asarray(result.clusters[key].sizes)
        assert sizes.sum() == 6  # every face in exactly one cluster
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert len(report["dictionaries"]) == 16 and "6 faces (1 skipped)" in report["summary"]
    montage = np.asarray(Image.open(tmp_path / "out" / "montage_nose.png"))
    assert montage.shape == (2 * 50, 6 * 50, 3)  # K=2 centres x 6 nearest faces of 48 px + 2 px gaps
    from dfdnet_lite.model import DFDNet, DFDNetConfig
    from dfdnet_lite.dft import normalise_entries

    net = DFDNet(DFDNetConfig(vgg_weights=False), dictionary=official)
    assert torch.allclose(net.dict_mouth_32, normalise_entries(official.get("mouth", 32)))


def test_resume_after_interrupt_equals_uninterrupted_run(tmp_path):
    photo_folder(tmp_path, 9)
    whole = fake_build(tmp_path, out="whole")

    def stop(batches):
        if batches == 2:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        fake_build(tmp_path, out="parts", on_batch=stop)
    manifest = json.loads((tmp_path / "parts" / "cache" / "manifest.json").read_text())
    assert manifest["next_candidate"] == 5 and manifest["rows"] == 4  # 2 batches of 2 faces, 002.png skipped
    with pytest.raises(ValueError, match="--resume"):
        fake_build(tmp_path, out="parts")
    seen = []
    def counting_align(path):
        seen.append(path.name)
        return fake_align(path)
    config = build.BuildConfig(faces=str(tmp_path / "photos"), k=2, num_faces=9, batch_size=2, device="cpu")
    resumed = build.build_dictionary(config, tmp_path / "parts", resume=True, encode=fake_encode, align=counting_align)
    assert seen == ["005.png", "006.png", "007.png", "008.png"]  # finished faces are not redone
    assert resumed.used == whole.used == 8 and resumed.skipped == whole.skipped
    for key in whole.dictionary.entries:
        assert torch.equal(resumed.dictionary.entries[key], whole.dictionary.entries[key]), key


def test_corrupt_or_mismatched_cache_is_refused(tmp_path):
    photo_folder(tmp_path, 5)
    fake_build(tmp_path, n=5)
    with pytest.raises(CacheError, match="other settings.*--overwrite"):
        fake_build(tmp_path, n=4, resume=True)
    victim = tmp_path / "out" / "cache" / "nose_64.float16"
    victim.write_bytes(victim.read_bytes()[:100])
    with pytest.raises(CacheError, match="truncated.*--overwrite"):
        fake_build(tmp_path, n=5, resume=True)
    assert fake_build(tmp_path, n=5, overwrite=True).used == 4  # --overwrite starts again


def test_fewer_usable_faces_than_k_suggests_a_smaller_k(tmp_path):
    photo_folder(tmp_path, 5)
    with pytest.raises(ValueError, match=r"only 4 usable face\(s\) for K=5: use --k 1"):
        fake_build(tmp_path, n=5, k=5)


def test_cli_bad_inputs_fail_with_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["build-dictionary", "--faces", str(tmp_path / "empty"), "--out", str(tmp_path / "o1")]) == 1
    assert "no images" in capsys.readouterr().err
    folder = photo_folder(tmp_path, 3)  # flat grey squares: no face to detect
    assert main(["build-dictionary", "--faces", str(folder), "--out", str(tmp_path / "o2"), "--k", "5"]) == 1
    assert "use --k 1" in capsys.readouterr().err
    assert main(["build-dictionary", "--faces", str(folder), "--out", str(tmp_path / "o3"), "--k", "1"]) == 1
    err = capsys.readouterr().err
    assert "no face found in any of the 3 photo(s)" in err and len(err.strip().splitlines()) == 1


def test_cli_end_to_end_on_six_sample_faces_with_the_real_encoder(tmp_path, capsys):
    out = tmp_path / "dict"
    args = ["build-dictionary", "--faces", "sample", "--out", str(out), "--num-faces", "6", "--k", "2"]
    assert main(args) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("built 16 dictionaries from 4 faces (2 skipped)")  # HOG finds no face in 2 of them
    loaded = ComponentDictionary.load_official(out / "official")
    assert loaded.k == {(p, s): 2 for p in PARTS for s in SCALES}
    meta = ComponentDictionary.load(out / "dictionary.pt").meta
    assert meta["encoder_weights"] != "custom" and meta["config"]["bf16"] is True and meta["seed"] == 0
    assert main(args) == 1 and "already exists" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 0  # nothing left to extract: clusters the cache again, same result
    again = ComponentDictionary.load_official(out / "official")
    assert all(torch.equal(again.entries[key], loaded.entries[key]) for key in loaded.entries)


def test_profiles_keep_k_at_most_a_quarter_of_the_faces():
    for profile, (num_faces, k) in build.PROFILE_SIZES.items():
        config = build.profile_config(profile)
        assert (config.num_faces, config.k) == (num_faces, k) and k <= num_faces // 4
    assert build.profile_config("quick", k=4, num_faces=None).k == 4  # None leaves the profile's value
    with pytest.raises(ValueError, match="unknown profile"):
        build.profile_config("huge")


TORCHRUN_SCRIPT = """
import os, sys
from pathlib import Path
sys.path[:0] = [{tests!r}, {root!r}]
from dfdnet_lite import build
from test_build import fake_align, fake_encode
tmp, resume = Path(sys.argv[1]), sys.argv[2] == "resume"
stop = None
if not resume and os.environ["RANK"] == "1":  # rank 1 dies after its first batch; rank 0 may finish its shard
    def stop(batches):
        raise SystemExit(3)
config = build.BuildConfig(faces=str(tmp / "photos"), k=2, num_faces=6, batch_size=2, device="cpu")
result = build.build_dictionary(config, tmp / "multi", resume=resume, encode=fake_encode, align=fake_align,
                                on_batch=stop)
assert (result is None) == (os.environ["RANK"] != "0")
"""


def test_torchrun_two_cpu_processes_resume_and_match_one_process(tmp_path):
    """Issue 4: two gloo ranks, one interrupted, then --resume: the dictionary of one process, exactly."""
    import subprocess
    import sys

    photo_folder(tmp_path, 6)
    whole = fake_build(tmp_path, n=6, out="whole")
    script = tmp_path / "run_build.py"
    script.write_text(TORCHRUN_SCRIPT.format(tests=str(Path(__file__).parent), root=str(Path(__file__).parents[1])))
    def torchrun(mode):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
               str(script), str(tmp_path), mode]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    first = torchrun("fresh")  # interrupted: rank 1 fails, torchrun stops the group
    assert first.returncode != 0 and not (tmp_path / "multi" / "dictionary.pt").exists()
    done = json.loads((tmp_path / "multi" / "cache" / "rank1" / "manifest.json").read_text())
    assert done["next_candidate"] == 2 and done["index"] == [1, 3]  # rank 1's shard: candidates 1, 3, 5
    second = torchrun("resume")
    assert second.returncode == 0, second.stderr[-3000:]
    multi = ComponentDictionary.load(tmp_path / "multi" / "dictionary.pt")
    assert multi.meta["num_faces"] == whole.used == 5
    for key in whole.dictionary.entries:
        assert torch.equal(multi.entries[key], whole.dictionary.entries[key]), key
    sizes = [r["sizes"] for r in json.loads((tmp_path / "multi" / "report.json").read_text())["dictionaries"]]
    assert sizes == [r["sizes"] for r in whole.report["dictionaries"]]  # inertia's last bits vary with threads

"""Evaluation (dfdnet_lite.evaluate, `dfdnet-lite evaluate`): rows, columns, reference values, seeds, files, errors."""
import contextlib
import csv
import dataclasses
import io
import json
import os

import cv2
import numpy as np
import pytest
import torch

from dfdnet_lite import evaluate as ev
from dfdnet_lite import metrics, restore
from dfdnet_lite.cli import main
from dfdnet_lite.degrade import degrade_pair, item_seed
from dfdnet_lite.dictionary import ComponentDictionary
from dfdnet_lite.files import read_image


@pytest.fixture(scope="module")
def faces():
    """The first two held-out sample faces, aligned."""
    found, skipped = ev.load_faces("sample", num_faces=2)
    assert len(found) == 2 and all(f.hq.shape == (512, 512, 3) for f in found)
    return found


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """`dfdnet-lite evaluate` on 2 faces, x4, an untrained tiny checkpoint, in a folder without official weights."""
    root = tmp_path_factory.mktemp("evaluate")
    net = restore.random_generator(ngf=8, k=2, seed=0)
    ComponentDictionary.random(k=2, seed=0).save(root / "dict.pt")
    torch.save({"format": restore.OWN_FORMAT, "generator": net.state_dict(), "config": dataclasses.asdict(net.config),
                "dictionary": "dict.pt", "step": 7, "train_config": {"profile": "quick"}}, root / "checkpoint.pt")
    out, err, cwd = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(root)  # no weights/official/ here: the official row must be skipped
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["evaluate", "--checkpoint", "checkpoint.pt", "--num-faces", "2", "--degradation", "x4",
                         "--device", "cpu", "--batch-size", "2", "-o", "out"])
    finally:
        os.chdir(cwd)
    return {"code": code, "out": root / "out", "stdout": out.getvalue(), "stderr": err.getvalue()}


def _rows(path):
    return list(csv.DictReader(open(path)))


def test_cli_writes_a_table_with_every_row_and_column(cli_run):
    assert cli_run["code"] == 0, cli_run["stderr"]
    table = _rows(cli_run["out"] / "results.csv")
    assert [r["method"] for r in table] == ["bicubic", "ours", ev.BYPASSED]
    for row in table:
        assert row["degradation"] == "x4" and row["faces"] == "2"
        for column in ("psnr", "ssim", "landmark_distance", "identity_similarity"):
            assert np.isfinite(float(row[column])), (row["method"], column)
    assert len(_rows(cli_run["out"] / "per_face.csv")) == 2 * 3
    assert "## x4" in cli_run["stdout"] and "| method | faces | PSNR (dB) ↑ | SSIM ↑" in cli_run["stdout"]
    report = (cli_run["out"] / "results.md").read_text()
    assert "checkpoint.pt (step 7, profile quick)" in report and "seed 0" in report and "RGB 0-255" in report
    figure = read_image(cli_run["out"] / "examples_x4.png")
    assert figure.shape[1] > figure.shape[0] > 100  # 2 rows x 5 columns (LQ, 3 methods, HQ)
    info = json.loads((cli_run["out"] / "info.json").read_text())
    assert info["target_is_hq"] == {"x4": 2}  # x4 has no colour jitter: the reference is the HQ face itself
    # paired.md is the saved per-face rows compared again, row for row
    saved = ev.paired_markdown(ev.read_per_face(cli_run["out"] / "per_face.csv"))
    assert (cli_run["out"] / "paired.md").read_text() == saved and "| ours | PSNR (dB) ↑ | 2 |" in saved


def test_paired_differences_against_known_shifts():
    rng = np.random.default_rng(0)
    base = rng.normal(30, 2, 40)
    rows = []
    for i, v in enumerate(base):
        rows.append({"degradation": "x8", "name": f"{i}", "method": "bicubic", "psnr": v, "landmark_distance": 0.02})
        # a constant +0.5 dB, and a landmark distance lower on 30 of 40 faces; one face without landmarks
        rows.append({"degradation": "x8", "name": f"{i}", "method": "ours", "psnr": v + 0.5,
                     "landmark_distance": "" if i == 0 else 0.01 if i <= 30 else 0.03})
    got = {r["metric"]: r for r in ev.paired_differences(rows, n_boot=500)}
    assert got["psnr"]["faces"] == 40 and got["psnr"]["better"] == 1.0
    assert got["psnr"]["mean_diff"] == pytest.approx(0.5) and got["psnr"]["ci_low"] == pytest.approx(0.5)
    assert got["psnr"]["ci_high"] == pytest.approx(0.5)  # a constant shift: every resample has the same mean
    lm = got["landmark_distance"]
    assert lm["faces"] == 39 and lm["better"] == pytest.approx(30 / 39)  # lower is better; the empty cell is left out
    assert lm["mean_diff"] == pytest.approx((30 * -0.01 + 9 * 0.01) / 39)
    assert lm["ci_low"] < lm["mean_diff"] < lm["ci_high"] < 0
    with pytest.raises(ValueError, match="no 'bicubic' rows"):
        ev.paired_differences([r for r in rows if r["method"] == "ours"])


def test_bicubic_psnr_equals_an_independent_computation(cli_run, faces):
    per_face = [r for r in _rows(cli_run["out"] / "per_face.csv") if r["method"] == "bicubic"]
    expected = []
    for i, face in enumerate(faces):
        target, lq, _ = degrade_pair(face.hq, "x4", seed=item_seed(0, i))
        np.testing.assert_array_equal(target, face.hq)
        expected.append(metrics.psnr(lq, face.hq).value)
        assert per_face[i]["name"] == face.name and float(per_face[i]["psnr"]) == expected[i]
    bicubic = _rows(cli_run["out"] / "results.csv")[0]
    assert float(bicubic["psnr"]) == pytest.approx(np.mean(expected), abs=1e-12)


def test_official_row_and_missing_metrics_are_skipped_with_how_to_get_them(cli_run):
    err, report = cli_run["stderr"], (cli_run["out"] / "results.md").read_text()
    assert "official: skipped" in err and "download_official.py" in err and "official: skipped" in report
    columns = _rows(cli_run["out"] / "results.csv")[0]
    for name, unavailable in (("lpips", "LPIPS is unavailable"), ("fid", "FID is unavailable")):
        assert (name in columns) != (unavailable in err)  # a column, or the message: never a made-up value


def test_same_seed_same_numbers_other_seed_other_numbers(faces):
    methods = {"bicubic": ev.bicubic, "blur": lambda lq, boxes: np.stack([cv2.GaussianBlur(x, (5, 5), 1) for x in lq])}
    first = ev.evaluate(methods, faces, presets=("x4",), seed=3, num_examples=1)
    again = ev.evaluate(methods, faces, presets=("x4",), seed=3, num_examples=1)
    other = ev.evaluate(methods, faces, presets=("x4",), seed=4, num_examples=1)
    assert first.per_face == again.per_face and first.table == again.table
    assert first.table[0]["psnr"] != other.table[0]["psnr"]  # the noise field follows the seed
    assert [r["method"] for r in first.table] == ["bicubic", "blur"]
    assert "| bicubic | 2 |" in first.to_markdown()
    assert len(first.figure("x4").axes) == 1 * 4  # 1 example face x (LQ, 2 methods, HQ)


class _Probe(torch.nn.Module):
    """A stand-in net that records whether its DFT blocks were on, and returns a grey face."""

    def __init__(self):
        super().__init__()
        self.config = type("Config", (), {"use_dictionary": True})()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.seen = []

    def forward(self, lq, boxes):
        self.seen.append(self.config.use_dictionary)
        return torch.zeros_like(lq)


def test_bypass_turns_the_dft_blocks_off_only_during_the_call():
    net, lq, boxes = _Probe(), np.zeros((1, 512, 512, 3), np.uint8), np.tile([[100, 100, 200, 200]], (1, 4, 1))
    out = ev.net_method(net, bypass_dictionary=True)(lq, boxes)
    ev.net_method(net)(lq, boxes)
    assert net.seen == [False, True] and net.config.use_dictionary is True
    assert out.shape == (1, 512, 512, 3) and (out == 128).all()  # 0 in [-1, 1] is grey level 127.5 -> 128


def test_missing_checkpoint_or_faces_fail_with_the_command_to_run(tmp_path, capsys):
    for extra in ([], ["--checkpoint", str(tmp_path / "nope.pt")]):
        assert main(["evaluate", *extra, "-o", str(tmp_path / "o")]) == 1
        err = capsys.readouterr().err
        assert "dfdnet-lite train --profile quick" in err and "download_official.py" in err
    with pytest.raises(ValueError, match="no faces to evaluate"):
        ev.evaluate({"bicubic": ev.bicubic}, [], presets=("x4",))


def test_a_folder_without_faces_fails_with_a_message(cli_run, tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    noise = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    cv2.imwrite(str(folder / "noise.png"), noise)
    checkpoint = cli_run["out"].parent / "checkpoint.pt"
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--faces", str(folder), "--device", "cpu",
                 "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "1 photo(s) without a face skipped" in err and "no face found in any photo" in err


def test_lpips_and_fid_columns_appear_when_their_models_load(faces, monkeypatch):
    """With stand-ins for the two weight-bound models, the columns are filled from them (the plumbing, not the nets)."""
    def colour_features(images):  # (N, 3) mean colour per image
        return np.stack([np.asarray(img, float).reshape(-1, 3).mean(0) for img in images])

    monkeypatch.setattr(metrics, "lpips_model", lambda: None)
    def mean_abs(out, ref):
        return metrics.Score("lpips", float(np.abs(out.astype(int) - ref).mean()), "stub")

    monkeypatch.setattr(metrics, "lpips", mean_abs)
    monkeypatch.setattr(metrics, "inception_model", lambda: None)
    monkeypatch.setattr(metrics, "inception_features", colour_features)
    result = ev.evaluate({"bicubic": ev.bicubic}, faces, presets=("x4",), num_examples=0)
    lqs = [degrade_pair(f.hq, "x4", seed=item_seed(0, i))[1] for i, f in enumerate(faces)]
    expected = metrics.fid_from_features(colour_features(lqs), colour_features([f.hq for f in faces])).value
    row = result.table[0]
    assert result.columns() == ["psnr", "ssim", "landmark_distance", "identity_similarity", "lpips", "fid"]
    assert row["fid"] == pytest.approx(expected) and row["fid"] > 0
    assert row["lpips"] == pytest.approx(np.mean([np.abs(q.astype(int) - f.hq).mean() for q, f in zip(lqs, faces)]))
    assert result.info["unavailable"] == {} and "FID ↓" in result.to_markdown()

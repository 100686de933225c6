"""data_scripts/reproduce.py --profile paper: all four stages on 6 sample faces on a CPU, then again as
done; a clear offline message from the FFHQ download; stages that refuse missing or mismatched inputs."""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import torch

from dfdnet_lite import PARTS, SCALES, data
from dfdnet_lite.dictionary import load_dictionary

ROOT = Path(__file__).resolve().parents[1]


def load_reproduce():
    spec = importlib.util.spec_from_file_location("reproduce", ROOT / "data_scripts" / "reproduce.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reproduce = load_reproduce()


@pytest.fixture()
def six_faces(tmp_path) -> Path:
    folder = tmp_path / "ffhq_stand_in"
    folder.mkdir()
    for path in data.sample_faces()[:6]:
        shutil.copy2(path, folder / path.name)
    return folder


def tiny(out: Path, faces: "Path | None", *extra: str) -> list[str]:
    """The paper profile scaled down with its documented options: 6 faces, 1 held out, K = 2, one step of batch 1."""
    argv = ["--profile", "paper", "--device", "cpu", "--out", str(out), "--num-faces", "6", "--held-out", "1",
            "--k", "2", "--steps", "1", "--batch-size", "1", *extra]
    return argv + (["--faces", str(faces)] if faces else [])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_four_stages_run_on_six_faces_then_are_skipped_as_done(tmp_path, six_faces, capsys):
    out = tmp_path / "paper"
    assert reproduce.main(tiny(out, six_faces)) == 0
    first = capsys.readouterr().out

    split = json.loads((out / "faces" / "split.json").read_text())
    assert len(split["train"]) == 5 and len(split["held_out_faces"]) == 1
    held = split["held_out_faces"][0]
    assert held not in split["train"] and held not in {p.name for p in (out / "faces" / "dictionary").iterdir()}
    # the trainer's own split of faces/all is the same: the held-out face was never trained on
    assert [Path(p).name for p in (out / "train" / "held_out.txt").read_text().split()] == [held]

    dictionary = load_dictionary(out / "dictionary" / "dictionary.pt")
    assert all(dictionary.get(p, s).shape[0] == 2 for p in PARTS for s in SCALES)
    assert dictionary.meta["num_faces"] <= 5  # built from the training faces only

    payload = torch.load(out / "train" / "checkpoint.pt", map_location="cpu", weights_only=True, mmap=True)
    assert payload["step"] == 1 and payload["train_config"]["held_out"] == 1
    assert payload["train_config"]["ngf"] == 64 and payload["train_config"]["loss"]["disc_sizes"] == [512, 256, 128, 64]
    assert Path(payload["dictionary"]) == (out / "dictionary" / "dictionary.pt").resolve()

    results = (out / "results.md").read_text()
    for table in ("## x4", "## x8"):
        section = results.split(table, 1)[1]
        assert "| bicubic | 1 |" in section and "| ours | 1 |" in section, results
    assert "steps 1 (paper profile: 150000)" in results and "K 2 (paper profile: 512)" in results
    assert (out / "evaluation" / "results.csv").is_file()
    for stage in reproduce.STAGES:
        assert f"[reproduce] {stage}:" in first and f"{stage}: done" not in first

    stamps = {p: p.stat().st_mtime_ns for p in (out / "train" / "checkpoint.pt", out / "dictionary" / "dictionary.pt",
                                                 out / "results.md", out / "faces" / "split.json")}
    assert reproduce.main(tiny(out, six_faces)) == 0
    second = capsys.readouterr().out
    for stage in reproduce.STAGES:
        assert f"[reproduce] {stage}: done" in second, second
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing was made again


def test_offline_the_download_says_what_to_fetch_and_where(tmp_path, monkeypatch, capsys):
    from dfdnet_lite.cli.download import load_script
    from dfdnet_lite.download import DownloadError

    def unreachable(url, dest, **kwargs):
        raise DownloadError(f"cannot reach drive.usercontent.google.com (no network); copy it to {dest}")

    monkeypatch.setattr(load_script("ffhq"), "download", unreachable)  # never the network, even where there is one
    out = tmp_path / "paper"
    assert reproduce.main(tiny(out, None, "--stage", "faces")) == 1
    err = capsys.readouterr().err
    assert "cannot reach" in err and str(out / "ffhq") in err  # where the files go
    assert "ffhq-dataset-v2.json" in err and "By hand" in err and "--faces DIR" in err  # what to fetch, or the way round
    assert not (out / "faces" / "split.json").exists()


def test_a_stage_without_its_input_names_the_stage_to_run(tmp_path, capsys):
    assert reproduce.main(tiny(tmp_path / "paper", None, "--stage", "dictionary")) == 1
    assert "run the faces stage first" in capsys.readouterr().err
    assert reproduce.main(tiny(tmp_path / "paper", None, "--stage", "evaluate")) == 1
    assert "run the train stage first" in capsys.readouterr().err


def test_the_split_is_not_silently_redone_with_other_settings(tmp_path, six_faces, capsys):
    out = tmp_path / "paper"
    assert reproduce.main(tiny(out, six_faces, "--stage", "faces")) == 0
    split = json.loads((out / "faces" / "split.json").read_text())
    assert len(split["train"]) + len(split["held_out_faces"]) == 6
    argv = tiny(out, six_faces, "--stage", "faces")
    argv[argv.index("--held-out") + 1] = "2"
    assert reproduce.main(argv) == 1
    assert "was made with --num-faces 6 --held-out 1" in capsys.readouterr().err


def test_paper_options_are_checked(capsys):
    with pytest.raises(SystemExit):
        reproduce.parse_args(["--profile", "paper", "--num-faces", "6", "--held-out", "6"])
    with pytest.raises(SystemExit):
        reproduce.parse_args(["--profile", "paper", "--k", "0"])
    args = reproduce.parse_args(["--profile", "paper"])
    assert (args.num_faces, args.held_out, args.k, args.steps, args.stage) == (10_000, 100, None, None, "all")


def test_training_refuses_a_dictionary_built_with_another_vgg19(tmp_path, capsys):
    from dfdnet_lite.dictionary import ComponentDictionary

    out = tmp_path / "paper"
    made = ComponentDictionary.random(k=2, seed=0)  # its meta says encoder "none": not the VGG19 training would use
    made.save(out / "dictionary" / "dictionary.pt")
    assert reproduce.main(tiny(out, None, "--stage", "train")) == 1
    err = capsys.readouterr().err
    assert "built with the VGG19 weights 'none'" in err and "--vgg-weights" in err
    assert not (out / "train").exists()


def test_an_interrupted_split_is_redone_but_foreign_files_are_never_removed(tmp_path, six_faces, capsys):
    out = tmp_path / "paper"
    (out / "faces" / "all").mkdir(parents=True)
    (out / "faces" / "all" / "stale").symlink_to(six_faces / "000001.jpg")  # a link left by an interrupted run
    assert reproduce.main(tiny(out, six_faces, "--stage", "faces")) == 0
    assert not (out / "faces" / "all" / "stale").exists() and len(list((out / "faces" / "all").iterdir())) == 6

    mine = tmp_path / "mine"
    (mine / "faces").mkdir(parents=True)
    shutil.copy2(six_faces / "000001.jpg", mine / "faces" / "000001.jpg")  # a user's own file where the links go
    assert reproduce.main(tiny(mine, six_faces, "--stage", "faces")) == 1
    assert "holds files this script did not make" in capsys.readouterr().err
    assert (mine / "faces" / "000001.jpg").is_file()

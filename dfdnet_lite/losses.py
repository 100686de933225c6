"""Training objective: pixel MSE, perceptual loss and multi-scale SN-GAN hinge losses (Sec. 3.4; Notebook 08).

The paper (Li et al., ECCV 2020, Sec. 3.4 "Model Objective") trains the generator with a
reconstruction loss, MSE on pixels plus a perceptual loss on pretrained VGGFace features, and
an adversarial loss from discriminators at several resolutions in the hinge form of SN-GAN.
Where the paper gives no number (discriminator width and depth, how each scale is downsampled,
how the terms are averaged), the value below is our choice and is a `LossConfig` field.
We use the frozen `VGGEncoder` (VGG19 layout, see encoder.py) in place of VGGFace.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


@dataclass
class LossConfig:
    """Weights and discriminator settings of Sec. 3.4; "ours" marks a value the paper does not give (Notebook 08)."""

    lambda_l2: float = 100.0  # λ_l2, pixel MSE (Sec. 3.4, as we read it; check against the paper)
    lambda_p: float = 0.9  # λ_p, perceptual (Sec. 3.4, as we read it; check against the paper)
    lambda_a: float = 1.0  # λ_a, adversarial (Sec. 3.4, as we read it; check against the paper)
    # per-layer weights on the encoder's outputs relu2_2, relu3_4, relu4_4, conv5_4; 0 drops a layer (ours)
    perceptual_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)
    feature_scale: float = 1.0  # encoder features are multiplied by this before the MSE (ours)
    perceptual_size: int = 512  # side at which the perceptual features are taken; 256 costs 4x less (ours)
    disc_sizes: tuple[int, ...] = (512, 256, 128, 64)  # one discriminator per input side (multi-scale, Sec. 3.4)
    gan_type: str = "hinge"  # SN-GAN hinge loss (Sec. 3.4)
    disc_width: int = 64  # channels of each discriminator's first conv (ours)
    disc_depth: int = 3  # stride-2 convs per discriminator: output side = size / 2**depth (ours)
    slope: float = 0.2  # LeakyReLU slope in the discriminators (ours, as the generator)


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """x (B, C, H, W) at side `size` (bilinear with antialias; ours), or x itself when already that size."""
    if x.shape[-2:] == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def pixel_loss(out: torch.Tensor, hq: torch.Tensor) -> torch.Tensor:
    """Pixel reconstruction term of Sec. 3.4: mean squared error between output and ground truth."""
    # $\ell_{l2} = \frac{1}{CHW}\|\hat{I}^h - I^h\|_2^2$ (averaged over the batch)
    return F.mse_loss(out, hq)


def perceptual_loss(encoder: Callable[[torch.Tensor], Sequence[torch.Tensor]], out: torch.Tensor,
                    hq: torch.Tensor, weights: Sequence[float], scale: float = 1.0) -> torch.Tensor:
    """Perceptual term of Sec. 3.4: weighted feature MSE at the encoder's layers; the encoder must be frozen."""
    if isinstance(encoder, nn.Module) and any(p.requires_grad for p in encoder.parameters()):
        raise ValueError("the perceptual encoder must be frozen: call encoder.requires_grad_(False)")
    feats_out = encoder(out)
    with torch.no_grad():
        feats_hq = encoder(hq)
    if len(weights) != len(feats_out):
        raise ValueError(f"{len(weights)} perceptual weights for {len(feats_out)} encoder layers")
    loss = out.new_zeros(())
    for w, f_out, f_hq in zip(weights, feats_out, feats_hq):
        if w:
            # $\ell_p = \sum_m \frac{w_m s^2}{C_m H_m W_m}\|\Psi_m(\hat{I}^h) - \Psi_m(I^h)\|_2^2$
            loss = loss + w * F.mse_loss(f_out.float() * scale, f_hq.float() * scale)
    return loss


class PatchDiscriminator(nn.Sequential):
    """One spectral-norm conv discriminator: `depth` stride-2 convs, then a 3x3 conv to a logit map (Sec. 3.4)."""

    def __init__(self, width: int = 64, depth: int = 3, slope: float = 0.2):
        layers: list[nn.Module] = []
        c_in = 3
        for i in range(depth):
            c_out = width * 2 ** min(i, 3)
            layers += [spectral_norm(nn.Conv2d(c_in, c_out, 4, 2, 1)), nn.LeakyReLU(slope)]
            c_in = c_out
        layers.append(spectral_norm(nn.Conv2d(c_in, 1, 3, 1, 1)))
        super().__init__(*layers)


class MultiScaleDiscriminator(nn.Module):
    """Discriminators on the image resized to each side in `sizes`, one logit map per scale (Sec. 3.4; Notebook 08)."""

    def __init__(self, sizes: Sequence[int] = (512, 256, 128, 64), width: int = 64, depth: int = 3,
                 slope: float = 0.2):
        super().__init__()
        if any(s % 2 ** depth for s in sizes):
            raise ValueError(f"every discriminator size must be a multiple of 2**depth = {2 ** depth}, got {sizes}")
        self.sizes = tuple(sizes)
        self.nets = nn.ModuleList(PatchDiscriminator(width, depth, slope) for _ in self.sizes)

    @classmethod
    def from_config(cls, config: LossConfig) -> "MultiScaleDiscriminator":
        return cls(config.disc_sizes, config.disc_width, config.disc_depth, config.slope)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[(B, 1, s / 2**depth, s / 2**depth) for s in sizes] for x (B, 3, H, W) in [-1, 1]."""
        outs = []
        for size, net in zip(self.sizes, self.nets):
            # $I_{\downarrow s}$: the image at side s (bilinear with antialias; ours)
            outs.append(net(resize(x, size)))  # $D_r(I_{\downarrow s})$
        return outs


def hinge_d(real_logits: Sequence[torch.Tensor], fake_logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """SN-GAN hinge loss of the discriminators on given logits, summed over scales (Sec. 3.4)."""
    loss = real_logits[0].new_zeros(())
    for d_real, d_fake in zip(real_logits, fake_logits, strict=True):
        # $\ell_{D} = \sum_r \mathbb{E}[\max(0, 1 - D_r(I^h))] + \mathbb{E}[\max(0, 1 + D_r(\hat{I}^h))]$
        loss = loss + F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
    return loss


def hinge_g(fake_logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """SN-GAN hinge loss of the generator on given logits, summed over scales (Sec. 3.4)."""
    # $\ell_{G} = -\sum_r \mathbb{E}[D_r(\hat{I}^h)]$
    return -sum(d_fake.mean() for d_fake in fake_logits)


def discriminator_loss(d: Callable[[torch.Tensor], Sequence[torch.Tensor]], real: torch.Tensor,
                       fake: torch.Tensor) -> torch.Tensor:
    """Discriminator step of Sec. 3.4 (hinge): `fake` is detached, so no gradient reaches the generator."""
    return hinge_d(d(real), d(fake.detach()))


def generator_adv_loss(d: Callable[[torch.Tensor], Sequence[torch.Tensor]], fake: torch.Tensor) -> torch.Tensor:
    """Generator's adversarial term of Sec. 3.4 (hinge): -sum_r E[D_r(fake)]."""
    return hinge_g(d(fake))


@dataclass
class LossTerms:
    """Every unweighted term and the weighted total of one generator step, for logging (Notebook 08)."""

    pixel: torch.Tensor
    perceptual: torch.Tensor
    adversarial: torch.Tensor
    total: torch.Tensor

    def as_dict(self) -> dict[str, float]:
        """Python floats keyed by term name, ready for a logger."""
        return {f.name: float(getattr(self, f.name).detach()) for f in fields(self)}


class GeneratorLoss:
    """The generator objective of Sec. 3.4: λ_l2 pixel + λ_p perceptual + λ_a adversarial (Notebook 08).

    A plain callable, not an nn.Module, so the encoder and discriminator never show up in the
    generator's parameters. Freeze the discriminator (or zero its grads) around the generator step.
    """

    def __init__(self, config: LossConfig, encoder: nn.Module, discriminator: "nn.Module | None" = None):
        if config.gan_type != "hinge":
            raise ValueError(f"only the SN-GAN hinge loss is implemented, got gan_type={config.gan_type!r}")
        self.config = config
        self.encoder = encoder
        self.discriminator = discriminator

    def __call__(self, out: torch.Tensor, hq: torch.Tensor) -> LossTerms:
        cfg = self.config
        pixel = pixel_loss(out, hq)
        if cfg.lambda_p:
            # a smaller perceptual_size gives a cheaper term on the downsampled pair
            out_p, hq_p = resize(out, cfg.perceptual_size), resize(hq, cfg.perceptual_size)
            perceptual = perceptual_loss(self.encoder, out_p, hq_p, cfg.perceptual_weights, cfg.feature_scale)
        else:  # a zero weight skips the encoder passes altogether
            perceptual = out.new_zeros(())
        if self.discriminator is not None and cfg.lambda_a:
            adversarial = generator_adv_loss(self.discriminator, out)
        else:
            adversarial = out.new_zeros(())
        # $\ell_G = \lambda_{l2}\ell_{l2} + \lambda_p\ell_p + \lambda_a\ell_{a,G}$
        total = cfg.lambda_l2 * pixel + cfg.lambda_p * perceptual + cfg.lambda_a * adversarial
        return LossTerms(pixel=pixel, perceptual=perceptual, adversarial=adversarial, total=total)

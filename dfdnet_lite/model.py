"""The DFDNet generator: VGG encoder, four DFT blocks, MSDilate + SFT decoder (Sec. 3, Fig. 2; Notebook 07).

Layer for layer the official `UNetDictFace` (csxmli2016/DFDNet, models/networks.py), written
for batches: every item uses its own boxes and batching never changes a result. Spectral norm
(`SNConv2d`) repeats `torch.nn.utils.spectral_norm`, which the official code imports: the state
is `weight_orig` / `weight_u` / `weight_v` and train mode runs one power iteration per call.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import dft
from .config import CHANNELS, FACE_SIZE, PARTS, SCALES, entry_shape
from .encoder import VGGEncoder


def to_net_range(images, device=None) -> torch.Tensor:
    """(B, H, W, 3) uint8 images (an array or a list) as the net's input: (B, 3, H, W) float in [-1, 1] on `device`."""
    return torch.from_numpy(np.stack(images)).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1


def from_net_range(x: torch.Tensor) -> np.ndarray:
    """The inverse of `to_net_range`: (B, 3, H, W) in [-1, 1] (clamped) as (B, H, W, 3) uint8, rounded."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


@dataclass
class DFDNetConfig:
    """Generator settings; defaults are the official values, switches give the paper's ablations (Sec. 4.3; Notebook 07)."""

    ngf: int = 64  # decoder width: channels ngf*8, *4, *2, *1 at scales 64, 128, 256, 512
    crop_mode: str = "official"  # "official" integer crops or "roi_align" (see dft.py)
    use_dictionary: bool = True  # False: the decoder reads the raw VGG features (no DFT blocks)
    use_cadain: bool = True  # False: match and swap the raw dictionary entries
    use_confidence: bool = True  # False: confidence fixed to 1 (output = crop + swapped entry)
    dilations: tuple[int, ...] = (4, 3, 2, 1)  # the MSDilate block's four branches
    slope: float = 0.2  # LeakyReLU negative slope everywhere
    # ours, not the paper's: predict a correction added to the input (head without tanh, last conv zero, so a new
    # net returns its input; output clamped to [-1, 1]). Off for the official and `paper` networks; `medium` uses it
    residual: bool = False
    vgg_weights: "str | None | bool" = None  # encoder weights: vgg19.pth path, None = first found, False = random


@dataclass
class PartRecord:
    """What one DFT stage did for one part at one scale (Notebook 07)."""

    crop: torch.Tensor  # (B, C, s, s) part features at dictionary size
    index: torch.Tensor  # (B,) chosen dictionary entry
    scores: torch.Tensor  # (B, K) softmax matching scores
    confidence: "torch.Tensor | None"  # (B, C, h, w) learned confidence (crop size, zero-padded in official mode)
    box: torch.Tensor  # (B, 4) box in feature pixels (int64 official, float roi_align)


@dataclass
class Record:
    """Every stage of one forward pass, read by plots and widgets instead of recomputing (Notebook 07)."""

    features: list[torch.Tensor]  # encoder features at scales 256, 128, 64, 32
    updated: list[torch.Tensor] = field(default_factory=list)  # the same after their DFT block (what SFT reads)
    parts: dict[tuple[str, int], PartRecord] = field(default_factory=dict)  # keyed by (part, scale)


class SNConv2d(nn.Conv2d):
    """Conv2d under spectral norm with the state and maths of torch.nn.utils.spectral_norm (Sec. 3.4; Notebook 07).

    Stored as weight_orig (parameter), weight_u, weight_v (buffers); train mode runs one power
    iteration per call, eval mode uses the stored u, v. Ours only to cache W / sigma (and its
    autocast copy) between no-grad eval calls instead of recomputing ~100M weights per call.
    """

    def __init__(self, *args, eps: float = 1e-12, **kwargs):
        super().__init__(*args, **kwargs)
        weight = self.weight.detach()
        del self.weight
        self.weight_orig = nn.Parameter(weight)
        self.eps = eps
        rows = weight.shape[0]
        self.register_buffer("weight_u", F.normalize(weight.new_empty(rows).normal_(0, 1), dim=0, eps=eps))
        self.register_buffer("weight_v", F.normalize(weight.new_empty(weight[0].numel()).normal_(0, 1), dim=0, eps=eps))
        self._cache: dict = {}

    def power_iteration(self, steps: int = 1) -> None:
        """Update u, v in place: v = W^T u / |W^T u|, u = W v / |W v|."""
        with torch.no_grad():
            mat = self.weight_orig.reshape(self.weight_orig.shape[0], -1)
            for _ in range(steps):
                F.normalize(torch.mv(mat.t(), self.weight_u), dim=0, eps=self.eps, out=self.weight_v)
                F.normalize(torch.mv(mat, self.weight_v), dim=0, eps=self.eps, out=self.weight_u)

    def sn_weight(self) -> torch.Tensor:
        """The normalised kernel W / sigma(W)."""
        u, v = self.weight_u, self.weight_v
        if self.training:
            self.power_iteration(1)
            u, v = u.clone(memory_format=torch.contiguous_format), v.clone(memory_format=torch.contiguous_format)
        # $\sigma(W) = u^\top W v$, $\bar{W} = W / \sigma(W)$
        sigma = torch.dot(u, torch.mv(self.weight_orig.reshape(self.weight_orig.shape[0], -1), v))
        return self.weight_orig / sigma

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training or torch.is_grad_enabled():
            self._cache = {}
            return self._conv_forward(x, self.sn_weight(), self.bias)
        dtype = torch.get_autocast_dtype(x.device.type) if torch.is_autocast_enabled(x.device.type) else None
        key = (self.weight_orig._version, self.weight_u._version, self.weight_v._version,
               self.weight_orig.data_ptr(), self.weight_u.data_ptr(), dtype)
        if self._cache.get("key") != key:
            weight = self.sn_weight()
            self._cache = {"key": key, "weight": weight if dtype is None else weight.to(dtype)}
        return self._conv_forward(x, self._cache["weight"], self.bias)


def sn_conv(c_in: int, c_out: int, dilation: int = 1) -> nn.Module:
    """3x3 convolution ("same" padding) under spectral norm (Sec. 3.4; Notebook 07)."""
    return SNConv2d(c_in, c_out, 3, 1, padding=dilation, dilation=dilation)


def power_iterate(net: nn.Module, steps: int = 20) -> nn.Module:
    """Run `steps` spectral-norm power iterations on every SN conv, so eval mode uses a converged sigma (Notebook 07)."""
    for module in net.modules():
        if isinstance(module, SNConv2d):
            module.power_iteration(steps)
    return net


def attention_block(channels: int, slope: float = 0.2) -> nn.Sequential:
    """Confidence network of one part at one scale: SN conv, LeakyReLU, SN conv (Sec. 3.3; Notebook 07)."""
    return nn.Sequential(sn_conv(channels, channels), nn.LeakyReLU(slope), sn_conv(channels, channels))


class MSDilateBlock(nn.Module):
    """Four dilated SN conv pairs, concatenated, fused and added back (Sec. 3.4; Notebook 07)."""

    def __init__(self, channels: int, dilations=(4, 3, 2, 1), slope: float = 0.2):
        super().__init__()
        for i, d in enumerate(dilations, start=1):
            setattr(self, f"conv{i}", nn.Sequential(sn_conv(channels, channels, d), nn.LeakyReLU(slope),
                                                    sn_conv(channels, channels, d)))
        self.branches = len(dilations)
        self.fuse = sn_conv(channels * len(dilations), channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cat = torch.cat([getattr(self, f"conv{i}")(x) for i in range(1, self.branches + 1)], dim=1)
        return self.fuse(cat) + x


class Blur(nn.Module):
    """Fixed depthwise [1 2 1] x [1 2 1] / 16 blur, zero padding."""

    def __init__(self, channels: int):
        super().__init__()
        k = torch.tensor([1.0, 2.0, 1.0])
        kernel = (k[:, None] * k[None, :]) / 16
        self.register_buffer("kernel", kernel.expand(channels, 1, 3, 3).contiguous(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.kernel.to(x.dtype), padding=1, groups=x.shape[1])


class StyledUpBlock(nn.Module):
    """Blur-conv, spatial feature transform by the restored features, x2 upsample-conv (Sec. 3.4 SFT; Notebook 07)."""

    def __init__(self, c_in: int, c_out: int, c_style: int, slope: float = 0.2):
        super().__init__()
        self.blur = Blur(c_in)
        self.conv = sn_conv(c_in, c_out)
        self.up_conv = sn_conv(c_out, c_out)
        self.scale = nn.Sequential(sn_conv(c_style, c_out), nn.LeakyReLU(slope), sn_conv(c_out, c_out))
        self.shift = nn.Sequential(sn_conv(c_style, c_out), nn.LeakyReLU(slope), sn_conv(c_out, c_out), nn.Sigmoid())
        self.slope = slope

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        # the official block applies LeakyReLU twice here (inside conv1 and as lrelu1)
        out = F.leaky_relu(F.leaky_relu(self.conv(self.blur(x)), self.slope), self.slope)
        # $\mathrm{SFT}(x \mid F) = x \odot \gamma(F) + \beta(F)$
        out = out * self.scale(style) + self.shift(style)
        out = F.interpolate(out, scale_factor=2, mode="bilinear", align_corners=False)
        return F.leaky_relu(self.up_conv(out), self.slope)


class UpResBlock(nn.Module):
    """Plain residual block x + conv(LeakyReLU(conv(x))) of the output head."""

    def __init__(self, channels: int, slope: float = 0.2):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1), nn.LeakyReLU(slope),
                                  nn.Conv2d(channels, channels, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class DFDNet(nn.Module):
    """The generator: restored 512 face in [-1, 1] from a degraded one and its part boxes (Sec. 3; Notebook 07)."""

    def __init__(self, config: "DFDNetConfig | None" = None, dictionary=None):
        """`dictionary`: a ComponentDictionary or a mapping (part, scale) -> (K, C, s, s); needed when use_dictionary."""
        super().__init__()
        self.config = cfg = config or DFDNetConfig()
        if cfg.crop_mode not in dft.MODES:
            raise ValueError(f"crop_mode must be one of {dft.MODES}, got {cfg.crop_mode!r}")
        self.encoder = VGGEncoder(cfg.vgg_weights)
        if cfg.use_dictionary:
            self.confidence = nn.ModuleDict({f"{p}_{s}": attention_block(CHANNELS[s], cfg.slope)
                                             for s in SCALES for p in PARTS})
        self.ms_dilate = MSDilateBlock(CHANNELS[32], cfg.dilations, cfg.slope)
        widths = [cfg.ngf * m for m in (8, 4, 2, 1)]  # outputs of up.0 .. up.3
        ins = [CHANNELS[32]] + widths[:-1]
        styles = [CHANNELS[s] for s in reversed(SCALES)]  # 512 @32, 512 @64, 256 @128, 128 @256
        self.up = nn.ModuleList(StyledUpBlock(i, o, st, cfg.slope) for i, o, st in zip(ins, widths, styles))
        last = nn.Conv2d(cfg.ngf, 3, 3, 1, 1)
        if cfg.residual:  # start as the identity: the first steps refine the input instead of drawing it from scratch
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        self.head = nn.Sequential(sn_conv(cfg.ngf, cfg.ngf), nn.LeakyReLU(cfg.slope), UpResBlock(cfg.ngf, cfg.slope),
                                  UpResBlock(cfg.ngf, cfg.slope), last, *([] if cfg.residual else [nn.Tanh()]))
        if cfg.use_dictionary and dictionary is not None:
            self.set_dictionary(dictionary)
        # fresh u, v are random (the official init too): converge them so a new net is usable in eval mode
        power_iterate(self, steps=10)

    def set_dictionary(self, dictionary) -> None:
        """Register the 16 dictionaries as non-trainable, non-persistent buffers (CAdaIN's entry half precomputed)."""
        entries = getattr(dictionary, "entries", dictionary)
        for part in PARTS:
            for scale in SCALES:
                if (part, scale) not in entries:
                    raise ValueError(f"the dictionary has no entries for {part} at scale {scale}")
                d = torch.as_tensor(entries[(part, scale)]).float()
                if d.dim() != 4 or tuple(d.shape[1:]) != entry_shape(part, scale):
                    raise ValueError(f"dictionary entry shape mismatch for {part}@{scale}: expected "
                                     f"(K, {', '.join(map(str, entry_shape(part, scale)))}), got {tuple(d.shape)}")
                # entries enter the match only through their normalised form (see dft.cadain)
                d = dft.normalise_entries(d) if self.config.use_cadain else d
                self.register_buffer(f"dict_{part}_{scale}", d.contiguous(), persistent=False)

    def check_inputs(self, lq: torch.Tensor, boxes) -> torch.Tensor:
        """Clear errors for a wrong image or box shape; returns the boxes as float (B, 4, 4)."""
        if not isinstance(lq, torch.Tensor) or lq.dim() != 4 or lq.shape[1:] != (3, FACE_SIZE, FACE_SIZE):
            shape = tuple(lq.shape) if isinstance(lq, torch.Tensor) else type(lq).__name__
            raise ValueError(f"lq must be a (B, 3, {FACE_SIZE}, {FACE_SIZE}) RGB batch in [-1, 1], got {shape}")
        if self.config.use_dictionary and not hasattr(self, f"dict_{PARTS[0]}_{SCALES[0]}"):
            raise RuntimeError("no dictionary loaded: pass one to DFDNet(...) or call set_dictionary()")
        return dft.check_boxes(boxes, batch=lq.shape[0]).to(lq.device)

    def _swap(self, crop: torch.Tensor, part: str, scale: int) -> tuple[dft.Match, torch.Tensor]:
        """Feature match against the CAdaIN-normalised dictionary and the chosen entry, fp32 (Eq. 1-2)."""
        entries = getattr(self, f"dict_{part}_{scale}")
        with torch.autocast(crop.device.type, enabled=False):
            crop = crop.float()
            if not self.config.use_cadain:
                match = dft.feature_match(crop, entries)
                return match, entries[match.index]
            mean, std = dft.channel_stats(crop)  # (B, C, 1, 1)
            # <F, sigma_F * Dhat_k + mu_F> = <sigma_F * F, Dhat_k> + (a constant over k): same softmax, no (B, K, ...) copy
            match = dft.feature_match(crop * std, entries)
            return match, entries[match.index] * std + mean  # = dft.cadain(D, crop)[b, index_b]

    def dft_block(self, feature: torch.Tensor, boxes: torch.Tensor, scale: int, record: "Record | None") -> torch.Tensor:
        """One DFT block at one scale: crop, CAdaIN + match, confidence, paste back (Sec. 3.2-3.3; Notebook 07)."""
        mode = self.config.crop_mode
        crops = dft.crop_parts(feature, boxes, scale, mode)  # part -> (B, C, s, s)
        fb = dft.feature_boxes(boxes, scale, mode)
        restored = {}
        for p, part in enumerate(PARTS):
            match, swap = self._swap(crops[part], part, scale)
            if mode == "official":  # the confidence runs on the integer slice; the entry is resized to it
                region, mask = dft.crop_regions(feature, fb[:, p])
                swap = dft.resize_entries(swap.to(region.dtype), fb[:, p], region)
            else:
                region, mask, swap = crops[part], None, swap.to(crops[part].dtype)
            if self.config.use_confidence:
                restored[part], attention = dft.confidence(self.confidence[f"{part}_{scale}"], swap, region, mask)
            else:
                restored[part], attention = region + swap, None
            if record is not None:
                record.parts[(part, scale)] = PartRecord(crops[part].detach(), match.index, match.scores.detach(),
                                                         None if attention is None else attention.detach(), fb[:, p])
        return dft.reverse_roi(feature, restored, boxes, scale, mode)

    def forward(self, lq: torch.Tensor, boxes, return_record: bool = False):
        """Restored faces (B, 3, 512, 512) in [-1, 1]; with return_record also a Record of every stage."""
        boxes = self.check_inputs(lq, boxes)
        feats = self.encoder(lq)  # [(B,128,256,256), (B,256,128,128), (B,512,64,64), (B,512,32,32)]
        record = Record(features=[f.detach() for f in feats]) if return_record else None
        updated = feats
        if self.config.use_dictionary:
            updated = [self.dft_block(f, boxes, s, record) for f, s in zip(feats, SCALES)]
        if record is not None:
            record.updated = [u.detach() for u in updated]
        x = self.ms_dilate(feats[3])  # reads the 32-px features before their DFT update, as the official code
        for up, style in zip(self.up, reversed(updated)):  # 32 -> 64 -> 128 -> 256 -> 512
            x = up(x, style)
        out = self.head(x)  # (B, 3, 512, 512)
        if self.config.residual:
            out = (lq + out).clamp(-1.0, 1.0)
        return (out, record) if return_record else out

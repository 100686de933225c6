"""The degradation model y = JPEG_q((x ⊛ k)↓s + n_δ)↑s that makes low-quality training and test faces.

Paper: Li et al., ECCV 2020, Sec. 4 ("following GFRNet", Li et al., ECCV 2018); Notebook 03.
Every number below comes from one of two sources, named next to it:

* the official training code, csxmli2016/DFDNet `data/aligned_dataset.py` (the `mixed` preset):
  ColorJitter(0.3, 0.3, 0.3, 0) -> blur with p = 0.9 (Gaussian in 65 %: odd kernel 2*randint(1,17)+1
  = 3..35 px, sigma randint(3,20)/10 = 0.3..2.0; motion in 35 %: one of 32 recorded kernels,
  7x7 to 35x35) -> bicubic downsample with p = 0.95 by randint(20,100)/10 = x2.0..x10.0 -> Gaussian
  noise with p = 0.9, sigma randint(1,10) on 0-255 -> JPEG with p = 0.6, quality randint(40,80) ->
  bicubic upsample back to the input size. (The code comment says kernels 3..15; the code draws 3..35.)
* our fixed evaluation presets `x4` and `x8`: the paper reports x4 and x8 test sets degraded as in
  GFRNet but its exact blur/noise/JPEG values could not be checked offline, so we fix every random
  factor at one moderate value inside the official training ranges (Gaussian sigma 1.5 with an
  11 px kernel = 2*ceil(3 sigma)+1, noise sigma 5, JPEG quality 60, no colour jitter) and change
  only the scale (x4 or x8), so x4 and x8 differ in the scale alone. The noise field is still
  drawn, from the seed.

Deliberate differences from the official code, each a bug fix that changes values by < 1 grey level
on average: noise is rounded (the official `np.uint8` truncates, a -0.5 bias); JPEG is encoded from
BGR (the official passes RGB to `cv2.imencode`, which swaps the chroma planes). JPEG uses OpenCV
(`cv2.imencode`, libjpeg 4:2:0), resizing uses Pillow's antialiased bicubic, as the official code.

Motion blur: the 32 official kernels (`m_01.mat` ... `m_32.mat`, CC BY-NC-SA 4.0, never shipped with
this kit) are used when a folder holding them is given (`DegradeConfig.motion_kernel_dir` or
$DFDNET_MOTION_KERNELS); otherwise `random_motion_kernel` draws a camera-shake trajectory of the same
sizes (7..35 px), so results with and without the official kernels differ in the motion-blur cases.
"""
from __future__ import annotations

import functools
import os
import secrets
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

#: Steps of the model, in the order they are applied.
STEPS: tuple[str, ...] = ("jitter", "blur", "down", "noise", "jpeg", "up")


@dataclass(frozen=True)
class DegradeConfig:
    """Ranges of the degradation model; defaults = official training distribution (Sec. 4; Notebook 03)."""

    jitter: float = 0.3  # ColorJitter(brightness=contrast=saturation=jitter, hue=0); 0 turns it off
    p_blur: float = 0.9
    p_gaussian: float = 0.65  # share of Gaussian among blurred images; the rest is motion blur
    blur_ksize: tuple[int, int] = (3, 35)  # odd Gaussian kernel side, 2*randint(1,17)+1
    blur_sigma: tuple[float, float] = (0.3, 2.0)  # Gaussian sigma on a 0.1 grid, randint(3,20)/10
    motion_ksize: tuple[int, int] = (7, 35)  # odd side of a generated motion kernel
    p_down: float = 0.95
    scale: tuple[float, float] = (2.0, 10.0)  # downsampling factor on a 0.1 grid, randint(20,100)/10
    p_noise: float = 0.9
    noise_sigma: tuple[int, int] = (1, 10)  # on 0-255, integers
    p_jpeg: float = 0.6
    jpeg_quality: tuple[int, int] = (40, 80)
    motion_kernel_dir: "str | None" = None  # folder with the official m_XX.mat kernels


def _fixed(scale: float) -> DegradeConfig:
    """A fixed evaluation preset: every step applied with one value inside the official ranges."""
    return DegradeConfig(jitter=0.0, p_blur=1.0, p_gaussian=1.0, blur_ksize=(11, 11), blur_sigma=(1.5, 1.5),
                         p_down=1.0, scale=(scale, scale), p_noise=1.0, noise_sigma=(5, 5),
                         p_jpeg=1.0, jpeg_quality=(60, 60))


#: Named presets: `x4`/`x8` fixed for evaluation, `mixed` = the official training distribution.
PRESETS: dict[str, DegradeConfig] = {"x4": _fixed(4.0), "x8": _fixed(8.0), "mixed": DegradeConfig()}


@dataclass
class DegradeParams:
    """What one call of the degradation model drew and applied (Sec. 4; Notebook 03)."""

    seed: int
    preset: str
    size: tuple[int, int]  # (H, W) of the input and of the output
    applied: tuple[str, ...] = ()  # names from STEPS, in order
    jitter: tuple[float, float, float] = (1.0, 1.0, 1.0)  # brightness, contrast, saturation factors
    jitter_order: tuple[str, ...] = ()
    blur: str = "none"  # "gaussian", "motion" or "none"
    blur_ksize: int = 0
    blur_sigma: float = 0.0  # Gaussian only
    motion_source: str = ""  # "generated" or the official file name, e.g. "m_05.mat"
    scale: float = 1.0
    low_res: tuple[int, int] = (0, 0)  # (h, w) after downsampling; equals `size` when not downsampled
    noise_sigma: float = 0.0
    jpeg_quality: int = 0
    kernel: "np.ndarray | None" = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """JSON-ready dict of every field except the kernel array."""
        out = asdict(replace(self, kernel=None))
        out.pop("kernel")
        return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def _grid(rng: np.random.Generator, lo: float, hi: float, step: float) -> float:
    """A value drawn uniformly from lo, lo+step, ..., hi (inclusive), like randint(a, b) * step."""
    n = int(round((hi - lo) / step))
    return round(lo + step * int(rng.integers(0, n + 1)), 6)


def _odd(rng: np.random.Generator, lo: int, hi: int) -> int:
    """An odd integer drawn uniformly from [lo, hi]."""
    return 2 * int(rng.integers(lo // 2, hi // 2 + 1)) + 1


def random_motion_kernel(size: int, rng: np.random.Generator, steps: int = 64) -> np.ndarray:
    """A camera-shake kernel: a random walk with inertia drawn on a size x size grid, sum 1 (Notebook 03)."""
    # velocity v_t = 0.9 v_{t-1} + a_t: a smooth curve whose direction drifts
    v = np.array([np.cos(a := rng.uniform(0, 2 * np.pi)), np.sin(a)])
    acc = rng.normal(0.0, 0.35, size=(steps, 2))
    pts = np.empty((steps, 2))
    pos = np.zeros(2)
    for t in range(steps):
        v = 0.9 * v + acc[t]
        pos = pos + v / (np.linalg.norm(v) + 1e-8)
        pts[t] = pos
    pts -= pts.mean(axis=0)  # centroid at the kernel centre: the blur does not shift the face
    pts *= (size - 1) / 2 * rng.uniform(0.6, 1.0) / max(np.abs(pts).max(), 1e-8)
    pts += (size - 1) / 2
    kernel = np.zeros((size, size), np.float64)
    x0, y0 = np.floor(pts[:, 0]).astype(int), np.floor(pts[:, 1]).astype(int)
    fx, fy = pts[:, 0] - x0, pts[:, 1] - y0
    for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(kernel, (np.clip(y0 + dy, 0, size - 1), np.clip(x0 + dx, 0, size - 1)), w)
    return (kernel / kernel.sum()).astype(np.float32)


@functools.lru_cache(maxsize=4)
def load_motion_kernels(folder: str) -> tuple[tuple[str, np.ndarray], ...]:
    """The official m_XX.mat kernels of `folder` as (name, kernel / sum) pairs, sorted by name."""
    from scipy.io import loadmat

    files = sorted(Path(folder).glob("m_*.mat"))
    if not files:
        raise FileNotFoundError(f"{folder}: no motion blur kernels m_XX.mat in this folder")
    return tuple((f.name, (k := loadmat(f)["kernel"].astype(np.float32)) / k.sum()) for f in files)


def _motion_dir(config: DegradeConfig) -> "str | None":
    """The folder of official motion kernels, from the config or $DFDNET_MOTION_KERNELS, if any."""
    return config.motion_kernel_dir or os.environ.get("DFDNET_MOTION_KERNELS") or None


def _sample_blur(p: DegradeParams, config: DegradeConfig, rng: np.random.Generator) -> None:
    """Draw the blur kernel: Gaussian (size, sigma) or motion (official file or generated)."""
    if rng.random() < config.p_gaussian:
        p.blur, p.blur_ksize = "gaussian", _odd(rng, *config.blur_ksize)
        p.blur_sigma = _grid(rng, *config.blur_sigma, 0.1)
        return
    p.blur = "motion"
    folder = _motion_dir(config)
    if folder:
        kernels = load_motion_kernels(str(folder))
        p.motion_source, p.kernel = kernels[int(rng.integers(len(kernels)))]
    else:
        p.motion_source, p.kernel = "generated", random_motion_kernel(_odd(rng, *config.motion_ksize), rng)
    p.blur_ksize = int(p.kernel.shape[0])


def sample_params(config: DegradeConfig, size: tuple[int, int], rng: np.random.Generator,
                  seed: int = 0, preset: str = "custom") -> DegradeParams:
    """Draw every random factor of the model for an H x W image, in the official order (Sec. 4; Notebook 03)."""
    p = DegradeParams(seed=seed, preset=preset, size=tuple(size))
    applied = []
    if config.jitter > 0:  # ColorJitter: factors uniform in [1 - j, 1 + j], applied in a random order
        p.jitter = tuple(round(float(f), 4) for f in rng.uniform(1 - config.jitter, 1 + config.jitter, 3))
        p.jitter_order = tuple(str(n) for n in np.array(["brightness", "contrast", "saturation"])[rng.permutation(3)])
        applied.append("jitter")
    if rng.random() < config.p_blur:
        _sample_blur(p, config, rng)
        applied.append("blur")
    p.low_res = tuple(size)
    if rng.random() < config.p_down:
        p.scale = _grid(rng, *config.scale, 0.1)
        p.low_res = (max(int(size[0] / p.scale), 1), max(int(size[1] / p.scale), 1))
        applied.append("down")
    if rng.random() < config.p_noise:
        p.noise_sigma = float(rng.integers(config.noise_sigma[0], config.noise_sigma[1] + 1))
        applied.append("noise")
    if rng.random() < config.p_jpeg:
        p.jpeg_quality = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
        applied.append("jpeg")
    p.applied = (*applied, "up")
    return p


def color_jitter(image: np.ndarray, factors: tuple[float, float, float], order: tuple[str, ...]) -> np.ndarray:
    """Brightness/contrast/saturation with Pillow's ImageEnhance, as torchvision's ColorJitter on PIL images."""
    from PIL import Image, ImageEnhance

    enhancers = {"brightness": ImageEnhance.Brightness, "contrast": ImageEnhance.Contrast,
                 "saturation": ImageEnhance.Color}
    img = Image.fromarray(image)
    values = dict(zip(("brightness", "contrast", "saturation"), factors))
    for name in order:
        img = enhancers[name](img).enhance(values[name])
    return np.asarray(img, dtype=np.uint8).copy()


def blur(image: np.ndarray, params: DegradeParams) -> np.ndarray:
    """x ⊛ k: cv2.GaussianBlur or cv2.filter2D with the drawn kernel (reflect-101 borders)."""
    import cv2

    if params.blur == "gaussian":
        return cv2.GaussianBlur(image, (params.blur_ksize, params.blur_ksize), params.blur_sigma)
    if params.blur == "motion":
        return cv2.filter2D(image, -1, params.kernel)
    return image


def resize_bicubic(image: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Pillow's bicubic resize (antialiased when shrinking) to (h, w), as the official code."""
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((hw[1], hw[0]), Image.BICUBIC), dtype=np.uint8).copy()


def add_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """+ n_δ: white Gaussian noise of std `sigma` (0-255 scale), rounded and clipped to uint8."""
    noisy = image.astype(np.float32) + rng.standard_normal(image.shape, dtype=np.float32) * np.float32(sigma)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """JPEG_q: encode and decode with OpenCV at `quality` (RGB in, RGB out)."""
    import cv2

    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("OpenCV could not JPEG-encode the image")
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def apply_params(image: np.ndarray, params: DegradeParams, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Run the drawn model on an image: returns (target, lq); target is the jittered HQ (Sec. 4; Notebook 03)."""
    x = image
    if "jitter" in params.applied:
        x = color_jitter(x, params.jitter, params.jitter_order)
    target = x
    if "blur" in params.applied:
        x = blur(x, params)  # x ⊛ k
    if "down" in params.applied:
        x = resize_bicubic(x, params.low_res)  # ↓s
    if "noise" in params.applied:
        x = add_noise(x, params.noise_sigma, rng)  # + n_δ
    if "jpeg" in params.applied:
        x = jpeg(x, params.jpeg_quality)  # JPEG_q
    lq = resize_bicubic(x, params.size)  # bicubic back to the input size, as the official code
    return target, lq


def resolve_preset(preset: "str | DegradeConfig") -> tuple[str, DegradeConfig]:
    """(name, config) for a preset name or a DegradeConfig; unknown names raise a ValueError listing them."""
    if isinstance(preset, DegradeConfig):
        return "custom", preset
    if preset not in PRESETS:
        raise ValueError(f"unknown degradation preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return preset, PRESETS[preset]


def _check_image(image: np.ndarray) -> None:
    """Raise a ValueError unless `image` is H x W x 3 uint8."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ValueError(f"degrade expects an H x W x 3 uint8 RGB array, got {got}")


def degrade_pair(image: np.ndarray, preset: "str | DegradeConfig" = "x4",
                 seed: "int | None" = None) -> tuple[np.ndarray, np.ndarray, DegradeParams]:
    """(target, lq, params): target = HQ after ColorJitter (official training target), lq = y (Sec. 4; Notebook 03)."""
    _check_image(image)
    name, config = resolve_preset(preset)
    seed = secrets.randbits(63) if seed is None else int(seed)
    rng = np.random.default_rng(seed)
    params = sample_params(config, image.shape[:2], rng, seed=seed, preset=name)
    target, lq = apply_params(image, params, rng)
    return target, lq, params


def degrade(image: np.ndarray, preset: "str | DegradeConfig" = "x4",
            seed: "int | None" = None) -> tuple[np.ndarray, DegradeParams]:
    """y = JPEG_q((x ⊛ k)↓s + n_δ)↑s on an H x W x 3 uint8 face; same seed, same bytes (Sec. 4; Notebook 03)."""
    _, lq, params = degrade_pair(image, preset, seed)
    return lq, params


def item_seed(seed: int, index: int, epoch: int = 0) -> int:
    """A 63-bit seed for item `index` of epoch `epoch`, derived from one base seed (stable everywhere)."""
    return int(np.random.SeedSequence([int(seed), int(epoch), int(index)]).generate_state(1, np.uint64)[0] >> 1)


def degrade_batch(images, preset: "str | DegradeConfig" = "mixed", seed: int = 0, epoch: int = 0):
    """B x 3 x H x W float [0, 1] torch batch -> (target, lq, params list), item i seeded by item_seed (Notebook 03)."""
    import torch

    B, C, H, W = images.shape
    hq = (images.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    out = [degrade_pair(np.ascontiguousarray(hq[i]), preset, item_seed(seed, i, epoch)) for i in range(B)]
    target, lq, params = zip(*out)

    def to_tensor(arrays) -> "torch.Tensor":  # B x H x W x 3 uint8 -> B x 3 x H x W float [0, 1]
        return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div(255).to(images.device)

    return to_tensor(target), to_tensor(lq), list(params)

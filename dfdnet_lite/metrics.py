"""Image-quality metrics behind one facade, each number carrying its protocol (Notebook 10).

Protocol of every function here unless stated: H x W x 3 uint8 RGB arrays (0-255), whole
image, no border crop. `psnr`/`ssim` take `channel="rgb"` (mean over R, G, B) or `"y"`
(BT.601 luma, 16-235, the convention of the super-resolution literature).

Face metrics use dlib, whose models come with the kit (face-recognition-models):
`landmark_distance` (68 points, normalised by the reference's inter-ocular distance) and
`identity_similarity` (cosine of dlib's 128-D face descriptors). The face is detected (HOG)
on the reference; the restored image uses its own detection, or the reference's box when
none is found (the Score's `note` says so). `lpips` and `fid` run only when their weights are
on disk; otherwise they raise `MetricUnavailable` with the way to get them. No value is ever
faked.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Score:
    """A metric value with the protocol that produced it, e.g. Score('psnr', 27.3, 'RGB 0-255, whole image')."""

    name: str
    value: float
    protocol: str
    note: str = ""  # what departed from the protocol for this one value, e.g. a fallback face box

    def __float__(self) -> float:
        return float(self.value)


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.dtype != np.uint8 or b.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected H x W x 3 uint8 RGB images, got {a.dtype} {a.shape} and {b.dtype} {b.shape}")


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 luma in [16, 235] as float64 (as MATLAB's rgb2ycbcr), from uint8 RGB."""
    x = img.astype(np.float64) / 255.0
    return 16.0 + 65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]


def _planes(img: np.ndarray, channel: str) -> np.ndarray:
    if channel == "rgb":
        return img.astype(np.float64)
    if channel == "y":
        return rgb_to_y(img)[..., None]
    raise ValueError(f"channel must be 'rgb' or 'y', got {channel!r}")


def psnr(restored: np.ndarray, reference: np.ndarray, channel: str = "rgb") -> Score:
    """Peak signal-to-noise ratio in dB, 10 log10(255^2 / MSE); infinite for identical images."""
    _check_pair(restored, reference)
    # $\mathrm{PSNR} = 10 \log_{10}(255^2 / \mathrm{MSE})$
    mse = np.mean((_planes(restored, channel) - _planes(reference, channel)) ** 2)
    value = float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))
    return Score("psnr", value, f"{channel.upper()} 0-255, whole image, no crop")


def ssim(restored: np.ndarray, reference: np.ndarray, channel: str = "rgb") -> Score:
    """Structural similarity (Wang et al. 2004): 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03."""
    from skimage.metrics import structural_similarity

    _check_pair(restored, reference)
    a, b = _planes(restored, channel), _planes(reference, channel)
    value = structural_similarity(a, b, data_range=255.0, channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                  use_sample_covariance=False)
    return Score("ssim", float(value), f"{channel.upper()} 0-255, Gaussian window 11 sigma 1.5, mean over channels")


class MetricUnavailable(RuntimeError):
    """A metric whose package or weights are missing here; the message says how to get them (Notebook 10)."""


# -- face metrics (dlib) --------------------------------------------------------------------


@dataclass
class FaceFit:
    """The face dlib found in one image: box, 68 points, and the 128-D descriptor once computed."""

    rect: tuple  # (x1, y1, x2, y2), inclusive as dlib
    detected: bool  # False: no face was detected, `rect` is the reference's box
    shape: object = field(repr=False)  # dlib.full_object_detection of the 68 points
    landmarks: np.ndarray = field(repr=False)  # (68, 2) float
    descriptor: "np.ndarray | None" = field(default=None, repr=False)  # (128,)


_FITS: dict = {}  # (image digest, fallback box) -> FaceFit or None; reference faces are reused across methods
_MAX_FITS = 1024
NO_FACE_NOTE = "no face detected on the restored image: its landmarks were found in the reference's face box"


def _digest(image: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest() + str(image.shape)


def face_fit(image: np.ndarray, fallback_rect: "tuple | None" = None) -> "FaceFit | None":
    """The largest face (dlib HOG) and its 68 points; with no face, the points in `fallback_rect`, or None (Notebook 10)."""
    from . import align

    key = (_digest(image), fallback_rect)
    if key not in _FITS:
        image = np.ascontiguousarray(image)
        upsample = 0 if min(image.shape[:2]) >= 256 else 1  # HOG sees faces from 56 px at upsample 0
        found = align.detect_faces(image, "hog", upsample, probe=False)
        if len(found.rects):
            rect, detected = tuple(int(v) for v in found.rects[0]), True
        else:
            rect, detected = fallback_rect, False
        fit = None
        if rect is not None:
            import dlib

            shape = align.load_model("landmarks68")(image, dlib.rectangle(*rect))
            points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)  # (68, 2)
            fit = FaceFit(rect, detected, shape, points)
        if len(_FITS) >= _MAX_FITS:
            _FITS.clear()
        _FITS[key] = fit
    return _FITS[key]


def _fit_pair(restored: np.ndarray, reference: np.ndarray) -> tuple[FaceFit, FaceFit, str]:
    """Faces of both images by the rule in the module docstring, and the note for a fallback box."""
    _check_pair(restored, reference)
    ref = face_fit(reference)
    if ref is None:
        raise ValueError("no face found in the reference image (dlib HOG detector): landmark distance and "
                         "identity similarity need a face in the reference")
    out = face_fit(restored, fallback_rect=ref.rect)
    return out, ref, "" if out.detected else NO_FACE_NOTE


def landmark_distance(restored: np.ndarray, reference: np.ndarray) -> Score:
    """Mean 68-point error over the reference's inter-ocular distance (points 36, 45); lower is better (Notebook 10)."""
    out, ref, note = _fit_pair(restored, reference)
    iod = float(np.linalg.norm(ref.landmarks[36] - ref.landmarks[45]))
    # $d = \frac{1}{68} \sum_i \lVert p_i - q_i \rVert_2 \,/\, \lVert q_{36} - q_{45} \rVert_2$
    value = float(np.linalg.norm(out.landmarks - ref.landmarks, axis=1).mean() / iod)
    return Score("landmark_distance", value, "dlib 68 points (HOG box on each image, the reference's box where none "
                 "is found on the restored one); mean point distance / reference inter-ocular distance "
                 "(points 36-45, 0-based); lower is better", note)


@functools.cache
def _recognition_model():
    """dlib's face recognition ResNet (dlib_face_recognition_resnet_model_v1.dat), loaded once."""
    import dlib

    from .align import model_path

    return dlib.face_recognition_model_v1(str(model_path("face_recognition")))


def _descriptor(image: np.ndarray, fit: FaceFit) -> np.ndarray:
    if fit.descriptor is None:
        chip = _recognition_model().compute_face_descriptor(np.ascontiguousarray(image), fit.shape)
        fit.descriptor = np.asarray(chip, dtype=np.float64)  # (128,)
    return fit.descriptor


def identity_similarity(restored: np.ndarray, reference: np.ndarray) -> Score:
    """Cosine similarity of dlib's 128-D face descriptors; 1 = same descriptor, higher is better (Notebook 10)."""
    out, ref, note = _fit_pair(restored, reference)
    a, b = _descriptor(restored, out), _descriptor(reference, ref)
    # $\cos(a, b) = a \cdot b / (\lVert a \rVert \lVert b \rVert)$
    value = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return Score("identity_similarity", value, "cosine similarity of dlib's 128-D face descriptors "
                 "(dlib_face_recognition_resnet_model_v1, 150 px chip aligned from the 68 points; face boxes "
                 "as for landmark_distance); higher is better; not centred: different people score about 0.8-0.9 "
                 "on the sample faces", note)


# -- LPIPS and FID: only with their weights on disk -----------------------------------------

LPIPS_BACKBONES = {"alex": "AlexNet_Weights", "vgg": "VGG16_Weights"}  # torchvision weights enum per LPIPS net
FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                   "pt_inception-2015-12-05-6726825d.pth")
_NETS: dict = {}


def hub_checkpoint(url: str) -> Path:
    """Where torch.hub keeps the file of `url`: $TORCH_HOME/hub/checkpoints/<name> (Notebook 10)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def _missing_file(path: Path, url: str, what: str) -> str:
    return f"{what} are missing: download {url} on a machine with internet and place it at {path}"


def lpips_model(net: str = "alex"):
    """The LPIPS v0.1 model (lpips package) when it and torchvision's backbone weights are here, else MetricUnavailable."""
    import torchvision.models as tvm

    if net not in LPIPS_BACKBONES:
        raise ValueError(f"net must be one of {', '.join(LPIPS_BACKBONES)}, got {net!r}")
    url = getattr(tvm, LPIPS_BACKBONES[net]).IMAGENET1K_V1.url
    backbone = hub_checkpoint(url)
    spec = importlib.util.find_spec("lpips")
    problems = [] if spec is not None else ["the lpips package is not installed: pip install lpips"]
    if spec is not None and not (Path(spec.origin).parent / "weights" / "v0.1" / f"{net}.pth").is_file():
        problems.append(f"the installed lpips package lacks weights/v0.1/{net}.pth: pip install --force-reinstall lpips")
    if not backbone.is_file():
        problems.append(_missing_file(backbone, url, f"torchvision's {LPIPS_BACKBONES[net][:-8]} weights"))
    if problems:
        raise MetricUnavailable("LPIPS is unavailable here: " + "; ".join(problems))
    if ("lpips", net, backbone) not in _NETS:
        import lpips as lpips_package

        _NETS[("lpips", net, backbone)] = lpips_package.LPIPS(net=net, verbose=False).eval()
    return _NETS[("lpips", net, backbone)]


def lpips(restored: np.ndarray, reference: np.ndarray, net: str = "alex") -> Score:
    """LPIPS v0.1 (Zhang et al. 2018) distance, RGB scaled to [-1, 1], whole image; lower is better (Notebook 10)."""
    import torch

    from .model import to_net_range

    _check_pair(restored, reference)
    model = lpips_model(net)
    with torch.no_grad():  # each image as (1, 3, H, W) in [-1, 1]
        value = float(model(to_net_range([restored]), to_net_range([reference])).item())
    return Score("lpips", value, f"LPIPS v0.1 {net}, RGB scaled to [-1, 1], whole image; lower is better")


def inception_model():
    """The FID Inception (pytorch-fid, pool3 2048-D) when it and pt_inception-2015-12-05 are here, else MetricUnavailable."""
    weights = hub_checkpoint(FID_WEIGHTS_URL)
    problems = [] if importlib.util.find_spec("pytorch_fid") else [
        "the pytorch-fid package is not installed: pip install pytorch-fid"]
    if not weights.is_file():
        problems.append(_missing_file(weights, FID_WEIGHTS_URL, "the FID Inception weights"))
    if problems:
        raise MetricUnavailable("FID is unavailable here: " + "; ".join(problems))
    if ("fid", weights) not in _NETS:
        from pytorch_fid.inception import InceptionV3

        _NETS[("fid", weights)] = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    return _NETS[("fid", weights)]


def inception_features(images, batch_size: int = 8) -> np.ndarray:
    """Pool3 features (N, 2048) of H x W x 3 uint8 images (resized to 299 inside the FID Inception)."""
    import torch

    model = inception_model()
    feats = []
    for start in range(0, len(images), batch_size):
        x = torch.from_numpy(np.stack(images[start:start + batch_size])).permute(0, 3, 1, 2).float() / 255  # (B, 3, H, W)
        with torch.no_grad():
            feats.append(model(x)[0].flatten(1).numpy().astype(np.float64))  # (B, 2048)
    return np.concatenate(feats)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (Heusel et al. 2017)."""
    import warnings

    from scipy import linalg

    with warnings.catch_warnings():  # singular at N < D (every small set): handled below and stated in the protocol
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():  # a singular product: offset both diagonals, as pytorch-fid does
        offset = np.eye(len(sigma1)) * 1e-6
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = np.real(covmean)  # imaginary parts are numerical noise
    # $d^2 = \lVert\mu_1 - \mu_2\rVert^2 + \mathrm{Tr}(\Sigma_1 + \Sigma_2 - 2(\Sigma_1\Sigma_2)^{1/2})$
    return float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def fid_from_features(restored: np.ndarray, reference: np.ndarray) -> Score:
    """FID from two (N, D) feature sets; lower is better (Notebook 10)."""
    value = frechet_distance(restored.mean(0), np.cov(restored, rowvar=False),
                             reference.mean(0), np.cov(reference, rowvar=False))
    return Score("fid", value, f"FID, pytorch-fid Inception pool3 (2048-D, images resized to 299), {len(restored)} "
                 f"restored vs {len(reference)} reference faces; biased at small N: compare at equal N only")


def fid(restored: list, reference: list) -> Score:
    """FID between two sets of H x W x 3 uint8 images (Notebook 10)."""
    return fid_from_features(inception_features(restored), inception_features(reference))

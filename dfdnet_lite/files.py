"""Reading and writing images under the kit's bad-input rules.

Every photo enters the kit through `read_image`: it honours EXIF rotation, converts grayscale,
RGBA, palette and 16-bit images to 8-bit RGB, and turns every failure (missing file, not an
image, truncated JPEG) into one `ImageError` that names the file and the problem.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

#: File suffixes that `list_images` picks up (case-insensitive).
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


class ImageError(ValueError):
    """A photo that cannot be used, with the file and the reason in one line."""

    def __init__(self, path: "str | Path", reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def list_images(folder: "str | Path", recursive: bool = False) -> list[Path]:
    """Sorted image files of `folder` (jpg/png/webp/bmp/tif); raises if the folder is missing or has none."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    pattern = "**/*" if recursive else "*"
    paths = sorted(p for p in root.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise FileNotFoundError(f"{root}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    return paths


def _to_rgb8(img) -> np.ndarray:
    """Convert any PIL mode (L, LA, P, RGBA, I;16, I, F, CMYK) to an H x W x 3 uint8 RGB array."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        img = Image.fromarray(arr, mode="L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)  # transparent pixels become white, not black
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def read_image(path: "str | Path") -> np.ndarray:
    """Read a photo as H x W x 3 uint8 RGB, EXIF rotation applied; raise `ImageError` naming the problem."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.exists():
        raise ImageError(path, "no such file")
    if path.is_dir():
        raise ImageError(path, "is a folder, not an image")
    try:
        with Image.open(path) as img:
            img.load()  # decode now: a truncated file fails here, not later
            img = ImageOps.exif_transpose(img)
            arr = _to_rgb8(img)
    except UnidentifiedImageError:
        raise ImageError(path, "not an image file (or a format Pillow cannot read)") from None
    except (OSError, SyntaxError, ValueError) as err:
        reason = str(err) or type(err).__name__
        if "truncated" in reason.lower() or "premature end" in reason.lower():
            reason = f"truncated or corrupt image data ({reason})"
        raise ImageError(path, f"cannot decode image: {reason}") from None
    if arr.shape[0] < 8 or arr.shape[1] < 8:
        raise ImageError(path, f"image is only {arr.shape[1]}x{arr.shape[0]} pixels")
    return arr


def write_image(path: "str | Path", image: np.ndarray, quality: int = 95) -> Path:
    """Write an H x W x 3 uint8 RGB array (PNG, or JPEG at `quality`), creating the folder."""
    from PIL import Image

    path = Path(path)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"write_image expects H x W x 3 uint8 RGB, got {image.dtype} {image.shape}")
    path.parent.mkdir(parents=True, exist_ok=True)
    params = {"quality": quality} if path.suffix.lower() in (".jpg", ".jpeg") else {}
    Image.fromarray(image).save(path, **params)
    return path


def check_output_dir(out_dir: "str | Path", inputs: "list[str | Path]") -> Path:
    """Refuse an output folder that is one of the input folders (inputs are never overwritten)."""
    out = Path(out_dir).resolve()
    for item in inputs:
        src = Path(item).resolve()
        folder = src if src.is_dir() else src.parent
        if out == folder:
            raise ValueError(f"output folder {out} is the input folder: choose another -o so no input is overwritten")
    out.mkdir(parents=True, exist_ok=True)
    return out

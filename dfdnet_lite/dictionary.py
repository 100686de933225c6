"""Multi-scale component dictionaries: K feature entries per part and scale (Sec. 3.1; Notebook 06).

A `ComponentDictionary` holds, for each part in PARTS and each feature scale in SCALES, a tensor
of K entries of shape (K, C, s, s) with (C, s, s) = `config.entry_shape(part, scale)`. In the
paper the entries are K-means centres of VGG features of part crops from 10,000 FFHQ faces; K
may differ from one dictionary to the next, so nothing here assumes one K.

Two file formats:
- the official release, a folder of 16 files `{part}_{scale}_center.npy` (DictionaryCenter512/,
  CC BY-NC-SA 4.0), each (K, C*s*s) or (K, C, s, s): `load_official` / `save_official`;
- ours, one `torch.save` file of plain tensors plus a `meta` dict saying where the entries came
  from: `save` / `load` (read with weights_only=True).
"""
from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .config import PARTS, SCALES, entry_shape

FORMAT_TAG = "dfdnet-lite component dictionary"
FORMAT_VERSION = 1
DOWNLOAD_HINT = "python data_scripts/download_official.py --what dictionaries"
OFFICIAL_FOLDER = "DictionaryCenter512"
OFFICIAL_SOURCE = "official DFDNet release DictionaryCenter512 (CC BY-NC-SA 4.0)"

Key = tuple[str, int]


def official_filename(part: str, scale: int) -> str:
    """File name of one dictionary in the official release, e.g. 'nose_32_center.npy' (Notebook 06)."""
    return f"{part}_{scale}_center.npy"


def make_meta(source_faces: str, encoder_weights: str, notes: str = "", **extra) -> dict:
    """Provenance of a dictionary: faces, encoder, date and software versions (Notebook 06)."""
    from . import __version__

    return {
        "source_faces": source_faces,
        "encoder_weights": encoder_weights,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "software": f"dfdnet-lite {__version__}, torch {torch.__version__}, numpy {np.__version__}",
        "notes": notes,
        **extra,
    }


def k_table(entries: dict) -> dict[str, int]:
    """K of each dictionary as plain data for `meta`, e.g. {'nose/32': 12, ...} (Notebook 06)."""
    return {f"{part}/{scale}": int(value.shape[0]) for (part, scale), value in entries.items()}


def _to_entries(array: np.ndarray, part: str, scale: int, name: str) -> torch.Tensor:
    """Official array (K, C*s*s) or (K, C, s, s) -> float32 tensor (K, C, s, s), or a ValueError naming the dictionary."""
    shape = entry_shape(part, scale)
    if array.dtype == object:  # a pickled object array: unwrap it to numbers
        array = np.asarray(array.item() if array.ndim == 0 else array.tolist())
    size = int(np.prod(shape))
    flat_ok = array.ndim == 2 and array.shape[1] == size
    full_ok = array.ndim == 4 and tuple(array.shape[1:]) == shape
    if not (flat_ok or full_ok) or array.shape[0] < 1:
        raise ValueError(
            f"{name}: dictionary {part} at scale {scale} has shape {tuple(array.shape)}; expected "
            f"(K, {size}) or (K, {shape[0]}, {shape[1]}, {shape[2]}): K entries of shape {shape}"
        )
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).reshape(-1, *shape)


def _load_npy(path: Path, allow_pickle: bool) -> np.ndarray:
    """np.load one official file; a missing file or a pickled one fails with what to do next."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; fetch the official dictionaries with: {DOWNLOAD_HINT}")
    try:
        return np.load(path, allow_pickle=allow_pickle)
    except ValueError as err:
        if "allow_pickle" not in str(err):
            raise
        raise ValueError(
            f"{path} holds a pickled object array; if you trust it (the official code loads it "
            f"this way), call load_official(..., allow_pickle=True)"
        ) from None


def _check_plain(value, where: str) -> None:
    """Raise TypeError unless `value` is made of str/int/float/bool/None/list/tuple/dict (weights_only loads it)."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_plain(k, where)
            _check_plain(v, f"{where}[{k!r}]")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]")
    elif not (value is None or isinstance(value, (str, int, float, bool))):
        raise TypeError(f"{where} is a {type(value).__name__}; meta may hold only str, numbers, bools, None, lists and dicts")


@dataclass
class ComponentDictionary:
    """Parts x scales x K feature entries, each tensor (K, C, s, s) (Sec. 3.1; Notebook 06)."""

    entries: dict[Key, torch.Tensor]
    meta: dict = field(default_factory=dict)

    def get(self, part: str, scale: int) -> torch.Tensor:
        """Entries (K, C, s, s) of `part` at feature scale `scale` (Sec. 3.1; Notebook 06)."""
        if (part, scale) not in self.entries:
            raise KeyError(f"no dictionary for part {part!r} at scale {scale}; parts {PARTS}, scales {SCALES}")
        return self.entries[(part, scale)]

    @property
    def k(self) -> dict[Key, int]:
        """Number of entries K of each dictionary, keyed by (part, scale) (Notebook 06)."""
        return {key: int(value.shape[0]) for key, value in self.entries.items()}

    def to(self, device) -> "ComponentDictionary":
        """A copy with every entry tensor on `device` (meta is shared)."""
        return ComponentDictionary({key: value.to(device) for key, value in self.entries.items()}, self.meta)

    def validate(self) -> "ComponentDictionary":
        """Check the 16 dictionaries exist with shape (K >= 1, C, s, s), float32, finite; return self."""
        expected = {(part, scale) for part in PARTS for scale in SCALES}
        if set(self.entries) != expected:
            missing, extra = sorted(expected - set(self.entries)), sorted(set(self.entries) - expected)
            raise ValueError(f"dictionary keys differ from parts x scales: missing {missing}, unexpected {extra}")
        for (part, scale), value in self.entries.items():
            shape = entry_shape(part, scale)
            if not isinstance(value, torch.Tensor) or value.ndim != 4 or tuple(value.shape[1:]) != shape or value.shape[0] < 1:
                actual = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
                raise ValueError(f"dictionary {part} at scale {scale}: expected shape (K, {shape[0]}, {shape[1]}, {shape[2]}), got {actual}")
            if value.dtype != torch.float32:
                raise ValueError(f"dictionary {part} at scale {scale}: expected float32, got {value.dtype}")
            if not torch.isfinite(value).all():
                raise ValueError(f"dictionary {part} at scale {scale}: holds NaN or infinite values")
        return self

    def summary(self) -> list[dict]:
        """One row per dictionary: part, scale, K and entry shape (Notebook 06)."""
        return [
            {"part": part, "scale": scale, "k": int(value.shape[0]), "entry_shape": tuple(value.shape[1:])}
            for (part, scale), value in self.entries.items()
        ]

    def __repr__(self) -> str:
        ks = sorted(set(self.k.values()))
        mib = sum(v.numel() * v.element_size() for v in self.entries.values()) / 2**20
        return f"ComponentDictionary({len(self.entries)} dictionaries, K in {ks}, {mib:.1f} MiB, source: {self.meta.get('source_faces', '?')})"

    # -- the official 16-file layout -----------------------------------------------------------

    @classmethod
    def load_official(cls, directory, allow_pickle: bool = False) -> "ComponentDictionary":
        """Read the 16 official `{part}_{scale}_center.npy` files (folder or its parent), any K, flat or 4-D (Sec. 3.1; Notebook 06)."""
        directory = Path(directory)
        if (directory / OFFICIAL_FOLDER).is_dir():  # the download script's root folder was given
            directory = directory / OFFICIAL_FOLDER
        entries = {}
        for part in PARTS:
            for scale in SCALES:
                path = directory / official_filename(part, scale)
                entries[(part, scale)] = _to_entries(_load_npy(path, allow_pickle), part, scale, str(path))
        meta = make_meta(OFFICIAL_SOURCE, "the official DFDNet VGG19 (see the paper, Sec. 3.1)",
                         notes=f"read from {directory}", k=k_table(entries))
        return cls(entries, meta).validate()

    def save_official(self, directory, flatten: bool = False) -> Path:
        """Write the 16 `{part}_{scale}_center.npy` files (4-D, or (K, C*s*s) with `flatten`); meta is not kept."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for (part, scale), value in self.validate().entries.items():
            array = value.detach().cpu().numpy()
            np.save(directory / official_filename(part, scale), array.reshape(len(array), -1) if flatten else array)
        return directory

    # -- our single-file format ----------------------------------------------------------------

    def save(self, path) -> Path:
        """Write one file with the 16 tensors and `meta` (torch.save of plain types) (Notebook 06)."""
        self.validate()
        _check_plain(self.meta, "meta")
        payload = {
            "format": FORMAT_TAG,
            "version": FORMAT_VERSION,
            "entries": {f"{part}/{scale}": value.detach().cpu().contiguous() for (part, scale), value in self.entries.items()},
            "meta": self.meta,
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(payload, path)
        return path

    @classmethod
    def load(cls, path, map_location="cpu") -> "ComponentDictionary":
        """Read a file written by `save` (weights_only=True, tensors sent to `map_location`) (Notebook 06)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such dictionary file")
        payload = torch.load(path, map_location=map_location, weights_only=True)
        if not isinstance(payload, dict) or payload.get("format") != FORMAT_TAG:
            raise ValueError(f"{path} is not a {FORMAT_TAG} file (for the official .npy folder use load_official)")
        entries = {}
        for key, value in payload["entries"].items():
            part, scale = key.split("/")
            entries[(part, int(scale))] = value
        return cls(entries, payload["meta"]).validate()

    @classmethod
    def random(cls, k: "int | dict[Key, int]" = 8, seed: int = 0) -> "ComponentDictionary":
        """Seeded RANDOM entries, relu(N(0, 1)), for tests and notebooks; not a trained dictionary (Notebook 06)."""
        generator = torch.Generator().manual_seed(seed)
        entries = {}
        for part in PARTS:
            for scale in SCALES:
                k_here = k[(part, scale)] if isinstance(k, dict) else k
                entries[(part, scale)] = torch.randn(k_here, *entry_shape(part, scale), generator=generator).relu_()
        meta = make_meta("none: random entries", "none", k=k_table(entries),
                         notes=f"ComponentDictionary.random(seed={seed}): relu(N(0, 1)), not a trained dictionary")
        return cls(entries, meta).validate()


def load_dictionary(path_or_dir, map_location="cpu", allow_pickle: bool = False) -> ComponentDictionary:
    """Official .npy folder (a directory) or our single file, on `map_location` (Sec. 3.1; Notebook 06)."""
    path = Path(path_or_dir)
    if path.is_dir():
        return ComponentDictionary.load_official(path, allow_pickle=allow_pickle).to(map_location)
    if path.is_file():
        return ComponentDictionary.load(path, map_location=map_location)
    raise FileNotFoundError(f"{path}: no dictionary file or folder here; fetch the official dictionaries with: {DOWNLOAD_HINT}")

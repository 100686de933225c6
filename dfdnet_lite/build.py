"""Building the component dictionaries from faces: align, VGG features, RoIAlign crops, K-means (Sec. 3.1; Notebook 06).

The official repository ships only the result (DictionaryCenter512/); this is the missing
pipeline. Stages, each a public function: `collect_faces` -> `extract_features` (alignment,
VGGEncoder at four scales, `dft.crop_parts(mode="roi_align")`, streamed into a `FeatureCache`)
-> `cluster` (K-means per part and scale) -> `ComponentDictionary` -> `write_outputs` (the
official 16-file layout, our `dictionary.pt`, a quality report and one montage per part).
`build_dictionary` runs them all and returns a `BuildResult` that notebooks plot.

Profiles. "paper": 10,000 faces (FFHQ in the paper), K = 512 on a GPU. The paper's text does
not fix K in what we could check here; K = 512 is OUR choice pending the paper (the official
files' K is whatever their .npy rows hold, read with `ComponentDictionary.load_official`).
"quick": VGG19 + crops cost about 1.0 CPU-second per 512 face with bf16 autocast (1.5 in fp32;
benchmarks/RESULTS.md), so the 899 training sample faces take about 15 minutes; the quick profile
takes the first 300 candidates (about 280 usable: some have no detectable face) for about 5
minutes in all, and K = 16, so a centre averages about 17 faces (K <= faces // 4): fewer faces
means noisier centres and more singleton clusters. `--num-faces 999` takes the whole train split.
Several GPUs: `torchrun --nproc_per_node N -m dfdnet_lite build-dictionary --faces DIR --out OUT
--profile paper --device cuda`: N processes extract one shard of the features each (see `distributed`).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .config import FACE_SIZE, PARTS, SCALES, check_profile, entry_shape, resolve_device
from .dictionary import ComponentDictionary, k_table, make_meta
from .feature_cache import THUMB, FeatureCache
from .kmeans import KMeansResult, kmeans

QUICK_FACES = 300  # ~5 min in all at ~1.0 CPU-s/face (bf16, 2 CPU cores); see the module docstring
QUICK_K = 16
#: profile -> (num_faces, K); "medium" is the whole sample train split (~15 min of CPU features)
PROFILE_SIZES = {"quick": (QUICK_FACES, QUICK_K), "medium": (899, 32), "paper": (10_000, 512)}
PRODUCTS = ("cache", "official", "dictionary.pt", "report.json", "report.md", *[f"montage_{p}.png" for p in PARTS])

Aligner = Callable[[Path], "tuple[np.ndarray, np.ndarray] | None"]
Encoder = Callable[[torch.Tensor], list]


@dataclass
class BuildConfig:
    """Dictionary-build settings; defaults are the paper run (Sec. 3.1; Notebook 06)."""

    faces: str = "sample"  # "sample" (the offline train split) or a folder of photos / aligned faces
    k: int = 512  # entries per dictionary: our choice pending the paper (see the module docstring)
    num_faces: int = 10_000  # candidate photos taken, in name order (the paper: 10,000 FFHQ faces)
    profile: str = "paper"
    device: "str | None" = None  # None: resolve_device()
    batch_size: int = 8
    seed: int = 0
    bf16: bool = True  # bf16 autocast for the encoder (0.3-0.7 % feature error, 1.6x faster on CPU)
    cache_dtype: str = "float16"
    detector: str = "hog"
    kmeans_backend: str = "auto"  # sklearn on CPU, torch on CUDA (timings in benchmarks/RESULTS.md)
    max_iter: int = 100
    vgg_weights: "str | None" = None  # None: the first VGG19 source found (see encoder.vgg19_weights)
    montage_scale: int = 64
    montage_centres: int = 8
    montage_neighbours: int = 6


def profile_config(profile: str = "paper", **overrides) -> BuildConfig:
    """The BuildConfig of a profile ("quick": 300 sample faces, K=16; PROFILE_SIZES) with fields overridden (Notebook 06)."""
    num_faces, k = PROFILE_SIZES[check_profile(profile)]
    base = BuildConfig(profile=profile, num_faces=num_faces, k=k)
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


@dataclass
class BuildResult:
    """Everything a build made: the dictionary, the K-means results, the report, timings and counts (Notebook 06)."""

    dictionary: ComponentDictionary
    clusters: dict = field(repr=False)  # (part, scale) -> KMeansResult
    report: dict = field(repr=False)
    timings: dict  # stage -> seconds
    used: int
    skipped: list
    out: Path

    def summary(self) -> str:
        """One line: faces used and skipped, seconds per stage."""
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in self.timings.items())
        return f"built {len(self.dictionary.entries)} dictionaries from {self.used} faces ({len(self.skipped)} skipped); {stages}"


def collect_faces(config: BuildConfig) -> list[Path]:
    """Candidate photos: the sample train split or a folder's images, the first num_faces by name (Notebook 06)."""
    from .files import list_images

    if config.faces == "sample":
        from .data import sample_split

        paths = sample_split()["train"]
    else:
        paths = list_images(config.faces)
    return paths[: config.num_faces]


def align_path(path: Path, detector: str = "hog") -> "tuple[np.ndarray, np.ndarray] | None":
    """Aligned 512 face and part boxes (4, 4) of the largest face in a photo, or None if none is found (Sec. 3.1)."""
    from .align import align_photo
    from .files import ImageError, read_image

    try:
        image = read_image(path)
    except ImageError as err:  # an unreadable file is skipped and counted, like a photo without a face
        from tqdm import tqdm

        tqdm.write(f"skipped: {err}")
        return None
    crops = align_photo(image, detector=detector, source=str(path))
    return (crops[0].face, crops[0].boxes) if crops else None


def make_encoder(config: BuildConfig, device) -> Encoder:
    """The generator's VGGEncoder as a function of a [-1, 1] batch, bf16 autocast if asked (Sec. 3.1; Notebook 04)."""
    from .encoder import VGGEncoder

    net = VGGEncoder(config.vgg_weights).eval().to(device)

    def encode(x: torch.Tensor) -> list:
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
            return [f.float() for f in net(x)]

    encode.source = net.source
    return encode


def part_thumbs(face: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Image crops (4, T, T, 3) uint8 of the four part boxes of an aligned face, for the montages."""
    from PIL import Image

    out = np.zeros((len(PARTS), THUMB, THUMB, 3), np.uint8)
    for p, (x1, y1, x2, y2) in enumerate(np.clip(boxes, 0, FACE_SIZE).astype(int)):
        out[p] = np.asarray(Image.fromarray(face[y1:y2, x1:x2]).resize((THUMB, THUMB), Image.BILINEAR))
    return out


def encode_batch(faces: list, boxes: np.ndarray, encode: Encoder, device) -> dict:
    """Part features (B, C*s*s) per (part, scale) of a batch of aligned faces (Sec. 3.2 RoIAlign; Notebook 06)."""
    from .dft import crop_parts
    from .model import to_net_range

    x = to_net_range(faces, device)  # (B, 3, 512, 512) in [-1, 1]
    b = torch.from_numpy(boxes).float().to(device)  # (B, 4, 4)
    out = {}
    for scale, feature in zip(SCALES, encode(x)):
        for part, crop in crop_parts(feature.float(), b, scale, mode="roi_align").items():
            out[(part, scale)] = crop.flatten(1).cpu().numpy()  # (B, C*s*s)
    return out


def extract_features(paths: list[Path], cache: FeatureCache, encode: Encoder, config: BuildConfig,
                     align: "Aligner | None" = None, on_batch: "Callable[[int], None] | None" = None,
                     indices: "list[int] | None" = None) -> FeatureCache:
    """Align, encode and crop every candidate not yet in the cache, one batch at a time (Sec. 3.1; Notebook 06).

    `indices`: each path's index in the whole candidate list (default 0, 1, ...), stored per row."""
    from tqdm import tqdm

    align = align or (lambda p: align_path(p, config.detector))
    indices = list(range(len(paths))) if indices is None else indices
    device = resolve_device(config.device)
    i, batches = cache.next_candidate, 0
    bar = tqdm(total=len(paths), initial=i, desc="features", unit="face", disable=None)
    while i < len(paths):
        faces, boxes, used, skipped, index = [], [], [], [], []
        while i < len(paths) and len(faces) < config.batch_size:
            found = align(paths[i])
            if found is None:
                skipped.append(str(paths[i]))
            else:
                faces.append(found[0])
                boxes.append(np.asarray(found[1], np.int32))
                used.append(str(paths[i]))
                index.append(indices[i])
            i += 1
            bar.update(1)
        if faces:
            boxes_np = np.stack(boxes)
            feats = encode_batch(faces, boxes_np, encode, device)
            thumbs = np.stack([part_thumbs(f, bx) for f, bx in zip(faces, boxes_np)])
        else:
            feats, boxes_np, thumbs = {}, np.zeros((0, 4, 4), np.int32), np.zeros((0, 4, THUMB, THUMB, 3), np.uint8)
        cache.write(feats, boxes_np, thumbs, used, skipped, next_candidate=i, index=index)
        batches += 1
        if on_batch is not None:
            on_batch(batches)
    bar.close()
    return cache


def cluster(cache: FeatureCache, config: BuildConfig) -> dict:
    """K-means of every (part, scale) in the cache: (part, scale) -> KMeansResult (Sec. 3.1; Notebook 06)."""
    from tqdm import tqdm

    check_enough(cache.rows, config.k)
    device = resolve_device(config.device)
    results = {}
    for part, scale in tqdm([(p, s) for s in SCALES for p in PARTS], desc="k-means", disable=None):
        x = np.asarray(cache.features(part, scale), dtype=np.float32)  # (N, C*s*s)
        results[(part, scale)] = kmeans(x, config.k, seed=config.seed, backend=config.kmeans_backend,
                                        device=device, max_iter=config.max_iter)
    return results


def check_enough(n: int, k: int) -> None:
    """Refuse fewer faces than K with a suggested K."""
    if n < k:
        raise ValueError(f"only {n} usable face(s) for K={k}: use --k {max(1, n // 4)} or fewer, or add faces")


def to_dictionary(results: dict, meta: dict) -> ComponentDictionary:
    """K-means centres (K, C*s*s) reshaped to entries (K, C, s, s) (Sec. 3.1; Notebook 06)."""
    entries = {key: torch.from_numpy(r.centers.astype(np.float32)).reshape(-1, *entry_shape(*key))
               for key, r in results.items()}
    return ComponentDictionary(entries, dict(meta, k=k_table(entries))).validate()


def quality_report(results: dict) -> dict:
    """Cluster sizes, inertia, empty and singleton clusters per (part, scale) as plain data (Notebook 06)."""
    rows = []
    for (part, scale), r in results.items():
        sizes = np.asarray(r.sizes)
        rows.append({"part": part, "scale": scale, "k": int(len(sizes)), "inertia": float(r.inertia),
                     "n_iter": int(r.n_iter), "backend": r.backend, "empty": int((sizes == 0).sum()),
                     "singleton": int((sizes == 1).sum()), "size_min": int(sizes.min()),
                     "size_median": float(np.median(sizes)), "size_max": int(sizes.max()), "sizes": sizes.tolist()})
    return {"dictionaries": rows}


def report_markdown(report: dict, summary: str) -> str:
    """The quality report as a Markdown table."""
    lines = ["# Dictionary build report", "", summary, "",
             "| part | scale | K | inertia | iters | empty | singleton | size min / median / max |",
             "|---|---|---|---|---|---|---|---|"]
    for r in report["dictionaries"]:
        lines.append(f"| {r['part']} | {r['scale']} | {r['k']} | {r['inertia']:.4g} | {r['n_iter']} | {r['empty']} | "
                     f"{r['singleton']} | {r['size_min']} / {r['size_median']:g} / {r['size_max']} |")
    return "\n".join(lines) + "\n"


def montage(cache: FeatureCache, results: dict, part: str, config: BuildConfig) -> np.ndarray:
    """Grid: one row per sampled centre (largest clusters) of the nearest real part crops at montage_scale (Notebook 06)."""
    r: KMeansResult = results[(part, config.montage_scale)]
    x = np.asarray(cache.features(part, config.montage_scale), dtype=np.float32)  # (N, D)
    thumbs = cache.thumbs()
    centres = np.argsort(-np.asarray(r.sizes), kind="stable")[: config.montage_centres]
    n = min(config.montage_neighbours, len(x))
    grid = np.full((len(centres) * (THUMB + 2), n * (THUMB + 2), 3), 255, np.uint8)
    for row, c in enumerate(centres):
        d = ((x - r.centers[c][None]) ** 2).sum(1)  # squared distance of every face to centre c
        for col, j in enumerate(np.argsort(d, kind="stable")[:n]):
            y0, x0 = row * (THUMB + 2), col * (THUMB + 2)
            grid[y0:y0 + THUMB, x0:x0 + THUMB] = thumbs[j, PARTS.index(part)]
    return grid


def write_outputs(out: Path, dictionary: ComponentDictionary, report: dict, summary: str,
                  cache: FeatureCache, results: dict, config: BuildConfig) -> None:
    """Official 16-file layout in out/official, dictionary.pt, report.json/.md, montage_{part}.png (Notebook 06)."""
    from .files import write_image

    dictionary.save_official(out / "official")
    dictionary.save(out / "dictionary.pt")
    (out / "report.json").write_text(json.dumps(dict(report, summary=summary, meta=dictionary.meta), indent=1))
    (out / "report.md").write_text(report_markdown(report, summary))
    for part in PARTS:
        write_image(out / f"montage_{part}.png", montage(cache, results, part, config))


def prepare_out(out: Path, resume: bool, overwrite: bool) -> Path:
    """Refuse an existing, non-empty output folder unless resume or overwrite; overwrite removes only our files."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not (resume or overwrite):
        raise ValueError(f"{out} already exists and is not empty: pass --resume to continue a build there "
                         "or --overwrite to replace it")
    if overwrite and not resume:
        for name in PRODUCTS:
            target = out / name
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    return out


def fingerprint(paths: list[Path], source: str, config: BuildConfig) -> dict:
    """What the cached features depend on: the candidate list, encoder weights, precision, detector."""
    digest = hashlib.sha256("\n".join(str(p) for p in paths).encode()).hexdigest()[:16]
    return {"faces_sha": digest, "num_candidates": len(paths), "encoder": source, "bf16": config.bf16,
            "detector": config.detector}


def build_dictionary(config: BuildConfig, out, resume: bool = False, overwrite: bool = False,
                     encode: "Encoder | None" = None, align: "Aligner | None" = None,
                     on_batch: "Callable[[int], None] | None" = None) -> "BuildResult | None":
    """The whole build: faces -> features cache -> K-means -> dictionaries and report on disk (Sec. 3.1; Notebook 06).

    `encode` and `align` replace the VGG encoder and the alignment (tests use cheap stand-ins);
    `on_batch(n)` is called after each batch is safely on disk (tests interrupt there).
    Under torchrun each rank extracts a shard into cache/rank{r}; rank 0 clusters them all in candidate
    order, writes and returns the result, the other ranks return None (see `distributed`).
    """
    from .distributed import merge_shards, setup, shard_cache

    timings, t0 = {}, time.perf_counter()
    dist, device = setup(resolve_device(config.device))
    try:
        if dist.main:
            prepare_out(Path(out), resume, overwrite)
        dist.barrier()  # the output folder is ready (or refused) before any rank writes into it
        out = Path(out)
        paths = collect_faces(config)
        check_enough(len(paths), config.k)
        if dist.world > 1 and device.type == "cuda":
            config = replace(config, device=str(device))  # this rank's GPU, cuda:LOCAL_RANK
        encode = encode or make_encoder(config, device)
        source = getattr(encode, "source", "custom")
        prints = fingerprint(paths, source, config)
        cache = shard_cache(dist, dist.rank, out / "cache", prints, len(paths), config.cache_dtype, resume)
        timings["collect"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        indices = list(range(dist.rank, len(paths), dist.world))  # this rank's shard of the candidates
        extract_features([paths[j] for j in indices], cache, encode, config, align, on_batch, indices)
        dist.barrier()  # every shard is on disk
        if not dist.main:
            return None
        cache = merge_shards(dist, cache, out / "cache", prints, paths, config.cache_dtype)
    finally:
        dist.close()
    timings["features"] = time.perf_counter() - t0
    if cache.rows == 0:
        raise ValueError(f"no face found in any of the {len(paths)} photo(s) of {config.faces}")
    t0 = time.perf_counter()
    results = cluster(cache, config)
    timings["kmeans"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    meta = make_meta(f"{config.faces} ({cache.rows} faces)", source, num_faces=cache.rows,
                     skipped=len(cache.manifest["skipped"]), profile=config.profile, seed=config.seed,
                     config={k: v for k, v in asdict(config).items() if v is not None})
    dictionary = to_dictionary(results, meta)
    report = quality_report(results)
    result = BuildResult(dictionary, results, report, timings, cache.rows, list(cache.manifest["skipped"]), out)
    write_outputs(out, dictionary, report, result.summary(), cache, results, config)
    timings["write"] = time.perf_counter() - t0
    return result

"""Dictionary-build costs (Sec. 3.1; Notebook 06): features + crops per second, K-means seconds, cache precision.

Prints three Markdown tables:
1. faces/s of VGG19 features at four scales + RoIAlign part crops (`build.encode_batch`) for
   aligned 512 sample faces, fp32 vs bf16 autocast on CPU (and CUDA when present); wall and CPU
   seconds per face (the machine is shared, so CPU time is the steadier figure);
2. K-means seconds at the paper's size, N faces x D for one (part, scale), scikit-learn vs torch,
   with a capped number of Lloyd iterations (seconds per iteration are what extrapolate);
3. whether the float16 cache or bf16 features change the clustering: K-means of fp32 features
   vs the same features rounded to float16, and vs bf16-autocast features, per (part, scale):
   relative inertia difference (both centre sets scored on the fp32 features) and adjusted Rand index.

usage: python benchmarks/bench_dictionary.py [--only features|kmeans] [--faces 24] [--batch 4] [--n 10000] [--n-large 2000] [--k 512] [--iters 5]
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from dfdnet_lite import build
from dfdnet_lite.config import PARTS, SCALES, entry_shape
from dfdnet_lite.kmeans import kmeans


def aligned_faces(n: int) -> tuple[list, np.ndarray]:
    """The first n sample training faces that align: 512 faces and their part boxes."""
    from dfdnet_lite.data import sample_split

    faces, boxes = [], []
    for path in sample_split()["train"]:
        found = build.align_path(path)
        if found is not None:
            faces.append(found[0])
            boxes.append(found[1].astype(np.int32))
        if len(faces) == n:
            break
    return faces, np.stack(boxes)


def time_features(faces, boxes, device, bf16: bool, batch: int) -> tuple[float, float, dict]:
    """Wall and CPU seconds per face of encoder + crops, and the features of every (part, scale)."""
    encode = build.make_encoder(build.BuildConfig(bf16=bf16), device)
    build.encode_batch(faces[:1], boxes[:1], encode, device)  # warm-up
    feats: dict = {}
    t, c = time.perf_counter(), time.process_time()
    for i in range(0, len(faces), batch):
        for key, value in build.encode_batch(faces[i:i + batch], boxes[i:i + batch], encode, device).items():
            feats.setdefault(key, []).append(value)
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall, cpu = (time.perf_counter() - t) / len(faces), (time.process_time() - c) / len(faces)
    return wall, cpu, {key: np.concatenate(v) for key, v in feats.items()}


def inertia_on(x: np.ndarray, centers: np.ndarray) -> float:
    """Sum of squared distances of x to their nearest centre."""
    d = (x * x).sum(1)[:, None] - 2 * x @ centers.T + (centers * centers).sum(1)[None]
    return float(np.clip(d.min(1), 0, None).sum())


def precision_table(ref: dict, bf16: dict, k: int) -> list[str]:
    """K-means of fp32 features vs float16-rounded and bf16-autocast ones, per (part, scale)."""
    from sklearn.metrics import adjusted_rand_score

    rows = ["| part | scale | D | fp16 cache: inertia diff | fp16: ARI | bf16 features: inertia diff | bf16: ARI |",
            "|---|---|---|---|---|---|---|"]
    for scale in SCALES:
        for part in PARTS:
            x = ref[(part, scale)].astype(np.float32)
            base = kmeans(x, k, seed=0, backend="sklearn")
            cells = []
            for other in (x.astype(np.float16).astype(np.float32), bf16[(part, scale)].astype(np.float32)):
                r = kmeans(other, k, seed=0, backend="sklearn")
                diff = inertia_on(x, r.centers) / inertia_on(x, base.centers) - 1
                cells += [f"{diff:+.2%}", f"{adjusted_rand_score(base.labels, r.labels):.3f}"]
            rows.append(f"| {part} | {scale} | {x.shape[1]} | " + " | ".join(cells) + " |")
    return rows


def kmeans_table(k: int, iters: int, shapes) -> list[str]:
    """Seconds for K-means (k-means++ init + `iters` Lloyd iterations) on N x D Gaussian blobs, both backends."""
    rows = ["| part@scale | N x D | K | backend | iters | wall s (k-means++ init + iters) | CPU s |",
            "|---|---|---|---|---|---|---|"]
    print("\n".join(rows), flush=True)
    rng = np.random.default_rng(0)
    for part, scale, n in shapes:
        d = int(np.prod(entry_shape(part, scale)))
        x = (rng.standard_normal((k, d)).astype(np.float32)[rng.integers(0, k, n)]
             + rng.standard_normal((n, d)).astype(np.float32))
        for backend in ("torch", "sklearn"):
            t, c = time.perf_counter(), time.process_time()
            r = kmeans(x, k, seed=0, backend=backend, device="cpu", max_iter=iters)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            rows.append(f"| {part}@{scale} | {n} x {d} | {k} | {backend} | {r.n_iter} | {wall:.1f} | {cpu:.1f} |")
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, default=24)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--k", type=int, default=512)
    ap.add_argument("--n-large", type=int, default=2000, help="N for left_eye@64 (D=51200)")
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--precision-k", type=int, default=4)
    ap.add_argument("--only", choices=("features", "kmeans"), help="run one part of the benchmark")
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, CUDA {torch.cuda.is_available()}")
    if args.only != "kmeans":
        features_tables(args)
    if args.only != "features":
        print(f"\n## K-means, K={args.k}, at most {args.iters} Lloyd iterations, CPU\n")
        kmeans_table(args.k, args.iters, [("nose", 32, args.n), ("left_eye", 64, args.n_large)])


def features_tables(args) -> None:
    """Tables 1 and 3: features + crops speed per device and precision, and the cache-precision check."""
    faces, boxes = aligned_faces(args.faces)
    print(f"\n## Features + crops ({len(faces)} aligned faces, batch {args.batch})\n")
    print("| device | precision | faces/s (wall) | wall s/face | CPU s/face |\n|---|---|---|---|---|")
    feats = {}
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    for device in devices:
        for bf16 in (False, True):
            wall, cpu, feats[(device.type, bf16)] = time_features(faces, boxes, device, bf16, args.batch)
            print(f"| {device.type} | {'bf16 autocast' if bf16 else 'fp32'} | {1 / wall:.2f} | {wall:.2f} | {cpu:.2f} |", flush=True)
    print(f"\n## Cache precision: K-means (K={args.precision_k}) of fp32 features vs fp16-rounded / bf16 ones\n")
    print("\n".join(precision_table(feats[("cpu", False)], feats[("cpu", True)], args.precision_k)), flush=True)


if __name__ == "__main__":
    main()

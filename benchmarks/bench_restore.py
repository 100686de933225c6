"""Photos and faces per second of whole-photo restoration: detect, align, restore in batches, paste (Notebook 11).

Usage:
    python benchmarks/bench_restore.py                         # batches 1,4; fp32 and bf16; CPU (+ CUDA when present)
    python benchmarks/bench_restore.py --batches 1,4 --dtypes fp32 --devices cpu --ngf 64

Photos: two synthetic group photos built from the CelebA sample faces (x1.5 on a noisy canvas):
one with 4 faces (2 x 2), one with 2 faces (side by side), 6 faces in all. Random weights and a
random dictionary (K entries per part and scale): speed does not depend on the values. Every
figure is one timed pass over both photos after a one-face warm-up; the stage split (detect +
align, restore, paste) comes from RestoreResult.timings.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dfdnet_lite import restore  # noqa: E402


def group_photo(indices: list[int], cols: int) -> np.ndarray:
    """Sample faces (x1.5, 327 x 267 each) on a grid over a noisy canvas."""
    import cv2

    from dfdnet_lite.data import sample_faces
    from dfdnet_lite.files import read_image

    rows = -(-len(indices) // cols)
    canvas = np.random.default_rng(0).integers(60, 200, (rows * 367 + 40, cols * 307 + 40, 3), dtype=np.uint8)
    for n, i in enumerate(indices):
        face = cv2.resize(read_image(sample_faces()[i]), None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
        y, x = 40 + (n // cols) * 367, 20 + (n % cols) * 307
        canvas[y:y + face.shape[0], x:x + face.shape[1]] = face
    return canvas


def run_config(net, photos, batch: int, dtype, device) -> dict:
    """One pass over all photos; photos/s, faces/s and the stage split."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    results = [restore.restore_photo(net, p, batch_size=batch, device=device, dtype=dtype) for p in photos]
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t
    faces = sum(len(r.crops) for r in results)
    stage = {k: sum(r.timings[k] for r in results) for k in ("detect", "align", "restore", "paste")}
    return {"batch": batch, "faces": faces, "seconds": seconds, "photos_s": len(photos) / seconds,
            "faces_s": faces / seconds, "detect_align": stage["detect"] + stage["align"],
            "restore": stage["restore"], "paste": stage["paste"]}


def main(argv=None) -> None:
    import torch

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", default="1,4")
    p.add_argument("--dtypes", default="fp32,bf16")
    p.add_argument("--devices", default="cpu,cuda")
    p.add_argument("--ngf", type=int, default=64)
    p.add_argument("--k", type=int, default=64)
    args = p.parse_args(argv)
    photos = [group_photo([0, 1, 4, 5], cols=2), group_photo([6, 7], cols=2)]
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"photos {[p.shape[:2] for p in photos]}, ngf {args.ngf}, K {args.k}")
    print("| device | dtype | batch | photos | faces | seconds | photos/s | faces/s | detect+align s | restore s | paste s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for dev_name in args.devices.split(","):
        if dev_name == "cuda" and not torch.cuda.is_available():
            continue
        device = torch.device(dev_name)
        net = restore.random_generator(ngf=args.ngf, k=args.k, device=device)
        warm = restore.restore_photo(net, photos[1], batch_size=1, device=device)  # loads dlib, oneDNN kernels
        for dt in args.dtypes.split(","):
            restore.restore_faces(net, warm.crops[:1], 1, device, dtypes[dt])  # warm the dtype's weight cache
            for batch in map(int, args.batches.split(",")):
                r = run_config(net, photos, batch, dtypes[dt], device)
                print(f"| {dev_name} | {dt} | {batch} | {len(photos)} | {r['faces']} | {r['seconds']:.1f} | "
                      f"{r['photos_s']:.3f} | {r['faces_s']:.3f} | {r['detect_align']:.1f} | {r['restore']:.1f} | "
                      f"{r['paste']:.2f} |", flush=True)


if __name__ == "__main__":
    main()

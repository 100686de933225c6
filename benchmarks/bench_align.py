"""Speed of alignment (Notebook 02): detection, 68 landmarks and the 512 warp on the sample faces.

Usage:
    python benchmarks/bench_align.py              # HOG upsample 0 and 1 on 200 sample faces
    python benchmarks/bench_align.py -n 999 --mmod  # also dlib's MMOD CNN detector (slow on CPU)

The photos are the 999 CelebA sample faces (178 x 218 px, one face each), read once before
timing. "landmarks + align" is, per face: 68 points on the photo, the 5-point similarity fit,
the 512 warp, 68 points again on the crop, and the part boxes. Single process; dlib uses
the cores it wants. Models are loaded before timing.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from dfdnet_lite import align
from dfdnet_lite.data import sample_faces
from dfdnet_lite.files import read_image


def bench(images: list[np.ndarray], detector: str, upsample: int) -> dict:
    """Time detection and landmarks + alignment over `images`; return counts and seconds."""
    t_detect = t_align = 0.0
    photos_with_face = faces = 0
    for image in images:
        t0 = time.perf_counter()
        found = align.detect_faces(image, detector, upsample, probe=False)
        t1 = time.perf_counter()
        for rect in found.rects:
            align.align_face(image, align.landmarks68(image, rect), rect)
        t2 = time.perf_counter()
        t_detect, t_align = t_detect + t1 - t0, t_align + t2 - t1
        faces += len(found.rects)
        photos_with_face += len(found.rects) > 0
    return {"detector": detector, "upsample": upsample, "photos": len(images), "found": photos_with_face,
            "faces": faces, "detect": t_detect, "align": t_align}


def main() -> None:
    """Print the speed table for the chosen detectors."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=200, help="number of sample faces (default 200, at most 999)")
    parser.add_argument("--mmod", action="store_true", help="also time dlib's MMOD CNN detector, upsample 0")
    parser.add_argument("--mmod-n", type=int, default=30, help="sample faces for MMOD (default 30)")
    args = parser.parse_args()

    paths = sample_faces()[: args.n]
    images = [read_image(p) for p in paths]  # (218, 178, 3) each
    for name in ("hog", "landmarks68") + (("mmod",) if args.mmod else ()):
        align.load_model(name)
    runs = [bench(images, "hog", 0), bench(images, "hog", 1)]
    if args.mmod:
        runs.append(bench(images[: args.mmod_n], "mmod", 0))

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}; photos: CelebA sample faces, 178 x 218 px")
    print("| detector | upsample | photos | face found | detect ms/photo | landmarks + align ms/face "
          "| faces/s (all stages) |")
    print("|---|---|---|---|---|---|---|")
    for r in runs:
        total = r["detect"] + r["align"]
        found = f"{r['found']} ({100 * r['found'] / r['photos']:.1f}%)"
        print(f"| {r['detector']} | {r['upsample']} | {r['photos']} | {found} "
              f"| {1000 * r['detect'] / r['photos']:.1f} | {1000 * r['align'] / max(r['faces'], 1):.1f} "
              f"| {r['faces'] / total:.1f} |")


if __name__ == "__main__":
    main()

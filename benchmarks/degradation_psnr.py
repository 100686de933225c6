"""PSNR of each degradation preset against the original face, on the 100 held-out sample faces (Notebook 03).

    .venv/bin/python benchmarks/degradation_psnr.py

Protocol: native 178 x 218 CelebA faces, RGB 0-255, whole image; face i degraded with seed i.
"""
import numpy as np

from dfdnet_lite import data, degrade, metrics
from dfdnet_lite.files import read_image


def main() -> None:
    faces = data.sample_split()["held_out"]
    print("| preset | faces | PSNR mean (dB) | std (dB) |\n|---|---|---|---|")
    for preset in ("x4", "x8", "mixed"):
        vals = [metrics.psnr(degrade.degrade(hq, preset, seed=i)[0], hq).value
                for i, hq in enumerate(read_image(p) for p in faces)]
        print(f"| {preset} | {len(vals)} | {np.mean(vals):.2f} | {np.std(vals):.2f} |")


if __name__ == "__main__":
    main()

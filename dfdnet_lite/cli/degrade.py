"""`dfdnet-lite degrade`: degrade photos with the paper's model and write each one's parameters (Notebook 03)."""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from pathlib import Path

HELP = "degrade a folder of faces with the paper's model (presets x4, x8, mixed)"

EPILOG = """\
Model (paper Sec. 4): y = JPEG_q((x * k) downsampled by s + noise), bicubic back to the input size.
Presets: x4 / x8 = fixed evaluation settings (Gaussian blur sigma 1.5, bicubic x4 or x8, noise
sigma 5, JPEG quality 60); mixed = the official training distribution (random jitter, blur,
scale x2-x10, noise, JPEG). For each input NAME it writes, into DIR:
  NAME.png        the degraded image (same size as the input, or --size)
  NAME.json       the drawn parameters (seed, blur kind/size/sigma, scale, noise sigma, JPEG quality)
  NAME_hq.png     with --save-target: the matching target (the input after the colour jitter of 'mixed')
  params.csv      one row of parameters per image
Each image's seed comes from --seed and its file name, so a result does not depend on the other
inputs. A file that cannot be read gets one line on stderr; the others go on, and the exit
status is 1 if any failed.

example: dfdnet-lite degrade faces/ --preset x8 -o faces_x8/ --seed 0
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `dfdnet-lite degrade`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("inputs", nargs="+", metavar="DIR_OR_FILE", help="images, or folders of images")
    parser.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder (must not be an input folder)")
    parser.add_argument("--preset", choices=("x4", "x8", "mixed"), default="x4",
                        help="degradation preset (default: x4)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default: 0); same seed, same bytes")
    parser.add_argument("--size", type=int, metavar="PX", help="centre-crop and resize each face to PX x PX first")
    parser.add_argument("--save-target", action="store_true", help="also write NAME_hq.png, the training target")


def _inputs(items: list[str]) -> tuple[list[Path], list[str]]:
    """Expand folders into their images; return (files, failure lines)."""
    from dfdnet_lite.files import list_images

    files, failures = [], []
    for item in map(Path, items):
        if item.is_dir():
            try:
                files += list_images(item)
            except FileNotFoundError as err:
                failures.append(str(err))
        else:
            files.append(item)
    return files, failures


def _stem(path: Path, used: set[str]) -> str:
    """An output name no earlier input took (a.jpg and a.png -> a, a_png)."""
    stem = path.stem if path.stem not in used else f"{path.stem}_{path.suffix.lstrip('.').lower()}"
    n = 2
    while stem in used:
        stem, n = f"{path.stem}_{n}", n + 1
    used.add(stem)
    return stem


def name_seed(seed: int, name: str) -> int:
    """The seed of one image: from the base seed and its file name (independent of the other inputs)."""
    from dfdnet_lite.degrade import item_seed

    return item_seed(seed, int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:15], 16))


def degrade_one(path: Path, out: Path, stem: str, args) -> dict:
    """Degrade one file and write its image and JSON; return its parameters (raises ImageError)."""
    from dfdnet_lite.data import fit_square
    from dfdnet_lite.degrade import degrade_pair
    from dfdnet_lite.files import read_image, write_image

    image = read_image(path)
    if args.size:
        image = fit_square(image, args.size)
    target, lq, params = degrade_pair(image, args.preset, name_seed(args.seed, path.name))
    write_image(out / f"{stem}.png", lq)
    if args.save_target:
        write_image(out / f"{stem}_hq.png", target)
    row = {"file": str(path), "output": f"{stem}.png", **params.to_dict()}
    (out / f"{stem}.json").write_text(json.dumps(row, indent=1) + "\n")
    return row


def _write_csv(rows: list[dict], path: Path) -> None:
    """One row per degraded image; tuples joined with spaces."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: " ".join(map(str, v)) if isinstance(v, list) else v for k, v in row.items()})


def run(args) -> int:
    """Degrade every input; one line per failed file; exit status 1 if any failed."""
    from tqdm import tqdm

    from dfdnet_lite.files import ImageError, check_output_dir

    if args.size is not None and args.size < 8:
        raise ValueError("--size must be at least 8 pixels")
    out = check_output_dir(args.out, args.inputs)
    files, failures = _inputs(args.inputs)
    for line in failures:
        print(line, file=sys.stderr)
    rows, used = [], set()
    for path in tqdm(files, desc=f"degrade {args.preset}", unit="image", disable=None):
        try:
            rows.append(degrade_one(path, out, _stem(path, used), args))
        except ImageError as err:
            failures.append(str(err))
            tqdm.write(str(err), file=sys.stderr)
    if rows:
        _write_csv(rows, out / "params.csv")
    print(f"degraded {len(rows)} image(s) with preset {args.preset} into {out}"
          + (f"; {len(failures)} input(s) failed" if failures else ""))
    return 1 if failures else 0

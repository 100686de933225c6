"""`dfdnet-lite align`: detect every face, align it to the 512 template, save crop and data (Notebook 02)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "detect every face in photos, 68 landmarks, align to the 512 template, part boxes"

EPILOG = """\
For each face i of PHOTO it writes, into DIR:
  PHOTO_i.png            the aligned 512 x 512 face (similarity transform to the FFHQ 5-point template)
  PHOTO_i.json           landmarks68 and the 4 part boxes (left_eye, right_eye, nose, mouth; x1 y1 x2 y2)
                         on the crop, M (photo -> crop), M_inv (crop -> photo), the face box in the photo
  PHOTO_i_landmarks.png  the crop with its landmarks, template points and part boxes
Faces are numbered largest first. A file that cannot be read or holds no usable face gets one
line on stderr; the other files go on, and the exit status is 1 if any file failed.
Photos larger than --max-side px are detected on a downscaled copy. dlib's 68-point model was
trained on iBUG 300-W (non-commercial research only).

example: dfdnet-lite align photos/ group.jpg -o aligned/ --upsample 1
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `dfdnet-lite align`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("inputs", nargs="+", metavar="PHOTO_OR_DIR",
                        help="photos, or folders of photos (jpg, png, webp, bmp, tif)")
    parser.add_argument("-o", "--out", required=True, metavar="DIR",
                        help="output folder (created; must not be an input folder)")
    parser.add_argument("--detector", choices=("hog", "mmod"), default="hog",
                        help="dlib HOG (fast, frontal faces) or MMOD CNN (the official choice, about 1 s "
                             "per 512 px photo on CPU); default: hog")
    parser.add_argument("--upsample", type=int, default=1, metavar="N",
                        help="upsample the photo N times before detection: each step finds faces half "
                             "as large and costs about 4x the time (default: 1, as the official script)")
    parser.add_argument("--max-side", type=int, default=2000, metavar="PX",
                        help="detect on a copy downscaled to this longest side (default: 2000)")
    parser.add_argument("--no-figures", action="store_true", help="skip the *_landmarks.png figures")


def _photos(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Expand folders into their images; return (photos, failure lines)."""
    from dfdnet_lite.files import list_images

    photos, failures = [], []
    for item in map(Path, inputs):
        if item.is_dir():
            try:
                photos += list_images(item)
            except FileNotFoundError as err:
                failures.append(str(err))
        else:
            photos.append(item)
    return photos, failures


def _stem(path: Path, used: set[str]) -> str:
    """An output name for `path` that no earlier input took (a.jpg and a.png -> a, a_png)."""
    stem = path.stem
    if stem in used:
        stem = f"{path.stem}_{path.suffix.lstrip('.').lower()}"
    n = 2
    while stem in used:
        stem, n = f"{path.stem}_{n}", n + 1
    used.add(stem)
    return stem


def _save_figure(crop, path: Path) -> None:
    """Write the landmarks-and-boxes figure of one face (no pyplot state)."""
    from matplotlib.figure import Figure

    from dfdnet_lite.align import draw_alignment

    fig = Figure(figsize=(5.12, 5.12), dpi=100)
    draw_alignment(crop, fig.add_axes((0, 0, 1, 0.95)))
    fig.savefig(path)


def _json(info: dict) -> str:
    """JSON with one key per line and each array on its line."""
    return "{\n" + ",\n".join(f" {json.dumps(k)}: {json.dumps(v)}" for k, v in info.items()) + "\n}\n"


def align_one(path: Path, out: Path, stem: str, args) -> tuple[int, str]:
    """Align every face of one photo and write its files; return (faces written, problem or "")."""
    from dfdnet_lite import align
    from dfdnet_lite.files import ImageError, read_image, write_image

    try:
        image = read_image(path)  # (H, W, 3) uint8 RGB, EXIF rotation applied
    except ImageError as err:
        return 0, err.reason
    found = align.detect_faces(image, args.detector, args.upsample, max_side=args.max_side)
    if len(found.rects) == 0:
        return 0, found.note
    for crop in align.align_photo(image, source=str(path), detections=found):
        name = f"{stem}_{crop.index}"
        write_image(out / f"{name}.png", crop.face)
        info = {**crop.to_dict(), "photo_size": [image.shape[1], image.shape[0]], "detector": args.detector,
                "upsample": args.upsample, "detect_scale": found.scale}
        (out / f"{name}.json").write_text(_json(info))
        if not args.no_figures:
            _save_figure(crop, out / f"{name}_landmarks.png")
    skipped = f"; skipped {len(found.too_small)} face(s) too small to align" if found.too_small else ""
    return len(found.rects), skipped


def run(args) -> int:
    """Align every photo; one line per failed file; exit status 1 if any failed."""
    from tqdm import tqdm

    from dfdnet_lite.files import check_output_dir

    if args.upsample < 0 or args.max_side < 64:
        raise ValueError("--upsample must be >= 0 and --max-side >= 64")
    out = check_output_dir(args.out, args.inputs)
    photos, failures = _photos(args.inputs)
    for line in failures:
        print(line, file=sys.stderr)
    used: set[str] = set()
    n_faces = n_ok = 0
    n_failed = len(failures)
    for path in tqdm(photos, desc="align", unit="photo", disable=None):
        faces, problem = align_one(path, out, _stem(path, used), args)
        n_faces, n_ok = n_faces + faces, n_ok + (faces > 0)
        if faces == 0:
            n_failed += 1
            tqdm.write(f"{path}: {problem}", file=sys.stderr)
        elif problem:
            tqdm.write(f"{path}: note{problem}", file=sys.stderr)
    print(f"aligned {n_faces} face(s) from {n_ok} photo(s) into {out}"
          + (f"; {n_failed} input(s) failed" if n_failed else ""))
    return 1 if n_failed else 0

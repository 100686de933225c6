"""`dfdnet-lite restore`: restore every face of whole photos and paste them back (Notebook 11)."""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from .align import _photos, _stem

HELP = "restore every face of whole photos: align, DFDNet in batches, paste back (x1, x2, ...)"

EPILOG = """\
For each PHOTO it writes, into DIR:
  PHOTO.png                      the whole photo, input size x --upscale, every face restored and pasted back
  PHOTO_compare.png              the input (bicubic to the same size) beside the restored photo
  faces/PHOTO_i_input.png        the aligned 512 x 512 input crop of face i (0 = largest)
  faces/PHOTO_i_restored.png     the restored 512 x 512 face i
  report.csv                     one row per face: photo, face index, box in the photo, detection score,
                                 status (restored / skipped / failed), seconds for the photo, notes;
                                 a photo with no usable face gets one row with its reason
Weights: --checkpoint is the official latest_net_G.pth (then --dictionary is the official
DictionaryCenter512 folder, found beside the release by default) or OUT/checkpoint.pt of
`dfdnet-lite train`. Get the official ones with `python data_scripts/download_official.py
--out weights/official` (CC BY-NC-SA 4.0, non-commercial). --random-weights runs an UNTRAINED
net (for demos and tests): every output is marked as untrained.
A file that cannot be read, holds no face, or only faces too small to restore gets one line on
stderr; the others go on, and the exit status is 1 if any input failed.

example: dfdnet-lite restore group.jpg photos/ -o restored/ --checkpoint weights/official/checkpoints/facefh_dictionary/latest_net_G.pth --upscale 2
"""
REPORT_FIELDS = ("photo", "face", "box", "score", "status", "seconds", "notes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `dfdnet-lite restore`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("inputs", nargs="+", metavar="PHOTO_OR_DIR", help="photos, or folders of photos")
    parser.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder (created; must not be an input folder)")
    parser.add_argument("--checkpoint", metavar="PATH", help="official latest_net_G.pth or our OUT/checkpoint.pt")
    parser.add_argument("--dictionary", metavar="PATH", help="dictionary file or official folder (default: beside the checkpoint)")
    parser.add_argument("--random-weights", action="store_true", help="UNTRAINED random net for demos and tests (loud warning)")
    parser.add_argument("--upscale", type=int, default=1, metavar="N", help="output size = input size x N (default: 1)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, mps or auto (default: auto)")
    parser.add_argument("--batch-size", type=int, default=4, metavar="N", help="faces per forward pass (default: 4)")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast (about 2x faster on recent CPUs and GPUs)")
    parser.add_argument("--detector", choices=("hog", "mmod"), default="hog", help="dlib HOG (fast) or MMOD CNN (default: hog)")
    parser.add_argument("--upsample", type=int, default=1, metavar="N", help="detector upsampling steps (default: 1)")


def _generator(args, device):
    """The net to run, and whether it is untrained."""
    from dfdnet_lite import restore

    if args.random_weights:
        print(f"WARNING: --random-weights: {restore.UNTRAINED}. Every output in {args.out} is marked UNTRAINED.",
              file=sys.stderr)
        return restore.random_generator(device=device), True
    return restore.load_generator(args.checkpoint, args.dictionary, device=device), False


def _write_outputs(result, out: Path, stem: str, untrained: bool) -> None:
    """The restored photo, the comparison figure and each face's input and restored crops."""
    from dfdnet_lite.files import write_image
    from dfdnet_lite.restore import compare_figure

    write_image(out / f"{stem}.png", result.final)
    write_image(out / f"{stem}_compare.png", compare_figure(result, untrained))
    for crop, face in zip(result.crops, result.restored):
        write_image(out / "faces" / f"{stem}_{crop.index}_input.png", crop.face)
        write_image(out / "faces" / f"{stem}_{crop.index}_restored.png", face)


def _face_rows(path: Path, result, notes: list) -> list[dict]:
    """One report row per restored face, plus one for faces found but not restored."""
    seconds = round(result.seconds, 3)
    rows = [{"photo": str(path), "face": crop.index, "box": " ".join(str(int(v)) for v in crop.rect),
             "score": "" if crop.score is None else round(float(crop.score), 3), "status": "restored",
             "seconds": seconds, "notes": "; ".join(notes)} for crop in result.crops]
    skipped = result.faces_found - len(result.crops)
    if skipped > 0 or not result.crops:
        status = "skipped" if result.crops else "failed"
        rows.append({"photo": str(path), "face": "", "box": "", "score": "", "status": status, "seconds": seconds,
                     "notes": "; ".join(notes) or "no face found"})
    return rows


def restore_one(net, path: Path, out: Path, stem: str, args, untrained: bool) -> tuple[list[dict], int]:
    """Restore one photo and write its files; returns its report rows and the number of faces restored."""
    from dfdnet_lite.files import ImageError, read_image
    from dfdnet_lite.restore import UNTRAINED, restore_photo

    try:
        photo = read_image(path)  # (H, W, 3) uint8 RGB
    except ImageError as err:
        return [{"photo": str(path), "face": "", "box": "", "score": "", "status": "failed", "seconds": 0.0,
                 "notes": err.reason}], 0
    result = restore_photo(net, photo, args.upscale, args.batch_size, args.device_obj, args.dtype,
                           args.detector, args.upsample, source=str(path))
    notes = result.notes + ([UNTRAINED] if untrained and result.crops else [])
    if result.crops:
        _write_outputs(result, out, stem, untrained)
    return _face_rows(path, result, notes), len(result.crops)


def _check(args) -> None:
    """Refuse bad option values before any work."""
    if args.upscale < 1 or args.batch_size < 1 or args.upsample < 0:
        raise ValueError("--upscale and --batch-size must be >= 1, --upsample >= 0")
    if not args.random_weights and args.checkpoint is None:
        from dfdnet_lite.restore import HOW_TO_GET_WEIGHTS

        raise FileNotFoundError(f"no trained weights are available yet (no --checkpoint given): {HOW_TO_GET_WEIGHTS}")


def run(args) -> int:
    """Restore every photo; one line per failed input; exit status 1 if any failed."""
    import torch
    from tqdm import tqdm

    from dfdnet_lite.config import resolve_device
    from dfdnet_lite.files import check_output_dir
    from dfdnet_lite.restore import UNTRAINED

    _check(args)
    out = check_output_dir(args.out, args.inputs)
    args.device_obj = resolve_device(args.device)
    args.dtype = torch.bfloat16 if args.bf16 else torch.float32
    net, untrained = _generator(args, args.device_obj)
    if untrained:
        (out / "UNTRAINED_RANDOM_WEIGHTS.txt").write_text(f"{UNTRAINED}: made with dfdnet-lite restore --random-weights\n")
    photos, failures = _photos(args.inputs)
    for line in failures:
        print(line, file=sys.stderr)
    rows, used, restored, n_ok, n_failed = [], set(), 0, 0, len(failures)
    for path in tqdm(photos, desc="restore", unit="photo", disable=None):
        photo_rows, n_faces = restore_one(net, path, out, _stem(path, used), args, untrained)
        rows += photo_rows
        restored, n_ok, n_failed = restored + n_faces, n_ok + (n_faces > 0), n_failed + (n_faces == 0)
        problems = [r["notes"] for r in photo_rows if r["status"] != "restored"]
        if problems:
            tqdm.write(f"{path}: {'' if n_faces == 0 else 'note: '}{problems[0]}", file=sys.stderr)
    with open(out / "report.csv", "w", newline="") as f:
        csv.DictWriter(f, REPORT_FIELDS).writeheader()
        csv.DictWriter(f, REPORT_FIELDS).writerows(rows)
    print(f"restored {restored} face(s) in {n_ok} photo(s) "
          f"into {out}" + (f"; {n_failed} input(s) failed" if n_failed else "") + (f" [{UNTRAINED}]" if untrained else ""))
    return 1 if n_failed else 0

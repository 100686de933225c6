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
Weights, the first found: --checkpoint (the official latest_net_G.pth, then --dictionary is the
official DictionaryCenter512 folder, found beside the release by default; or OUT/checkpoint.pt of
`dfdnet-lite train`); else the official release at weights/official (`dfdnet-lite download
official`, CC BY-NC-SA 4.0, non-commercial); else runs/quick/checkpoint.pt (`make reproduce`).
The defaults are looked for in the current folder, then in the checkout. The weights used are
printed. --random-weights runs an UNTRAINED net (for demos and tests): every output is marked so.
A file that cannot be read, holds no face, only faces too small to restore, or does not fit in GPU
memory even one face at a time (the batch is halved first) gets one line on stderr; the others go
on, and the exit status is 1 if any input failed. Inputs are never overwritten: -o may not be an
input folder, and no output is written over an input file.

examples:
  dfdnet-lite download official && dfdnet-lite restore group.jpg photos/ -o restored/ --upscale 2
  dfdnet-lite restore group.jpg -o restored/ --checkpoint runs/quick/checkpoint.pt --device cpu --batch-size 2
"""
REPORT_FIELDS = ("photo", "face", "box", "score", "status", "seconds", "notes")


def _at_least_one(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _device(text: str) -> str:
    """argparse type: auto, cpu, cuda, cuda:N or mps."""
    name = text.strip().lower()
    if name in ("auto", "cpu", "cuda", "mps") or (name.startswith("cuda:") and name[5:].isdigit()):
        return name
    raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda, cuda:N or mps, got {text!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `dfdnet-lite restore`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("inputs", nargs="+", metavar="PHOTO_OR_DIR", help="photos, or folders of photos")
    parser.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder (created; must not be an input folder)")
    parser.add_argument("--checkpoint", metavar="PATH", help="official latest_net_G.pth or our OUT/checkpoint.pt")
    parser.add_argument("--dictionary", metavar="PATH", help="dictionary file or official folder (default: beside the checkpoint)")
    parser.add_argument("--random-weights", action="store_true", help="UNTRAINED random net for demos and tests (loud warning)")
    parser.add_argument("--upscale", type=_at_least_one, default=1, metavar="N",
                        help="output size = input size x N, N >= 1 (default: 1)")
    parser.add_argument("--device", type=_device, default="auto", metavar="DEVICE",
                        help="auto (CUDA, else MPS, else CPU), cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--batch-size", type=_at_least_one, default=4, metavar="N",
                        help="faces per forward pass, N >= 1; halved automatically when the GPU runs out of memory (default: 4)")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast (about 2x faster on recent CPUs and GPUs)")
    parser.add_argument("--detector", choices=("hog", "mmod"), default="hog", help="dlib HOG (fast) or MMOD CNN (default: hog)")
    parser.add_argument("--upsample", type=int, default=1, metavar="N", help="detector upsampling steps (default: 1)")
    parser.add_argument("--min-score", type=float, metavar="S",
                        help="skip detections scoring below S (default: keep all; HOG scores real faces mostly "
                             "above 0.5, a badge taken for a face scored 0.12, but a few real faces score near 0)")


def _generator(args, device, weights):
    """The net to run (from `weights` = resolve_weights(...), or random), and whether it is untrained."""
    from dfdnet_lite import restore

    if args.random_weights:
        print(f"WARNING: --random-weights: {restore.UNTRAINED}. Every output in {args.out} is marked UNTRAINED.",
              file=sys.stderr)
        return restore.random_generator(device=device), True
    checkpoint, dictionary, label = weights
    net = restore.load_generator(checkpoint, dictionary, device=device)
    print(f"weights: {label}: {checkpoint}" + (f" with dictionary {dictionary}" if dictionary else "") + f", on {device}")
    return net, False


def _write_outputs(result, out: Path, stem: str, untrained: bool, inputs: "set[Path]") -> None:
    """The restored photo, the comparison figure and each face's input and restored crops; never over an input."""
    from dfdnet_lite.files import write_image
    from dfdnet_lite.restore import compare_figure

    files = {out / f"{stem}.png": result.final, out / f"{stem}_compare.png": None}
    for crop, face in zip(result.crops, result.restored):
        files[out / "faces" / f"{stem}_{crop.index}_input.png"] = crop.face
        files[out / "faces" / f"{stem}_{crop.index}_restored.png"] = face
    clash = [str(path) for path in files if path.resolve() in inputs]
    if clash:
        raise FileExistsError(f"not written: {clash[0]} is an input photo; choose an output folder outside the inputs")
    for path, image in files.items():
        write_image(path, compare_figure(result, untrained) if image is None else image)


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


def _failed(path: Path, reason: str, seconds: float = 0.0) -> list[dict]:
    """The report row of a photo that failed as a whole."""
    return [{"photo": str(path), "face": "", "box": "", "score": "", "status": "failed", "seconds": round(seconds, 3),
             "notes": reason}]


def restore_one(net, path: Path, out: Path, stem: str, args, untrained: bool) -> tuple[list[dict], int]:
    """Restore one photo and write its files; returns its report rows and the number of faces restored."""
    import time

    from dfdnet_lite.files import ImageError, read_image
    from dfdnet_lite.restore import UNTRAINED, OutOfMemory, restore_photo

    try:
        photo = read_image(path)  # (H, W, 3) uint8 RGB
    except ImageError as err:
        return _failed(path, err.reason), 0
    start = time.perf_counter()
    try:
        result = restore_photo(net, photo, args.upscale, args.batch_size, args.device_obj, args.dtype,
                               args.detector, args.upsample, source=str(path), min_score=args.min_score)
        if result.crops:
            _write_outputs(result, out, stem, untrained, args.input_files)
    except (OutOfMemory, FileExistsError, OSError) as err:  # this photo fails, the batch goes on
        return _failed(path, str(err), time.perf_counter() - start), 0
    notes = result.notes + ([UNTRAINED] if untrained and result.crops else [])
    return _face_rows(path, result, notes), len(result.crops)


def _check(args) -> None:
    """Refuse bad option values before any work (--upscale and --batch-size are checked by argparse)."""
    if args.upsample < 0:
        raise ValueError(f"--upsample must be >= 0, got {args.upsample}")


def run(args) -> int:
    """Restore every photo; one line per failed input; exit status 1 if any failed."""
    import torch
    from tqdm import tqdm

    from dfdnet_lite.config import resolve_device
    from dfdnet_lite.files import check_output_dir
    from dfdnet_lite.restore import UNTRAINED, resolve_weights

    _check(args)
    weights = None if args.random_weights else resolve_weights(args.checkpoint, args.dictionary)  # before any file
    out = check_output_dir(args.out, args.inputs)
    args.device_obj = resolve_device(args.device)
    args.dtype = torch.bfloat16 if args.bf16 else torch.float32
    net, untrained = _generator(args, args.device_obj, weights)
    if untrained:
        (out / "UNTRAINED_RANDOM_WEIGHTS.txt").write_text(f"{UNTRAINED}: made with dfdnet-lite restore --random-weights\n")
    photos, failures = _photos(args.inputs)
    args.input_files = {p.resolve() for p in photos}
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

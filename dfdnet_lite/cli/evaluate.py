"""`dfdnet-lite evaluate`: bicubic, ours, the no-dictionary ablation and the official net on the same faces (Notebook 10)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "compare restorers on held-out faces: PSNR, SSIM, landmark distance, identity (LPIPS/FID when available)"

TRAIN_HINT = (
    "train one with `dfdnet-lite build-dictionary --profile quick --out runs/dict_quick` then `dfdnet-lite train "
    "--profile quick --dictionary runs/dict_quick/dictionary.pt --out runs/quick` and pass --checkpoint "
    "runs/quick/checkpoint.pt, or download the official weights with `python data_scripts/download_official.py "
    "--out weights/official` and pass --checkpoint weights/official/checkpoints/facefh_dictionary/latest_net_G.pth"
)

EPILOG = """\
Rows: bicubic (the LQ face itself); ours (--checkpoint); the no-dictionary ablation: a net trained
without DFT blocks (--no-dictionary-checkpoint), or else the same trained net with its DFT blocks
bypassed at inference (weights unchanged, labelled "not retrained"); official (the released
DFDNet, when --official-checkpoint or weights/official/... exists).
Faces: `sample` = the 100 held-out sample faces (never trained on) or a folder of photos; each is
aligned to the 512 template, photos without a face are skipped and counted. Every method sees
the same LQ faces: face i of each preset is degraded with the seed item_seed(--seed, i).
Reference: the degradation target (= the aligned HQ face for x4/x8). Part boxes: dlib on the
LQ face, the HQ face's boxes where no face is found there (counted). PSNR/SSIM: RGB 0-255, whole
512 image. LPIPS and FID are computed only when their weights are on disk; otherwise the column
is skipped with the way to get them.
Writes into DIR: results.md (a table per degradation with its protocol), results.csv (one row
per method and degradation), per_face.csv, info.json, paired.md (each method minus bicubic per
face: mean, 95 % bootstrap interval, share of faces better) and examples_<preset>.png.

example: dfdnet-lite evaluate --checkpoint runs/quick/checkpoint.pt --faces sample --degradation x4,x8 -o runs/eval_quick
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `dfdnet-lite evaluate`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("--checkpoint", metavar="PATH", help="our OUT/checkpoint.pt (or an official latest_net_G.pth)")
    parser.add_argument("--dictionary", metavar="PATH", help="dictionary of --checkpoint (default: the one it stores)")
    parser.add_argument("--no-dictionary-checkpoint", metavar="PATH", help="a net trained without DFT blocks (the ablation)")
    from dfdnet_lite.restore import OFFICIAL_ROOT

    parser.add_argument("--official-checkpoint", metavar="PATH",
                        help=f"official latest_net_G.pth (default: the one under {OFFICIAL_ROOT}, if there)")
    parser.add_argument("--official-dictionary", metavar="DIR",
                        help="official DictionaryCenter512 (default: beside the release)")
    parser.add_argument("--faces", default="sample", metavar="DIR",
                        help="`sample` (the 100 held-out faces, default) or a folder of photos")
    parser.add_argument("--degradation", default="x4,x8", metavar="LIST", help="presets, comma-separated (default: x4,x8)")
    parser.add_argument("--num-faces", type=int, metavar="N", help="the first N faces by name (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="base seed of the degradations (default: 0)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, mps or auto (default: auto)")
    parser.add_argument("--batch-size", type=int, default=4, metavar="N", help="faces per forward pass (default: 4)")
    parser.add_argument("--examples", type=int, default=4, metavar="N", help="faces in each example figure (default: 4)")
    parser.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")


def _presets(text: str) -> list[str]:
    from dfdnet_lite.degrade import PRESETS

    presets = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in presets if p not in PRESETS]
    if unknown or not presets:
        raise ValueError(f"unknown degradation {', '.join(unknown) or text!r}; choose from {', '.join(PRESETS)}")
    return presets


def _check(args) -> None:
    """Refuse bad values and missing checkpoints before any work."""
    if args.batch_size < 1 or (args.num_faces is not None and args.num_faces < 1) or args.examples < 0:
        raise ValueError("--batch-size and --num-faces must be >= 1, --examples >= 0")
    if args.checkpoint is None:
        raise FileNotFoundError(f"no --checkpoint given: {TRAIN_HINT}")
    for option, path in (("--checkpoint", args.checkpoint), ("--no-dictionary-checkpoint", args.no_dictionary_checkpoint),
                         ("--official-checkpoint", args.official_checkpoint)):
        if path is not None and not Path(path).is_file():
            raise FileNotFoundError(f"{option} {path} not found: {TRAIN_HINT}")


def _methods(args, device) -> tuple[dict, dict, list]:
    """name -> method, name -> checkpoint description, and notes (skipped rows)."""
    from dfdnet_lite.evaluate import BYPASSED, bicubic, describe_checkpoint, net_method
    from dfdnet_lite.restore import OFFICIAL_GENERATOR, OFFICIAL_ROOT, load_generator

    ours = load_generator(args.checkpoint, args.dictionary, device=device)
    methods, described, notes = {"bicubic": bicubic, "ours": ours}, {"ours": describe_checkpoint(args.checkpoint)}, []
    if args.no_dictionary_checkpoint:
        methods["no dictionary"] = load_generator(args.no_dictionary_checkpoint, device=device)
        described["no dictionary"] = describe_checkpoint(args.no_dictionary_checkpoint)
    elif ours.config.use_dictionary:
        methods[BYPASSED] = net_method(ours, args.batch_size, device, bypass_dictionary=True)
        described[BYPASSED] = "the `ours` weights run with DFDNetConfig.use_dictionary=False (no retraining)"
    else:
        notes.append("ours has no DFT blocks (use_dictionary=False): no bypassed row")
    official = Path(args.official_checkpoint or OFFICIAL_ROOT / OFFICIAL_GENERATOR)
    if official.is_file():
        methods["official"] = load_generator(official, official_dictionary_dir=args.official_dictionary, device=device)
        described["official"] = describe_checkpoint(official)
    else:
        notes.append(f"official: skipped, {official} not found; download it with `python data_scripts/download_official.py "
                     f"--out {OFFICIAL_ROOT}` (CC BY-NC-SA 4.0) or pass --official-checkpoint PATH --official-dictionary DIR")
        print(notes[-1], file=sys.stderr)
    return methods, described, notes


def run(args) -> int:
    """Load the nets and faces, evaluate, write the files, print the Markdown table."""
    from dfdnet_lite.config import resolve_device
    from dfdnet_lite.evaluate import evaluate, load_faces
    from dfdnet_lite.files import check_output_dir

    presets = _presets(args.degradation)
    _check(args)
    out = check_output_dir(args.out, [] if args.faces == "sample" else [args.faces])
    device = resolve_device(args.device)
    methods, described, notes = _methods(args, device)
    faces, skipped = load_faces(args.faces, args.num_faces)
    source = "held-out sample faces (data.sample_split, never trained on)" if args.faces == "sample" else args.faces
    if skipped:
        print(f"{len(skipped)} photo(s) without a face skipped", file=sys.stderr)
    if not faces:
        raise ValueError(f"no face found in any photo of {source}: nothing to evaluate")
    info = {"faces": source, "skipped": skipped, "checkpoints": described, "notes": notes}
    result = evaluate(methods, faces, presets, args.seed, args.batch_size, args.examples, device, info)
    for message in result.info["unavailable"].values():
        print(f"column skipped: {message}", file=sys.stderr)
    result.save(out)
    print(result.to_markdown())
    print(f"wrote results.md, results.csv, per_face.csv, paired.md and examples_*.png into {out}")
    return 0

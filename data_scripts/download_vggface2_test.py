#!/usr/bin/env python
"""VGGFace2 test faces: not downloadable by script; pick the paper-sized subset from a copy you hold.

Paper: Li et al., ECCV 2020, Sec. 4 (2,000 VGGFace2 test faces; the list was not published);
Notebook 06. VGGFace2 (Cao et al., FG 2018) is no longer distributed by its authors: there is no
legal URL a script could fetch. Without `--from-folder` this script says where to ask and exits
with status 1. With `--from-folder DIR` (a test set you obtained under its licence, one folder per
identity) it copies a deterministic subset: identities sorted by name, images sorted by name, taken
round-robin (the first image of every identity, then the second, ...) until `--num` faces.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from dfdnet_lite.download import run_script  # noqa: E402
from dfdnet_lite.files import IMAGE_SUFFIXES  # noqa: E402

WHERE = ("VGGFace2 is not publicly distributed any more, so this script cannot download it. Its page is "
         "https://www.robots.ox.ac.uk/~vgg/data/vgg_face2/ (Visual Geometry Group, University of Oxford): "
         "ask the authors there for access under their licence, then run this script with --from-folder "
         "pointing at the test set. Offline, the kit evaluates on its CelebA sample instead "
         "(dfdnet-lite faces --split held_out).")


def parse_args(argv):
    """Command-line arguments."""
    p = argparse.ArgumentParser(
        description="Select the VGGFace2 test faces used for evaluation from a copy you hold "
        "(VGGFace2 is not downloadable by script; without --from-folder this explains where to ask).")
    p.add_argument("--out", required=True, type=Path, help="folder that receives the selected faces")
    p.add_argument("--from-folder", type=Path, help="your VGGFace2 test folder: one sub-folder per identity")
    p.add_argument("--num", type=int, default=2000, help="faces to select (default 2000, as the paper)")
    args = p.parse_args(argv)
    if args.num < 1:
        p.error(f"--num must be at least 1, got {args.num}")
    return args


def select(root: Path, num: int) -> list[Path]:
    """Round-robin over sorted identities of sorted images until `num` faces."""
    identities = [sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
                  for d in sorted(root.iterdir()) if d.is_dir()]
    identities = [imgs for imgs in identities if imgs]
    if not identities:
        raise FileNotFoundError(f"{root}: no identity folders with images (expected ROOT/n000001/0001_01.jpg ...)")
    chosen, rank = [], 0
    while len(chosen) < num and any(rank < len(imgs) for imgs in identities):
        chosen += [imgs[rank] for imgs in identities if rank < len(imgs)][: num - len(chosen)]
        rank += 1
    return chosen


def main(argv=None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    print("Licence: VGGFace2 (Cao et al., FG 2018), research use under the authors' terms")
    if args.from_folder is None:
        print(f"error: {WHERE}", file=sys.stderr)
        return 1
    if not args.from_folder.is_dir():
        raise FileNotFoundError(f"{args.from_folder}: not a folder")
    chosen = select(args.from_folder, args.num)
    args.out.mkdir(parents=True, exist_ok=True)
    for src in chosen:
        shutil.copy2(src, args.out / f"{src.parent.name}_{src.name}")
    (args.out / "subset.txt").write_text("".join(f"{p.relative_to(args.from_folder).as_posix()}\n" for p in chosen))
    print(f"{len(chosen)} faces copied to {args.out} (list in {args.out / 'subset.txt'})")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))

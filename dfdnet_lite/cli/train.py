"""`dfdnet-lite train`: train DFDNet on faces degraded on the fly, resumable, several GPUs with torchrun (Notebook 09)."""
from __future__ import annotations

import argparse
import sys

HELP = "train DFDNet (pixel + perceptual + multi-scale adversarial loss) on faces degraded on the fly"

EPILOG = """\
Writes into --out: checkpoint.pt (generator, discriminators, optimisers, step, config, the
dictionary's path; `dfdnet-lite restore --checkpoint` and `evaluate` read it), log.csv and
TensorBoard logs (tb/, when tensorboard is installed), samples/step_*.png (x8-degraded held-out
faces | restored | original), landmarks.json (the one-off landmark pass) and held_out.txt.

profiles (the CPU ones are smaller than the paper's; see dfdnet_lite/train.py PROFILES):
  quick   12 steps, batch 1, decoder width 16, perceptual at 128: exercises the loop (~1-3 min, 2 CPU cores)
  medium  1200 steps, batch 1, width 32, all three terms (perceptual at 256), one discriminator, residual
          output (ours: the net adds a correction to its input): ~1 h, 2 CPU cores
  paper   the full network and objective, batch 8, 150k steps: for GPUs (several with torchrun)

examples:
  dfdnet-lite build-dictionary --faces sample --profile quick --num-faces 32 --k 4 --out runs/dict_quick
  dfdnet-lite train --profile quick --dictionary runs/dict_quick/dictionary.pt --out runs/quick
  dfdnet-lite train --profile quick --dictionary runs/dict_quick/dictionary.pt --out runs/quick --resume --steps 24
  torchrun --nproc_per_node 8 -m dfdnet_lite train --profile paper --faces ffhq/ --dictionary D --out runs/paper --device cuda
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `dfdnet-lite train`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("--profile", choices=("quick", "medium", "paper"), default="quick", help="(default: quick)")
    parser.add_argument("--dictionary", metavar="PATH", help="dictionary.pt or official folder (needed unless --no-dictionary)")
    parser.add_argument("--out", required=True, metavar="DIR", help="run folder (checkpoint, logs, samples)")
    parser.add_argument("--faces", default="sample", metavar="DIR|sample", help="training faces (default: sample)")
    parser.add_argument("--resume", action="store_true", help="continue OUT/checkpoint.pt (same profile and options)")
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 or auto (default: auto)")
    parser.add_argument("--steps", type=int, help="total steps (override the profile; with --resume, train further)")
    parser.add_argument("--batch-size", type=int, help="global batch (override the profile)")
    parser.add_argument("--num-faces", type=int, help="train on the first N faces only")
    parser.add_argument("--seed", type=int, help="data and init seed (default 0)")
    parser.add_argument("--amp", choices=("auto", "bf16", "fp32"), help="auto = bf16 on CUDA, fp32 elsewhere")
    parser.add_argument("--no-dictionary", action="store_true", help="ablation: no DFT blocks (Sec. 4.3)")
    parser.add_argument("--no-cadain", action="store_true", help="ablation: match raw dictionary entries")
    parser.add_argument("--no-confidence", action="store_true", help="ablation: confidence fixed to 1")
    parser.add_argument("--residual", action=argparse.BooleanOptionalAction, default=None,
                        help="add the output to the input (ours; default: on in medium, off in quick and paper)")
    parser.add_argument("--vgg-weights", metavar="FILE", help="VGG19 weights for the encoder")


def run(args) -> int:
    """Build the config, train, print where the checkpoint is."""
    from dfdnet_lite.train import profile_config, train

    for name in ("steps", "batch_size", "num_faces"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    config = profile_config(args.profile, faces=args.faces, dictionary=args.dictionary, steps=args.steps,
                            batch_size=args.batch_size, num_faces=args.num_faces, seed=args.seed, amp=args.amp,
                            vgg_weights=args.vgg_weights, residual=args.residual,
                            use_dictionary=False if args.no_dictionary else None,
                            use_cadain=False if args.no_cadain else None,
                            use_confidence=False if args.no_confidence else None)
    try:
        path = train(config, args.out, device=args.device, resume=args.resume)
    except FileExistsError as err:
        print(f"dfdnet-lite train: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"stopped; continue from the last checkpoint with: dfdnet-lite train ... --out {args.out} --resume",
              file=sys.stderr)
        raise
    print(f"checkpoint: {path}")
    return 0

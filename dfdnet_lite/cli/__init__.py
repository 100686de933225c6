"""The `dfdnet-lite` command: thin argument parsing over the package, one module per subcommand.

Each subcommand module in `dfdnet_lite.cli` defines `HELP` (one line), `add_arguments(parser)`
and `run(args) -> int` (the exit status). Modules are imported only when their subcommand
runs or `--help` is shown for them, so `dfdnet-lite --help` does not load torch.
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand -> (module under dfdnet_lite.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "faces": ("faces", "list, split and export the offline sample faces (CelebA, 999 aligned faces)"),
    "align": ("align", "detect every face in photos, 68 landmarks, align to the 512 template, part boxes"),
    "degrade": ("degrade", "degrade a folder of faces with the paper's model (presets x4, x8, mixed)"),
    "build-dictionary": ("build_dictionary", "build the component dictionaries (VGG features, RoIAlign crops, K-means)"),
    "train": ("train", "train DFDNet on faces degraded on the fly (quick / medium / paper profiles, resumable)"),
    "restore": ("restore", "restore every face of whole photos: align, DFDNet in batches, paste back"),
    "evaluate": ("evaluate", "compare restorers on held-out faces: PSNR, SSIM, landmark distance, identity (+ LPIPS/FID)"),
    "download": ("download", "download the official weights (CC BY-NC-SA 4.0) or FFHQ, CelebA, VGGFace2 test"),
}


def build_parser(selected: "str | None" = None) -> argparse.ArgumentParser:
    """The parser; only `selected`'s module is imported (all of them when None)."""
    parser = argparse.ArgumentParser(
        prog="dfdnet-lite",
        description="DFDNet (Li et al., ECCV 2020) step by step: faces, alignment, degradation, "
        "dictionaries, restoration. Run `dfdnet-lite COMMAND --help` for each command.",
    )
    parser.add_argument("--version", action="version", version=f"dfdnet-lite {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if selected in (None, name):
            importlib.import_module(f"dfdnet_lite.cli.{module}").add_arguments(p)
    return parser


def _version() -> str:
    from dfdnet_lite import __version__

    return __version__


def main(argv: "list[str] | None" = None) -> int:
    """Entry point of `dfdnet-lite` and `python -m dfdnet_lite`; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in argv if a in COMMANDS), None)
    parser = build_parser(selected if selected else "__none__")
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    module = importlib.import_module(f"dfdnet_lite.cli.{COMMANDS[args.command][0]}")
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError, ImportError, RuntimeError) as err:
        # expected failures (bad input, missing data or weights) get one clear line, no traceback
        print(f"dfdnet-lite {args.command}: error: {err}", file=sys.stderr)
        return 1

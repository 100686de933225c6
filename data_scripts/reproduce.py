#!/usr/bin/env python
"""Reproduce the book, or the paper's run.

    python data_scripts/reproduce.py --profile quick          # what `make reproduce` runs (CPU, offline)
    python data_scripts/reproduce.py --profile quick --book-only
    python data_scripts/reproduce.py --profile paper --device cuda

quick / medium: execute every notebook with papermill in that profile, then build the Jupyter
Book. The notebooks are executed into a staging copy of the book (`_build/book_src/`), so the
source tree is never modified, and the book is built from there into `_build/html` with
warnings as errors. Notebooks the book plans but that do not exist yet are listed, never faked.

paper: the paper-scale run, four resumable stages, each skipped when its output exists
(delete the output to redo a stage), all written under --out (default runs/paper):
  faces       FFHQ (10,000 faces, every 7th: the paper's list was never published), downloaded
              into OUT/ffhq by the logic of `dfdnet-lite download ffhq`, or taken from --faces DIR;
              linked into OUT/faces/{all,dictionary,held_out}/ and split (OUT/faces/split.json):
              the --held-out faces are never in the dictionaries nor in the training
  dictionary  build.build_dictionary, paper profile (K = 512): OUT/dictionary/dictionary.pt
  train       train.train, paper profile: OUT/train/checkpoint.pt (resumed when it exists)
  evaluate    `dfdnet-lite evaluate` at x4 and x8 on the held-out faces (or --eval-faces DIR):
              OUT/evaluation/ and the results table OUT/results.md
--stage runs one stage. Several GPUs: torchrun --nproc_per_node N data_scripts/reproduce.py
--profile paper --device cuda --stage dictionary (then --stage train); the other stages run in
one process. --num-faces, --k, --steps and --batch-size scale the run down (tests/test_reproduce.py
runs all four stages on 6 faces on a CPU).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
STAGE = BUILD / "book_src"

#: The book's notebooks, in reading order (issue 6); each is notebooks/<name>.ipynb + .py.
PLANNED_NOTEBOOKS: tuple[str, ...] = (
    "01_overview",
    "02_faces_and_landmarks",
    "03_degradation",
    "04_vgg_encoder",
    "05_roialign",
    "06_building_dictionaries",
    "07_dft_block",
    "08_losses",
    "09_training",
    "10_evaluation",
    "11_restore_your_photo",
)


def existing_notebooks() -> tuple[list[Path], list[str]]:
    """The planned notebooks that exist, and the names of those still missing."""
    present, missing = [], []
    for name in PLANNED_NOTEBOOKS:
        path = ROOT / "notebooks" / f"{name}.ipynb"
        (present if path.exists() else missing).append(path if path.exists() else name)
    return present, missing


def stage_sources(stage: Path = STAGE, notebooks: bool = True) -> None:
    """Copy the book's sources (config, toc, pages and, with `notebooks`, the notebooks) into `stage`."""
    for name in ("_config.yml", "_toc.yml", "book"):
        target = stage / name
        if target.is_dir():
            shutil.rmtree(target)
    stage.mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(ROOT / name, stage / name)
    shutil.copytree(ROOT / "book", stage / "book")
    if notebooks:
        if (stage / "notebooks").exists():
            shutil.rmtree(stage / "notebooks")
        shutil.copytree(ROOT / "notebooks", stage / "notebooks", ignore=shutil.ignore_patterns("*.py", ".ipynb_checkpoints"))


def stage_unexecuted(notebooks: list[Path], stage: Path = STAGE) -> list[str]:
    """Copy the notebooks that have no executed copy in `stage` as they are (stored outputs only); their names."""
    (stage / "notebooks").mkdir(parents=True, exist_ok=True)
    copied = [path.name for path in notebooks if not (stage / "notebooks" / path.name).exists()]
    for name in copied:
        shutil.copy2(ROOT / "notebooks" / name, stage / "notebooks" / name)
    if copied:
        print(f"[reproduce] not executed yet, shown without their outputs: {', '.join(copied)}", flush=True)
    return copied


def execute_notebooks(notebooks: list[Path], profile: str, device: str) -> list[str]:
    """Run each notebook with papermill in the staging folder; return the names that failed."""
    import papermill as pm

    failed = []
    for path in notebooks:
        out = STAGE / "notebooks" / path.name
        start = time.perf_counter()
        print(f"[reproduce] executing {path.name} (profile={profile}) ...", flush=True)
        try:
            pm.execute_notebook(str(path), str(out), parameters={"profile": profile, "device": device},
                                cwd=str(ROOT / "notebooks"), kernel_name="python3", progress_bar=False)
            print(f"[reproduce]   ok in {time.perf_counter() - start:.1f} s", flush=True)
        except Exception as err:  # papermill raises PapermillExecutionError with the cell's traceback
            print(f"[reproduce]   FAILED: {err}", file=sys.stderr, flush=True)
            failed.append(path.name)
    return failed


def build_book(stage: Path = STAGE, output: Path = ROOT, **run_kwargs) -> int:
    """Build the staged book into `output`/_build/html, failing on any warning; returns the exit status."""
    cmd = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(stage), "--path-output", str(output),
           "--all", "-W", "-n", "--keep-going"]
    print("[reproduce] jupyter-book " + " ".join(cmd[1:]), flush=True)
    return subprocess.run(cmd, cwd=ROOT, **run_kwargs).returncode


# ------------------------------------------------------------------------------- the paper's run

STAGES = ("faces", "dictionary", "train", "evaluate")
PAPER_FACES = 10_000  # FFHQ faces of the paper's dictionaries (Sec. 3.1)


class StageError(RuntimeError):
    """A stage cannot run: its input is missing, or its output was made with other settings."""


def _say(message: str) -> None:
    print(f"[reproduce] {message}", flush=True)


def _link(src: Path, dest: Path) -> None:
    """dest -> src as a symbolic link, or a copy where links are not allowed."""
    try:
        dest.symlink_to(src.resolve())
    except OSError:
        shutil.copy2(src, dest)


def _download_ffhq(folder: Path, num: int, timeout: float) -> None:
    """`dfdnet-lite download ffhq` for `num` faces at 512 px; offline: what to fetch by hand, and where."""
    from dfdnet_lite.cli.download import by_hand, load_script
    from dfdnet_lite.download import DownloadError

    module = load_script("ffhq")
    argv = ["--out", str(folder), "--size", "512", "--timeout", str(timeout)]
    argv += ["--balanced-10k"] if num == PAPER_FACES else ["--num", str(num), "--subset", "stride"]
    try:
        module.main(argv)
    except DownloadError as err:
        raise StageError(f"{err}\nBy hand: {by_hand('ffhq', folder, module)}\nOr use FFHQ faces you already have: "
                         f"--faces DIR (images in DIR or its subfolders).") from None


def _source_images(args) -> tuple[Path, list[Path]]:
    """The folder of high-quality faces and its first --num-faces images (downloading FFHQ if needed)."""
    from dfdnet_lite.files import list_images

    folder = Path(args.faces) if args.faces else args.out / "ffhq"
    have = list_images(folder, recursive=True) if folder.is_dir() and any(folder.iterdir()) else []
    if not args.faces and len(have) < args.num_faces:
        _say(f"faces: downloading {args.num_faces} FFHQ faces into {folder} (files already there are reused)")
        _download_ffhq(folder, args.num_faces, args.timeout)
        have = list_images(folder, recursive=True)
    if not have:
        raise StageError(f"--faces {folder}: no images in this folder or its subfolders")
    if len(have) < args.num_faces:
        _say(f"faces: NOTE {folder} holds {len(have)} images, fewer than --num-faces {args.num_faces}: using them all")
    return folder, have[: args.num_faces]


def _clear_links(root: Path) -> None:
    """Remove OUT/faces/{all,dictionary,held_out} of an interrupted faces stage; refuse anything but links there."""
    parts = [root / name for name in ("all", "dictionary", "held_out") if (root / name).exists()]
    foreign = [p for part in parts for p in part.iterdir() if not p.is_symlink()]
    if foreign or (root.exists() and set(root.iterdir()) - set(parts)):
        raise StageError(f"{root} holds files this script did not make ({(foreign or sorted(root.iterdir()))[0]}): "
                         "choose another --out, or empty it by hand")
    for part in parts:
        shutil.rmtree(part)


def stage_faces(args) -> Path:
    """OUT/faces/{all,dictionary,held_out}/ links and split.json: the held-out faces by train.split_faces."""
    from dfdnet_lite.train import TrainConfig, split_faces

    root = args.out / "faces"
    marker = root / "split.json"
    if marker.is_file():
        done = json.loads(marker.read_text())
        if (done["num_requested"], done["held_out"]) != (args.num_faces, args.held_out):
            raise StageError(f"{marker} was made with --num-faces {done['num_requested']} --held-out {done['held_out']}; "
                             f"pass the same, or delete {root} to start again")
        _say(f"faces: done ({marker}: {len(done['train'])} training, {len(done['held_out_faces'])} held-out faces)")
        return marker
    folder, images = _source_images(args)
    _clear_links(root)  # an interrupted split: the links are cheap to make again
    for name in ("all", "dictionary", "held_out"):
        (root / name).mkdir(parents=True)
    for path in images:  # flat and unique names: FFHQ keeps its faces in numbered subfolders
        _link(path, root / "all" / "_".join(path.relative_to(folder).parts))
    train, held = split_faces(TrainConfig(faces=str(root / "all"), held_out=args.held_out))
    for part, paths in (("dictionary", train), ("held_out", held)):
        for path in paths:
            _link(path, root / part / path.name)
    marker.write_text(json.dumps({"source": str(folder), "num_requested": args.num_faces, "held_out": args.held_out,
                                  "train": [p.name for p in train], "held_out_faces": [p.name for p in held]}, indent=1))
    _say(f"faces: {len(images)} faces from {folder}: {len(train)} for the dictionaries and the training, "
         f"{len(held)} held out for the evaluation ({marker})")
    return marker


def _require(path: Path, stage: str) -> None:
    if not path.exists():
        raise StageError(f"{path} is missing: run the {stage} stage first (--stage {stage}, or no --stage)")


def stage_dictionary(args) -> Path:
    """build.build_dictionary in the paper profile on the training faces: OUT/dictionary/dictionary.pt."""
    from dfdnet_lite.build import build_dictionary, profile_config

    out, faces = args.out / "dictionary", args.out / "faces" / "dictionary"
    if (out / "dictionary.pt").is_file():
        _say(f"dictionary: done ({out / 'dictionary.pt'})")
        return out / "dictionary.pt"
    _require(args.out / "faces" / "split.json", "faces")
    config = profile_config("paper", faces=str(faces), num_faces=len(list(faces.iterdir())), k=args.k,
                            device=args.device, vgg_weights=args.vgg_weights)
    resumed = (out / "cache").is_dir()
    _say(f"dictionary: K = {config.k} from {config.num_faces} faces on {args.device}" + (" (resumed)" if resumed else ""))
    build_dictionary(config, out, resume=True)  # resume=True on a fresh folder starts it (the same on every rank)
    return out / "dictionary.pt"


def train_config(args):
    """The paper profile's TrainConfig for this run (the held-out faces of the faces stage left out)."""
    from dfdnet_lite.train import profile_config

    return profile_config("paper", faces=str(args.out / "faces" / "all"), held_out=args.held_out,
                          dictionary=str(args.out / "dictionary" / "dictionary.pt"), steps=args.steps,
                          batch_size=args.batch_size, vgg_weights=args.vgg_weights)


def _checkpoint_step(path: Path) -> int:
    from dfdnet_lite.restore import _read_checkpoint

    return int(_read_checkpoint(path, mmap=True).get("step", 0))


def _check_encoder(config) -> None:
    """The training's VGG19 must be the one the dictionaries were built with (their features are compared)."""
    from dfdnet_lite.dictionary import load_dictionary
    from dfdnet_lite.encoder import vgg19_weights

    built = load_dictionary(config.dictionary).meta.get("encoder_weights", "")
    used = vgg19_weights(config.vgg_weights)[1]
    same = (Path(built[5:]).resolve() == Path(used[5:]).resolve() if built.startswith("file:") and used.startswith("file:")
            else built == used)
    if not same:
        raise StageError(f"the dictionaries were built with the VGG19 weights {built!r}, this training would use "
                         f"{used!r}: pass the same --vgg-weights to every stage")


def stage_train(args) -> Path:
    """train.train in the paper profile: OUT/train/checkpoint.pt, resumed when a checkpoint exists."""
    from dfdnet_lite.train import CHECKPOINT, train

    config, out = train_config(args), args.out / "train"
    checkpoint = out / CHECKPOINT
    step = _checkpoint_step(checkpoint) if checkpoint.is_file() else 0
    if step >= config.steps:
        _say(f"train: done ({checkpoint}, step {step} of {config.steps})")
        return checkpoint
    _require(Path(config.dictionary), "dictionary")
    _check_encoder(config)
    _say(f"train: {config.steps} steps, batch {config.batch_size}, on {args.device}"
         + (f" (resumed at step {step})" if step else ""))
    return train(config, out, device=args.device, resume=checkpoint.is_file())


def _results_header(args, config) -> list[str]:
    """How the run was made: faces, split, K, steps; every setting scaled down from the paper profile is said so."""
    from dfdnet_lite.build import profile_config
    from dfdnet_lite.train import TrainConfig

    split = json.loads((args.out / "faces" / "split.json").read_text())
    paper_k, paper = profile_config("paper").k, TrainConfig()
    changed = [f"{name} {value} (paper profile: {default})" for name, value, default in
               (("faces", split["num_requested"], PAPER_FACES), ("K", args.k or paper_k, paper_k),
                ("steps", config.steps, paper.steps), ("batch", config.batch_size, paper.batch_size)) if value != default]
    return ["# DFDNet reproduction: results", "",
            f"- faces: {len(split['train']) + len(split['held_out_faces'])} from {split['source']}; "
            f"{len(split['train'])} for the dictionaries and the training, {len(split['held_out_faces'])} held out "
            "(never in either)",
            f"- dictionaries: K = {args.k or paper_k} (dfdnet_lite.build, paper profile); training: {config.steps} "
            f"steps of batch {config.batch_size} (dfdnet_lite.train, paper profile; the values the paper does not give "
            "are ours, marked so in TrainConfig and LossConfig)",
            f"- scaled down from the paper profile: {'; '.join(changed)}" if changed else "- the full paper profile",
            "- made by: python data_scripts/reproduce.py --profile paper (see book/reproduce.md)", ""]


def stage_evaluate(args) -> Path:
    """`dfdnet-lite evaluate` at x4, x8 on the held-out faces: OUT/evaluation/ and OUT/results.md."""
    from dfdnet_lite.cli import evaluate as cli

    results, checkpoint = args.out / "results.md", args.out / "train" / "checkpoint.pt"
    if results.is_file():
        _say(f"evaluate: done ({results})")
        return results
    _require(checkpoint, "train")
    faces = Path(args.eval_faces) if args.eval_faces else args.out / "faces" / "held_out"
    argv = ["--checkpoint", str(checkpoint), "--faces", str(faces), "--degradation", "x4,x8", "--device", args.device,
            "-o", str(args.out / "evaluation")] + (["--num-faces", str(args.eval_num_faces)] if args.eval_num_faces else [])
    parser = argparse.ArgumentParser(prog="dfdnet-lite evaluate")
    cli.add_arguments(parser)
    _say(f"evaluate: {' '.join(argv)}")
    if cli.run(parser.parse_args(argv)):
        raise StageError("the evaluation failed; see above")
    table = (args.out / "evaluation" / "results.md").read_text().splitlines()
    body = ["#" + line if line.startswith("#") else line for line in table]  # one level down
    results.write_text("\n".join(_results_header(args, train_config(args)) + body) + "\n")
    _say(f"evaluate: results table in {results}")
    return results


def run_paper(args) -> int:
    """The stages in order (or the one of --stage); 0 when all ran or were done, 1 on a StageError."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    stages = STAGES if args.stage == "all" else (args.stage,)
    if world > 1 and set(stages) - {"dictionary", "train"}:
        print("[reproduce] under torchrun pass --stage dictionary or --stage train; run the faces and evaluate "
              "stages in one process", file=sys.stderr)
        return 2
    start = time.perf_counter()
    try:
        for stage in stages:
            begin = time.perf_counter()
            globals()[f"stage_{stage}"](args)
            _say(f"{stage}: {time.perf_counter() - begin:.0f} s")
    except StageError as err:
        print(f"[reproduce] error: {err}", file=sys.stderr)
        return 1
    _say(f"paper profile: {', '.join(stages)} finished in {time.perf_counter() - start:.0f} s; results in {args.out}")
    return 0


def parse_args(argv: "list[str] | None" = None) -> argparse.Namespace:
    """Command-line options: the profile, the device, and the paper run's stages and sizes."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=["quick", "medium", "paper"], default="quick",
                        help="quick/medium: the notebooks and the book; paper: the paper-scale run (default: quick)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda (default: auto)")
    parser.add_argument("--book-only", action="store_true", help="build the book from already executed notebooks")
    paper = parser.add_argument_group("paper profile")
    paper.add_argument("--stage", choices=["all", *STAGES], default="all", help="run one stage (default: all)")
    paper.add_argument("--out", type=Path, default=ROOT / "runs" / "paper", help="run folder (default: runs/paper)")
    paper.add_argument("--faces", metavar="DIR", help="FFHQ faces you already have (no download)")
    paper.add_argument("--num-faces", type=int, default=PAPER_FACES, help=f"faces taken (default {PAPER_FACES})")
    paper.add_argument("--held-out", type=int, default=100, help="faces kept for the evaluation (default 100)")
    paper.add_argument("--k", type=int, help="dictionary entries per part and scale (default: the paper profile's 512)")
    paper.add_argument("--steps", type=int, help="training steps (default: the paper profile's)")
    paper.add_argument("--batch-size", type=int, help="global training batch (default: the paper profile's)")
    paper.add_argument("--vgg-weights", metavar="FILE",
                       help="VGG19 of every stage, e.g. the official weights/official/weights/vgg19.pth (default: "
                       "torchvision's ImageNet VGG19 if cached, else the offline one)")
    paper.add_argument("--eval-faces", metavar="DIR", help="evaluate on these photos instead of the held-out faces")
    paper.add_argument("--eval-num-faces", type=int, metavar="N", help="evaluate on the first N faces only")
    paper.add_argument("--timeout", type=float, default=15.0, help="seconds before an unreachable host fails (default 15)")
    args = parser.parse_args(argv)
    for name in ("num_faces", "k", "steps", "batch_size", "eval_num_faces"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.held_out < 1 or args.held_out >= args.num_faces:
        parser.error("--held-out must be at least 1 and smaller than --num-faces")
    return args


def main(argv: "list[str] | None" = None) -> int:
    args = parse_args(argv)
    if args.profile == "paper" and not args.book_only:
        return run_paper(args)
    notebooks, missing = existing_notebooks()
    if missing:
        print(f"[reproduce] {len(missing)} of {len(PLANNED_NOTEBOOKS)} planned notebooks do not exist yet: "
              + ", ".join(missing), flush=True)
    failed: list[str] = []
    start = time.perf_counter()
    if not args.book_only:
        stage_sources()
        failed = execute_notebooks(notebooks, args.profile, args.device)
    else:
        stage_sources(notebooks=False)  # the pages and the table of contents as they are now
        stage_unexecuted(notebooks)
    status = build_book()
    print(f"[reproduce] executed {len(notebooks) - len(failed)} of {len(notebooks)} existing notebooks; "
          f"{len(missing)} missing; book build {'ok' if status == 0 else 'FAILED'} -> _build/html/index.html "
          f"({time.perf_counter() - start:.0f} s)")
    return 1 if failed or status else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`dfdnet-lite download`: the official weights or a data set, a thin layer over data_scripts/ (Notebooks 04-06).

The downloaders themselves are the scripts in `data_scripts/` (licence first, resume, checksums,
`--from-folder` for files fetched by hand); this command loads them from the checkout, passes the
options on, and when a host cannot be reached adds what to download by hand and where to put it.
"""
from __future__ import annotations

import argparse
import functools
import importlib.util
from pathlib import Path

HELP = "download the official DFDNet weights or a data set: licence first, checksums, clear offline help"

#: dataset -> (script in data_scripts/, default --out, options it takes besides --out)
DATASETS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "official": ("download_official.py", "weights/official", ("what", "from_folder", "dry_run", "timeout")),
    "ffhq": ("download_ffhq.py", "data/ffhq", ("num", "size", "dry_run", "timeout")),
    "celeba": ("download_celeba.py", "data/celeba", ("what", "extract", "dry_run", "timeout")),
    "vggface2-test": ("download_vggface2_test.py", "data/vggface2_test", ("num", "from_folder")),
}
SCRIPTS_DIR = Path(__file__).resolve().parents[2] / "data_scripts"

EPILOG = """\
what each one is:
  official       the authors' generator, 16 component dictionaries and VGG19 (CC BY-NC-SA 4.0,
                 non-commercial), into weights/official: `dfdnet-lite restore` uses them from there
                 by default. No checksums are published: the computed sha256 are printed and kept in
                 OUT/official_sha256.json.
  ffhq           aligned FFHQ faces (CC BY-NC-SA 4.0, NVIDIA; each image keeps its Flickr licence),
                 md5-checked against NVIDIA's metadata (--num N first faces, --size 512 to resize)
  celeba         CelebA aligned faces and annotations (non-commercial research only), md5-checked
  vggface2-test  not downloadable any more: says where to ask, or selects --num faces --from-folder
Each prints its licence before downloading, resumes interrupted files and reuses correct ones.
Offline it fails within --timeout seconds and says what to download by hand and where to put it.
More options: python data_scripts/download_ffhq.py --help (and the other scripts).

examples:
  dfdnet-lite download official                                 # into weights/official
  dfdnet-lite download official --from-folder ~/Downloads/DFDNet # the Drive/Baidu folder fetched by hand
  dfdnet-lite download ffhq --num 100 --size 512 --out data/ffhq
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `dfdnet-lite download`."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument("dataset", choices=list(DATASETS), help="what to download")
    parser.add_argument("--out", metavar="DIR", help="destination folder (default: " +
                        ", ".join(f"{k}: {v[1]}" for k, v in DATASETS.items()) + ")")
    parser.add_argument("--what", metavar="GROUP", help="official: generator, dictionaries, vgg or all; "
                        "celeba: aligned, annotations or all (default: all)")
    parser.add_argument("--from-folder", metavar="DIR", help="official, vggface2-test: copy from a folder you "
                        "downloaded by hand (checked, put in the layout under --out)")
    parser.add_argument("--num", type=int, metavar="N", help="ffhq: number of faces (default 100); "
                        "vggface2-test: faces to select (default 2000)")
    parser.add_argument("--size", type=int, choices=(1024, 512), help="ffhq: 1024 as published or 512 (default 1024)")
    parser.add_argument("--extract", action="store_true", help="celeba: unzip the aligned faces after the download")
    parser.add_argument("--dry-run", action="store_true", help="print the files and where they go; no network")
    parser.add_argument("--timeout", type=float, metavar="S", help="seconds before an unreachable host fails (default 15)")


@functools.lru_cache(maxsize=None)
def load_script(dataset: str):
    """The module of the dataset's script in data_scripts/ (present in a checkout of the repository)."""
    path = SCRIPTS_DIR / DATASETS[dataset][0]
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: `dfdnet-lite download` runs the scripts of data_scripts/, which "
                                "come with a checkout of the repository (git clone, then pip install -e .)")
    spec = importlib.util.spec_from_file_location(f"dfdnet_lite_data_scripts.{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def script_argv(args) -> list[str]:
    """The script's command line for the chosen options; ValueError for an option the dataset does not take."""
    _, default_out, takes = DATASETS[args.dataset]
    given = {name: getattr(args, name) for name in ("what", "from_folder", "num", "size", "extract", "dry_run",
                                                   "timeout") if getattr(args, name) not in (None, False)}
    wrong = sorted(set(given) - set(takes))
    if wrong:
        flags = ", ".join("--" + name.replace("_", "-") for name in ("out",) + takes)
        raise ValueError(f"download {args.dataset} does not take --{wrong[0].replace('_', '-')} (it takes {flags})")
    argv = ["--out", args.out or default_out]
    for name, value in given.items():
        argv += [f"--{name.replace('_', '-')}"] + ([] if value is True else [str(value)])
    return argv


def by_hand(dataset: str, out: Path, module) -> str:
    """What to download by hand, and where to put it, when the host cannot be reached."""
    if dataset == "official":
        return (f"download the official folder https://drive.google.com/drive/folders/{module.DRIVE_FOLDER} (or Baidu "
                f"{module.BAIDU}) on a machine with internet, copy it here and run `dfdnet-lite download official "
                f"--from-folder THAT_FOLDER --out {out}`: it checks the files and puts them at "
                f"{out / 'checkpoints/facefh_dictionary/latest_net_G.pth'}, {out / 'DictionaryCenter512'}/*.npy "
                f"and {out / 'weights/vgg19.pth'}")
    if dataset == "ffhq":
        return (f"download {module.METADATA['file']} and the faces (images1024x1024/NNNNN/NNNNN.png) from "
                f"https://github.com/NVlabs/ffhq-dataset on a machine with internet, put them under {out} (the same "
                "layout) and run this again: the files there are md5-checked and reused")
    if dataset == "celeba":
        names = ", ".join(name for group in module.FILES.values() for name, _, _ in group)
        return (f"download {names} from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (its Google Drive) on a "
                f"machine with internet, put them in {out} and run this again: they are md5-checked and reused")
    return module.WHERE


def run(args) -> int:
    """Run the dataset's downloader; offline, its error gains what to download by hand and where."""
    from dfdnet_lite.download import DownloadError

    argv = script_argv(args)
    out, module = Path(argv[1]), load_script(args.dataset)
    try:
        status = int(module.main(argv) or 0)
    except DownloadError as err:
        raise DownloadError(f"{err}\nBy hand: {by_hand(args.dataset, out, module)}") from None
    if args.dataset == "official" and status == 0 and not args.dry_run and args.what in (None, "all"):
        default = out.resolve() == Path(DATASETS["official"][1]).resolve()
        print("`dfdnet-lite restore` uses these weights by default when run from this folder" if default else
              f"use them with `dfdnet-lite restore PHOTOS -o DIR --checkpoint {out / 'checkpoints/facefh_dictionary/latest_net_G.pth'}`")
    return status

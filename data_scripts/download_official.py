#!/usr/bin/env python
"""Download the official DFDNet release (generator, 16 component dictionaries, VGG19) into one folder.

Paper: Li et al., ECCV 2020 (Sec. 3 dictionaries, Sec. 4 network); Notebook 05. The files are
CC BY-NC-SA 4.0 (non-commercial): never commit them to this repository.

Where the files are: the official README (csxmli2016/DFDNet, branch `whole`, 2022-12-05) links one
Google Drive folder and one BaiduNetDisk share; it publishes no per-file links and no checksums.
This script lists the Drive folder (its public "embedded folder view" page), finds the files of
the manifest below by their relative paths and downloads each with resume and progress. The
sha256 of every file is unknown upstream: the manifest records None, and the script prints the
computed hashes and writes them to `<out>/official_sha256.json` so that they can be pinned.
If Drive refuses (quota, a changed page) or you used Baidu, download the folder by hand and run
`--from-folder DIR`: the files are found there, checked and copied into the layout below.
"""
from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
from dfdnet_lite.config import PARTS, SCALES  # noqa: E402
from dfdnet_lite.download import (DownloadError, download, fetch_text, file_digest, gdrive_url,  # noqa: E402
                                  run_script, verify_sha256)

LICENCE = ("CC BY-NC-SA 4.0 (Li et al., DFDNet, https://github.com/csxmli2016/DFDNet): attribution, "
           "non-commercial use only, derivatives under the same licence")
#: Google Drive folder of the official README (branch `whole`, commit of 2022-12-05).
DRIVE_FOLDER = "1ks_IbobH6WVQ_Jy4oWTTGjSbMZVUSbl4"
#: The folder the README linked before December 2022 (branch `master`), tried second.
DRIVE_FOLDER_OLD = "1bayYIUMCSGmoFPyd4Uu2Uwn347RW-vl5"
BAIDU = "https://pan.baidu.com/s/1K4fzjPiezVSMl5NjHoJCGQ (extraction code s9ht)"

#: group -> files (path relative to the release root, sha256 or None while unknown upstream)
MANIFEST: dict[str, list[dict]] = {
    "generator": [{"path": "checkpoints/facefh_dictionary/latest_net_G.pth", "sha256": None}],
    "dictionaries": [{"path": f"DictionaryCenter512/{part}_{scale}_center.npy", "sha256": None}
                     for part in PARTS for scale in SCALES],
    "vgg": [{"path": "weights/vgg19.pth", "sha256": None}],
}


def parse_args(argv):
    """Command-line arguments."""
    p = argparse.ArgumentParser(
        description="Download the official DFDNet generator, its 16 component dictionaries and VGG19 "
        "(CC BY-NC-SA 4.0) from the authors' Google Drive folder, with resume, progress and sha256.",
        epilog=f"Manual route: download the Drive folder https://drive.google.com/drive/folders/{DRIVE_FOLDER} "
        f"or Baidu {BAIDU}, then run with --from-folder.")
    p.add_argument("--what", choices=["generator", "dictionaries", "vgg", "all"], default="all",
                   help="which part of the release to get (default: all = 18 files)")
    p.add_argument("--out", required=True, type=Path,
                   help="folder that receives checkpoints/, DictionaryCenter512/, weights/")
    p.add_argument("--from-folder", type=Path, help="copy from a folder you downloaded by hand instead of the network")
    p.add_argument("--dry-run", action="store_true", help="print the files and where they go; no network, no copies")
    p.add_argument("--timeout", type=float, default=15.0, help="seconds before an unreachable host fails (default 15)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def wanted(what: str) -> list[dict]:
    """Manifest entries of one group, or of all."""
    groups = list(MANIFEST) if what == "all" else [what]
    return [entry for g in groups for entry in MANIFEST[g]]


def list_drive_folder(folder_id: str, timeout: float, prefix: str = "", depth: int = 0) -> dict[str, str]:
    """relative path -> file id of a public Drive folder, read from its embedded folder view, recursively."""
    page = fetch_text(f"https://drive.google.com/embeddedfolderview?id={folder_id}", timeout=timeout)
    found: dict[str, str] = {}
    for chunk in page.split('class="flip-entry"')[1:]:
        entry_id = re.search(r'id="entry-([-\w]+)"', chunk)
        title = re.search(r'class="flip-entry-title">([^<]+)<', chunk)
        if not (entry_id and title):
            continue
        name = prefix + html.unescape(title.group(1)).strip()
        if "/folders/" in chunk.split("</a>")[0] and depth < 4:
            found.update(list_drive_folder(entry_id.group(1), timeout, name + "/", depth + 1))
        else:
            found[name] = entry_id.group(1)
    return found


def locate(listing: dict[str, str], rel: str) -> "str | None":
    """The listing key for `rel`: the same relative path, or a unique path ending in it."""
    if rel in listing:
        return rel
    hits = [k for k in listing if k.endswith("/" + rel)]
    return hits[0] if len(hits) == 1 else None


def from_drive(entries: list[dict], out: Path, timeout: float, progress: bool) -> dict[str, str]:
    """Download the entries from the official Drive folder; return path -> sha256."""
    listing: dict[str, str] = {}
    for folder in (DRIVE_FOLDER, DRIVE_FOLDER_OLD):
        listing = list_drive_folder(folder, timeout)
        if all(locate(listing, e["path"]) for e in entries):
            break
    missing = [e["path"] for e in entries if not locate(listing, e["path"])]
    if missing:
        raise DownloadError(f"the official Drive folder does not list {', '.join(missing[:3])}"
                            f"{' ...' if len(missing) > 3 else ''} (it lists {len(listing)} files); download it by "
                            f"hand (Drive or Baidu {BAIDU}) and run again with --from-folder DIR")
    hashes = {}
    for e in entries:
        dest = download(gdrive_url(listing[locate(listing, e["path"])]), out / e["path"], sha256=e["sha256"],
                        timeout=timeout, progress=progress)
        hashes[e["path"]] = file_digest(dest)
    return hashes


def from_folder(entries: list[dict], src: Path, out: Path) -> dict[str, str]:
    """Copy the entries out of a hand-downloaded folder (found by relative path or by unique name)."""
    if not src.is_dir():
        raise FileNotFoundError(f"{src}: not a folder")
    listing = {p.relative_to(src).as_posix(): "" for p in src.rglob("*") if p.is_file()}
    hashes = {}
    for e in entries:
        key = locate(listing, e["path"])
        if key is None:
            raise FileNotFoundError(f"{src}: no {e['path']} (nor a unique .../{e['path']}) in this folder")
        dest = out / e["path"]
        if e["sha256"]:
            verify_sha256(src / key, e["sha256"])
        if (src / key).resolve() != dest.resolve():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / key, dest)
        hashes[e["path"]] = file_digest(dest)
        print(f"{dest}: sha256 {hashes[e['path']]}")
    return hashes


def main(argv=None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    print(f"Licence of the official DFDNet release: {LICENCE}")
    entries = wanted(args.what)
    if args.dry_run:
        source = args.from_folder or f"https://drive.google.com/drive/folders/{DRIVE_FOLDER}"
        print(f"{len(entries)} files from {source}:")
        for e in entries:
            print(f"  {args.out / e['path']}  (sha256 {e['sha256'] or 'not published'})")
        return 0
    if args.from_folder:
        hashes = from_folder(entries, args.from_folder, args.out)
    else:
        hashes = from_drive(entries, args.out, args.timeout, not args.no_progress)
    record = args.out / "official_sha256.json"
    known = json.loads(record.read_text()) if record.exists() else {}
    record.write_text(json.dumps({**known, **hashes}, indent=2, sort_keys=True) + "\n")
    print(f"{len(hashes)} files ready under {args.out}; their sha256 are in {record} (pin them in MANIFEST)")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))

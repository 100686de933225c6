"""Photos and faces per second of whole-photo restoration: detect, align, restore in batches, paste (Notebook 11).

Usage:
    python benchmarks/bench_restore.py                       # the weights `dfdnet-lite restore` would use
    python benchmarks/bench_restore.py --random-weights      # no trained weights yet: an untrained net (speed only)
    python benchmarks/bench_restore.py --random-weights --batches 1 --dtypes fp32 --devices cpu --ngf 8 --k 8  # smoke run
    DFDNET_OFFICIAL_REPO=/tmp/official_dfdnet python benchmarks/bench_restore.py --random-weights --official

Photos: two synthetic group photos built from the CelebA sample faces (x1.5 on a noisy canvas):
one with 4 faces (2 x 2), one with 2 faces (side by side), 6 faces in all. Weights: those of
`restore.resolve_weights` (--checkpoint, else the official release in weights/official, else
runs/quick/checkpoint.pt); with --random-weights an untrained net of --ngf and a random dictionary
of --k entries (the table says so; speed does not depend on the values, but the official net is
ngf 64 with K of its files). Every row is one timed pass over both photos after a one-face warm-up,
end to end (detection, alignment, restoration, paste-back); the stage split comes from
RestoreResult.timings. --official adds a row per device where the official UNetDictFace (random
weights, built from $DFDNET_OFFICIAL_REPO as in official_parity.py) restores the same faces one
at a time, fp32, as the official test script does.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dfdnet_lite import restore  # noqa: E402

HEADER = ("| device | net | dtype | batch | photos | faces | seconds | photos/s | faces/s | detect+align s | "
          "restore s | paste s |\n|---|---|---|---|---|---|---|---|---|---|---|---|")


def group_photo(indices: list[int], cols: int) -> np.ndarray:
    """Sample faces (x1.5, 327 x 267 each) on a grid over a noisy canvas."""
    import cv2

    from dfdnet_lite.data import sample_faces
    from dfdnet_lite.files import read_image

    rows = -(-len(indices) // cols)
    canvas = np.random.default_rng(0).integers(60, 200, (rows * 367 + 40, cols * 307 + 40, 3), dtype=np.uint8)
    for n, i in enumerate(indices):
        face = cv2.resize(read_image(sample_faces()[i]), None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
        y, x = 40 + (n // cols) * 367, 20 + (n % cols) * 307
        canvas[y:y + face.shape[0], x:x + face.shape[1]] = face
    return canvas


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, else platform)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    """CPU model, cores, threads, torch version and GPU name, for the table's caption."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{cpu_model()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, torch {torch.__version__}, "
            f"{gpu}, Python {platform.python_version()}")


class OfficialForward:
    """The official UNetDictFace behind our net's call: net(lq, boxes), one face at a time (official test script)."""

    def __init__(self, theirs):
        self.theirs = theirs

    def parameters(self):
        return self.theirs.parameters()

    def __call__(self, lq, boxes):
        import torch

        outs = [self.theirs(lq[i:i + 1].contiguous(), [boxes[i:i + 1, p].int() for p in range(4)])
                for i in range(lq.shape[0])]
        return torch.cat(outs)  # (B, 3, 512, 512) in [-1, 1]


def official_net(device):
    """The official UNetDictFace with random weights, or None when $DFDNET_OFFICIAL_REPO holds no official code."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import official_parity as op

    theirs = op.official_eval_net(device)
    return None if theirs is None else OfficialForward(theirs)


def run_config(net, photos, batch: int, dtype, device) -> dict:
    """One pass over all photos; photos/s, faces/s and the stage split."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    results = [restore.restore_photo(net, p, batch_size=batch, device=device, dtype=dtype) for p in photos]
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t
    faces = sum(len(r.crops) for r in results)
    stage = {k: sum(r.timings[k] for r in results) for k in ("detect", "align", "restore", "paste")}
    return {"batch": batch, "faces": faces, "seconds": seconds, "photos_s": len(photos) / seconds,
            "faces_s": faces / seconds, "detect_align": stage["detect"] + stage["align"],
            "restore": stage["restore"], "paste": stage["paste"]}


def row(device_label: str, net_label: str, dtype: str, batch: int, n_photos: int, r: dict) -> str:
    """One Markdown table row."""
    return (f"| {device_label} | {net_label} | {dtype} | {batch} | {n_photos} | {r['faces']} | {r['seconds']:.1f} | "
            f"{r['photos_s']:.3f} | {r['faces_s']:.3f} | {r['detect_align']:.1f} | {r['restore']:.1f} | {r['paste']:.2f} |")


def load_net(args, device):
    """(net, label for the table): resolved trained weights, or an untrained net with --random-weights."""
    if args.random_weights:
        return (restore.random_generator(ngf=args.ngf, k=args.k, device=device),
                f"ours, RANDOM weights (untrained, ngf {args.ngf}, K {args.k})")
    checkpoint, dictionary, label = restore.resolve_weights(args.checkpoint, args.dictionary)
    return restore.load_generator(checkpoint, dictionary, device=device), f"ours, {label}"


def parse_args(argv):
    """Command-line arguments."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", default="1,4", help="faces per forward pass (default 1,4)")
    p.add_argument("--dtypes", default="fp32,bf16", help="fp32 and/or bf16 autocast (default both)")
    p.add_argument("--devices", default="cpu,cuda", help="cpu and/or cuda; cuda is skipped when absent")
    p.add_argument("--checkpoint", help="weights to time (default: those `dfdnet-lite restore` would use)")
    p.add_argument("--dictionary", help="dictionary for --checkpoint (default: beside it / stored in it)")
    p.add_argument("--random-weights", action="store_true", help="time an UNTRAINED net (no trained weights needed)")
    p.add_argument("--ngf", type=int, default=64, help="with --random-weights: decoder width (default 64, the paper's)")
    p.add_argument("--k", type=int, default=64, help="with --random-weights: entries per dictionary (default 64)")
    p.add_argument("--official", action="store_true", help="also time the official UNetDictFace ($DFDNET_OFFICIAL_REPO)")
    return p.parse_args(argv)


def main(argv=None) -> None:
    import torch

    args = parse_args(argv)
    photos = [group_photo([0, 1, 4, 5], cols=2), group_photo([6, 7], cols=2)]
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    try:
        nets = {name: load_net(args, torch.device(name)) for name in args.devices.split(",")
                if name != "cuda" or torch.cuda.is_available()}
    except FileNotFoundError as err:
        sys.exit(f"{err}\nTo time the pipeline without trained weights, run with --random-weights.")
    # warm-up: loads dlib (whose licence note prints once) and the device's kernels, before the table
    warm = {name: restore.restore_photo(net, photos[1], batch_size=1, device=torch.device(name))
            for name, (net, _) in nets.items()}
    print(f"Machine: {machine_line()}")
    print(f"Photos: {[tuple(p.shape[:2]) for p in photos]}, end to end (detect, align, restore, paste)\n")
    print(HEADER)
    for dev_name, (net, label) in nets.items():
        device = torch.device(dev_name)
        dev_label = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
        for dt in args.dtypes.split(","):
            restore.restore_faces(net, warm[dev_name].crops[:1], 1, device, dtypes[dt])  # warm the dtype's weight cache
            for batch in map(int, args.batches.split(",")):
                print(row(dev_label, label, dt, batch, len(photos), run_config(net, photos, batch, dtypes[dt], device)),
                      flush=True)
        if args.official:
            theirs = official_net(device)
            if theirs is None:
                print(f"| {dev_label} | official UNetDictFace: not found, set DFDNET_OFFICIAL_REPO | | | | | | | | | | |")
                continue
            restore.restore_faces(theirs, warm[dev_name].crops[:1], 1, device, None, channels_last=False)
            r = run_config(theirs, photos, 1, None, device)
            print(row(dev_label, "official UNetDictFace, RANDOM weights, one face at a time", "fp32", 1, len(photos), r),
                  flush=True)


if __name__ == "__main__":
    main()

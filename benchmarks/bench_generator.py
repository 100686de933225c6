"""Faces per second of the DFDNet generator on 512 faces (Notebook 07).

Usage:
    python benchmarks/bench_generator.py                      # CPU (+ CUDA when present), batches 1, 8, 32
    python benchmarks/bench_generator.py --batches 1,4 --repeats 2 --devices cpu
    DFDNET_OFFICIAL_REPO=/tmp/official_dfdnet python benchmarks/bench_generator.py --official

Random weights and a random dictionary (K entries per part and scale): speed does not depend on
the values. Rows: "official-style" runs our net like the official test script (batch 1, fp32,
one face at a time, contiguous tensors); "ours" batches, with fp32 or bfloat16 autocast and
contiguous or channels_last. With --official the official UNetDictFace itself is timed too
(batch 1, fp32, eval mode). Each figure is the best of --repeats timed runs after one warm-up.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dfdnet_lite.dictionary import ComponentDictionary  # noqa: E402
from dfdnet_lite.model import DFDNet, DFDNetConfig  # noqa: E402

BOXES = torch.tensor([[146, 192, 219, 265], [291, 195, 362, 266], [234, 273, 279, 318], [209, 321, 312, 424]]).float()


def inputs(batch: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Random faces in [-1, 1] and jittered part boxes (each item its own crop sizes)."""
    g = torch.Generator().manual_seed(batch)
    lq = torch.rand(batch, 3, 512, 512, generator=g) * 2 - 1
    boxes = BOXES[None] + torch.randint(-6, 7, (batch, 4, 4), generator=g).float()
    return lq.to(device), boxes.to(device)


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def seconds_per_call(fn, device, repeats: int) -> float:
    """Best wall time of `repeats` calls after one warm-up."""
    fn()
    sync(device)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - t)
    return best


def time_ours(net, device, batch: int, dtype: str, channels_last: bool, repeats: int) -> float:
    """Seconds per face for one configuration of our generator."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=fmt)
    lq, boxes = inputs(batch, device)
    lq = lq.contiguous(memory_format=fmt)

    def run():
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bf16"):
            return net(lq, boxes)

    return seconds_per_call(run, device, repeats) / batch


def time_official_style(net, device, faces: int, repeats: int) -> float:
    """Seconds per face looping over single faces, fp32, contiguous (the official test script's way)."""
    net = net.to(memory_format=torch.contiguous_format)
    lq, boxes = inputs(faces, device)

    def run():
        with torch.no_grad():
            for b in range(faces):
                net(lq[b : b + 1], boxes[b : b + 1])

    return seconds_per_call(run, device, repeats) / faces


def time_official_code(device, repeats: int) -> "float | None":
    """Seconds per face of the official UNetDictFace (batch 1, fp32, eval), if its code is available."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import official_parity as op

    theirs = op.official_eval_net(device)
    if theirs is None:
        return None
    lq, boxes = inputs(1, device)
    locations = [boxes[:, p].int() for p in range(4)]

    def run():
        with torch.no_grad():
            return theirs(lq, locations)

    return seconds_per_call(run, device, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="1,8,32", help="comma-separated batch sizes (use 1,4 or 1,8 on a small CPU)")
    parser.add_argument("--devices", default="cpu,cuda", help="cpu and/or cuda (cuda is skipped when absent)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--k", type=int, default=128, help="entries per dictionary")
    parser.add_argument("--official", action="store_true", help="also time the official code ($DFDNET_OFFICIAL_REPO)")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    torch.manual_seed(0)
    base = DFDNet(DFDNetConfig(vgg_weights=False), ComponentDictionary.random(k=args.k)).eval()
    print(f"torch {torch.__version__}, {os.cpu_count()} CPU cores, {torch.get_num_threads()} threads, K = {args.k}")
    print("| device | run | batch | dtype | memory format | s / face | faces / s |")
    print("|---|---|---|---|---|---|---|")
    for name in args.devices.split(","):
        if name == "cuda" and not torch.cuda.is_available():
            continue
        device = torch.device(name)
        net = base.to(device)
        label = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"

        def row(run, batch, dtype, fmt, spf):
            print(f"| {label} | {run} | {batch} | {dtype} | {fmt} | {spf:.3f} | {1 / spf:.2f} |", flush=True)

        if args.official:
            spf = time_official_code(device, args.repeats)
            if spf is not None:
                row("official UNetDictFace", 1, "fp32", "contiguous", spf)
        row("official-style loop", 1, "fp32", "contiguous", time_official_style(net, device, 2, args.repeats))
        for batch in batches:
            for dtype in ("fp32", "bf16"):
                for cl in (False, True):
                    spf = time_ours(net, device, batch, dtype, cl, args.repeats)
                    row("ours", batch, dtype, "channels_last" if cl else "contiguous", spf)


if __name__ == "__main__":
    main()

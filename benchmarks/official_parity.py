"""Parity of `load_official` with the official UNetDictFace forward (Notebook 07).

Usage:
    DFDNET_OFFICIAL_REPO=/tmp/official_dfdnet python benchmarks/official_parity.py
    python benchmarks/official_parity.py --write-manifest   # refresh assets/official_state_dict_manifest.json

DFDNET_OFFICIAL_REPO is a checkout (or `git archive whole models util sync_batchnorm`) of
csxmli2016/DFDNet. Its code is copied to a temporary folder and patched there only (torchvision's
`vgg19(pretrained=False)` became `vgg19(weights=None)`); nothing of it enters this repository.
The official net is built with random weights, a random `vgg19.pth` and random dictionaries
(K = 12..16) in the official layout; its state dict is saved as a checkpoint and loaded with
`load_official`. Both run in eval mode (stored u, v: no power iteration), CPU, fp32, batch 1.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "dfdnet_lite" / "assets" / "official_state_dict_manifest.json"
DEFAULT_REPO = "/tmp/official_dfdnet"
PARTS = ("left_eye", "right_eye", "nose", "mouth")
PART_SIZES = {"left_eye": 80, "right_eye": 80, "nose": 50, "mouth": 110}
CHANNELS = {256: 128, 128: 256, 64: 512, 32: 512}


def official_repo() -> "Path | None":
    """The official code's folder from $DFDNET_OFFICIAL_REPO or /tmp/official_dfdnet, if it holds models/networks.py."""
    path = Path(os.environ.get("DFDNET_OFFICIAL_REPO", DEFAULT_REPO))
    return path if (path / "models" / "networks.py").is_file() else None


def write_random_assets(work: Path, seed: int = 0, k_range=(12, 17)) -> None:
    """Random `weights/vgg19.pth` and `DictionaryCenter512/{part}_{scale}_center.npy` (flattened) in `work`."""
    from torchvision.models import vgg19

    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    (work / "weights").mkdir(parents=True, exist_ok=True)
    torch.save(vgg19(weights=None).state_dict(), work / "weights" / "vgg19.pth")
    (work / "DictionaryCenter512").mkdir(exist_ok=True)
    for part in PARTS:
        for scale, c in CHANNELS.items():
            s = PART_SIZES[part] // (512 // scale)
            k = int(torch.randint(k_range[0], k_range[1], (1,), generator=g))
            entries = torch.randn(k, c * s * s, generator=g).abs() * 2.0  # post-ReLU-like, flattened as released
            np.save(work / "DictionaryCenter512" / f"{part}_{scale}_center.npy", entries.numpy())


@contextlib.contextmanager
def official_networks(repo: Path, work: Path):
    """Import the official `models.networks` from a patched copy in `work`, then forget it again."""
    for name in ("models", "util", "sync_batchnorm"):
        shutil.copytree(repo / name, work / name, dirs_exist_ok=True)
    net_py = work / "models" / "networks.py"
    net_py.write_text(net_py.read_text().replace("vgg19(pretrained=False)", "vgg19(weights=None)"))
    saved_path, saved_cwd = list(sys.path), os.getcwd()
    sys.path.insert(0, str(work))
    os.chdir(work)  # VGGFeat reads ./weights/vgg19.pth
    try:
        import models.networks as networks  # noqa: the official code

        yield networks
    finally:
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        for name in list(sys.modules):
            if name.split(".")[0] in ("models", "util", "sync_batchnorm"):
                del sys.modules[name]


def torch_sn_power_iterate(net, steps: int) -> None:
    """Power iterations on every torch.nn.utils.spectral_norm hook of `net` (the official net's SN)."""
    from torch.nn.utils.spectral_norm import SpectralNorm

    with torch.no_grad():
        for module in net.modules():
            for hook in list(module._forward_pre_hooks.values()):
                if isinstance(hook, SpectralNorm):
                    for _ in range(steps):
                        hook.compute_weight(module, do_power_iteration=True)


def build_official(repo: Path, work: Path, seed: int = 0):
    """Official UNetDictFace with random weights; returns (net, checkpoint path, dictionary folder)."""
    write_random_assets(work, seed)
    with official_networks(repo, work) as networks:
        torch.manual_seed(seed)
        with contextlib.redirect_stdout(open(os.devnull, "w")):
            net = networks.UNetDictFace(64, dictionary_path=str(work / "DictionaryCenter512"))
    torch_sn_power_iterate(net, steps=30)  # a trained checkpoint stores converged u, v; random init does not
    torch.save(net.state_dict(), work / "official_generator.pth")
    return net, work / "official_generator.pth", work / "DictionaryCenter512"


def official_eval_net(device, seed: int = 0):
    """The official UNetDictFace with random weights on `device` in eval mode, or None without the official code."""
    repo = official_repo()
    if repo is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        net, _, _ = build_official(repo, Path(tmp), seed)
    return net.to(device).eval()


def manifest_of(net) -> dict:
    """Keys, shapes and kinds of the official state dict, and the official parameter count."""
    param_ids, first_name, keys = {id(p) for p in net.parameters()}, {}, []
    for k, v in net.state_dict(keep_vars=True).items():
        row = {"key": k, "shape": list(v.shape), "kind": "parameter" if id(v) in param_ids else "buffer"}
        if id(v) in first_name:  # the same tensor under a second name (VggExtract.features.*)
            row["alias_of"] = first_name[id(v)]
        first_name.setdefault(id(v), k)
        keys.append(row)
    return {"source": "csxmli2016/DFDNet branch whole, models/networks.py: UNetDictFace(64), random weights",
            "parameter_count": sum(p.numel() for p in net.parameters()), "keys": keys}


def random_boxes(seed: int = 0) -> torch.Tensor:
    """Integer part boxes (1, 4, 4) like the official landmark rule: centre +- L, odd and even sizes."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[180.0, 230.0], [330.0, 230.0], [256.0, 300.0], [256.0, 380.0]])
    half = torch.tensor([[40.0], [40.0], [28.0], [55.0]]) + torch.randint(-6, 7, (4, 1), generator=g)
    jitter = torch.randint(-9, 10, (4, 2), generator=g).float()
    c = centres + jitter
    return torch.cat([c - half + 1, c + half], dim=1).floor()[None]


def parity(repo: Path, seed: int = 0, train_mode: bool = True) -> dict:
    """Max abs difference of output and pre-Tanh activations between the official net and ours.

    Eval mode: both use the stored (converged) u, v. Train mode (as the official test script,
    which never calls .eval()): both run one power iteration from the same u, v first.
    """
    from dfdnet_lite.official import load_official

    with tempfile.TemporaryDirectory() as tmp:
        theirs, ckpt, dict_dir = build_official(repo, Path(tmp), seed)
        ours = load_official(ckpt, dict_dir)
    theirs.eval()
    boxes = random_boxes(seed)
    lq = torch.rand(1, 3, 512, 512, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    pre = {}
    theirs.up4[4].register_forward_hook(lambda m, i, o: pre.__setitem__("theirs", o))
    ours.head[4].register_forward_hook(lambda m, i, o: pre.__setitem__("ours", o))
    result = {}
    for mode in ("eval", "train") if train_mode else ("eval",):
        theirs.train(mode == "train")
        ours.train(mode == "train")
        with torch.no_grad():
            out_theirs = theirs(lq, [boxes[:, p].int() for p in range(4)])
            out_ours = ours(lq, boxes)
        result[mode] = {"max_abs_diff": (out_theirs - out_ours).abs().max().item(),
                        "max_abs_diff_pre_tanh": (pre["theirs"] - pre["ours"]).abs().max().item(),
                        "pre_tanh_std": pre["theirs"].std().item(), "output_std": out_theirs.std().item()}
    ours.eval()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-manifest", action="store_true", help="rewrite the state-dict manifest")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    repo = official_repo()
    if repo is None:
        sys.exit("official code not found: set DFDNET_OFFICIAL_REPO to a csxmli2016/DFDNet checkout (branch whole)")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if args.write_manifest:
        with tempfile.TemporaryDirectory() as tmp:
            net, _, _ = build_official(repo, Path(tmp), args.seed)
        MANIFEST.parent.mkdir(exist_ok=True)
        manifest = manifest_of(net)
        rows = ",\n  ".join(json.dumps(row) for row in manifest.pop("keys"))
        head = json.dumps(manifest, indent=1)[:-2]  # one key per line keeps the file diffable
        MANIFEST.write_text(f'{head},\n "keys": [\n  {rows}\n ]\n}}\n')
        print(f"wrote {MANIFEST} ({rows.count(chr(10)) + 1} keys)")
        return
    print(json.dumps(parity(repo, args.seed), indent=1))


if __name__ == "__main__":
    main()

"""Evaluation: restorers side by side on held-out faces, every number with its protocol (Sec. 4.2, Table 1; Notebook 10).

Protocol, the same for every method: each face is aligned to the 512 template (`build.align_path`);
for each preset and face i, (target, lq) = degrade_pair(face, preset, item_seed(seed, i)), so
every method sees the same LQ faces. The reference is the degradation target: for `x4`/`x8`
(no colour jitter) it is byte for byte the aligned HQ face (checked, and counted in
`info["target_is_hq"]`); for `mixed` the LQ is made from the jittered face, so the jittered
target is the image it depicts, and colour changes no restorer can undo are not charged.
Part boxes come from dlib on the LQ face, as restoring a real photo would: when HOG finds a face
on the LQ, its 68 points are fitted in the crop's fixed box (`align.CROP_RECT`, as `align_face`
does on every aligned crop) and `align.part_boxes` cuts the boxes; when it finds none, the HQ
face's boxes are used and counted (`info["box_fallbacks"]`).

A method is a DFDNet (any nn.Module called as net(lq, boxes)) or a function
f(lq (B, 512, 512, 3) uint8, boxes (B, 4, 4)) -> (B, 512, 512, 3) uint8; `bicubic` returns the LQ.
"""
from __future__ import annotations

import csv
import json
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np

from . import metrics

#: Columns of the table: key -> Markdown header (arrow = better direction).
COLUMNS = {"psnr": "PSNR (dB) ↑", "ssim": "SSIM ↑", "landmark_distance": "landmark dist. ↓",
           "identity_similarity": "identity ↑", "lpips": "LPIPS ↓", "fid": "FID ↓"}
PER_FACE = ("psnr", "ssim", "landmark_distance", "identity_similarity", "lpips")  # FID is a set metric
BYPASSED = "ours, DFT blocks bypassed (not retrained)"
LOWER_IS_BETTER = frozenset({"landmark_distance", "lpips", "fid"})


@dataclass
class Face:
    """One aligned evaluation face (Notebook 10)."""

    name: str
    hq: np.ndarray  # (512, 512, 3) uint8 aligned face
    boxes: np.ndarray  # (4, 4) int part boxes from its landmarks, PARTS order


def load_faces(faces="sample", num_faces: "int | None" = None, detector: str = "hog") -> tuple[list[Face], list[str]]:
    """The first `num_faces` faces found, by name, in the held-out sample or a folder; and the photos skipped (Notebook 10)."""
    from tqdm import tqdm

    from .build import align_path
    from .data import sample_split
    from .files import list_images

    paths = sample_split()["held_out"] if str(faces) == "sample" else list_images(faces)
    found, skipped = [], []
    for path in tqdm(sorted(paths, key=lambda p: Path(p).name), desc="align", unit="photo", disable=None):
        if num_faces is not None and len(found) >= num_faces:
            break
        aligned = align_path(path, detector)
        if aligned is None:
            skipped.append(str(path))
        else:
            found.append(Face(Path(path).name, aligned[0], np.asarray(aligned[1])))
    return found, skipped


def bicubic(lq: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The baseline: the LQ face itself (already bicubic-upsampled to 512 by the degradation)."""
    return lq


def net_method(net, batch_size: int = 4, device=None, bypass_dictionary: bool = False) -> Callable:
    """A DFDNet as a method; `bypass_dictionary` runs it with use_dictionary=False, weights unchanged (Sec. 4.3)."""
    from .restore import restore_faces

    def method(lq: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        crops = [SimpleNamespace(face=f, boxes=b) for f, b in zip(lq, boxes)]
        saved = net.config.use_dictionary
        net.config.use_dictionary = saved and not bypass_dictionary  # the decoder reads the raw VGG features
        try:
            return np.stack(restore_faces(net, crops, batch_size, device))
        finally:
            net.config.use_dictionary = saved

    return method


def lq_boxes(lq: np.ndarray, hq_boxes: np.ndarray) -> tuple[np.ndarray, bool]:
    """Part boxes from dlib on the LQ face, or the HQ boxes when HOG finds no face there; (boxes, from_lq)."""
    from . import align

    if not len(align.detect_faces(lq, "hog", upsample=0, probe=False).rects):
        return np.asarray(hq_boxes), False
    return align.part_boxes(align.landmarks68(lq, align.CROP_RECT)), True


def _face_scores(out: np.ndarray, ref: np.ndarray, use_lpips: bool) -> dict:
    """Score (or None when the reference has no face) of every per-face metric."""
    scores = {"psnr": metrics.psnr(out, ref), "ssim": metrics.ssim(out, ref)}
    for name in ("landmark_distance", "identity_similarity"):
        try:
            scores[name] = getattr(metrics, name)(out, ref)
        except ValueError:  # no face in the reference: no value, counted as NaN
            scores[name] = None
    if use_lpips:
        scores["lpips"] = metrics.lpips(out, ref)
    return scores


def _available(name: str, probe: Callable, unavailable: dict) -> bool:
    """True when an optional metric can run; else its MetricUnavailable message is kept."""
    try:
        probe()
        return True
    except metrics.MetricUnavailable as err:
        unavailable[name] = str(err)
        return False


@dataclass
class EvalResult:
    """Mean table, per-face rows, protocols, notes and example images of one evaluation (Notebook 10)."""

    table: list  # one dict per (degradation, method): faces, mean of each metric, no_face count
    per_face: list  # one dict per (degradation, face, method)
    protocols: dict  # metric -> protocol string
    info: dict  # seed, presets, faces, box fallbacks, checkpoints, notes, unavailable metrics
    examples: dict = field(default_factory=dict, repr=False)  # preset -> {"names", "lq", "hq", method: [faces]}

    def columns(self) -> list[str]:
        """The metric columns that have values (LPIPS/FID only when their weights were here)."""
        return [c for c in COLUMNS if any(c in row for row in self.table)]

    def to_markdown(self) -> str:
        """Results as Markdown: one table per degradation with its protocol lines (Notebook 10)."""
        info, cols = self.info, self.columns()
        lines = ["# DFDNet evaluation", ""]
        lines += [f"- {label}: {text}" for label, text in info.get("checkpoints", {}).items()]
        lines += [f"- faces: {info['faces']} ({info['num_faces']} aligned, {len(info['skipped'])} photo(s) "
                  f"without a face skipped); seed {info['seed']}", ""]
        for preset in info["presets"]:
            header = " | ".join(["method", "faces", *(COLUMNS[c] for c in cols), "no face found"])
            lines += [f"## {preset}", "", f"| {header} |", "|---" * (len(cols) + 3) + "|"]
            for row in (r for r in self.table if r["degradation"] == preset):
                values = " | ".join(f"{row[c]:.4f}" if c != "psnr" else f"{row[c]:.2f}" for c in cols)
                lines.append(f"| {row['method']} | {row['faces']} | {values} | {row['no_face']} |")
            n_lq = info["num_faces"] - info["box_fallbacks"][preset]
            lines += ["", f"- part boxes: dlib on the LQ face for {n_lq} of {info['num_faces']} faces, the HQ "
                      f"face's boxes for the {info['box_fallbacks'][preset]} where HOG found no face on the LQ",
                      f"- reference: the degradation target; identical to the aligned HQ face for "
                      f"{info['target_is_hq'][preset]} of {info['num_faces']} faces (they differ by the preset's colour "
                      "jitter only: none in x4/x8)"]
            lines += [f"- {COLUMNS[c].rsplit(' ', 1)[0]}: {self.protocols[c]}" for c in cols if c in self.protocols]
            lines += ["- no face found: restored faces on which dlib found no face (their landmarks and identity "
                      "used the reference's face box)", ""]
        notes = info.get("notes", []) + list(info.get("unavailable", {}).values())
        return "\n".join(lines + [f"- note: {n}" for n in notes]) + "\n"

    def save(self, out) -> Path:
        """Write results.md, results.csv, per_face.csv, info.json, paired.md (each method against bicubic, when both
        are here) and examples_<preset>.png into `out` (Notebook 10)."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.md").write_text(self.to_markdown())
        for name, rows in (("results.csv", self.table), ("per_face.csv", self.per_face)):
            keys = list(dict.fromkeys(k for row in rows for k in row))
            with open(out / name, "w", newline="") as f:
                writer = csv.DictWriter(f, keys)
                writer.writeheader()
                writer.writerows(rows)
        (out / "info.json").write_text(json.dumps(self.info, indent=1, default=str))
        if any(r["method"] == "bicubic" for r in self.per_face) and len({r["method"] for r in self.per_face}) > 1:
            (out / "paired.md").write_text(paired_markdown(self.per_face))
        for preset in (p for p, ex in self.examples.items() if ex["names"]):
            self.figure(preset).savefig(out / f"examples_{preset}.png", dpi=80)
        return out

    def figure(self, preset: str):
        """Grid of example faces: rows = faces, columns = LQ, each method (with its PSNR), HQ (Notebook 10)."""
        from matplotlib.figure import Figure  # no pyplot: no global state, renders with Agg

        ex = self.examples[preset]
        methods = [m for m in ex if m not in ("names", "lq", "hq")]
        titles = ["LQ", *methods, "HQ (reference)"]
        fig = Figure(figsize=(2.2 * len(titles), 2.4 * len(ex["names"])), layout="constrained")
        axes = fig.subplots(len(ex["names"]), len(titles), squeeze=False)
        for r, name in enumerate(ex["names"]):
            for c, (title, img) in enumerate(zip(titles, [ex["lq"][r], *[ex[m][r] for m in methods], ex["hq"][r]])):
                ax = axes[r, c]
                ax.imshow(img)
                ax.set_xticks([]), ax.set_yticks([])
                if r == 0:
                    ax.set_title(textwrap.fill(title, 24), fontsize=8)
                if c < len(titles) - 1:
                    ax.set_xlabel(f"{metrics.psnr(img, ex['hq'][r]).value:.2f} dB", fontsize=8)
            axes[r, 0].set_ylabel(name, fontsize=7)
        fig.suptitle(f"{preset}: PSNR against the reference below each face")
        return fig


def _mean_rows(per_face: list, preset: str, methods: list, features: dict, protocols: dict) -> list:
    """Table rows of one preset: faces, mean of each per-face metric, FID when features exist."""
    rows = []
    for m in methods:
        mine = [r for r in per_face if r["degradation"] == preset and r["method"] == m]
        row = {"degradation": preset, "method": m, "faces": len(mine)}
        for c in PER_FACE:
            values = np.array([r[c] for r in mine if c in r], float)
            if len(values):
                row[c] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
        if features:
            score = metrics.fid_from_features(np.concatenate(features[m]), np.concatenate(features["reference"]))
            row["fid"], protocols["fid"] = score.value, score.protocol
        row["no_face"] = sum(r["no_face"] for r in mine)
        rows.append(row)
    return rows


def _score_batch(outs, refs, rows: list, use_lpips: bool, protocols: dict) -> None:
    """Per-face metrics of one method's outputs, written into `rows` (one dict per face)."""
    for row, out, ref in zip(rows, outs, refs):
        scores = _face_scores(out, ref, use_lpips)
        protocols.update({k: s.protocol for k, s in scores.items() if s is not None})
        row.update({k: float("nan") if s is None else s.value for k, s in scores.items()})
        fit = scores["landmark_distance"]
        row["no_face"] = int(fit is not None and fit.note == metrics.NO_FACE_NOTE)


def _run_preset(run: dict, faces: list, preset: str, seed: int, batch_size: int, num_examples: int,
                use_lpips: bool, use_fid: bool, protocols: dict) -> tuple[list, dict, dict, dict]:
    """Degrade every face once, run every method on it, score it: (per-face rows, examples, counts, features)."""
    from tqdm import tqdm

    from .degrade import degrade_pair, item_seed

    rows, counts = [], {"box_fallbacks": 0, "target_is_hq": 0}
    features = {m: [] for m in [*run, "reference"]} if use_fid else {}
    ex = {"names": [f.name for f in faces[:num_examples]], "lq": [], "hq": [], **{m: [] for m in run}}
    for start in tqdm(range(0, len(faces), batch_size), desc=f"evaluate {preset}", unit="batch", disable=None):
        chunk = faces[start:start + batch_size]
        seeds = [item_seed(seed, i) for i in range(start, start + len(chunk))]
        pairs = [degrade_pair(f.hq, preset, s) for f, s in zip(chunk, seeds)]  # same LQ for every method
        refs, lq = [t for t, _, _ in pairs], np.stack([q for _, q, _ in pairs])  # (B, 512, 512, 3)
        boxes, from_lq = zip(*(lq_boxes(q, f.boxes) for q, f in zip(lq, chunk)))
        counts["box_fallbacks"] += len(chunk) - sum(from_lq)
        counts["target_is_hq"] += sum(np.array_equal(t, f.hq) for t, f in zip(refs, chunk))
        keep = max(0, min(len(chunk), num_examples - start))
        ex["lq"], ex["hq"] = ex["lq"] + list(lq[:keep]), ex["hq"] + refs[:keep]
        if use_fid:
            features["reference"].append(metrics.inception_features(refs))
        for m, method in run.items():
            outs = np.asarray(method(lq, np.stack(boxes)))  # (B, 512, 512, 3) uint8
            ex[m] += list(outs[:keep])
            if use_fid:
                features[m].append(metrics.inception_features(list(outs)))
            new = [{"degradation": preset, "face": start + j, "name": f.name, "seed": s, "method": m,
                    "boxes_from": "lq" if ok else "hq (no face on lq)"}
                   for j, (f, s, ok) in enumerate(zip(chunk, seeds, from_lq))]
            _score_batch(outs, refs, new, use_lpips, protocols)
            rows += new
    return rows, ex, counts, features


def evaluate(methods: dict, faces, presets=("x4", "x8"), seed: int = 0, batch_size: int = 4,
             num_examples: int = 4, device=None, info: "dict | None" = None) -> EvalResult:
    """Every method on the same degraded faces, per-face and mean metrics (Sec. 4.2; Notebook 10).

    `methods`: name -> net or function (module docstring); `faces`: a list of Face, or "sample" or a
    folder; `info`: extra lines for the report (e.g. {"checkpoints": {"ours": "..."}, "notes": [...]}).
    """
    import torch

    skipped = list((info or {}).get("skipped", []))
    if isinstance(faces, (str, Path)):
        source, (faces, skipped) = str(faces), load_faces(faces)
    else:
        source = (info or {}).get("faces", f"{len(faces)} given faces")
    if not faces:
        raise ValueError(f"no faces to evaluate in {source}: every photo was unreadable or had no face dlib could find")
    run = {m: net_method(f, batch_size, device) if isinstance(f, torch.nn.Module) else f for m, f in methods.items()}
    unavailable = {}
    use_lpips = _available("lpips", metrics.lpips_model, unavailable)
    use_fid = len(faces) > 1 and _available("fid", metrics.inception_model, unavailable)
    info = dict(info or {}, seed=seed, presets=list(presets), faces=source, num_faces=len(faces), skipped=skipped,
                box_fallbacks={}, target_is_hq={}, unavailable=unavailable)
    per_face, table, protocols, examples = [], [], {}, {}
    for preset in presets:
        rows, examples[preset], counts, features = _run_preset(run, faces, preset, seed, batch_size, num_examples,
                                                               use_lpips, use_fid, protocols)
        info["box_fallbacks"][preset], info["target_is_hq"][preset] = counts["box_fallbacks"], counts["target_is_hq"]
        per_face += rows
        table += _mean_rows(per_face, preset, list(run), features, protocols)
    return EvalResult(table, per_face, protocols, info, examples)


def paired_differences(per_face: list, baseline: str = "bicubic", n_boot: int = 5000, seed: int = 0) -> list[dict]:
    """Each method against `baseline` on the same faces, per degradation and per-face metric (Notebook 10).

    Rows: degradation, method, metric, faces (pairs where both values are finite), mean_diff (method
    minus baseline, in the metric's unit), ci_low / ci_high (95 % percentile bootstrap of that mean,
    faces resampled with replacement, `n_boot` draws from `seed`), better (share of faces on which
    the method beats the baseline, in the metric's direction; ties are not better).
    `per_face` is EvalResult.per_face or the rows of per_face.csv (`read_per_face`).
    """
    rng = np.random.default_rng(seed)
    out = []
    for preset in dict.fromkeys(r["degradation"] for r in per_face):
        rows = [r for r in per_face if r["degradation"] == preset]
        by = {}
        for r in rows:
            by.setdefault(r["method"], {})[r["name"]] = r
        if baseline not in by:
            raise ValueError(f"no {baseline!r} rows for {preset}: the methods are {', '.join(by)}")
        base = by[baseline]
        metrics_here = [k for k in PER_FACE if any(k in r for r in rows)]
        for method in (m for m in by if m != baseline):
            names = sorted(set(base) & set(by[method]))  # the faces both were run on
            for metric in metrics_here:
                a = np.array([_value(by[method][n].get(metric)) for n in names])
                b = np.array([_value(base[n].get(metric)) for n in names])
                d = (a - b)[np.isfinite(a) & np.isfinite(b)]
                if not len(d):
                    continue
                means = d[rng.integers(0, len(d), (n_boot, len(d)))].mean(1)
                better = d < 0 if metric in LOWER_IS_BETTER else d > 0
                out.append({"degradation": preset, "method": method, "metric": metric, "faces": len(d),
                            "mean_diff": float(d.mean()), "ci_low": float(np.percentile(means, 2.5)),
                            "ci_high": float(np.percentile(means, 97.5)), "better": float(better.mean())})
    return out


def _value(v) -> float:
    """A metric value from an EvalResult row or a CSV cell ('' or None = missing)."""
    return float("nan") if v is None or v == "" else float(v)


def read_per_face(path) -> list[dict]:
    """The rows of a saved per_face.csv (metric values stay strings; `paired_differences` converts them)."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def paired_markdown(per_face: list, baseline: str = "bicubic", **kwargs) -> str:
    """`paired_differences` as Markdown: one table per degradation (Notebook 10)."""
    rows = paired_differences(per_face, baseline, **kwargs)
    lines = [f"# Paired differences to {baseline}", "",
             f"Per face: method minus {baseline} on the same degraded face; mean over the faces, its 95 % "
             "bootstrap interval (faces resampled, 5000 draws unless stated), and the share of faces on which "
             "the method is better (in the metric's direction). An interval that excludes 0 is a difference the "
             "sample of faces supports; one that contains 0 is not.", ""]
    for preset in dict.fromkeys(r["degradation"] for r in rows):
        lines += [f"## {preset}", "", "| method | metric | faces | mean difference | 95 % interval | better on |",
                  "|---|---|---|---|---|---|"]
        for r in (r for r in rows if r["degradation"] == preset):
            digits = 2 if r["metric"] == "psnr" else 4
            lines.append(f"| {r['method']} | {COLUMNS[r['metric']]} | {r['faces']} | {r['mean_diff']:+.{digits}f} | "
                         f"[{r['ci_low']:+.{digits}f}, {r['ci_high']:+.{digits}f}] | {r['better']:.0%} |")
        lines.append("")
    return "\n".join(lines)


def describe_checkpoint(path) -> str:
    """'path (step N, profile P)' from what a checkpoint stores; the official release says so (Notebook 10)."""
    from .restore import _read_checkpoint

    payload = _read_checkpoint(Path(path), mmap=True)  # the small entries only
    if "generator" not in payload:
        return f"{path} (official DFDNet release, csxmli2016/DFDNet, CC BY-NC-SA 4.0)"
    stored = {"step": payload.get("step"), "profile": (payload.get("train_config") or {}).get("profile")}
    details = ", ".join(f"{k} {v}" for k, v in stored.items() if v is not None)
    if (payload.get("config") or {}).get("residual"):
        details += ", residual output (ours)" if details else "residual output (ours)"
    return f"{path} ({details or 'no training step stored'})"

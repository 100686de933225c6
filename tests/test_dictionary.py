"""Component dictionaries: shapes, both file formats, and the error messages (Sec. 3.1; Notebook 06)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dfdnet_lite.config import PARTS, SCALES, entry_shape
from dfdnet_lite.dictionary import DOWNLOAD_HINT, ComponentDictionary, load_dictionary, official_filename

#: K differs per part and scale, as it may in the official release.
UNEVEN_K = {(part, scale): 1 + (i + 2 * j) % 4 for i, part in enumerate(PARTS) for j, scale in enumerate(SCALES)}


@pytest.fixture(scope="module")
def small():
    """A seeded random dictionary whose K varies from 1 to 4 across the 16 dictionaries."""
    return ComponentDictionary.random(k=UNEVEN_K, seed=3)


def assert_same_entries(a: ComponentDictionary, b: ComponentDictionary) -> None:
    """Same keys, and every tensor equal bit for bit with the same dtype."""
    assert set(a.entries) == set(b.entries)
    for key in a.entries:
        assert a.get(*key).dtype == b.get(*key).dtype == torch.float32
        assert torch.equal(a.get(*key), b.get(*key)), key


def test_random_has_the_official_entry_shapes_and_is_seeded():
    d = ComponentDictionary.random(k=2, seed=0)
    assert d.get("nose", 32).shape == (2, 512, 3, 3) and d.get("mouth", 256).shape == (2, 128, 55, 55)
    for (part, scale), value in d.entries.items():
        assert tuple(value.shape[1:]) == entry_shape(part, scale)
        assert value.min() >= 0 and 0.3 < (value > 0).float().mean() < 0.7  # relu of N(0, 1): half are zero
    assert_same_entries(d, ComponentDictionary.random(k=2, seed=0))
    assert not torch.equal(d.get("nose", 32), ComponentDictionary.random(k=2, seed=1).get("nose", 32))
    assert "random" in d.meta["source_faces"] and "not a trained dictionary" in d.meta["notes"]


def test_k_and_summary_follow_each_dictionary(small):
    assert small.k == UNEVEN_K
    rows = {(r["part"], r["scale"]): r for r in small.summary()}
    assert len(rows) == 16 and rows[("nose", 32)]["entry_shape"] == (512, 3, 3)
    assert all(rows[key]["k"] == UNEVEN_K[key] for key in UNEVEN_K)
    assert small.meta["k"]["left_eye/256"] == UNEVEN_K[("left_eye", 256)]
    assert "16 dictionaries, K in [1, 2, 3, 4]" in repr(small)


def test_our_file_round_trip_is_bit_exact_and_keeps_meta(small, tmp_path):
    d = ComponentDictionary(dict(small.entries), {**small.meta, "faces": ["a.png", "b.png"], "k_means": {"iters": 20, "tol": 1e-4}})
    loaded = ComponentDictionary.load(d.save(tmp_path / "sub" / "dict.pt"))
    assert_same_entries(d, loaded)
    assert loaded.meta == d.meta and loaded.k == UNEVEN_K


def test_official_round_trip_flattened_and_4d_load_identically(small, tmp_path):
    small.save_official(tmp_path / "4d")
    small.save_official(tmp_path / "flat", flatten=True)
    k, size = UNEVEN_K[("mouth", 64)], int(np.prod(entry_shape("mouth", 64)))
    assert np.load(tmp_path / "flat" / "mouth_64_center.npy").shape == (k, size)
    assert np.load(tmp_path / "4d" / "mouth_64_center.npy").shape == (k, *entry_shape("mouth", 64))
    from_4d, from_flat = ComponentDictionary.load_official(tmp_path / "4d"), ComponentDictionary.load_official(tmp_path / "flat")
    assert_same_entries(small, from_4d)
    assert_same_entries(from_4d, from_flat)
    assert from_flat.k == UNEVEN_K and "official" in from_flat.meta["source_faces"]


def test_official_float64_files_become_float32(small, tmp_path):
    small.save_official(tmp_path)
    value = np.random.default_rng(0).random((5, *entry_shape("nose", 128)))  # float64, K = 5
    np.save(tmp_path / official_filename("nose", 128), value)
    loaded = ComponentDictionary.load_official(tmp_path)
    assert loaded.k[("nose", 128)] == 5
    assert torch.equal(loaded.get("nose", 128), torch.from_numpy(value.astype(np.float32)))


def test_missing_official_file_names_it_and_the_download_command(small, tmp_path):
    small.save_official(tmp_path)
    (tmp_path / "mouth_64_center.npy").unlink()
    with pytest.raises(FileNotFoundError) as err:
        ComponentDictionary.load_official(tmp_path)
    assert "mouth_64_center.npy" in str(err.value) and DOWNLOAD_HINT in str(err.value)
    assert DOWNLOAD_HINT == "python data_scripts/download_official.py --what dictionaries"


@pytest.mark.parametrize("bad_shape", [(4, 512 * 3 * 3 + 1), (4, 512, 4, 4), (4, 512, 3), (0, 512 * 9)])
def test_wrong_official_size_names_part_scale_and_entry_shape(small, tmp_path, bad_shape):
    small.save_official(tmp_path)
    np.save(tmp_path / "nose_32_center.npy", np.zeros(bad_shape, dtype=np.float32))
    with pytest.raises(ValueError) as err:
        ComponentDictionary.load_official(tmp_path)
    message = str(err.value)
    assert "nose at scale 32" in message and "(512, 3, 3)" in message and str(bad_shape) in message


def test_pickled_official_file_needs_explicit_consent(small, tmp_path):
    small.save_official(tmp_path)
    value = small.get("left_eye", 32).numpy()
    np.save(tmp_path / "left_eye_32_center.npy", np.array(list(value.reshape(len(value), -1)) + [None], dtype=object)[:-1])
    with pytest.raises(ValueError, match="allow_pickle=True"):
        ComponentDictionary.load_official(tmp_path)
    loaded = ComponentDictionary.load_official(tmp_path, allow_pickle=True)
    assert torch.equal(loaded.get("left_eye", 32), small.get("left_eye", 32))


def test_validate_names_part_scale_expected_and_actual(small):
    entries = dict(small.entries)
    entries[("right_eye", 128)] = torch.zeros(3, 256, 21, 20)
    with pytest.raises(ValueError, match=r"right_eye at scale 128: expected shape \(K, 256, 20, 20\), got \(3, 256, 21, 20\)"):
        ComponentDictionary(entries).validate()
    entries = {key: value for key, value in small.entries.items() if key != ("mouth", 32)}
    with pytest.raises(ValueError, match=r"missing \[\('mouth', 32\)\]"):
        ComponentDictionary(entries).validate()
    with pytest.raises(ValueError, match="expected float32, got torch.float64"):
        ComponentDictionary({**small.entries, ("nose", 64): small.get("nose", 64).double()}).validate()
    broken = small.get("nose", 64).clone()
    broken[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="nose at scale 64: holds NaN"):
        ComponentDictionary({**small.entries, ("nose", 64): broken}).validate()
    with pytest.raises(KeyError, match="'chin'"):
        small.get("chin", 32)


def test_load_dictionary_dispatches_on_folder_or_file(small, tmp_path):
    folder, file = small.save_official(tmp_path / "release" / "DictionaryCenter512"), small.save(tmp_path / "ours.pt")
    assert_same_entries(load_dictionary(folder), small)
    assert_same_entries(load_dictionary(tmp_path / "release"), small)  # the download folder's root works too
    assert load_dictionary(file).meta == small.meta
    with pytest.raises(FileNotFoundError, match="download_official.py --what dictionaries"):
        load_dictionary(tmp_path / "nowhere")
    torch.save({"not": "ours"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a dfdnet-lite component dictionary file"):
        load_dictionary(tmp_path / "other.pt")


def test_to_moves_every_entry_and_leaves_the_original(small):
    moved = small.to("meta")
    assert all(value.device.type == "meta" for value in moved.entries.values())
    assert all(value.device.type == "cpu" for value in small.entries.values()) and moved.k == small.k


def test_meta_that_weights_only_cannot_load_is_refused_on_save(small, tmp_path):
    d = ComponentDictionary(small.entries, {**small.meta, "faces_dir": Path("/data/ffhq")})
    with pytest.raises(TypeError, match=r"meta\['faces_dir'\] is a \w*Path"):
        d.save(tmp_path / "dict.pt")

"""`load_official` (dfdnet_lite.official): every official key mapped, clear errors, parity with the official code."""
import json
import re
import sys
from pathlib import Path

import pytest
import torch

from dfdnet_lite.dictionary import ComponentDictionary
from dfdnet_lite.model import DFDNet, DFDNetConfig
from dfdnet_lite.official import convert_official_state_dict, load_official, map_official_key

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = json.loads((ROOT / "dfdnet_lite" / "assets" / "official_state_dict_manifest.json").read_text())
BLUR = (torch.tensor([1.0, 2.0, 1.0])[:, None] * torch.tensor([1.0, 2.0, 1.0])[None, :] / 16)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return DFDNet(DFDNetConfig(crop_mode="official", vgg_weights=False), ComponentDictionary.random(k=3)).eval()


def official_state_from(net: DFDNet) -> dict:
    """An official-format state dict carrying `net`'s weights; unused tensors as stride-0 zeros (tiny on disk)."""
    ours, state = net.state_dict(), {}
    for row in MANIFEST["keys"]:
        key, shape = row["key"], torch.Size(row["shape"])
        target, reason = map_official_key(key)
        if target is not None:
            state[key] = ours[target]
        elif "alias_of" in row:
            state[key] = state[row["alias_of"]]
        elif re.fullmatch(r"up\d\.conv1\.0\.\w+", key):
            state[key] = BLUR.expand(shape)
        else:
            state[key] = torch.zeros(1).expand(shape)
    return state


def test_every_official_key_is_mapped_or_dropped_with_a_reason(net):
    ours = net.state_dict()
    filled = []
    for row in MANIFEST["keys"]:
        target, reason = map_official_key(row["key"])  # KeyError for an unknown key
        if target is None:
            assert reason and row["key"].startswith(("VggExtract.model.classifier", "VggExtract.features", "up", "to_rgb"))
        else:
            assert tuple(ours[target].shape) == tuple(row["shape"]), row["key"]
            filled.append(target)
    assert sorted(set(filled)) == sorted(ours)  # every tensor of ours is filled
    twice = {k for k in filled if filled.count(k) > 1}
    # only the VGG convs are filled twice: VggExtract.model.features.N and VggExtract.features.i.N
    assert twice == {k for k in ours if k.startswith("encoder.features.")} and len(twice) == 2 * 16  # 16 convs, weight and bias
    assert len(MANIFEST["keys"]) == 386


def test_round_trip_through_an_official_checkpoint(net, tmp_path):
    torch.save(official_state_from(net), tmp_path / "gen.pth")
    ComponentDictionary.random(k=3).save_official(tmp_path / "dicts", flatten=True)
    loaded = load_official(tmp_path / "gen.pth", tmp_path / "dicts")
    assert not loaded.training and loaded.config.crop_mode == "official"
    for key, value in net.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    torch.testing.assert_close(loaded.dict_mouth_256, net.dict_mouth_256)


def test_wrong_missing_and_unexpected_keys_are_reported(net):
    state = official_state_from(net)
    state["le_64.0.weight_orig"] = torch.zeros(512, 256, 3, 3)
    del state["up4.4.bias"]
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(ValueError) as err:
        convert_official_state_dict(state, net)
    text = str(err.value)
    assert "wrong shape for 'le_64.0.weight_orig': checkpoint (512, 256, 3, 3), expected (512, 512, 3, 3)" in text
    assert "missing key: nothing in the checkpoint fills 'head.4.bias'" in text
    assert "unexpected key 'extra.weight'" in text
    assert "(3 problems)" in text


def test_disagreeing_vgg_twins_resolve_as_torch_loads_them(net):
    # VggExtract.features shares vgg19's modules; torch's load_state_dict fills VggExtract.model
    # first, so the official model ends with the VggExtract.features value, whatever the dict order
    state = official_state_from(net)
    twin = torch.full((64, 3, 3, 3), 0.25)
    state = {"VggExtract.features.0.0.weight": twin, **{k: v for k, v in state.items() if k != "VggExtract.features.0.0.weight"}}
    with pytest.warns(UserWarning, match="differs from the other copy of encoder.features.0.weight"):
        converted = convert_official_state_dict(state, net)
    assert torch.equal(converted["encoder.features.0.weight"], twin)


def test_missing_files_name_the_download_command(tmp_path, net):
    with pytest.raises(FileNotFoundError, match=r"python data_scripts/download_official.py"):
        load_official(tmp_path / "final_generator.pth", tmp_path / "DictionaryCenter512")
    torch.save({}, tmp_path / "gen.pth")
    with pytest.raises(FileNotFoundError, match=r"DictionaryCenter512.*download_official.py"):
        load_official(tmp_path / "gen.pth", tmp_path / "DictionaryCenter512")


@pytest.mark.slow
def test_parity_with_official_code():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import official_parity
    finally:
        sys.path.pop(0)
    repo = official_parity.official_repo()
    if repo is None:
        pytest.skip("official DFDNet code not found: export it with `git -C <mirror> archive whole models util "
                    "sync_batchnorm | tar -x -C /tmp/official_dfdnet` or set DFDNET_OFFICIAL_REPO")
    result = official_parity.parity(repo, seed=0, train_mode=False)["eval"]
    assert result["pre_tanh_std"] > 1e-3  # the comparison is not between two constants
    assert result["max_abs_diff"] < 1e-4 and result["max_abs_diff_pre_tanh"] < 1e-4, result

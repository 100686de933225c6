"""The generator (dfdnet_lite.model): shapes, batching, Record, dictionary buffers, ablations."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from dfdnet_lite import dft
from dfdnet_lite.config import PARTS, SCALES
from dfdnet_lite.dictionary import ComponentDictionary
from dfdnet_lite.model import DFDNet, DFDNetConfig, SNConv2d

MANIFEST = Path(__file__).resolve().parents[1] / "dfdnet_lite" / "assets" / "official_state_dict_manifest.json"
BOXES = torch.tensor([[146, 192, 219, 265], [291, 195, 362, 266], [234, 273, 279, 318], [209, 321, 312, 424]]).float()


@pytest.fixture(scope="module")
def dictionary():
    return ComponentDictionary.random(k=6, seed=0)


@pytest.fixture(scope="module")
def net(dictionary):
    torch.manual_seed(0)
    return DFDNet(DFDNetConfig(vgg_weights=False), dictionary).eval()


def two_items():
    boxes = torch.stack([BOXES, BOXES + torch.tensor([7.0, -5.0, 19.0, 4.0])])  # different sizes per item
    return torch.rand(2, 3, 512, 512, generator=torch.Generator().manual_seed(1)) * 2 - 1, boxes


def test_parameter_count_equals_the_official_generator(net):
    manifest = json.loads(MANIFEST.read_text())
    unused = [r for r in manifest["keys"] if r["kind"] == "parameter" and "alias_of" not in r
              and (r["key"].startswith(("to_rgb", "VggExtract.model.classifier")))]
    used = manifest["parameter_count"] - sum(torch.Size(r["shape"]).numel() for r in unused)
    assert sum(p.numel() for p in net.parameters()) == used == 113_313_993


def test_forward_is_batch_independent_and_recorded(net):
    lq, boxes = two_items()
    with torch.no_grad():
        out, record = net(lq, boxes, return_record=True)
        alone = net(lq[1:], boxes[1:])
    assert out.shape == (2, 3, 512, 512) and out.abs().max() <= 1 and torch.isfinite(out).all()
    torch.testing.assert_close(out[1:], alone, atol=1e-5, rtol=1e-4)
    assert set(record.parts) == {(p, s) for p in PARTS for s in SCALES}
    nose = record.parts[("nose", 64)]
    assert nose.crop.shape == (2, 512, 6, 6) and nose.scores.shape == (2, 6)
    torch.testing.assert_close(nose.scores.sum(1), torch.ones(2))
    assert torch.equal(nose.index, nose.scores.argmax(1))
    h, w = (nose.box[:, 3] - nose.box[:, 1]).max(), (nose.box[:, 2] - nose.box[:, 0]).max()
    assert nose.confidence.shape == (2, 512, h, w)
    # the updated maps differ from the encoder's only inside the part boxes
    assert [u.shape for u in record.updated] == [f.shape for f in record.features]
    moved = (record.updated[2] - record.features[2]).abs().amax(dim=(0, 1)) > 0  # (64, 64)
    inside = torch.zeros(64, 64, dtype=torch.bool)
    for b in range(2):
        for x1, y1, x2, y2 in dft.feature_boxes(boxes[b : b + 1], 64, "official")[0].tolist():
            inside[y1:y2, x1:x2] = True
    assert moved.any() and not (moved & ~inside).any()


@pytest.mark.parametrize("mode", ["official", "roi_align"])
@pytest.mark.parametrize("scale", [64, 32])
def test_dft_block_batched_equals_per_item(net, mode, scale):
    torch.manual_seed(2)
    net.config.crop_mode = mode
    try:
        _, boxes = two_items()
        feature = torch.randn(2, 512, scale, scale).relu()
        with torch.no_grad():
            both = net.dft_block(feature, boxes, scale, None)
            for b in range(2):
                one = net.dft_block(feature[b : b + 1], boxes[b : b + 1], scale, None)
                torch.testing.assert_close(both[b : b + 1], one, atol=1e-5, rtol=1e-5)
    finally:
        net.config.crop_mode = "official"
    changed = (both - feature).abs().amax(dim=(0, 1)) > 0
    fb = dft.feature_boxes(boxes, scale, "official")
    assert changed.any() and not changed[: int(fb[..., 1].min()) - 2].any()  # only part regions change


def test_chosen_entry_is_the_cadain_argmax(net, dictionary):
    torch.manual_seed(3)
    _, boxes = two_items()
    feature = torch.randn(2, 512, 32, 32).relu()
    record = type("R", (), {"parts": {}})()
    with torch.no_grad():
        net.dft_block(feature, boxes, 32, record)
    crop = dft.crop_parts(feature, boxes, 32, "official")["mouth"]
    reference = dft.feature_match(crop, dft.cadain(dictionary.get("mouth", 32), crop))
    assert torch.equal(record.parts[("mouth", 32)].index, reference.index)
    torch.testing.assert_close(record.parts[("mouth", 32)].scores, reference.scores, rtol=1e-4, atol=1e-6)


def test_sn_conv_matches_torch_spectral_norm():
    torch.manual_seed(4)
    reference = torch.nn.utils.spectral_norm(torch.nn.Conv2d(5, 4, 3, 1, 2, dilation=2))
    ours = SNConv2d(5, 4, 3, 1, 2, dilation=2)
    assert sorted(ours.state_dict()) == sorted(reference.state_dict())
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(2, 5, 9, 9)
    for step in range(2):  # train: one power iteration per call, u and v updated in place
        torch.testing.assert_close(ours(x), reference(x))
        torch.testing.assert_close(ours.weight_u, reference.weight_u)
    ours.eval(), reference.eval()
    with torch.no_grad():
        first = ours(x)  # cached W / sigma
        torch.testing.assert_close(first, reference(x))
        ours.weight_orig.add_(0.1)  # an in-place change invalidates the cache
        reference.weight_orig.add_(0.1)
        torch.testing.assert_close(ours(x), reference(x))
        assert (ours(x) - first).abs().max() > 1e-3


def test_dictionary_is_a_buffer_not_a_parameter(net, dictionary):
    names = dict(net.named_buffers())
    assert names["dict_nose_32"].shape == (6, 512, 3, 3)
    assert not any(n.startswith("dict_") for n, _ in net.named_parameters())
    assert not any(k.startswith("dict_") for k in net.state_dict())  # the dictionary lives in its own files
    torch.testing.assert_close(names["dict_nose_32"], dft.normalise_entries(dictionary.get("nose", 32)))


def test_ablation_switches_change_the_structure():
    plain = DFDNet(DFDNetConfig(vgg_weights=False, use_dictionary=False))
    assert not hasattr(plain, "confidence")
    lq, boxes = torch.zeros(1, 3, 512, 512), BOXES[None]
    with pytest.raises(ValueError, match="crop_mode"):
        DFDNet(DFDNetConfig(vgg_weights=False, crop_mode="bilinear"))
    net = DFDNet(DFDNetConfig(vgg_weights=False, use_cadain=False, use_confidence=False))
    with pytest.raises(RuntimeError, match="no dictionary"):
        net.check_inputs(lq, boxes)
    bad = {k: v for k, v in ComponentDictionary.random(k=2).entries.items()}
    bad[("nose", 32)] = torch.zeros(2, 512, 4, 4)
    with pytest.raises(ValueError, match=r"shape mismatch for nose@32.*\(K, 512, 3, 3\)"):
        net.set_dictionary(bad)


def test_bad_inputs_give_clear_errors(net):
    with pytest.raises(ValueError, match=r"\(B, 3, 512, 512\)"):
        net(torch.zeros(1, 3, 256, 256), BOXES[None])
    with pytest.raises(ValueError, match=r"boxes must be \(B, 4, 4\)"):
        net(torch.zeros(1, 3, 512, 512), BOXES)
    with pytest.raises(ValueError, match="boxes hold 1 items but the image batch holds 2"):
        net(torch.zeros(2, 3, 512, 512), BOXES[None])


def test_residual_variant_starts_as_the_identity_with_the_official_keys(net, dictionary):
    torch.manual_seed(0)
    residual = DFDNet(DFDNetConfig(vgg_weights=False, ngf=8, residual=True), dictionary).eval()
    lq, boxes = two_items()
    with torch.no_grad():
        out = residual(lq, boxes)
    torch.testing.assert_close(out, lq.clamp(-1, 1), rtol=0, atol=0)  # zero last conv: output = input
    # the switch only drops the parameter-free tanh: state-dict keys match the paper's network of the same width
    plain = DFDNet(DFDNetConfig(vgg_weights=False, ngf=8), dictionary)
    assert residual.state_dict().keys() == plain.state_dict().keys()
    residual.head[-1].bias.data.fill_(5.0)  # a large correction saturates at the range's edge, never beyond
    with torch.no_grad():
        assert residual(lq, boxes).max().item() == 1.0


def test_net_range_round_trip():
    from dfdnet_lite.model import from_net_range, to_net_range

    images = np.random.default_rng(0).integers(0, 256, (2, 8, 6, 3), dtype=np.uint8)
    x = to_net_range(list(images))
    assert x.shape == (2, 3, 8, 6) and x.min() >= -1 and x.max() <= 1
    assert to_net_range(np.zeros((1, 2, 2, 3), np.uint8)).unique().tolist() == [-1.0]
    np.testing.assert_array_equal(from_net_range(x), images)  # uint8 -> [-1, 1] -> uint8 is exact
    assert from_net_range(torch.full((1, 3, 1, 1), 7.0)).tolist() == [[[[255, 255, 255]]]]  # clamped

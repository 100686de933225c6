"""The DFT block's stages (dfdnet_lite.dft): identities on tiny CPU tensors."""
import pytest
import torch
import torch.nn.functional as F

from dfdnet_lite import dft
from dfdnet_lite.config import PARTS, part_size
from dfdnet_lite.model import attention_block


def aligned_boxes(scale: int, shift: int = 0) -> torch.Tensor:
    """(1, 4, 4) boxes on the feature grid of `scale` whose size is each part's dictionary size."""
    step = 512 // scale
    corners = [(8, 8), (scale - 8 - part_size("right_eye", scale), 8), (4, 2), (1, scale - part_size("mouth", scale) - 1)]
    rows = []
    for part, (x, y) in zip(PARTS, corners):
        s = part_size(part, scale)
        rows.append([(x + shift) * step, y * step, (x + shift + s) * step, (y + s) * step])
    return torch.tensor([rows], dtype=torch.float32)


def test_cadain_gives_every_entry_the_part_statistics():
    torch.manual_seed(0)
    dictionary = torch.randn(5, 3, 6, 6) * 4 + 2
    part = torch.randn(2, 3, 6, 6) * torch.tensor([0.5, 2.0, 7.0]).view(1, 3, 1, 1) - 1
    out = dft.cadain(dictionary, part)  # (B, K, C, s, s)
    assert out.shape == (2, 5, 3, 6, 6)
    mean_p, std_p = dft.channel_stats(part)
    mean_o, std_o = dft.channel_stats(out)
    torch.testing.assert_close(mean_o, mean_p[:, None].expand_as(mean_o), atol=1e-5, rtol=0)
    torch.testing.assert_close(std_o, std_p[:, None].expand_as(std_o), rtol=1e-4, atol=1e-5)


def test_feature_match_finds_the_entry_the_part_equals():
    torch.manual_seed(1)
    entries = torch.randn(7, 4, 5, 5)
    entries = entries / entries.flatten(1).norm(dim=1).view(7, 1, 1, 1)  # unit norm: <D_i, D_i> is the unique max
    match = dft.feature_match(entries.clone(), entries)
    assert match.index.tolist() == list(range(7))
    logits = torch.einsum("bchw,kchw->bk", entries, entries)
    torch.testing.assert_close(match.scores, logits.softmax(1))
    per_item = dft.feature_match(entries[:2], entries[None].expand(2, -1, -1, -1, -1))  # (B, K, C, s, s) form
    torch.testing.assert_close(per_item.scores, match.scores[:2])


def test_fused_match_equals_match_against_cadain_dictionary():
    torch.manual_seed(2)
    dictionary, part = torch.randn(9, 3, 4, 4).abs(), torch.randn(3, 3, 4, 4)
    reference = dft.feature_match(part, dft.cadain(dictionary, part))
    _, std = dft.channel_stats(part)
    fused = dft.feature_match(part * std, dft.normalise_entries(dictionary))  # what DFDNet computes
    torch.testing.assert_close(fused.scores, reference.scores, rtol=1e-4, atol=1e-6)
    assert torch.equal(fused.index, reference.index)


@pytest.mark.parametrize("scale", [256, 32])
def test_official_and_roi_align_crops_agree_on_grid_aligned_boxes(scale):
    torch.manual_seed(3)
    feats = torch.randn(1, 2, scale, scale)
    boxes = aligned_boxes(scale)
    official = dft.crop_parts(feats, boxes, scale, "official")
    roi = dft.crop_parts(feats, boxes, scale, "roi_align")
    for part in PARTS:
        s = part_size(part, scale)
        assert official[part].shape == (1, 2, s, s)
        torch.testing.assert_close(roi[part], official[part], atol=1e-5, rtol=0)


def test_crops_differ_off_the_grid():
    # half a feature pixel off the grid: "official" floors to the grid, roi_align interpolates
    torch.manual_seed(4)
    feats = torch.randn(1, 2, 256, 256)
    boxes = aligned_boxes(256) + torch.tensor([1.0, 0.0, 1.0, 0.0])
    official = dft.crop_parts(feats, boxes, 256, "official")
    roi = dft.crop_parts(feats, boxes, 256, "roi_align")
    assert (official["nose"] - roi["nose"]).abs().max() > 1e-2
    shifted = feats[..., 2:27, 4:29]  # nose box x 9..59 -> 4..29 after flooring (x // 2)
    torch.testing.assert_close(official["nose"], shifted)


def test_official_crop_floors_like_the_official_code():
    feats = torch.randn(1, 3, 64, 64)
    boxes = torch.tensor([[[101, 99, 181, 179], [301, 97, 381, 177], [230, 200, 280, 260], [200, 340, 310, 450]]]).float()
    crops = dft.crop_parts(feats, boxes, 64, "official")
    loc = (boxes[0, 3] // (512 / 64)).int().tolist()  # the official expression
    expected = F.interpolate(feats[:, :, loc[1]:loc[3], loc[0]:loc[2]], (13, 13), mode="bilinear", align_corners=False)
    torch.testing.assert_close(crops["mouth"], expected)


@pytest.mark.parametrize("mode", ["official", "roi_align"])
def test_reverse_roi_of_crops_restores_the_map(mode):
    torch.manual_seed(5)
    feats = torch.randn(1, 3, 64, 64)
    boxes = aligned_boxes(64)
    if mode == "official":
        fb = dft.feature_boxes(boxes, 64, mode)
        parts = {p: dft.crop_regions(feats, fb[:, i])[0] for i, p in enumerate(PARTS)}
    else:
        parts = dft.crop_parts(feats, boxes, 64, mode)
    restored = dft.reverse_roi(torch.zeros_like(feats), parts, boxes, 64, mode)
    fb = dft.feature_boxes(boxes, 64, "official")
    for x1, y1, x2, y2 in fb[0].tolist():
        torch.testing.assert_close(restored[..., y1:y2, x1:x2], feats[..., y1:y2, x1:x2], atol=1e-5, rtol=0)


def test_reverse_roi_later_part_wins_overlaps():
    feats = torch.zeros(1, 1, 32, 32)
    boxes = torch.tensor([[[0, 0, 128, 128], [64, 64, 192, 192], [300, 300, 400, 400], [400, 400, 500, 500]]]).float()
    parts = {p: torch.full((1, 1, 8, 8), float(i + 1)) for i, p in enumerate(PARTS)}
    out = dft.reverse_roi(feats, parts, boxes, 32, "official")
    assert out[0, 0, 2, 2] == 1 and out[0, 0, 5, 5] == 2 and out[0, 0, 9, 9] == 2  # overlap 4..8 belongs to the right eye


@pytest.mark.parametrize("mode", ["official", "roi_align"])
def test_crops_are_batch_independent(mode):
    torch.manual_seed(6)
    feats = torch.randn(3, 2, 64, 64)
    boxes = aligned_boxes(64).repeat(3, 1, 1) + torch.tensor([0.0, 5.0, 13.0]).view(3, 1, 1)
    boxes[1, 3, 2:] += 17  # a bigger mouth for item 1
    batched = dft.crop_parts(feats, boxes, 64, mode)
    for b in range(3):
        single = dft.crop_parts(feats[b : b + 1], boxes[b : b + 1], 64, mode)
        for part in PARTS:
            torch.testing.assert_close(batched[part][b : b + 1], single[part])


def test_masked_confidence_equals_each_crop_alone():
    torch.manual_seed(7)
    block = attention_block(4).eval()
    feats = torch.randn(2, 4, 32, 32)
    fb = torch.tensor([[3, 4, 9, 11], [10, 2, 13, 6]])  # 6x7 and 3x4 crops
    regions, mask = dft.crop_regions(feats, fb)
    swap = torch.randn_like(regions) * mask
    with torch.no_grad():
        out, attention = dft.confidence(block, swap, regions, mask)
        for b, (x1, y1, x2, y2) in enumerate(fb.tolist()):
            h, w = y2 - y1, x2 - x1
            alone, _ = dft.confidence(block, swap[b : b + 1, :, :h, :w], feats[b : b + 1, :, y1:y2, x1:x2])
            torch.testing.assert_close(out[b : b + 1, :, :h, :w], alone, atol=1e-5, rtol=1e-5)
    # output = attention * swap + crop (no sigmoid on the attention)
    torch.testing.assert_close(out, attention * swap + regions)


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match=r"\(B, 4, 4\)"):
        dft.check_boxes(torch.zeros(1, 4))
    with pytest.raises(ValueError, match="x2 > x1"):
        dft.check_boxes(torch.tensor([[[10, 10, 5, 20]] * 4]).float())
    with pytest.raises(ValueError, match="inside the 512"):
        dft.check_boxes(torch.tensor([[[10, 10, 600, 20]] * 4]).float())
    with pytest.raises(ValueError, match="empty at scale 32"):
        dft.feature_boxes(torch.tensor([[[17, 17, 30, 60]] * 4]).float(), 32, "official")
    with pytest.raises(ValueError, match="does not match"):
        dft.feature_match(torch.randn(1, 3, 4, 4), torch.randn(5, 3, 5, 5))
    with pytest.raises(ValueError, match="crop mode"):
        dft.feature_boxes(torch.zeros(1, 4, 4), 32, "nearest")

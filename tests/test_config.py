"""The shared vocabulary: entry shapes follow the official integer division, devices resolve clearly."""
from __future__ import annotations

import pytest
import torch

from dfdnet_lite import config


def test_entry_shapes_match_the_official_dictionaries():
    # official: part_sizes // (512 / feature_size), e.g. nose at 32 -> 50 // 16 = 3
    assert config.entry_shape("nose", 32) == (512, 3, 3)
    assert config.entry_shape("mouth", 256) == (128, 55, 55)
    assert config.entry_shape("left_eye", 128) == (256, 20, 20)
    assert config.entry_shape("right_eye", 64) == (512, 10, 10)
    # the paper's nominal sizes at 256 px: 40 / 25 / 55
    assert [config.part_size(p, 256) for p in config.PARTS] == [40, 40, 25, 55]


def test_unknown_part_or_scale_is_named():
    with pytest.raises(ValueError, match="unknown part 'ear'"):
        config.part_size("ear", 256)
    with pytest.raises(ValueError, match="unknown scale 100"):
        config.part_size("nose", 100)


def test_resolve_device():
    assert config.resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            config.resolve_device("cuda")
        assert config.resolve_device(None).type in ("cpu", "mps")


def test_profiles():
    assert config.check_profile("quick") == "quick"
    with pytest.raises(ValueError, match="choose one of quick, medium, paper"):
        config.check_profile("fast")

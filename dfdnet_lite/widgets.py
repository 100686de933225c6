"""Widgets that work without a kernel: precomputed images, switched in the browser (Notebooks 06, 07).

A widget driven by a Python callback (`interactive_output`) needs a kernel, so in the static book
moving a control does nothing. Here every view is drawn beforehand into a PNG, and nested
`Stack`s (which show only their child `selected_index`) hold the images: one level per control,
each control's `index` linked to the `selected_index` of its level's stacks with `jsdlink`. Those
links run in the browser, so the widget state embedded in a book page is all the widget needs; in
a live kernel it works the same. Needs ipywidgets 8 (`Stack`).
"""
from __future__ import annotations

import io
import itertools
from collections.abc import Mapping, Sequence


def _ipywidgets():
    try:
        import ipywidgets
    except ImportError as err:  # a dev dependency: the package itself runs without it
        raise ImportError("dfdnet_lite.widgets needs ipywidgets 8: pip install 'ipywidgets>=8.1'") from err
    if not hasattr(ipywidgets, "Stack"):
        raise ImportError(f"dfdnet_lite.widgets needs ipywidgets 8 (Stack), found {ipywidgets.__version__}: "
                          "pip install 'ipywidgets>=8.1'")
    return ipywidgets


def figure_png(fig, dpi: int = 72, colours: int | None = 256) -> bytes:
    """PNG of a matplotlib figure, with at most `colours` colours (a third of the bytes); closes the figure."""
    import matplotlib.pyplot as plt
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)  # so that the notebook does not show it as well
    if colours is None:
        return buffer.getvalue()
    image = Image.open(buffer).convert("RGB").quantize(colours, method=Image.Quantize.FASTOCTREE)
    buffer = io.BytesIO()
    image.save(buffer, format="png", optimize=True)
    return buffer.getvalue()


def option_values(control) -> tuple:
    """The values of a selection control's options (Dropdown, ToggleButtons...), in the order of its `index`."""
    return tuple(control._options_values)  # ipywidgets' own index -> value table (plain or (label, value) options)


def linked_stack(images: Mapping[tuple, bytes], controls: Sequence, fmt: str = "png"):
    """Nested Stacks of `images` (key: one option value per control, in order) and their browser-side links.

    Level i of the nesting is chosen by `controls[i]`: a `jsdlink` from the control's `index` to the
    `selected_index` of every stack of that level. Returns (outer stack, links).
    """
    widgets = _ipywidgets()
    values = [option_values(c) for c in controls]
    expected = set(itertools.product(*values))
    if set(images) != expected:
        missing, extra = sorted(expected - set(images), key=str), sorted(set(images) - expected, key=str)
        raise ValueError(f"images must have one key per combination of the controls' options: "
                         f"{len(missing)} missing (e.g. {missing[:1]}), {len(extra)} extra (e.g. {extra[:1]})")
    links = []

    def level(prefix: tuple):
        i = len(prefix)
        children = [level(prefix + (v,)) if i + 1 < len(controls) else
                    widgets.Image(value=images[prefix + (v,)], format=fmt, layout=widgets.Layout(max_width="100%"))
                    for v in values[i]]
        stack = widgets.Stack(children, selected_index=controls[i].index)  # the browser keeps it in step
        links.append(widgets.jsdlink((controls[i], "index"), (stack, "selected_index")))
        return stack

    return level(()), links


def image_explorer(images: Mapping[tuple, bytes], controls: Sequence, fmt: str = "png"):
    """The controls in a row above `linked_stack(images, controls)`: a widget that needs no kernel."""
    widgets = _ipywidgets()
    stack, _ = linked_stack(images, controls, fmt)
    return widgets.VBox([widgets.HBox(list(controls)), stack])

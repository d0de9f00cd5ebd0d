"""compute.fig5's image grid from small arrays: one axis per panel, each showing its image under its title."""
from __future__ import annotations

import numpy as np

from dorlab.compute.fig5 import images_figure


def test_images_figure_shows_every_panel_in_grey_without_axes():
    rng = np.random.default_rng(0)
    panels = [[(rng.random((4, 4)), f"{name}: {kind}") for kind in ("input", "ideal", "DOR")]
              for name in ("blur", "edge")]
    fig = images_figure(panels, (6, 4))
    assert len(fig.axes) == 6
    for ax, (image, title) in zip(fig.axes, [panel for row in panels for panel in row]):
        (shown,) = ax.images
        np.testing.assert_array_equal(shown.get_array(), image)
        assert shown.get_cmap().name == "gray"
        assert ax.get_title() == title and not ax.axison


def test_a_single_row_of_images_is_one_row_of_axes():
    fig = images_figure([[(np.zeros((2, 2)), "a"), (np.ones((2, 2)), "b"), (np.eye(2), "c")]], (6, 2))
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]
    assert [ax.get_subplotspec().rowspan.start for ax in fig.axes] == [0, 0, 0]
    assert [ax.get_subplotspec().colspan.start for ax in fig.axes] == [0, 1, 2]

"""Row b's pool draws as Dask tasks: the same numbers in-process and on a two-worker LocalCluster."""
from __future__ import annotations

import numpy as np
import pytest

from dorlab.compute import table1
from dorlab.compute.cnn import CnnConfig, SmallCnn
from dorlab.compute.fig5 import experimental_like_calibration

pytest.importorskip("distributed")


def _tiny_row_b():
    """A paper-shaped network with seeded random weights and a few hundred MNIST-shaped random images."""
    rng = np.random.default_rng(42)
    model = SmallCnn(CnnConfig(), seed=3)
    model.parameters["conv_bias"][:] = rng.normal(0.0, 0.05, 16)

    def images(n):
        return rng.integers(0, 256, (n, 28, 28)).astype(np.uint8), rng.integers(0, 10, n)

    (train, train_labels), (validation, validation_labels), (test, test_labels) = images(200), images(60), images(120)
    subsets = table1.Subsets(train, train_labels, validation, validation_labels, test, test_labels)
    settings = table1.Table1Settings(n_train=200, n_validation=60, n_test=120, variation_draws=2,
                                     train_fc_images=200, train_fc_validation=60, train_fc_epochs=2,
                                     batch_images=60, seed=5)
    return model, experimental_like_calibration(), subsets, settings


def _numbers(draw: table1.RowResult) -> tuple:
    """Everything a draw computes except wall-clock times."""
    history = {k: v for k, v in draw.train_fc_history.items() if k != "epoch_seconds"}
    layers = {k: v for k, v in draw.layers.items() if k != "seconds"}
    return (draw.conv_dor, draw.conv_fc_dor, draw.conv_dor_train_fc, draw.conv_map_correlation,
            draw.conv_map_relative_rms, history, layers)


def test_row_b_draws_equal_in_process_and_on_a_local_cluster():
    from dorlab.procedures import table1_run as cli_table1

    model, curve, subsets, settings = _tiny_row_b()
    here = table1.run_row_b(model, curve, subsets, settings)
    assert [d.layers["seed"] for d in here] == table1.row_b_seeds(settings) == [1005, 2005]
    assert here[0].layers["variation"] == settings.variation
    # the two draws are different pools: their DOR conv maps differ
    assert here[0].conv_map_relative_rms != here[1].conv_map_relative_rms
    # the CLI's runner: a two-worker LocalCluster, the shared arguments scattered once
    messages = []
    there = table1.run_row_b(model, curve, subsets, settings, map_tasks=cli_table1.row_b_runner("local", messages.append))
    assert any("2 worker(s)" in m for m in messages) and any("draw 2/2 done" in m for m in messages)
    assert [_numbers(d) for d in there] == [_numbers(d) for d in here]
    # and the task function itself, called here, is the same computation
    assert _numbers(table1.variation_draw(model, curve, subsets.for_rows(settings), settings, 2005)) == _numbers(here[1])


def test_cli_rejects_an_unknown_cluster():
    from click.testing import CliRunner

    from dorlab.frontends.cli import cli

    result = CliRunner().invoke(cli, ["reproduce", "table1", "--quick", "--cluster", "nowhere"])
    assert result.exit_code == 2
    assert "--cluster" in result.output and "tcp://HOST:PORT" in result.output

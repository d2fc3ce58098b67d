"""A sixth method defined only here, registered through the public hook, works everywhere.

The module doubles as a plugin: ``NAWT_PLUGINS=test_plugin_method:register``
(with this folder on PYTHONPATH) makes the CLI load it.
"""

from __future__ import annotations

import os

import pytest

from nawt_core import spec
from nawt_core.methods import SAM

from helpers import REPO, run_cli

NAME, COLOUR = "half-sam", "#8c564b"


class HalfSAM(SAM):
    """SAM at rho / 2 for the first half of training, then rho."""

    name = NAME


def _half_then_full(cfg, epoch: int) -> float:
    return cfg.rho / 2 if epoch < cfg.epochs / 2 else cfg.rho


def register() -> None:
    spec.register_method(spec.MethodSpec(NAME, "half SAM", COLOUR, "SAM at rho/2, then rho halfway through",
                                         options=("rho", "ascent_steps"), rho=_half_then_full), impl=HalfSAM)


@pytest.fixture
def plugin():
    register()
    yield spec.method(NAME)
    spec.unregister_method(NAME)


def test_plugin_is_validated_from_its_spec(plugin, tiny_cfg):
    from nawt_core.config import TrainConfig
    from nawt_core.errors import NawtError

    assert spec.method_names()[-1] == NAME and spec.uses("rho")[-1] == NAME
    assert tiny_cfg(method=NAME, rho=0.2, epochs=4).rho_at(1) == 0.1
    with pytest.raises(NawtError, match="rho must not be negative"):
        TrainConfig(method=NAME, rho=-1).validate()
    spec.unregister_method(NAME)
    with pytest.raises(NawtError, match=f"unknown method '{NAME}'"):
        TrainConfig(method=NAME).validate()


def test_plugin_trains_and_shows_in_compare_and_plots(plugin, store, tiny_cfg, data_dir):
    from nawt_core.compare import compare
    from nawt_core.records import create_run
    from nawt_core.runner import execute

    run = execute(store, create_run(store, tiny_cfg(method=NAME, epochs=2, rho=0.1, train_subset=128,
                                                    test_subset=64), data_dir).id)
    assert run.status == "completed", run.error
    assert [e.rho for e in store.epochs(run.id)] == [0.05, 0.1]  # the plugin's own schedule
    # a standard run beside it, recorded by hand (training a second one adds nothing)
    std = store.create_run(method="standard", status="completed", final_test_acc=0.5, train_seconds=1.0,
                           epochs=2, device=run.device, config={**run.config, "method": "standard"})
    store.add_epoch(std.id, epoch=1, train_loss=1.0, train_acc=0.5, test_acc=0.5)
    comp = compare(store, [run.id, std.id])
    assert [a["method"] for a in comp.accuracy] == ["standard", NAME]  # built-ins first
    assert comp.groups[-1].settings["rho"] == 0.1  # its option is one of its settings
    pytest.importorskip("matplotlib")
    from nawt_core.plots import figure

    fig = figure(comp, "curves", store)
    lines = {ln.get_label().split(" ")[0]: ln.get_color() for ln in fig.axes[0].get_lines()}
    assert lines[NAME] == COLOUR and lines["standard"] == spec.colour("standard")


def test_plugin_appears_in_train_help_through_nawt_plugins(tmp_path):
    env = {"NAWT_PLUGINS": "test_plugin_method:register",
           "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])}
    out = run_cli("train", "--help", env={**env, "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    assert f"multistep-sam, {NAME}" in out.stdout and f"[sam, multistep-sam, {NAME}]" in out.stdout
    # accepted by the CLI's validation (it fails on the epochs, not on the method) ...
    bad = run_cli("train", "--method", NAME, "--epochs", "0", "--data-dir", str(tmp_path), env=env)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: epochs must be positive (got 0)"
    # ... and unknown without the plugin
    bad = run_cli("train", "--method", NAME, "--epochs", "0", "--data-dir", str(tmp_path))
    assert bad.returncode == 2 and f"unknown method '{NAME}'" in bad.stderr
    broken = run_cli("runs", "--data-dir", str(tmp_path), env={"NAWT_PLUGINS": "no_such_plugin_module"})
    assert broken.returncode == 2 and broken.stderr.startswith("error: cannot load plugin 'no_such_plugin_module'")

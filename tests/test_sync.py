"""No host-device sync inside a training step or the evaluation loop.

On CUDA a sync stalls the CPU until the GPU has caught up, so a step that
syncs cannot queue work ahead. The CPU cannot show a sync, so the device-
independent test counts what causes one: reading a tensor on the host
(.item(), .tolist(), float(), int(), bool(), .cpu(), .numpy()) and building a
tensor from Python data (torch.tensor / as_tensor: a host-to-device copy on
CUDA). The CUDA test runs the same steps under set_sync_debug_mode("error").
Every registered method is covered, with each variant of its options that
changes the step (ASAM's two variants, a multi-step ascent).
"""

from __future__ import annotations

import contextlib
import traceback

import pytest
import torch

from nawt_core import runner as runner_mod
from nawt_core import spec
from nawt_core.evaluate import evaluate_sums
from nawt_core.methods import make_optimizer
from nawt_core.models import build_model
from nawt_core.records import create_run

READS = ("item", "tolist", "__float__", "__int__", "__bool__", "cpu", "numpy")
BUILDS = ("tensor", "as_tensor")


@contextlib.contextmanager
def host_syncs():
    """Records (what, where) for every host read of a tensor and every tensor built from Python data."""
    seen: list[tuple[str, str]] = []

    def wrap(name, fn):
        def counted(*args, **kwargs):
            frame = traceback.extract_stack(limit=2)[0]
            seen.append((name, f"{frame.filename}:{frame.lineno}"))
            return fn(*args, **kwargs)
        return counted

    saved_t = {n: getattr(torch.Tensor, n) for n in READS}
    saved_m = {n: getattr(torch, n) for n in BUILDS}
    try:
        for n, fn in saved_t.items():
            setattr(torch.Tensor, n, wrap(f"Tensor.{n}", fn))
        for n, fn in saved_m.items():
            setattr(torch, n, wrap(f"torch.{n}", fn))
        yield seen
    finally:
        for n, fn in saved_t.items():
            setattr(torch.Tensor, n, fn)
        for n, fn in saved_m.items():
            setattr(torch, n, fn)


def variants() -> list[tuple[str, dict]]:
    """Every registered method, plus its option values that take another code path."""
    out = []
    for m in spec.methods():
        if spec.impl(m.name) is None:
            continue
        out.append((m.name, {}))
        if "adaptive" in m.options:
            out += [(m.name, {"adaptive": True, "asam": v}) for v in spec.OPTIONS["asam"].choices]
        if "ascent_steps" in m.options:
            out.append((m.name, {"ascent_steps": 2}))
    return out


def _id(v):
    return v[0] + "".join(f"-{k}={val}" for k, val in v[1].items())


def _trainer(store, tiny_cfg, data_dir, method, opts, device="cpu"):
    cfg = tiny_cfg(method=method, device=device, train_subset=256, test_subset=100, batch_size=64, epochs=4,
                   **opts)
    return runner_mod.Trainer(store, create_run(store, cfg, data_dir))


def _steps_and_eval(trainer):
    """Every epoch's steps (each stage of a rho schedule) and the evaluation loop, as training runs them."""
    for epoch in (0, trainer.cfg.epochs - 1):
        trainer.model.train()
        trainer.method.on_epoch_start(epoch)
        trainer.train_steps(epoch, float("inf"))  # t0 in the future: no heartbeat falls due
        trainer.method.on_epoch_end(epoch)
    evaluate_sums(trainer.model, trainer.data.x_test, trainer.data.y_test, batch_size=50,
                  autocast_dtype=trainer.amp)


def test_every_registered_method_is_covered():
    names = {name for name, _ in variants()}
    assert names == {m.name for m in spec.methods() if spec.impl(m.name) is not None}
    assert {"standard", "naive-noise", "noise-injection", "sam", "multistep-sam"} <= names
    assert ("sam", {"adaptive": True, "asam": "kwon"}) in variants()


@pytest.mark.parametrize("variant", variants(), ids=_id)
def test_training_steps_and_evaluation_never_read_the_device(variant, store, tiny_cfg, data_dir):
    trainer = _trainer(store, tiny_cfg, data_dir, *variant)
    with host_syncs() as seen:
        _steps_and_eval(trainer)
    assert seen == []


def test_the_probe_sees_a_per_batch_constant_and_an_item(store, tiny_cfg, data_dir, monkeypatch):
    """The probe catches finding 1 coming back: normalisation constants built per batch."""
    import nawt_core.data as data

    trainer = _trainer(store, tiny_cfg, data_dir, "standard", {})
    monkeypatch.setattr(trainer.data, "affine", None)  # to_input builds the constants again, per batch
    with host_syncs() as seen:
        _steps_and_eval(trainer)
    assert [w for w, _ in seen].count("torch.tensor") == 2 * 2 * trainer.steps  # mean and std, per batch
    assert all(where.startswith(data.__file__) for _, where in seen)
    trainer.data.affine = data.norm_affine(trainer.device)
    real_step = trainer.method.step

    def chatty(x, y):  # a loss logged per step
        loss, corr = real_step(x, y)
        loss.item()
        return loss, corr

    monkeypatch.setattr(trainer.method, "step", chatty)
    with host_syncs() as seen:
        _steps_and_eval(trainer)
    assert [w for w, _ in seen] == ["Tensor.item"] * (2 * trainer.steps)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: set_sync_debug_mode only sees real device syncs")
@pytest.mark.parametrize("variant", variants(), ids=_id)
def test_cuda_steps_and_evaluation_do_not_sync(variant, store, tiny_cfg, data_dir):
    trainer = _trainer(store, tiny_cfg, data_dir, *variant, device="cuda")
    _steps_and_eval(trainer)  # first: lazy CUDA initialisation and allocations may sync
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        _steps_and_eval(trainer)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()


def test_foreach_sgd_equals_the_per_parameter_loop():
    torch.manual_seed(0)
    models = [build_model("resnet20") for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    kw = dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    opts = [make_optimizer(models[0].parameters(), **kw), torch.optim.SGD(models[1].parameters(), foreach=False, **kw)]
    assert opts[0].defaults["foreach"] is True
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    for _ in range(3):
        for model, opt in zip(models, opts):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_weight_stats_read_the_device_once():
    """The per-epoch weight norms: every layer's L2, max |w| and std in one host read."""
    from nawt_core.models import weight_stats

    model = build_model("resnet20")
    with host_syncs() as seen:
        stats = weight_stats(model)
    assert [w for w, _ in seen] == ["Tensor.tolist"] and len(stats) == 20

"""Runs that move between devices, device choice and labels, determinism, sweep
noise that does not depend on the device, and the GPU list (without a GPU: the
mismatches are simulated, the GPU list comes from a fake nvidia-smi)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
import torch

from nawt_core import hardware as H
from nawt_core.records import create_run
from nawt_core.runner import execute

from helpers import run_cli

GPU_LABEL = "NVIDIA H100 80GB HBM3 · sm_90 · cuda:3 · GPU-5d5a4b0e-7c1f-2a8e-9b1e-0f3c2d1a4b5c"


def _final(path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


def _as_if_from_gpu(store, run, last: Path) -> None:
    """Makes an interrupted CPU run look like one that trained on cuda:3: its
    generators' states are CUDA (Philox, 16 bytes), its stored device cuda:3."""
    state = torch.load(last, map_location="cpu", weights_only=True)
    state["rng_device"] = "cuda"
    state["rng"]["data"] = torch.arange(16, dtype=torch.uint8)
    state["rng"]["method"] = torch.arange(16, dtype=torch.uint8)
    torch.save(state, last)
    store.update_run(run.id, status="interrupted", epochs=2, device=GPU_LABEL,
                     config={**run.config, "epochs": 2, "device": "cuda:3"})


def _one_epoch_of_two(store, tiny_cfg, data_dir, **kw):
    """A run stopped after epoch 1 of 2 (trained as a 1-epoch run, then extended)."""
    run = execute(store, create_run(store, tiny_cfg(epochs=1, deterministic=True, **kw), data_dir).id)
    assert run.status == "completed"
    return store.get_run(run.id), store.folder(run) / "last.pt"


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a GPU run resuming on a host without CUDA")
def test_a_gpu_run_resumes_on_the_cpu_reseeded_deterministically(store, tiny_cfg, data_dir, caplog, monkeypatch):
    monkeypatch.setattr("nawt_core.device._WARNED", set())  # warnings are once per process
    run, last = _one_epoch_of_two(store, tiny_cfg, data_dir, method="noise-injection")
    _as_if_from_gpu(store, run, last)
    saved = last.read_bytes()
    finals = []
    for _ in range(2):
        last.write_bytes(saved)  # the same starting point twice
        store.truncate_epochs(run.id, 1)
        store.update_run(run.id, status="interrupted", epoch=1)
        with caplog.at_level(logging.WARNING, logger="nawt"):
            done = execute(store, run.id)
        assert done.status == "completed", done.error
        assert [e.epoch for e in store.epochs(run.id)] == [1, 2]
        assert H.device_kind(done.device) == "cpu"  # stored device cuda:3 is not here: the CPU took over
        finals.append(_final(store.path(done.checkpoint_final)))
    notes = [r.getMessage() for r in caplog.records]
    assert any("cuda:3 is not available here" in n and "using cpu" in n for n in notes), notes
    assert any("random state was saved on cuda" in n and "reseeded from (seed 0, epoch 1)" in n for n in notes), notes
    for k in finals[0]:
        assert torch.equal(finals[0][k], finals[1][k]), k  # the reseed is deterministic


def test_resume_restores_the_random_state_exactly_on_the_same_device_type(store, tiny_cfg, data_dir, caplog):
    run, last = _one_epoch_of_two(store, tiny_cfg, data_dir)
    state = torch.load(last, map_location="cpu", weights_only=True)
    assert state["rng_device"] == "cpu"
    store.update_run(run.id, status="interrupted", epochs=2, config={**run.config, "epochs": 2})
    with caplog.at_level(logging.WARNING, logger="nawt"):
        done = execute(store, run.id)
    assert done.status == "completed"
    assert not [r for r in caplog.records if "reseeded" in r.getMessage()]


def test_a_run_records_the_code_that_trained_it(store, tiny_cfg, data_dir, monkeypatch):
    from nawt_core import records

    run, _last = _one_epoch_of_two(store, tiny_cfg, data_dir, train_subset=128)
    store.update_run(run.id, status="interrupted", epochs=2, config={**run.config, "epochs": 2},
                     git_commit="fd752d2")
    monkeypatch.setattr(records, "git_commit", lambda: "55a542c")
    assert execute(store, run.id).git_commit == "fd752d2+55a542c"  # resumed by other code: both
    # queued under one commit, trained from scratch by another (a worker, later): only the one that trains it
    fresh = create_run(store, tiny_cfg(epochs=1, train_subset=128), data_dir)
    store.update_run(fresh.id, git_commit="fd752d2")
    assert execute(store, fresh.id).git_commit == "55a542c"
    # --restart: nothing of the old code's epochs survives
    again, _ = _one_epoch_of_two(store, tiny_cfg, data_dir, train_subset=128)
    store.update_run(again.id, status="interrupted", epochs=2, config={**again.config, "epochs": 2},
                     git_commit="fd752d2")
    assert execute(store, again.id, restart=True).git_commit == "55a542c"


def test_train_resume_takes_device_and_records_it(store, tiny_cfg, data_dir):
    run, last = _one_epoch_of_two(store, tiny_cfg, data_dir)
    _as_if_from_gpu(store, run, last)
    res = run_cli("train", "--resume", str(run.id), "--device", "cpu", "--db", store.url, "--data-dir", str(data_dir))
    assert res.returncode == 0, res.stderr
    done = store.get_run(run.id)
    assert done.status == "completed" and done.config["device"] == "cpu"
    assert "reseeded" in res.stderr and "not available" not in res.stderr  # cpu was asked for: no fallback


def test_train_resume_refuses_a_device_that_is_not_here(store, tiny_cfg, data_dir):
    if torch.cuda.is_available():
        pytest.skip("needs a host without CUDA")
    run, last = _one_epoch_of_two(store, tiny_cfg, data_dir)
    store.update_run(run.id, status="interrupted", epochs=2, config={**run.config, "epochs": 2})
    for bad, why in (("cuda:1", "CUDA is not available"), ("tpu", "unknown device")):
        res = run_cli("train", "--resume", str(run.id), "--device", bad, "--db", store.url,
                      "--data-dir", str(data_dir))
        assert res.returncode == 2 and res.stderr.startswith("error: ") and why in res.stderr, res.stderr
        assert "Traceback" not in res.stderr
    assert store.get_run(run.id).status == "interrupted" and store.get_run(run.id).config["device"] == "cpu"


def test_deterministic_training_twice_gives_equal_weights(store, tiny_cfg, data_dir):
    finals = []
    for _ in range(2):
        run = execute(store, create_run(store, tiny_cfg(method="sam", deterministic=True, train_subset=256), data_dir).id)
        assert run.status == "completed", run.error
        finals.append(_final(store.path(run.checkpoint_final)))
    for k in finals[0]:
        assert torch.equal(finals[0][k], finals[1][k]), k
    assert not torch.are_deterministic_algorithms_enabled()  # the process-wide flag is put back
    assert os.environ.get("CUBLAS_WORKSPACE_CONFIG") in (":4096:8", ":16:8")  # set before CUDA could start


def test_deterministic_mode_refuses_rather_than_warns():
    from nawt_core.device import deterministic_mode, seed_everything

    with deterministic_mode():
        seed_everything(0, True)
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.is_deterministic_algorithms_warn_only_enabled()


def test_labels_name_the_gpu_slot_and_uuid():
    facts = H.HardwareFacts("cuda", gpu_name="NVIDIA H100 80GB HBM3", capability=(9, 0), index=3,
                            uuid="GPU-5d5a4b0e-7c1f-2a8e-9b1e-0f3c2d1a4b5c")
    assert facts.label() == GPU_LABEL
    assert H.device_kind(facts.label()) == "cuda" and H.cuda_slot(facts.label()) == "cuda:3"
    assert H.short_device(facts.label()) == "cuda:3 NVIDIA H100 80GB HBM3"
    assert H.short_device("AMD EPYC · 2 threads · avx2") == "AMD EPYC · 2 threads · avx2"


def test_eval_defaults_to_the_runs_device_family(caplog, monkeypatch):
    from nawt_core.device import device_for_label

    monkeypatch.setattr("nawt_core.device._WARNED", set())  # warnings are once per process

    assert device_for_label("AMD EPYC · 2 threads · avx2") == "cpu"
    assert device_for_label("") == "cpu"
    with caplog.at_level(logging.WARNING, logger="nawt"):
        got = device_for_label(GPU_LABEL)
    if torch.cuda.is_available():
        assert got == "cuda"
    else:
        assert got == "cpu" and any("evaluating on the CPU" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------- sweep noise
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs CUDA"))])
def test_sweep_noise_is_the_same_on_every_device(device):
    from nawt_core import perturb as P

    ws = [torch.ones(4, 3, 3, 3), torch.full((10, 8), 2.0)]
    cpu_gen = torch.Generator().manual_seed(P.trial_seed(7, 0.05, 2))
    want = [torch.randn(w.shape, generator=cpu_gen) for w in ws]  # one generator, drawn in order
    gen = P.generator(7, 0.05, 2, device)
    got = P.noise_like([w.to(device) for w in ws], 0.05, "absolute", gen)
    assert gen.device.type == "cpu"
    for g, z in zip(got, want):
        assert g.device.type == device
        assert torch.equal(g.cpu(), z.mul(0.05))  # drawn on the CPU, then moved: the same numbers
    other = P.noise_like(ws, 0.05, "absolute", P.generator(7, 0.05, 3))
    assert not torch.equal(other[0], got[0].cpu())  # another trial, other noise


def test_sweeps_record_noise_source_device_and_tf32(store, tiny_cfg, data_dir):
    from nawt_core.evalspec import noise_source
    from nawt_core.sweeps import find_evaluation, quantization_sweep, robustness_sweep

    run = execute(store, create_run(store, tiny_cfg(epochs=1), data_dir).id)
    ev = robustness_sweep(store, run.id, strengths=[0.0, 0.05], trials=1, strategy="loop")
    assert ev.config["noise"] == "cpu" and H.device_kind(ev.device) == "cpu"
    assert ev.tf32_conv is None and ev.tf32_matmul is None  # no TF32 on a CPU
    q = quantization_sweep(store, run.id, bits=[8])
    assert H.device_kind(q.device) == "cpu" and q.tf32_conv is None
    key = {"mode": "absolute", "strengths": [0.0, 0.05], "trials": 1, "targets": "weights", "noise": "cpu"}
    assert find_evaluation(store, run.id, "robustness", key).id == ev.id
    # an older GPU sweep (noise drawn on the device) is not the same sweep; an older CPU one is
    old = dict(ev.config)
    old.pop("noise")
    store.update_evaluation(ev.id, config=old, device=GPU_LABEL)
    assert noise_source(old, "cuda") == "device"
    assert find_evaluation(store, run.id, "robustness", key) is None
    store.update_evaluation(ev.id, device="AMD EPYC · 2 threads · avx2")
    assert find_evaluation(store, run.id, "robustness", key).id == ev.id


# ----------------------------------------------------------------- GPU listing
FAKE_SMI = """#!/bin/sh
echo "0, NVIDIA H100 80GB HBM3, GPU-aaaa1111-0000-0000-0000-000000000000, 1024, 81559, 35"
echo "1, NVIDIA H100 80GB HBM3, GPU-bbbb2222-0000-0000-0000-000000000000, [N/A], 81559, [N/A]"
"""


@pytest.fixture
def fake_smi(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "nvidia-smi"
    exe.write_text(FAKE_SMI)
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return exe


def test_gpus_are_listed_from_nvidia_smi(fake_smi, monkeypatch):
    gpus = H.list_gpus()
    assert [(g.device, g.name, g.uuid[:8]) for g in gpus] == [
        ("cuda:0", "NVIDIA H100 80GB HBM3", "GPU-aaaa"), ("cuda:1", "NVIDIA H100 80GB HBM3", "GPU-bbbb")]
    assert gpus[0].memory_used_mib == 1024 and gpus[0].utilization == 35
    assert gpus[1].memory_used_mib is None and gpus[1].utilization is None  # [N/A]
    assert gpus[0].describe() == "cuda:0 · NVIDIA H100 80GB HBM3 · 1.0/80 GiB · 35%"
    assert gpus[1].describe() == "cuda:1 · NVIDIA H100 80GB HBM3 · 80 GiB"  # unknown use and load: not shown as 0
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")  # torch would call that card cuda:0
    assert [(g.device, g.uuid[:8]) for g in H.list_gpus()] == [("cuda:0", "GPU-bbbb")]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-aaaa1111")
    assert [(g.device, g.uuid[:8]) for g in H.list_gpus()] == [("cuda:0", "GPU-aaaa")]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert H.list_gpus() == []


def test_no_nvidia_smi_means_no_gpus(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(H, "_from_nvml", lambda: None)  # as on a host without nvidia-ml-py or a driver
    assert H.list_gpus() == []
    from nawt_tui.train_form import device_choices

    assert [v for _, v in device_choices()] == ["auto", "cpu", "cuda"]


def test_forms_offer_each_gpu(fake_smi):
    from nawt_tui.eval_form import validate_eval
    from nawt_tui.launch import eval_args
    from nawt_tui.train_form import device_choices, validate

    assert [v for _, v in device_choices()] == ["auto", "cpu", "cuda:0", "cuda:1"]
    form = {"method": "standard", "dataset": "synthetic", "arch": "resnet20", "precision": "auto",
            "schedule": "cosine", "epochs": "1", "batch_size": "64", "lr": "0.1", "seed": "0", "device": "cuda:1"}
    values, errors = validate(form)
    assert not errors and values["device"] == "cuda:1"
    assert "device" in validate({**form, "device": "gpu7"})[1]
    opts, errors = validate_eval({"kind": "quantization", "bits": "8", "device": "cuda:1"})
    assert not errors and eval_args("quantization", [3], opts)[-2:] == ["--device", "cuda:1"]
    opts, errors = validate_eval({"kind": "quantization", "bits": "8", "device": ""})
    assert not errors and "--device" not in eval_args("quantization", [3], opts)  # the run's own family
    _, errors = validate_eval({"kind": "quantization", "bits": "8", "device": "gpu7"})
    assert "device" in errors


def test_new_run_and_evaluate_forms_list_the_gpus(fake_smi, tmp_path):
    import asyncio

    from textual.widgets import Select

    from nawt_tui.app import NawtApp
    from nawt_tui.screens.dialogs import EvalScreen
    from nawt_tui.screens.new_run import NewRunScreen

    async def body():
        app = NawtApp(f"sqlite:///{tmp_path / 'x.db'}", str(tmp_path), host="test-host")
        async with app.run_test(size=(120, 40)) as pilot:
            await app.push_screen(NewRunScreen())
            await pilot.pause()
            new_run = [v for _, v in app.screen.query_one("#f-device", Select)._options]
            app.pop_screen()
            await app.push_screen(EvalScreen([1]))
            await pilot.pause()
            evaluate = [v for _, v in app.screen.query_one("#eval-device", Select)._options]
        return new_run, evaluate

    new_run, evaluate = asyncio.run(body())
    assert new_run == ["auto", "cpu", "cuda:0", "cuda:1"]
    assert evaluate == ["run", "cpu", "cuda:0", "cuda:1"]


def test_compare_keeps_old_gpu_sweeps_apart_from_cpu_generator_ones():
    from nawt_core.compare import sweep_key
    from nawt_core.evalspec import evaluation
    from nawt_core.store import Evaluation

    rob = evaluation("robustness")

    cfg = {"mode": "absolute", "strengths": [0.0, 0.05], "trials": 2, "targets": "weights", "precision": "fp32"}
    old_gpu = Evaluation(run_id=1, kind="robustness", config=cfg, device=GPU_LABEL)
    new_gpu = Evaluation(run_id=1, kind="robustness", config={**cfg, "noise": "cpu"}, device=GPU_LABEL)
    old_cpu = Evaluation(run_id=1, kind="robustness", config=cfg, device="AMD EPYC · 2 threads · avx2")
    assert sweep_key(rob, old_gpu) != sweep_key(rob, new_gpu)
    assert sweep_key(rob, old_cpu) == sweep_key(rob, new_gpu)  # the CPU drew the same noise


def test_the_load_meter_finds_the_gpu_by_uuid_not_by_torchs_index(monkeypatch):
    """Under CUDA_VISIBLE_DEVICES=2 torch's cuda:0 is NVML's GPU 2: the meter asks NVML by UUID."""
    import sys
    import types

    from nawt_core.machine import LoadMeter

    gpus = {"GPU-aaaa": 0.10, "GPU-cccc": 0.75}  # NVML index 0 and 2
    by_index = ["GPU-aaaa", "GPU-bbbb", "GPU-cccc"]
    fake = types.SimpleNamespace(
        nvmlInit=lambda: None,
        nvmlDeviceGetHandleByUUID=lambda uuid: uuid,
        nvmlDeviceGetHandleByIndex=lambda i: by_index[i],
        nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(gpu=100 * gpus.get(h, 0.0)))
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    assert LoadMeter("GPU-cccc").read()["gpu_util"] == pytest.approx(0.75)
    assert LoadMeter(0).read()["gpu_util"] == pytest.approx(0.10)  # no UUID known: NVML's index
    assert LoadMeter(None).read()["gpu_util"] is None
    assert LoadMeter("GPU-cccc").read()["gpu_others"] is None  # this fake NVML lists no processes


def test_the_load_meter_counts_other_processes_on_its_gpu(monkeypatch):
    """A GPU shared with another job inflates a run's times: the meter counts the other pids."""
    import os
    import sys
    import types

    from nawt_core.machine import LoadMeter

    procs = {"GPU-aaaa": [os.getpid()], "GPU-bbbb": [os.getpid(), 4242, 4243]}
    fake = types.SimpleNamespace(
        nvmlInit=lambda: None, nvmlDeviceGetHandleByUUID=lambda uuid: uuid,
        nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(gpu=90),
        nvmlDeviceGetComputeRunningProcesses=lambda h: [types.SimpleNamespace(pid=p) for p in procs[h]])
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    assert LoadMeter("GPU-aaaa").read()["gpu_others"] == 0  # only this process
    assert LoadMeter("GPU-bbbb").read()["gpu_others"] == 2


# ----------------------------------------------------- no silent CPU fallback
OLD_DRIVER_SMI = """#!/bin/sh
case "$*" in
  *driver_version*) echo "535.104.05"; echo "535.104.05" ;;
  *) echo "0, NVIDIA A100-SXM4-80GB, GPU-aaaa1111-0000-0000-0000-000000000000, 0, 81920, 0"
     echo "1, NVIDIA A100-SXM4-80GB, GPU-bbbb2222-0000-0000-0000-000000000000, 0, 81920, 0" ;;
esac
"""


@pytest.fixture
def old_driver_smi(fake_smi):
    fake_smi.write_text(OLD_DRIVER_SMI)
    return fake_smi


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a GPU host whose torch sees no CUDA")
def test_gpus_torch_cannot_see_are_one_warning_naming_driver_and_wheel(old_driver_smi, monkeypatch, caplog):
    from nawt_core import device as D

    monkeypatch.setattr(D, "_WARNED", set())
    monkeypatch.setattr(D, "_UNSEEN", False)
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    with caplog.at_level(logging.WARNING, logger="nawt"):
        assert D.resolve_device("auto").type == "cpu"
        D.resolve_device("auto")
    notes = [r.getMessage() for r in caplog.records]
    assert len(notes) == 1, notes  # once per process
    assert ("2 GPUs (NVIDIA A100-SXM4-80GB, driver 535.104.05) but torch sees no CUDA device" in notes[0]
            and "CUDA 13.0 (torch.version.cuda), which needs driver ≥ 580.65.06" in notes[0]
            and notes[0].endswith("using the CPU")), notes
    assert "\n" not in notes[0]
    # a CPU-only wheel, and a host without GPUs (no note at all)
    assert "CPU-only build" in H.unseen_gpus_note(H.list_gpus(), None, "")
    assert H.unseen_gpus_note([], "13.0", "535.104.05") is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a GPU host whose torch sees no CUDA")
def test_a_paper_or_quick_study_refuses_the_cpu_unless_asked(old_driver_smi, tmp_path):
    db = tmp_path / "s.db"
    for preset in ("paper", "quick"):
        res = run_cli("study", "--preset", preset, "--dataset", "synthetic", "--db", f"sqlite:///{db}",
                      "--data-dir", str(tmp_path / "home"))
        assert res.returncode == 2, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "--device cpu" in lines[0], res.stderr
        assert "driver 535.104.05" in lines[0] and "torch.version.cuda" in lines[0]
    assert not db.exists() and not (tmp_path / "home").exists()  # nothing recorded
    # --device cpu asks for the CPU: the study goes on (to the next check here: no CIFAR-10 offline)
    res = run_cli("study", "--preset", "quick", "--device", "cpu", "--db", f"sqlite:///{db}",
                  "--data-dir", str(tmp_path / "home"), env={"NAWT_OFFLINE": "1"})
    assert res.returncode == 2 and "CIFAR-10 is not in" in res.stderr and "--device cpu" not in res.stderr, res.stderr
    # smoke is CPU-sized: no refusal
    res = run_cli("study", "--preset", "smoke", "--db", f"sqlite:///{db}", "--data-dir", str(tmp_path / "home"),
                  env={"NAWT_OFFLINE": "1"})
    assert "CIFAR-10 is not in" in res.stderr, res.stderr

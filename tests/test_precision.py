"""--precision auto|fp32|bf16: the choice for injected hardware facts, the warning for
bf16 without native support, what a run and a sweep record, and the device label."""

from __future__ import annotations

import logging

import pytest

from nawt_core.errors import NawtError
from nawt_core.hardware import HardwareFacts, choose_precision, cpu_facts, read_cpu_info, slow_bf16_warning

XEON = HardwareFacts("cpu", cpu_model="Intel(R) Xeon(R) CPU @ 2.20GHz",
                     cpu_flags=frozenset({"sse2", "avx2", "avx512f", "avx512bw"}), threads=2)
EPYC = HardwareFacts("cpu", cpu_model="AMD EPYC 9R14", cpu_flags=frozenset({"avx2", "avx512f", "avx512_bf16"}),
                     threads=2)
SAPPHIRE = HardwareFacts("cpu", cpu_model="Intel(R) Xeon(R) Platinum 8488C",
                         cpu_flags=frozenset({"avx2", "avx512f", "amx_tile", "amx_bf16"}), threads=8)
NO_INFO = HardwareFacts("cpu")  # no /proc/cpuinfo (not Linux)


def gpu(major: int, minor: int) -> HardwareFacts:
    return HardwareFacts("cuda", gpu_name=f"GPU sm_{major}{minor}", capability=(major, minor), index=1)


@pytest.mark.parametrize("facts, expected", [
    (gpu(7, 5), "fp32"), (gpu(8, 0), "bf16"), (gpu(9, 0), "bf16"), (gpu(8, 6), "bf16"),
    (XEON, "fp32"), (EPYC, "bf16"), (SAPPHIRE, "bf16"), (NO_INFO, "fp32"),
])
def test_auto_picks_bf16_only_where_it_is_native(facts, expected):
    precision, reason = choose_precision("auto", facts)
    assert precision == expected
    assert reason.startswith("auto: ")
    assert ("natively" in reason) == (expected == "bf16")
    if facts.kind == "cuda":
        assert f"{facts.capability[0]}.{facts.capability[1]}" in reason
    elif facts is EPYC:
        assert "avx512_bf16" in reason and "AMD EPYC 9R14" in reason
    elif facts is SAPPHIRE:
        assert "amx_bf16" in reason


@pytest.mark.parametrize("facts", [gpu(7, 5), gpu(9, 0), XEON, EPYC, NO_INFO])
def test_explicit_choices_are_kept(facts):
    assert choose_precision("fp32", facts) == ("fp32", "fp32 as asked")
    precision, reason = choose_precision("bf16", facts)
    assert precision == "bf16"
    assert ("slower than fp32" in reason) == (not facts.native_bf16)


def test_bf16_without_native_support_gets_one_warning_naming_auto():
    for facts in (XEON, gpu(7, 5), NO_INFO):
        note = slow_bf16_warning("bf16", facts)
        assert note is not None and "\n" not in note
        assert "slower than fp32" in note and "--precision auto would pick fp32" in note
    assert "Intel(R) Xeon(R) CPU @ 2.20GHz" in slow_bf16_warning("bf16", XEON)
    assert "sm_75" in slow_bf16_warning("bf16", gpu(7, 5))
    for facts in (EPYC, SAPPHIRE, gpu(8, 0)):
        assert slow_bf16_warning("bf16", facts) is None
    assert slow_bf16_warning("fp32", XEON) is None


def test_unknown_precision_is_refused():
    with pytest.raises(NawtError, match="choose auto, fp32 or bf16"):
        choose_precision("fp16", EPYC)


def test_device_labels_name_the_hardware():
    assert EPYC.label() == "AMD EPYC 9R14 · 2 threads · avx512_bf16 avx512f avx2"
    assert XEON.label() == "Intel(R) Xeon(R) CPU @ 2.20GHz · 2 threads · avx512f avx2 (no native bf16)"
    assert gpu(9, 0).label() == "GPU sm_90 · sm_90 · cuda:1"
    assert NO_INFO.label() == "cpu"


def test_cpuinfo_is_read_from_the_first_processor(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD  EPYC 9R14\n"
                    "flags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n\nprocessor\t: 1\nmodel name\t: other\n"
                    "flags\t\t: fpu\n")
    model, flags = read_cpu_info(info)
    assert model == "AMD EPYC 9R14" and {"avx512_bf16", "avx512f"} <= flags and "other" not in model
    assert cpu_facts(threads=4, path=info).native_bf16
    assert read_cpu_info(tmp_path / "missing") == ("", frozenset())


def test_torch_side_gathers_this_machines_cpu_facts():
    import torch

    from nawt_core.device import device_name, hardware_facts

    facts = hardware_facts(torch.device("cpu"))
    model, flags = read_cpu_info()
    assert facts.kind == "cpu" and facts.cpu_model == model and facts.cpu_flags == flags
    assert facts.threads == torch.get_num_threads()
    assert device_name(torch.device("cpu")).startswith(model or "cpu")


# ----------------------------------------------------------- runs and sweeps
@pytest.fixture
def hardware(monkeypatch):
    """Injects the CPU facts the torch side sees; each test starts with no warning given."""
    import nawt_core.device as device

    monkeypatch.setattr(device, "_WARNED", set())

    def use(facts: HardwareFacts) -> None:
        monkeypatch.setattr(device, "cpu_facts", lambda threads=None: facts)

    return use


def test_a_run_records_the_precision_it_used_and_resume_keeps_it(hardware, store, tiny_cfg, data_dir):
    from nawt_core.records import create_run
    from nawt_core.runner import Trainer

    hardware(EPYC)
    small = dict(epochs=1, train_subset=128, test_subset=64)
    run = create_run(store, tiny_cfg(**small), data_dir)
    assert run.config["precision"] == "auto" and run.precision is None
    t = Trainer(store, run, data_dir=data_dir)
    assert (t.precision, t.amp is not None) == ("bf16", True)
    done = t.train()
    assert done.precision == "bf16" and "avx512_bf16" in done.precision_reason
    assert done.device == EPYC.label()
    # interrupted, then resumed on a machine without native bf16: it keeps what it started with
    hardware(XEON)
    store.update_run(run.id, status="interrupted")
    again = Trainer(store, store.get_run(run.id), data_dir=data_dir)
    assert again.precision == "bf16" and "avx512_bf16" in again.precision_reason
    fresh = Trainer(store, create_run(store, tiny_cfg(**small), data_dir), data_dir=data_dir)
    assert (fresh.precision, fresh.amp) == ("fp32", None)
    assert fresh.precision_reason.startswith("auto: ") and "no native bf16" in fresh.precision_reason


def test_sweeps_record_their_precision_and_old_ones_count_as_fp32(hardware, store, tiny_cfg, data_dir):
    from nawt_core.records import create_run
    from nawt_core.runner import execute
    from nawt_core.sweeps import find_evaluation, quantization_sweep

    hardware(XEON)
    run = execute(store, create_run(store, tiny_cfg(epochs=1, train_subset=128, test_subset=64), data_dir).id)
    assert run.precision == "fp32"
    ev = quantization_sweep(store, run.id, bits=[8], device="cpu", data_dir=data_dir)
    assert ev.config["precision"] == "fp32" and ev.config["precision_reason"].startswith("auto: ")
    hardware(EPYC)
    ev16 = quantization_sweep(store, run.id, bits=[8], device="cpu", data_dir=data_dir)
    assert ev16.config["precision"] == "bf16"
    key = {"bits": [8], "granularity": "channel"}
    assert find_evaluation(store, run.id, "quantization", {**key, "precision": "bf16"}).id == ev16.id
    assert find_evaluation(store, run.id, "quantization", {**key, "precision": "fp32"}).id == ev.id
    legacy = store.create_evaluation(run_id=run.id, kind="quantization", status="completed",
                                     config={"bits": [8], "granularity": "channel"})
    assert find_evaluation(store, run.id, "quantization", {**key, "precision": "fp32"}).id == legacy.id


# ------------------------------------------------------------------- CLI
@pytest.fixture
def cli(hardware):
    """`nawt` in this process (so facts can be injected), with its logging set up as main() does."""
    from typer.testing import CliRunner

    from nawt_cli.app import setup_logging
    from nawt_cli.main import app

    logger = logging.getLogger("nawt")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    setup_logging()
    yield lambda *args: CliRunner().invoke(app, list(args))
    logger.handlers[:], logger.level, logger.propagate = saved


def test_explicit_bf16_on_a_cpu_without_it_warns_once(cli, hardware, data_dir):
    from nawt_core.store import Store

    hardware(XEON)
    train = ["train", "--dataset", "synthetic", "--train-subset", "64", "--test-subset", "32", "--epochs", "1",
             "--batch-size", "32", "--device", "cpu", "--data-dir", str(data_dir),
             "--db", f"sqlite:///{data_dir / 'nawt.db'}"]
    r = cli(*train, "--precision", "bf16")
    assert r.exit_code == 0, r.output
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1, r.stderr
    assert "no native bf16" in warnings[0] and "slower than fp32" in warnings[0]
    assert "--precision auto would pick fp32" in warnings[0]
    r = cli(*train)  # auto: fp32 here, and nothing to warn about
    assert r.exit_code == 0, r.output
    assert "warning" not in r.stderr
    runs = Store(f"sqlite:///{data_dir / 'nawt.db'}").list_runs()
    assert [(x.config["precision"], x.precision) for x in runs] == [("bf16", "bf16"), ("auto", "fp32")]
    assert "slower than fp32" in runs[0].precision_reason


def test_bench_names_the_cpu_and_the_precision_choice(cli, hardware, monkeypatch):
    import json

    import nawt_core.bench as bench

    monkeypatch.setattr(bench, "time_eval", lambda data, dev, precision, **kw: 1.0)  # 10,000 images: too slow here
    hardware(XEON)
    r = cli("bench", "-m", "standard", "--steps", "2", "--warmup", "1", "--batch-size", "16", "--no-reference",
            "--device", "cpu", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["device"] == XEON.label() and out["hardware"]["native_bf16"] is False
    assert out["hardware"]["cpu"] == XEON.cpu_model and "avx512f" in out["hardware"]["flags"]
    assert (out["precision_requested"], out["precision"]) == ("auto", "fp32")
    assert out["precision_reason"].startswith("auto: ") and "warning" not in r.stderr


# ------------------------------------------------------------------- TUI
def test_tui_forms_offer_precision_and_pass_it_on():
    from nawt_tui.launch import eval_args, train_args
    from nawt_tui.screens.dialogs import validate_eval
    from nawt_tui.screens.new_run import SELECTS

    label, options, default, _ = SELECTS["precision"]
    assert default == "auto" and [v for _, v in options] == ["auto", "fp32", "bf16"]
    assert train_args({"method": "standard", "precision": "auto"})[-2:] == ["--precision", "auto"]
    opts, errors = validate_eval({"kind": "quantization", "bits": "8,4", "granularity": "channel",
                                  "precision": "bf16"})
    assert not errors and opts["precision"] == "bf16"
    args = eval_args("quantization", [3], opts)
    assert args[args.index("--precision") + 1] == "bf16"
    _, errors = validate_eval({"kind": "robustness", "trials": "2", "precision": "fp16"})
    assert "precision" in errors
    opts, _ = validate_eval({"kind": "robustness", "trials": "2"})
    assert opts["precision"] == "auto"  # a blank choice is the default


def test_device_kind_reads_every_label_nawt_has_stored():
    from nawt_core.hardware import HardwareFacts, device_kind

    cpu = HardwareFacts("cpu", cpu_model="AMD EPYC", cpu_flags=frozenset({"avx512_bf16"}), threads=2)
    gpu = HardwareFacts("cuda", gpu_name="NVIDIA H100 80GB HBM3", capability=(9, 0), index=3)
    assert device_kind(cpu.label()) == "cpu" and device_kind(gpu.label()) == "cuda"
    assert device_kind("cpu (2 threads, AVX512)") == "cpu"  # labels stored before the hardware facts
    assert device_kind("NVIDIA GeForce RTX 3090") == "cuda"
    assert device_kind("") == ""


def test_compare_groups_cpu_runs_as_cpu(store, tiny_cfg, data_dir):
    from nawt_core.compare import compare
    from nawt_core.records import create_run
    from nawt_core.runner import execute

    run = create_run(store, tiny_cfg(epochs=1), data_dir)
    execute(store, run.id)
    c = compare(store, all_runs=True)
    assert [g.settings["device"] for g in c.groups] == ["cpu"]
    assert [t["device"] for t in c.timing] == ["cpu"]


def test_bench_times_each_method_for_at_least_min_seconds(monkeypatch):
    """On a fast GPU 40 steps last a fraction of a second: --seconds keeps timing whole blocks
    of steps until that long has passed (here on the CPU, with one step per block)."""
    import torch

    import nawt_core.bench as bench
    from nawt_core.data import DeviceData, synthetic

    steps = []
    real = bench.make_method

    def counting(*args, **kwargs):
        method = real(*args, **kwargs)
        step = method.step

        def counted(*batch):
            steps.append(1)
            return step(*batch)

        method.step = counted
        return method

    clock = iter(range(1000))  # a clock that advances 1 s per reading, whatever the machine's load
    monkeypatch.setattr(bench.time, "perf_counter", lambda: float(next(clock)))
    monkeypatch.setattr(bench, "make_method", counting)
    data = DeviceData(synthetic(256, 64), torch.device("cpu"))
    img_s = bench.time_method("standard", data, torch.device("cpu"), steps=1, warmup=0, batch_size=16,
                              precision="fp32", min_seconds=5)
    assert len(steps) == 5 and img_s == 5 * 16 / 5  # 5 blocks of 1 step, read 5 s after the start
    steps.clear()
    bench.time_method("standard", data, torch.device("cpu"), steps=3, warmup=0, batch_size=16, precision="fp32")
    assert len(steps) == 3  # without a minimum: exactly the steps asked for

"""Hardware stresses against today's Gaussian robustness sweep: a benchmark, not a test.

    python scripts/bench_stress.py [--checkpoint final.pt] [--cifar-dir DIR] [--images 10000]
        [--stress bitflip,bitflip-msb,pcm,pcm-comp,stuck] [--preset cpu] [--trials N]
        [--recalibrate N] [--sharpness [--sharpness-bf16] [--sharpness-one-shard]] [--threads N]
        [--precision auto] [--json FILE]

For each stress it evaluates one ResNet-20 on the test images at every (value,
trial) of the preset's grid (nawt_core.stressspec.GRIDS) with a plain loop:
the stress's new weights copied into a model (torch._foreach_copy_), then
nawt_core.evaluate. The reference is today's Gaussian robustness sweep
(nawt_core.sweeps.Perturber.loop, absolute noise, the same number of evaluated
models), timed right before and after each stress in the same process (one
reference run sits between two stresses and serves both, scaled per model);
the ratio is stress seconds / the mean of those two. It also prints the mean and
std accuracy per value of the grid (what the preset grids are chosen from),
and with --sharpness times sharpness (32 probes, 20 power iterations, 1,000
training images) against one evaluation of the test images.

Without --cifar-dir the images are synthetic (the speed does not depend on
them, the accuracies mean nothing). Prints the CPU, threads and load average:
timings on a shared machine mean little without them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nawt_core import bitflip, pcm, stuck  # noqa: E402
from nawt_core.bn_recal import recalibrate_bn  # noqa: E402
from nawt_core.checkpoint import load_model_state  # noqa: E402
from nawt_core.data import load_arrays, synthetic, to_input  # noqa: E402
from nawt_core.device import autocast_dtype, device_name, keep_freed_memory, resolve_precision  # noqa: E402
from nawt_core.evaluate import evaluate  # noqa: E402
from nawt_core.models import build_model, weight_params  # noqa: E402
from nawt_core.sharpness import sharpness  # noqa: E402
from nawt_core.stressspec import GRIDS  # noqa: E402
from nawt_core.sweeps import Perturber  # noqa: E402

# name -> (grid kind, grid key, weights function(clean, value, trial, probes), value 0 deterministic)
STRESSES = {
    "bitflip": ("bitflip", "rates", lambda ws, v, t, _: bitflip.bitflip_weights(ws, v, trial=t), True),
    "bitflip-msb": ("bitflip", "rates", lambda ws, v, t, _: bitflip.bitflip_weights(ws, v, target="msb", trial=t),
                    True),
    "pcm": ("pcm", "times", lambda ws, v, t, _: pcm.pcm_weights(ws, v, trial=t, compensate=False), False),
    "pcm-comp": ("pcm", "times", lambda ws, v, t, _: pcm.pcm_weights(ws, v, trial=t, compensate=True), False),
    "pcm-probe": ("pcm", "times", lambda ws, v, t, p: pcm.pcm_weights(ws, v, trial=t, compensate=True, probes=p),
                  False),
    "stuck": ("stuck", "fractions", lambda ws, v, t, _: stuck.stuck_weights(ws, v, value="both", trial=t), True),
    "stuck-zero": ("stuck", "fractions", lambda ws, v, t, _: stuck.stuck_weights(ws, v, value="zero", trial=t),
                   True),
}


def jobs_of(values, trials: int, zero_is_fixed: bool) -> list[tuple[float, int]]:
    return [(float(v), t) for v in values for t in range(1 if (v == 0 and zero_is_fixed) else trials)]


class StressLoop:
    """Evaluates stressed weight sets one at a time in a private copy of the model."""

    def __init__(self, model, x, y, amp, batches=None, recalibrate: int = 0):
        import copy

        self.model = copy.deepcopy(model).eval()
        self.names = [n for n, _ in weight_params(self.model)]
        self.params = [p for _, p in weight_params(self.model)]
        self.clean = [p.detach().clone() for p in self.params]
        self.buffers = {k: v.clone() for k, v in self.model.state_dict().items() if "running" in k}
        self.x, self.y, self.amp, self.batches, self.recalibrate = x, y, amp, batches, recalibrate
        self.probes = pcm.layer_probes(self.model, x[:64], self.names)

    @torch.no_grad()
    def run(self, fn, jobs):
        out = []
        for v, t in jobs:
            torch._foreach_copy_(self.params, fn(self.clean, v, t, self.probes))
            if self.recalibrate:
                recalibrate_bn(self.model, self.batches, self.recalibrate)
            out.append(evaluate(self.model, self.x, self.y, autocast_dtype=self.amp))
            if self.recalibrate:
                self.model.load_state_dict(self.buffers, strict=False)
        torch._foreach_copy_(self.params, self.clean)
        return out


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    res = fn(*args, **kw)
    return time.perf_counter() - t0, res


def summary(jobs, results) -> dict[float, tuple[float, float, int]]:
    per: dict[float, list[float]] = {}
    for (v, _), (_, acc) in zip(jobs, results):
        per.setdefault(v, []).append(acc)
    return {v: (statistics.mean(a), statistics.pstdev(a), len(a)) for v, a in per.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", help="a nawt final.pt (else an untrained ResNet-20)")
    ap.add_argument("--cifar-dir", help="folder holding cifar-10-batches-py (else synthetic images)")
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--stress", default="bitflip,pcm,stuck")
    ap.add_argument("--preset", default="cpu", choices=["paper", "cpu", "quick", "smoke"])
    ap.add_argument("--trials", type=int, help="trials per value (default: the preset's)")
    ap.add_argument("--values", help="comma-separated values instead of the preset's grid (one stress)")
    ap.add_argument("--recalibrate", type=int, default=0, help="BatchNorm recalibration batches (of 128)")
    ap.add_argument("--no-reference", action="store_true", help="accuracies only: no Gaussian sweep timed")
    ap.add_argument("--sharpness", action="store_true")
    ap.add_argument("--sharpness-images", type=int, default=1000)
    ap.add_argument("--sharpness-bf16", action="store_true", help="also under bf16 autocast, same probes")
    ap.add_argument("--sharpness-bf16-only", action="store_true", help="only under bf16 autocast (no fp32 run)")
    ap.add_argument("--sharpness-before", action="store_true",
                    help="also as before HessianConv2d: PyTorch's own double backward of each convolution "
                         "(fp32, and bf16 with --sharpness-bf16)")
    ap.add_argument("--sharpness-one-shard", action="store_true",
                    help="also with the products in one shard (every operation on all threads, as before "
                         "sharding), interleaved, and the ratio printed")
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    ap.add_argument("--json", help="append the results as one JSON line to this file")
    args = ap.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    keep_freed_memory()
    dev = torch.device("cpu")
    precision, _ = resolve_precision(args.precision, dev)
    amp = autocast_dtype(precision, dev)
    torch.manual_seed(0)  # an untrained model: the same weights every run
    model = build_model("resnet20")
    if args.checkpoint:
        model.load_state_dict(load_model_state(args.checkpoint))
    model = model.to(memory_format=torch.channels_last).eval()
    if args.cifar_dir:
        data = load_arrays("cifar10", args.cifar_dir, test_subset=args.images)
    else:
        data = synthetic(2048, args.images, seed=0)
    x, y = to_input(torch.from_numpy(data.x_test)), torch.from_numpy(data.y_test)
    xt, yt = to_input(torch.from_numpy(data.x_train[:2048])), torch.from_numpy(data.y_train[:2048]).long()
    batches = list(xt.split(128))
    load0 = os.getloadavg()
    print(f"{device_name(dev)}; torch threads {torch.get_num_threads()}; precision {precision}; "
          f"{x.shape[0]} {'CIFAR-10' if args.cifar_dir else 'synthetic'} test images; load {load0[0]:.1f}")
    result = {"device": device_name(dev), "threads": torch.get_num_threads(), "precision": precision,
              "images": int(x.shape[0]), "load_before": load0, "stresses": {}}

    pert = Perturber(model, x, y, mode="absolute", autocast_dtype=amp)
    loop = StressLoop(model, x, y, amp, batches, args.recalibrate)
    _, clean_acc = pert.clean_eval()
    print(f"clean accuracy {clean_acc:.4f}")
    ref_before: float | None = None
    for name in args.stress.split(","):
        kind, key, fn, fixed_zero = STRESSES[name]
        grid = GRIDS[kind][args.preset]
        values = [float(v) for v in args.values.split(",")] if args.values else grid[key]
        jobs = jobs_of(values, args.trials or grid["trials"], fixed_zero)
        ref_jobs = [(0.02, t) for t in range(len(jobs))]
        if args.no_reference:
            sec, res = timed(loop.run, fn, jobs)
            ref_before = ref_after = ref = float("nan")
            print(f"\n{name}: {len(jobs)} models in {sec:.1f} s")
        else:
            if ref_before is None:
                ref_before, _ = timed(pert.loop, ref_jobs)
            else:  # the previous stress's after-reference, per model
                ref_before *= len(jobs) / result["last_models"]
            sec, res = timed(loop.run, fn, jobs)
            ref_after, _ = timed(pert.loop, ref_jobs)
            ref = (ref_before + ref_after) / 2
            print(f"\n{name}: {len(jobs)} models in {sec:.1f} s; the Gaussian sweep of {len(jobs)} models "
                  f"{ref_before:.1f} s before, {ref_after:.1f} s after; ratio {sec / ref:.2f}x")
        acc = summary(jobs, res)
        for v, (m, s, n) in acc.items():
            print(f"  {key[:-1]} {v:g}: accuracy {m:.4f} ± {s:.4f} ({n} trials)")
        result["stresses"][name] = {"models": len(jobs), "seconds": sec, "reference_before": ref_before,
                                    "reference_after": ref_after, "ratio": sec / ref, "recalibrate": args.recalibrate,
                                    "accuracy": {str(v): a for v, a in acc.items()}}
        result["last_models"], ref_before = len(jobs), ref_after  # the next stress's before-reference
    if args.sharpness:
        eval_s, _ = timed(evaluate, model, x, y, autocast_dtype=None)  # fp32, as sharpness
        n = min(args.sharpness_images, xt.shape[0])
        result["sharpness"] = {"eval_seconds": eval_s}
        variants = ([] if args.sharpness_bf16_only else [("fp32", None, {})]) \
            + ([("bf16", torch.bfloat16, {})] if args.sharpness_bf16 or args.sharpness_bf16_only else [])
        if args.sharpness_before:  # interleaved: a drift in the machine's speed hits both alike
            variants = [v for now in variants for v in (now, (f"{now[0]}-before", now[1], {"fast_conv": False}))]
        if args.sharpness_one_shard:
            variants = [v for now in variants for v in (now, (f"{now[0]}-1shard", now[1], {**now[2], "shards": 1}))]
        for label, dtype, kw in variants:
            sh_s, r = timed(lambda d=dtype, kw=kw: sharpness(model, xt[:n], yt[:n], probes=32, iters=20,
                                                             autocast_dtype=d, **kw))
            print(f"\nsharpness ({n} images, 32 probes, 20 iterations, {label}): {sh_s:.1f} s = {sh_s / eval_s:.1f}x "
                  f"one fp32 evaluation of {x.shape[0]} test images ({eval_s:.1f} s); trace {r.trace:.1f} ± "
                  f"{r.trace_se:.1f}, top eigenvalue {r.top_eigenvalue:.2f} (last change {r.eig_rel_change:.1e}), "
                  f"loss {r.loss:.3f}")
            result["sharpness"][label] = {"seconds": sh_s, **r.as_dict()}
        for label, _dtype, _ in variants if args.sharpness_before else []:
            if label.endswith("-before"):
                now, before = result["sharpness"][label[:-7]], result["sharpness"][label]
                print(f"{label[:-7]}: HessianConv2d / PyTorch's conv double backward (same run): "
                      f"{now['seconds'] / before['seconds']:.2f}x; trace {now['trace']:.2f} vs {before['trace']:.2f}, "
                      f"top eigenvalue {now['top_eigenvalue']:.3f} vs {before['top_eigenvalue']:.3f}")
        for label in [k for k in result["sharpness"] if k.endswith("-1shard")]:
            now, one = result["sharpness"][label[:-7]], result["sharpness"][label]
            print(f"{label[:-7]}: {torch.get_num_threads()} shards / one shard (same run): "
                  f"{now['seconds'] / one['seconds']:.2f}x; trace {now['trace']:.3f} vs {one['trace']:.3f}, "
                  f"top eigenvalue {now['top_eigenvalue']:.4f} vs {one['top_eigenvalue']:.4f}")
    result["load_after"] = os.getloadavg()
    print(f"\nload average before {load0[0]:.1f}, after {result['load_after'][0]:.1f}")
    if args.json:
        with open(args.json, "a") as f:
            f.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

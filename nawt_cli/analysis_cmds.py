"""`nawt eval robustness|quantization`, `nawt compare`, `nawt export`, `nawt plot`, `nawt study`.

Nothing here imports torch at import time: the sweep and study modules are
imported inside the commands. Lists (strengths, bits, methods) are given
comma-separated (`--bits 8,6,4`) or by repeating the option (`--bits 8 --bits 6`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich import box
from rich.table import Table

from nawt_core import bounds
from nawt_core import evalspec as E
from nawt_core.errors import Failed, NawtError
from nawt_core.config import MAX_TEST, check_seed
from nawt_core.hardware import check_precision
from nawt_core.lists import numbers, split_items
from nawt_core.runview import acc_ci, acc_diff, acc_spread, halving_text, within_text
from nawt_core.runview import pct as _pct
from nawt_core.status import Status

from .app import (CifarDirOpt, DataDirOpt, DbOpt, JsonOpt, PrecisionOpt, app, console, err_console, open_store,
                  print_json)
from .eval_record import EvalRecorder

eval_app = typer.Typer(help="Stress trained runs: weight perturbation and quantization sweeps (stored).",
                       no_args_is_help=True)
app.add_typer(eval_app, name="eval")

RunIds = Annotated[list[int], typer.Argument(help="run ids (see `nawt runs`)", show_default=False)]


def _split(values: list[str] | None, what: str = "the list") -> list[str]:
    return split_items(values, what)


def _floats(values: list[str] | None, what: str) -> list[float] | None:
    return numbers(values, what, float) or None


def _ints(values: list[str] | None, what: str) -> list[int] | None:
    return numbers(values, what, int) or None


def _check_finished(store, run_ids: list[int]) -> None:
    """All runs must exist and be completed before any sweep starts."""
    from nawt_core.compare import select_runs

    for r in select_runs(store, run_ids):
        if r.status != Status.COMPLETED:
            raise NawtError(f"run {r.id} has not finished training (status {r.status}); evaluate it once it has completed")


def _check_device(device: str | None) -> None:
    """Bad input is refused before a queued evaluation is recorded."""
    from nawt_core.config import TrainConfig

    if device is not None:
        TrainConfig(device=device).validate()
        _check_device_exists(device)


def _check_device_exists(device: str | None) -> None:
    """A CUDA device asked for exists here (imports torch only then)."""
    if device not in (None, "auto", "cpu"):
        from nawt_core.device import resolve_device

        resolve_device(device)


def _progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err_console, transient=True)


# ------------------------------------------------------------------ eval
def _open_for_sweeps(run_ids: list[int], precision: str, test_subset: int | None, device: str, db, data_dir):
    """The store, once the options both sweeps share are checked and every run is finished."""
    check_precision(precision)
    if test_subset is not None and test_subset < 1:
        raise NawtError(f"test subset must be positive (got {test_subset})")
    bounds.whole(test_subset, "test subset", 1, MAX_TEST)
    _check_device(device)
    store = open_store(db, data_dir, create=False)
    _check_finished(store, run_ids)
    store.settle_stale()
    return store


def _sweep_each(store, run_ids: list[int], kind: str, options: dict, sweep) -> list[tuple]:
    """Runs ``sweep(run_id, **recorder_kw)`` per run with a progress bar, recorded from the start."""
    rec = EvalRecorder(store, run_ids, kind, options)
    results = []
    with rec:
        for rid in run_ids:
            with _progress() as prog:
                task = prog.add_task(f"run {rid} {kind}", total=None)
                ev = rec.run(rid, lambda rid=rid, **kw: sweep(rid, **kw),
                             lambda d, t, task=task: prog.update(task, completed=d, total=t))
            results.append((rid, ev, store.points(ev.id)))
    return results


@eval_app.command("robustness")
def eval_robustness(
    run_ids: RunIds,
    mode: Annotated[str, typer.Option(help=" | ".join(E.MODE_LABELS.values()))] = E.MODES[0],
    strengths: Annotated[Optional[list[str]], typer.Option("--strengths", "-s", help="strengths, e.g. 0,0.05,0.1 \\[default per mode; absolute includes 0.1]")] = None,
    trials: Annotated[int, typer.Option(help=f"perturbed copies per strength (1 to {E.MAX_TRIALS}; at most {E.MAX_STRENGTHS} strengths)")] = E.DEFAULT_TRIALS,
    seed: Annotated[int, typer.Option(help="noise seed: the same seed gives the same numbers")] = 0,
    targets: Annotated[str, typer.Option(help="weights (conv/linear) or all (every parameter)")] = E.TARGETS[0],
    strategy: Annotated[str, typer.Option(help="auto (measure), loop or batched (vmap)")] = "auto",
    device: Annotated[Optional[str], typer.Option(help="auto, cpu, cuda or cuda:N \\[default: the device family the run trained on]")] = None,
    precision: PrecisionOpt = "auto",
    test_subset: Annotated[Optional[int], typer.Option("--test-subset", help="first N test images \\[default: the run's]")] = None,
    json_out: JsonOpt = False,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
    cifar_dir: CifarDirOpt = None,
) -> None:
    """Accuracy of perturbed copies of each run, per strength (mean, std, min over trials); stored."""
    svals = _floats(strengths, "strengths")
    E.check_robustness(mode, svals or (), trials, targets)
    E.check_strategy(strategy)
    check_seed(seed, "--seed")  # before an evaluation is recorded: a refused seed leaves no row
    store = _open_for_sweeps(run_ids, precision, test_subset, device, db, data_dir)
    from nawt_core.sweeps import robustness_sweep

    results = _sweep_each(store, run_ids, "robustness", {"mode": mode, "strengths": svals, "trials": trials},
                          lambda rid, **kw: robustness_sweep(
                              store, rid, mode=mode, strengths=svals, trials=trials, seed=seed, targets=targets,
                              device=device, data_dir=cifar_dir, test_subset=test_subset, strategy=strategy,
                              precision=precision, **kw))
    if json_out:
        print_json([{"run_id": rid, "evaluation_id": ev.id, "clean_acc": ev.clean_acc, "config": ev.config,
                     "seed": ev.seed, "seconds": ev.seconds, "points": _rob_summary(pts)}
                    for rid, ev, pts in results])
        return
    for rid, ev, pts in results:
        run = store.get_run(rid)
        t = Table(title=f"run {rid} {run.method}: robustness ({mode}, {ev.config['test_images']} test images, "
                  f"seed {seed}, {ev.config['precision']}, evaluation {ev.id}, {ev.seconds:.1f} s)")
        for c in ("strength", "mean %", "std", "min %", "trials"):
            t.add_column(c, justify="right")
        for s, v in _rob_summary(pts).items():
            t.add_row(f"{s:g}", f"{100 * v['mean']:.2f}", f"{100 * v['std']:.2f}", f"{100 * v['min']:.2f}", str(v["n"]))
        console.print(t)


def _rob_summary(points) -> dict:
    from nawt_core.compare import point_summary  # the store (sqlmodel): not imported for --help

    return point_summary(points)


@eval_app.command("quantization")
def eval_quantization(
    run_ids: RunIds,
    bits: Annotated[Optional[list[str]], typer.Option("--bits", "-b", help=f"bit widths {E.MIN_BITS}-{E.MAX_BITS} \\[default: {','.join(map(str, E.DEFAULT_BITS))}]")] = None,
    granularity: Annotated[str, typer.Option(help="channel (a scale per output channel) or tensor")] = E.GRANULARITIES[0],
    fold_bn: Annotated[bool, typer.Option("--fold-bn", help="fold BatchNorm into the convolutions first")] = False,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu, cuda or cuda:N \\[default: the device family the run trained on]")] = None,
    precision: PrecisionOpt = "auto",
    test_subset: Annotated[Optional[int], typer.Option("--test-subset", help="first N test images \\[default: the run's]")] = None,
    json_out: JsonOpt = False,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
    cifar_dir: CifarDirOpt = None,
) -> None:
    """Accuracy with symmetric uniform fake-quantized weights, per bit width; stored."""
    bvals = _ints(bits, "bits")
    E.check_quantization(E.DEFAULT_BITS if bvals is None else bvals, granularity)
    store = _open_for_sweeps(run_ids, precision, test_subset, device, db, data_dir)
    from nawt_core.sweeps import quantization_sweep

    results = _sweep_each(store, run_ids, "quantization", {"bits": bvals, "granularity": granularity, "fold_bn": fold_bn},
                          lambda rid, **kw: quantization_sweep(
                              store, rid, bits=bvals, granularity=granularity, fold_bn=fold_bn, device=device,
                              data_dir=cifar_dir, test_subset=test_subset, precision=precision, **kw))
    if json_out:
        print_json([{"run_id": rid, "evaluation_id": ev.id, "fp_acc": ev.clean_acc, "config": ev.config,
                     "seconds": ev.seconds, "points": {int(p.param): p.accuracy for p in pts}}
                    for rid, ev, pts in results])
        return
    for rid, ev, pts in results:
        run = store.get_run(rid)
        t = Table(title=f"run {rid} {run.method}: quantization ({granularity}{', BN folded' if fold_bn else ''}, "
                  f"computed in {ev.config['precision']}, evaluation {ev.id})")
        t.add_column("bits", justify="right")
        t.add_column("accuracy %", justify="right")
        t.add_column("Δ vs unquantized", justify="right")
        t.add_row("unquantized", f"{100 * ev.clean_acc:.2f}", "")
        for p in sorted(pts, key=lambda p: -p.param):
            t.add_row(str(int(p.param)), f"{100 * p.accuracy:.2f}", f"{100 * (p.accuracy - ev.clean_acc):+.2f}")
        console.print(t)


# --------------------------------------------------------------- compare
def _secs(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


GAP = 2  # columns between two cells of a SIMPLE_HEAD table with collapsed padding


def _partial(v: dict, runs: int) -> str:
    return f" ({v['runs']}/{runs} runs)" if v.get("partial") else ""


def _point(v: dict | None, runs: int, with_min: bool = False) -> str:
    """A sweep point as stacked lines: mean, ± std (when any), [min], (k/n runs) when partial."""
    if v is None:
        return "-"
    lines = [f"{100 * v['mean']:.2f}", v["std"] and f"± {100 * v['std']:.2f}",
             with_min and f"[{100 * v['min']:.1f}]", _partial(v, runs).strip()]
    return "\n".join(line for line in lines if line)


def comparison_header(comp) -> str:
    """What is compared, and what a reader must know before reading the numbers."""
    done = len(comp.completed)
    return f"{comp.scope}: {done} completed run{'s' if done != 1 else ''} in {len(comp.groups)} group" \
           f"{'s' if len(comp.groups) != 1 else ''}" + (" (mixed settings: one row per setting)" if comp.mixed else "")


def comparison_tables(comp) -> list[Table]:
    """The poster's tables as Rich tables: one row per method and comparable settings."""
    tables = []
    show_group = any(g.label for g in comp.groups) or any(r.get("group") for r in comp.robustness + comp.quantization)

    def cols(t: Table, names: list[str]) -> None:
        for c in names:
            if c == "settings" and not show_group:
                continue
            if c == "method":  # never cut a method's name: the other columns wrap instead
                width = max([len(c)] + [len(r["method"]) for r in comp.accuracy + comp.timing])
                t.add_column(c, no_wrap=True, min_width=width)
                continue
            t.add_column(c, justify="left" if c.replace("\n", " ") in ("settings", "run ids", "device") else "right",
                         overflow="fold")  # a narrow terminal wraps a number, never cuts it

    def row(t: Table, method: str, group: str, *cells: str) -> None:
        t.add_row(method, *([group or "-"] if show_group else []), *cells)

    def blocks(title: str, fixed: list[str], heads: list[str], body: list) -> list[Table]:
        """One table per block of the columns ``heads`` that fits the terminal beside the fixed columns
        (a wide sweep on an 80-column terminal, or a log file, is split rather than cut)."""
        def w(text: str) -> int:
            return max(len(line) for line in text.split("\n"))
        label = max([6] + [len(r["method"]) for r, _f, _c in body])
        settings = max([0] + [len(r["group"] or "-") for r, _f, _c in body]) if show_group else 0
        fixed_w = label + min(settings, 24) + sum(max([w(f)] + [w(c[i]) for _r, c, _v in body])
                                                  for i, f in enumerate(fixed)) + GAP * (len(fixed) + bool(settings))
        widths = [max([w(h)] + [w(v[i]) for _r, _c, v in body]) + GAP for i, h in enumerate(heads)]
        packs, room = [[]], max(console.width - fixed_w, 1)
        for i, cw in enumerate(widths):
            if packs[-1] and sum(widths[j] for j in packs[-1]) + cw > room:
                packs.append([])
            packs[-1].append(i)
        out = []
        for k, pack in enumerate(packs):
            t = Table(title=title if k == 0 else f"(continued, {k + 1}/{len(packs)})", box=box.SIMPLE_HEAD,
                      pad_edge=False, show_edge=False, collapse_padding=True)
            cols(t, ["method", "settings", *fixed])
            for i in pack:
                t.add_column(heads[i], justify="right", overflow="fold")  # wrap, never cut, a number
            for r, f, v in body:
                row(t, r["method"], r["group"], *f, *[v[i] for i in pack])
            out.append(t)
        return out

    t = Table(title="Clean test accuracy (%): mean ± std over seeds, 95 % CI of the mean (Student t); "
                    "Δ std = difference to standard in points [95 % CI, paired by seed, else Welch]",
              box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    # compact cells: the title names the test; the CI column (or, when every row is one run, the
    # caption) says "1 seed", so the table fits 80 columns
    seeds = any(a["n"] > 1 for a in comp.accuracy)
    narrow = console.width < 110  # a spread or an interval on its own line, not broken where it falls
    diffs = any(a.get("vs_standard") for a in comp.accuracy)
    if not seeds and comp.accuracy:
        t.caption = "1 seed per row: no spread or interval (more seeds: nawt study --seeds N)"
    cols(t, ["method", "settings", "runs", "accuracy", *(["95% CI"] if seeds else []),
             *(["Δ std"] if diffs else []), *(["best\nrun", "run\nids"] if narrow else ["best run", "run ids"])])
    for a in comp.accuracy:
        spread, diff = acc_spread(a, say_one=False), acc_diff(a.get("vs_standard"), compact=True)
        if narrow:
            spread, diff = spread.replace(" ± ", "\n± "), diff.replace(" [", "\n[")
        row(t, a["method"], a["group"], str(a["n"]), spread, *([acc_ci(a)] if seeds else []),
            *([diff] if diffs else []), _pct(a["best"]),
            " ".join(map(str, a["run_ids"])))
    tables.append(t)
    t = Table(title="Training time in s (evaluation excluded): median epoch (range); est = median epoch per "
                    "cost class (e.g. multi-step SAM's one-pass stage) x its epochs (ep in all), and "
                    "the total; load average; ratio to standard of the same settings",
              box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)  # fits 80
    cols(t, ["method", "settings", "runs", "ep", "med s", "range", "est s", "total", "load", "ratio", "device"])
    for r in comp.timing:
        median, spread = ("-", "-") if r["epoch_median"] is None else \
            (f"{r['epoch_median']:.1f}", f"{r['epoch_min']:.1f}-{r['epoch_max']:.1f}")
        ratio = "—" if r["ratio"] is None else f"{r['ratio']:.2f}" + ("!" if r["load_flag"] else "")
        row(t, r["method"], r["group"], str(r["n"]), str(r["epochs"]), median, spread, _secs(r["median_time"]),
            _secs(r["train_seconds"]), "-" if r["load_avg"] is None else f"{r['load_avg']:.1f}", ratio,
            r["device"] or "-")
    tables.append(t)
    if comp.robustness:
        title = (f"Accuracy (%) under weight perturbation ({comp.robustness_mode}): mean ± std \\[min]; "
                 "AUC = mean accuracy over the strength range; halves at = strength where it halves")
        heads = [f"s={s:g}" for s in comp.strengths] + ["AUC %", "halves at"]
        body = []
        for r in comp.robustness:
            cells = [_point(r["points"].get(s), r["runs"], with_min=True) for s in comp.strengths]
            body.append((r, [str(r["runs"])], cells + [_pct(r["auc"]), halving_text(r)]))
        tables += blocks(title, ["runs"], heads, body)
    if comp.quantization:
        title = ("Accuracy (%) with quantized weights, per bit width; ≤1 pt from = lowest bit width "
                 "within 1 point of unquantized")
        heads = [f"{b}-bit" for b in comp.bits] + ["≤1 pt\nfrom"]
        body = []
        for q in comp.quantization:
            cells = [_point(q["points"].get(b), q["runs"]) for b in comp.bits]
            body.append((q, [str(q["runs"]), _pct(q["fp"])], cells + [within_text(q)]))
        tables += blocks(title, ["runs", "unquan-\ntized"], heads, body)
    return tables


def print_comparison(comp) -> None:
    console.print(comparison_header(comp), markup=False, highlight=False)
    for t in comparison_tables(comp):
        console.print(t)
    for note in comp.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    if any(r["ratio"] is None for r in comp.timing):
        console.print("note: — = no standard run with the same settings to divide by", markup=False,
                      highlight=False)


AllOpt = Annotated[bool, typer.Option("--all", help="every run in the database, not only the latest study")]


@app.command("compare")
def compare_cmd(
    run_ids: Annotated[Optional[list[int]], typer.Argument(help="run ids \\[default: the latest study's runs]", show_default=False)] = None,
    study: Annotated[Optional[str], typer.Option("--study", help="the runs of this study")] = None,
    all_runs: AllOpt = False,
    mode: Annotated[str, typer.Option(help="which robustness sweeps to show: absolute, relative or std")] = "absolute",
    json_out: JsonOpt = False,
    png: Annotated[Optional[Path], typer.Option("--png", help="also draw the figures to this PNG")] = None,
    svg: Annotated[Optional[Path], typer.Option("--svg", help="also draw the figures to this SVG")] = None,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
) -> None:
    """The poster's tables: accuracy, training cost, robustness and quantization, one row per method and settings.

    Runs are pooled only with runs of the same method and comparable settings
    (everything but the seed); only completed runs count."""
    from nawt_core.compare import compare
    from nawt_core.export import check_writable

    for p in (png, svg):
        if p is not None:
            check_writable(p)
    store = open_store(db, data_dir, create=False)
    comp = compare(store, run_ids or None, study, mode, all_runs)
    if json_out:
        print_json(comp.to_dict())
    else:
        if not comp.runs:
            console.print("no runs to compare (see `nawt runs`)")
        print_comparison(comp)
    for p in (png, svg):
        if p is not None:
            from nawt_core import plots

            plots.save(comp, p, "all", store)
            err_console.print(f"wrote {p}", markup=False)


# ---------------------------------------------------------------- export
@app.command("export")
def export_cmd(
    table: Annotated[str, typer.Argument(help="runs, epochs, accuracy, timing, robustness, quantization or points")],
    runs: Annotated[Optional[list[str]], typer.Option("--runs", help="run ids, e.g. 3,4,5 \\[default: the latest study's runs]")] = None,
    study: Annotated[Optional[str], typer.Option("--study", help="the runs of this study")] = None,
    all_runs: AllOpt = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="file to write \\[default: stdout]")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", "-f", help="csv or json \\[default: from the file name, else csv]")] = None,
    mode: Annotated[str, typer.Option(help="robustness mode for the robustness table")] = "absolute",
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
) -> None:
    """A table as CSV or JSON (columns documented in nawt_core/export.py; stable).

    The summary tables have the rows of `nawt compare`: one per method and comparable settings."""
    import sys

    from nawt_core.export import FORMATS, TABLES, export

    if table not in TABLES:
        raise NawtError(f"unknown table {table!r}; choose one of: {', '.join(TABLES)}")
    if fmt is not None and fmt not in FORMATS:
        raise NawtError(f"unknown format {fmt!r}; choose csv or json")
    ids = _ints(runs, "run ids")
    store = open_store(db, data_dir, create=False)
    text = export(store, table, output, fmt, ids, study, mode, all_runs)
    if output is None:
        sys.stdout.write(text)
    else:
        err_console.print(f"wrote {output}", markup=False)


# ------------------------------------------------------------------ plot
@app.command("plot")
def plot_cmd(
    kind: Annotated[str, typer.Argument(help="robustness, quantization, curves or all")] = "all",
    run_ids: Annotated[Optional[list[int]], typer.Argument(help="run ids \\[default: the latest study's runs]", show_default=False)] = None,
    study: Annotated[Optional[str], typer.Option("--study", help="the runs of this study")] = None,
    all_runs: AllOpt = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="figure file: .png, .svg or .pdf (vector) \\[default: <kind>.png in the study's folder]")] = None,
    mode: Annotated[str, typer.Option(help="robustness mode: absolute, relative or std")] = "absolute",
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
) -> None:
    """Figures like the poster's, with the rows of `nawt compare` (needs matplotlib: pip install 'nawt\\[plot]').

    Without -o the figure goes into the study's folder; runs that are not one
    study need -o. A figure with nothing to draw is an error."""
    from nawt_core import plots
    from nawt_core.compare import compare
    from nawt_core.export import check_writable

    if kind not in plots.KINDS:
        raise NawtError(f"unknown figure {kind!r}; choose one of: {', '.join(plots.KINDS)}")
    if output is not None:
        check_writable(output)
    store = open_store(db, data_dir, create=False)
    comp = compare(store, run_ids or None, study, mode, all_runs)
    if output is None:
        if comp.study is None:
            raise NawtError(f"{comp.scope} is not one study: name the figure file with -o FILE (.png, .svg or .pdf)")
        folder = Path(store.get_study(comp.study).out_dir or data_dir / "studies" / comp.study)
        output = check_writable(folder / f"{'figures' if kind == 'all' else kind}.png")
    plots.save(comp, output, kind, store)
    console.print(f"wrote {output}", markup=False)


# ----------------------------------------------------------------- study
@app.command("study")
def study_cmd(
    preset: Annotated[str, typer.Option(help="paper (200 epochs, 3 seeds), quick (30), cpu (10 epochs, all data: 1-2 h on 2 CPU cores) or smoke (~3 min)")] = "smoke",
    methods: Annotated[Optional[list[str]], typer.Option("--methods", "-m", help="methods, e.g. standard,sam; a variant as METHOD:OPTION=VALUE, e.g. naive-noise:noise-last-epoch=false \\[default: all five]")] = None,
    seeds: Annotated[Optional[int], typer.Option(help="seeds per method \\[default: the preset's]")] = None,
    name: Annotated[Optional[str], typer.Option(help="study name \\[default: the preset's name]; the same name continues it")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="folder for tables and figures \\[default: <data-dir>/studies/<name>]")] = None,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu, cuda or cuda:N \\[default: new runs auto, a resumed run its own, sweeps the run's device family]")] = None,
    precision: PrecisionOpt = "auto",
    epochs: Annotated[Optional[int], typer.Option(help="override the preset's epochs")] = None,
    train_subset: Annotated[Optional[int], typer.Option("--train-subset", help="override the preset's training images (first N)")] = None,
    test_subset: Annotated[Optional[int], typer.Option("--test-subset", help="override the preset's test images (first N)")] = None,
    dataset: Annotated[str, typer.Option(help="cifar10 (refuses when it cannot be found or downloaded) or synthetic")] = "cifar10",
    jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", help="runs at once, each in its own `nawt worker` process (1: in this process)")] = None,
    gpus: Annotated[Optional[str], typer.Option("--gpus", help="GPUs for the workers, e.g. 0,1,2,3 (one worker per GPU, x --per-gpu)")] = None,
    per_gpu: Annotated[int, typer.Option("--per-gpu", help="workers per GPU with --gpus")] = 1,
    stale_after: Annotated[float, typer.Option("--stale-after", help="with --jobs: seconds without a heartbeat before a worker's run is re-queued")] = 120.0,
    backend: Annotated[str, typer.Option("--backend", help="local (this machine: --jobs/--gpus) or ray (one Ray task per run; pip install 'nawt\\[ray]')")] = "local",
    address: Annotated[Optional[str], typer.Option("--address", help="with --backend ray: auto (a running cluster) or ray://host:10001 \\[default: a new local Ray]")] = None,
    cpus_per_run: Annotated[int, typer.Option("--cpus-per-run", help="with --backend ray: CPUs (and torch threads) per run")] = 1,
    queue_only: Annotated[bool, typer.Option("--queue-only", help="only queue the runs; `nawt worker --study NAME` trains them, and this command again writes the tables")] = False,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
    cifar_dir: CifarDirOpt = None,
) -> None:
    """Train every method (skipping finished runs, resuming interrupted ones), sweep, compare, write CSVs and figures.

    Every preset trains on CIFAR-10; without it the study stops before training
    (use --dataset synthetic for a study on the synthetic look-alike)."""
    import time

    from nawt_core.study import PRESETS, check_name, plan, require_dataset, run_study

    check_name(name or preset)  # before the store is opened (and made): a refused name leaves nothing
    if preset not in PRESETS:
        raise NawtError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    overrides = {k: v for k, v in (("epochs", epochs), ("train_subset", train_subset),
                                   ("test_subset", test_subset)) if v is not None} or None
    mlist = _split(methods, "--methods") or None
    bounds.seconds(stale_after, "--stale-after")
    bounds.whole(jobs, "--jobs", 1, bounds.MAX_JOBS)
    bounds.whole(per_gpu, "--per-gpu", 1, bounds.MAX_PER_GPU)
    bounds.whole(cpus_per_run, "--cpus-per-run", 1, bounds.MAX_THREADS)
    if backend == "ray":  # Ray tasks run elsewhere: every path they are handed must be absolute
        data_dir, cifar_dir = data_dir.resolve(), cifar_dir.resolve() if cifar_dir else None
    cifar = cifar_dir or data_dir
    cfgs, _ = plan(preset, methods=mlist, seeds=seeds, data_dir=cifar, device=device or "auto", dataset=dataset,
                   precision=precision, overrides=overrides, name=name or preset)  # validate first
    if device not in (None, "auto", "cpu") and backend != "ray":  # the cluster's GPUs are not this host's
        # checked without touching the GPU: the workers (or the trainer) will
        from nawt_core.device import check_device

        check_device(device)
    for note in dict.fromkeys(c.plain_sgd_note() for c in cfgs if c.plain_sgd_note()):
        err_console.print(f"warning: {note}", markup=False, soft_wrap=True)
    if device in (None, "auto") and not queue_only and not (backend == "ray" and address):
        _refuse_a_long_cpu_study(preset)
    require_dataset(dataset, cifar, hint="" if cifar_dir else " (or name its folder with --cifar-dir)")
    if queue_only:
        launch = lambda _run_ids: True  # noqa: E731  (nothing trains here: the runs wait for workers)
    elif backend == "ray":
        launch = _ray_launcher(address, per_gpu, cpus_per_run, device, name or preset, db, data_dir, cifar_dir,
                               stale_after)
    elif backend == "local":
        launch = _local_slots(jobs, gpus, per_gpu, device, name or preset, db, data_dir, cifar_dir, stale_after)
    else:
        raise NawtError(f"--backend must be local or ray (got {backend!r})")
    store = open_store(db, data_dir)
    store.settle_stale()
    from .study_view import resolved_line, study_reporters

    if not queue_only:
        err_console.print(resolved_line(name or preset, device, precision, backend, gpus), markup=False,
                          soft_wrap=True)
    t0 = time.perf_counter()
    try:
        res = run_study(store, preset=preset, name=name, methods=mlist, seeds=seeds, data_dir=cifar, out_dir=out,
                        device=device, dataset=dataset, precision=precision, overrides=overrides,
                        say=lambda s: err_console.print(s, markup=False, soft_wrap=True), home=data_dir,
                        launch=launch, reporter_factory=study_reporters(err_console, store, cfgs))
    except KeyboardInterrupt:
        if not queue_only:
            raise
        study = name or preset
        console.print(f"study {study}: runs queued; `nawt worker --study {study}` trains them (or this command "
                      "with --jobs N); this command again writes the tables", markup=False, highlight=False)
        return
    console.print(f"study [bold]{escape(res.name)}[/] ({preset}, {res.dataset}): {len(res.run_ids)} runs, "
                  f"{len(res.trained)} trained now, {len(res.skipped)} reused; {time.perf_counter() - t0:.0f} s")
    print_comparison(res.comparison)
    console.print(f"tables, figures and the report (report.html, report.md) in {res.out_dir}", markup=False)
    if res.failed:
        raise Failed(f"runs {', '.join(map(str, res.failed))} failed; see `nawt show ID`")


def _refuse_a_long_cpu_study(preset: str) -> None:
    """paper and quick are GPU-sized: on a host where torch sees no CUDA they
    would train for days on the CPU unnoticed; refused before anything is
    recorded unless --device cpu asks for the CPU."""
    if preset not in ("paper", "quick"):
        return
    import torch

    from nawt_core.device import unseen_gpus

    if not torch.cuda.is_available():
        why = unseen_gpus() or "torch sees no CUDA device here"
        raise NawtError(f"--preset {preset} would train on the CPU for days ({why}); pass --device cpu to train "
                        "there anyway; nothing was recorded")


def _ray_launcher(address, per_gpu, cpus, device, study, db, data_dir, cifar_dir, stale_after):
    """With --backend ray: a launcher that submits one Ray task per queued run (nawt_core/ray_backend.py)."""
    from nawt_core import ray_backend
    from nawt_core.store import default_url

    device = device or "auto"
    if device.startswith("cuda:"):
        raise NawtError(f"--backend ray: Ray gives each run its GPU (CUDA_VISIBLE_DEVICES), so --device {device} "
                        "cannot pick one; use --device cuda (or auto)")
    url = db or default_url(data_dir.resolve())
    ray_backend.check_url(url, 1)  # a relative SQLite path is refused before anything is queued
    cifar = str(cifar_dir.resolve()) if cifar_dir else None
    say = lambda s: err_console.print(s, markup=False, soft_wrap=True)  # noqa: E731
    return lambda run_ids: ray_backend.launch(run_ids, url=url, study=study, data_dir=cifar, address=address,
                                              per_gpu=per_gpu, device=device, cpus=cpus,
                                              stale_after=stale_after, say=say, home=str(data_dir.resolve()))


def _local_slots(jobs, gpus, per_gpu, device, study, db, data_dir, cifar_dir, stale_after):
    """With --jobs N > 1 or --gpus: a launcher that runs the queued runs in local
    `nawt worker` processes (queue_cmds.launch_local); None keeps the study in this process."""
    if jobs is None and gpus is None:
        return None
    if jobs is not None and jobs < 1:
        raise NawtError(f"--jobs must be 1 or more (got {jobs})")
    if jobs == 1 and gpus is None:
        return None
    import torch

    from nawt_core.store import default_url

    from .queue_cmds import launch_local, plan_slots, usable_cores

    device = device or "auto"  # resolved once, here: each worker gets cuda (its one visible GPU) or cpu
    cuda = torch.cuda.device_count() if device != "cpu" else 0
    slots = plan_slots(jobs, gpus, per_gpu, device, usable_cores(), cuda)
    url = db or default_url(data_dir)
    # no more workers than runs to train: --jobs 8 for 2 unfinished runs starts 2
    return lambda run_ids: launch_local(slots[:len(run_ids)], study, url, data_dir, cifar_dir, stale_after)


# ---------------------------------------------------------------- report
def _report_scope(targets: list[str]) -> tuple[list[int] | None, str | None]:
    """`nawt report` takes one study name or run ids, not both."""
    if not targets:
        return None, None
    if all(t.isdigit() for t in targets):
        return [int(t) for t in targets], None
    if len(targets) == 1:
        return None, targets[0]
    raise NawtError(f"give one study name or run ids, not {' '.join(targets)!r} (see `nawt report --help`)")


@app.command("report")
def report_cmd(
    targets: Annotated[Optional[list[str]], typer.Argument(metavar="STUDY | RUN_ID", help="a study name, or run ids \\[default: the latest study]", show_default=False)] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="file to write: .html or .md (its PNGs beside it) \\[default: report.html and report.md in the study's folder]")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", "-f", help="html or md \\[default: from -o's name; both without -o]")] = None,
    all_runs: AllOpt = False,
    mode: Annotated[str, typer.Option(help="robustness mode: absolute, relative or std")] = "absolute",
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
) -> None:
    """The poster as one page: settings, accuracy with 95 % intervals over seeds, cost, robustness, quantization, curves.

    HTML is self-contained (figures embedded); Markdown has its PNGs beside it.
    The numbers are those of `nawt compare --json`, one row per method and
    comparable settings; the poster's own numbers stand in a labelled column.
    Runs that are not one study go to <data-dir>/reports/runs-<ids>/ without -o."""
    from nawt_core import report
    from nawt_core.compare import compare

    run_ids, study = _report_scope(targets or [])
    if fmt is not None and fmt not in report.FORMATS:
        raise NawtError(f"unknown report format {fmt!r}; choose html or md")
    if output is not None:
        report.format_of(output, fmt)
        from nawt_core.export import check_writable

        check_writable(output)
    store = open_store(db, data_dir, create=False)
    comp = compare(store, run_ids, study, mode, all_runs)
    files, note = report.write(store, comp, output, fmt, home=data_dir)
    if note:
        err_console.print(f"note: {note}", markup=False)
    for p in files:
        console.print(f"wrote {p}", markup=False, highlight=False)

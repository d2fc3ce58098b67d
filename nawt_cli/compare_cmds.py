"""`nawt compare`, `nawt export`, `nawt plot`, `nawt report`: the comparison as tables, files and figures.

All four take the same selection (run ids, a study, or --all; default: the
latest study) and show the rows of nawt_core/compare.py, so they always agree.
Torch-free: nothing here imports torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nawt_core import evalspec, sharp_robust
from nawt_core.errors import NawtError
from nawt_core.options import parse_list

from .app import DataDirOpt, DbOpt, JsonOpt, app, console, err_console, open_store, print_json
from .compare_view import print_comparison

AllOpt = Annotated[bool, typer.Option("--all", help="every run in the database, not only the latest study")]


def _mode_help() -> str:
    """`--mode`: the variant shown of every evaluation whose variant option is its mode."""
    parts = [f"which {s.name} sweeps to show: {_or(list(s.option('mode').choices))} "
             f"\\[default: {s.option('mode').default}]" for s in evalspec.evaluations() if s.variant == "mode"]
    return "; ".join(parts) or "the variant shown"


def _kinds() -> list[str]:
    sharp = [sharp_robust.SHARPNESS] if sharp_robust.available() else []  # as plots.kinds()
    return [*(s.name for s in evalspec.sweeps()), "curves", *sharp, "tradeoff", "all"]


def _tables() -> list[str]:
    return ["runs", "epochs", "accuracy", "timing", *evalspec.names(), "points", "summaries", "run_summaries"]


def _or(words: list[str]) -> str:
    return ", ".join(words[:-1]) + f" or {words[-1]}"


ModeOpt = Annotated[Optional[str], typer.Option(help=_mode_help())]


def _variant_help() -> str:
    return ("which variant of an evaluation to show, EVAL=VALUE, repeated or comma-separated: "
            f"{evalspec.variant_examples()} \\[default: each one's default]")


VariantOpt = Annotated[Optional[list[str]], typer.Option("--variant", help=_variant_help())]
MeasureOpt = Annotated[Optional[str], typer.Option("--measure", help="the trade-off's robustness measure: EVAL.METRIC (e.g. robustness.auc, bitflip.auc, quantization.drop@4) or EVAL@VALUE, the accuracy at one value (e.g. robustness@0.03) \\[default: robustness.auc]")]


@app.command("compare")
def compare_cmd(
    run_ids: Annotated[Optional[list[int]], typer.Argument(help="run ids \\[default: the latest study's runs]", show_default=False)] = None,
    study: Annotated[Optional[str], typer.Option("--study", help="the runs of this study")] = None,
    all_runs: AllOpt = False,
    mode: ModeOpt = None,
    variant: VariantOpt = None,
    json_out: JsonOpt = False,
    measure: MeasureOpt = None,
    png: Annotated[Optional[Path], typer.Option("--png", help="also draw the figures to this PNG")] = None,
    svg: Annotated[Optional[Path], typer.Option("--svg", help="also draw the figures to this SVG")] = None,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
) -> None:
    """The poster's tables: accuracy, training cost and every evaluation, one row per method and settings.

    Runs are pooled only with runs of the same method and comparable settings
    (everything but the seed); only completed runs count."""
    from nawt_core.compare import compare, parse_variants
    from nawt_core.export import check_writable

    variants = parse_variants(variant)
    for p in (png, svg):
        if p is not None:
            check_writable(p)
    store = open_store(db, data_dir, create=False)
    comp = compare(store, run_ids or None, study, mode, all_runs, variants=variants, measure=measure)
    if json_out:
        print_json(comp.to_dict())
    else:
        if not comp.runs:
            console.print("no runs to compare (see `nawt runs`)")
        print_comparison(comp, tradeoff=comp.varied or measure is not None)
    for p in (png, svg):
        if p is not None:
            from nawt_core import plots

            plots.save(comp, p, "all", store)
            err_console.print(f"wrote {p}", markup=False)


# ---------------------------------------------------------------- export
@app.command("export")
def export_cmd(
    table: Annotated[str, typer.Argument(help=_or(_tables()))],
    runs: Annotated[Optional[list[str]], typer.Option("--runs", help="run ids, e.g. 3,4,5 \\[default: the latest study's runs]")] = None,
    study: Annotated[Optional[str], typer.Option("--study", help="the runs of this study")] = None,
    all_runs: AllOpt = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="file to write \\[default: stdout]")] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", "-f", help="csv or json \\[default: from the file name, else csv]")] = None,
    mode: ModeOpt = None,
    variant: VariantOpt = None,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
) -> None:
    """A table as CSV or JSON (columns documented in nawt_core/export.py; stable).

    The summary tables have the rows of `nawt compare`: one per method and comparable settings."""
    import sys

    from nawt_core.compare import parse_variants
    from nawt_core.export import FORMATS, export, tables

    if table not in tables():
        raise NawtError(f"unknown table {table!r}; choose one of: {', '.join(tables())}")
    if fmt is not None and fmt not in FORMATS:
        raise NawtError(f"unknown format {fmt!r}; choose csv or json")
    ids = parse_list(runs, "run ids", int)
    variants = parse_variants(variant)
    store = open_store(db, data_dir, create=False)
    text = export(store, table, output, fmt, ids, study, mode, all_runs, variants)
    if output is None:
        sys.stdout.write(text)
    else:
        err_console.print(f"wrote {output}", markup=False)


# ------------------------------------------------------------------ plot
@app.command("plot")
def plot_cmd(
    kind: Annotated[str, typer.Argument(help=_or(_kinds()))] = "all",
    run_ids: Annotated[Optional[list[int]], typer.Argument(help="run ids \\[default: the latest study's runs]", show_default=False)] = None,
    study: Annotated[Optional[str], typer.Option("--study", help="the runs of this study")] = None,
    all_runs: AllOpt = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="figure file: .png, .svg or .pdf (vector) \\[default: <kind>.png in the study's folder]")] = None,
    mode: ModeOpt = None,
    variant: VariantOpt = None,
    measure: MeasureOpt = None,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
) -> None:
    """Figures like the poster's, with the rows of `nawt compare` (needs matplotlib: pip install 'nawt\\[plot]').

    Without -o the figure goes into the study's folder; runs that are not one
    study need -o. A figure with nothing to draw is an error."""
    from nawt_core import plots
    from nawt_core.compare import compare, parse_variants
    from nawt_core.export import check_writable

    if kind not in plots.kinds():
        raise NawtError(f"unknown figure {kind!r}; choose one of: {', '.join(plots.kinds())}")
    variants = parse_variants(variant)
    if output is not None:
        check_writable(output)
    store = open_store(db, data_dir, create=False)
    comp = compare(store, run_ids or None, study, mode, all_runs, variants=variants, measure=measure)
    if output is None:
        if comp.study is None:
            raise NawtError(f"{comp.scope} is not one study: name the figure file with -o FILE (.png, .svg or .pdf)")
        folder = Path(store.get_study(comp.study).out_dir or data_dir / "studies" / comp.study)
        output = check_writable(folder / f"{'figures' if kind == 'all' else kind}.png")
    plots.save(comp, output, kind, store)
    console.print(f"wrote {output}", markup=False)


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
    mode: ModeOpt = None,
    variant: VariantOpt = None,
    db: DbOpt = None,
    data_dir: DataDirOpt = Path("data"),
) -> None:
    """The poster as one page: settings, accuracy with 95 % intervals over seeds, cost, every evaluation, curves.

    HTML is self-contained (figures embedded); Markdown has its PNGs beside it.
    The numbers are those of `nawt compare --json`, one row per method and
    comparable settings; the poster's own numbers stand in a labelled column.
    Runs that are not one study go to <data-dir>/reports/runs-<ids>/ without -o."""
    from nawt_core import report
    from nawt_core.compare import compare, parse_variants

    run_ids, study = _report_scope(targets or [])
    variants = parse_variants(variant)
    if fmt is not None and fmt not in report.FORMATS:
        raise NawtError(f"unknown report format {fmt!r}; choose html or md")
    if output is not None:
        report.format_of(output, fmt)
        from nawt_core.export import check_writable

        check_writable(output)
    store = open_store(db, data_dir, create=False)
    comp = compare(store, run_ids, study, mode, all_runs, variants=variants)
    files, note = report.write(store, comp, output, fmt, home=data_dir)
    if note:
        err_console.print(f"note: {note}", markup=False)
    for p in files:
        console.print(f"wrote {p}", markup=False, highlight=False)


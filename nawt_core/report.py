"""``nawt report``: the poster as one page, from a Comparison.

Laid out like the poster: the settings, clean accuracy (mean ± std, 95 % CI over
seeds, difference to standard with its interval), training cost (ratio to
standard), a section per registered evaluation (nawt_core/evalspec.py: its
table with its summaries, e.g. AUC and halving strength, and its figure) and
training curves. The poster's own numbers
stand beside nawt's in a column labelled as the poster's.

Every number is read from the Comparison (nawt_core/compare.py), the same dict
``nawt compare --json`` prints, and formatted by the helpers the CLI tables use
(nawt_core/runview.py). Rows follow compare's groups: one row per method and
comparable settings, with a settings column when more than one setting is shown.

Two renderings: HTML with the figures embedded as base64 PNG (no external
resource of any kind), and Markdown with the PNGs written beside it. Without
matplotlib the figures are left out with one line saying so; the tables are
written all the same. Torch-free (the TUI writes reports).
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import __version__, evalspec, safe_files, seed_summary, spec
from .busy import load_cell
from .compare import Comparison
from .errors import NawtError
from .export import check_writable, write_text
from .poster_scope import poster_caveat
from .runview import INTERVAL_NOTE, acc_ci, acc_diff, acc_spread, pct
from .store import Store

FORMATS = ("html", "md")
CURVES = ("curves", "Training curves")


def figure_kinds(varied: bool = False) -> list[tuple[str, str]]:
    """(kind, caption) of the report's figures: one per evaluation that sweeps, then the curves,
    then sharpness against robustness (its section is the sharpness evaluation's), then, for a
    study that varies a strength, the trade-off."""
    sharp = [("sharpness", evalspec.evaluation("sharpness").text.figure)] if "sharpness" in _plot_kinds() else []
    trade = [("tradeoff", "Accuracy–robustness trade-off")] if varied else []
    return [(s.name, s.text.figure) for s in evalspec.sweeps()] + [CURVES] + sharp + trade


def _plot_kinds() -> tuple[str, ...]:
    from . import plots

    return plots.kinds()

# The poster's numbers ("poster finding (CIFAR-10, ResNet-20)"): clean test accuracy, training
# seconds and ratio to standard. Shown for reference only, never mixed into nawt's numbers.
POSTER = {
    "standard": {"acc": 0.8974, "seconds": 4923, "ratio": 1.00},
    "naive-noise": {"acc": 0.5031, "seconds": 5374, "ratio": 1.09},
    "sam": {"acc": 0.9026, "seconds": 6241, "ratio": 1.27},
    "multistep-sam": {"acc": 0.9109, "seconds": 5862, "ratio": 1.19},
}
POSTER_LABEL = "poster (CIFAR-10, ResNet-20)"
POSTER_NOTE = ("Poster column: the poster's own numbers (standard / naive noise / SAM / multi-step SAM on "
               "CIFAR-10 with ResNet-20), printed for reference. The poster states neither its epochs nor its "
               "hardware; they are not from this store and enter no mean or interval here; its time ratio is of "
               "total seconds.")
# What data.py's DeviceData.augment does to every training batch (fixed: not a setting)
AUGMENTATION = ("random 32x32 crop of the image zero-padded by 4 pixels and a random horizontal flip, per image; "
                "test images unaugmented; inputs normalised per channel")
# How an evaluation stresses the weights, where its options do not say it all (quantize.py, perturb.py)
SCHEMES = {
    "robustness": "Gaussian noise added to the targeted tensors; BatchNorm statistics unchanged; a fresh draw per "
                  "trial, the same draws for every model of a seed (seeded)",
    "quantization": "weights only (activations in full precision), symmetric uniform, round to nearest, one scale "
                    "per output channel (or per tensor) = max|W| / (2^(b-1) - 1), BatchNorm not folded unless "
                    "stated; 2-bit = ternary {-1, 0, +1} x scale",
}
NO_MPL = "figures left out: matplotlib is not installed (pip install 'nawt[plot]')"


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    left: int = 1  # how many leading columns are text (left-aligned); the rest are numbers


@dataclass
class Figure:
    kind: str
    title: str
    png: bytes | None = None
    missing: str = ""  # why there is no picture


@dataclass
class Section:
    heading: str
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    text: list[str] = field(default_factory=list)


@dataclass
class Report:
    title: str
    scope: str
    sections: list[Section]
    notes: list[str]
    data: dict  # comp.to_dict(): the numbers shown, as `nawt compare --json` prints them
    figure_note: str = ""  # one line when figures are left out


# ------------------------------------------------------------------ build
def build(store: Store, comp: Comparison, figures: bool = True) -> Report:
    """The report's content: tables of formatted numbers and figures as PNG bytes."""
    if not comp.completed:
        raise NawtError(f"nothing to report: {comp.scope} has no completed runs (see `nawt runs`)")
    show_group = any(g.label for g in comp.groups) or any(
        r.group for t in comp.sweeps.values() for r in t.rows)
    figs, fig_note = _figures(store, comp) if figures else ({}, "")
    sections = [
        Section("Settings", tables=[_settings(store, comp)]),
        Section("Clean test accuracy", tables=[_accuracy(comp, show_group)],
                text=[t[:1].upper() + t[1:] for t in (poster_caveat(comp.groups), POSTER_NOTE, _interval_note(comp))
                      if t]),
        Section("Training cost", tables=[_timing(comp, show_group)]),
        *(Section(s.text.section, tables=_sweep(comp, s, show_group) + _over_seeds(comp, s, show_group),
                  figures=[figs[s.name]] if figs and s.name in figs else [],
                  text=[seed_summary.NOTE] if seed_summary.shown(comp.table(s.name)) else [])
          for s in evalspec.evaluations()),
        Section("Training curves", figures=[figs["curves"]] if figs else []),
        *([Section("Accuracy–robustness trade-off", tables=[tradeoff_table(comp, show_group)],
                   figures=[figs["tradeoff"]] if figs and "tradeoff" in figs else [],
                   text=comp.tradeoff().notes)] if comp.varied else []),
        Section("Every run", tables=[per_seed_table(comp, show_group)]),
    ]
    title = f"nawt report: study {comp.study}" if comp.study else f"nawt report: {comp.scope}"
    if poster_caveat(comp.groups).startswith("smoke test"):
        title += " (smoke test: not comparable with the poster)"
    return Report(title=title, scope=comp.scope, sections=sections, notes=list(comp.notes), data=comp.to_dict(),
                  figure_note=fig_note)


def _col(show_group: bool, *names: str) -> list[str]:
    return [n for n in names if n != "settings" or show_group]


def _cells(show_group: bool, method: str, group: str, *rest: str) -> list[str]:
    return [method, *([group or "-"] if show_group else []), *rest]


def _one(values: list, what: str = "per row") -> str:
    vals = list(dict.fromkeys(str(v) for v in values))
    return vals[0] if len(vals) == 1 else f"{what}: " + ", ".join(vals)


def _settings(store: Store, comp: Comparison) -> Table:
    runs = comp.completed
    gs = comp.groups
    sub = lambda v: "all" if v is None else f"{v:,}"  # noqa: E731
    rows = [["scope", comp.scope]]
    if comp.study:
        try:
            st = store.get_study(comp.study)
            rows.append(["preset", st.preset or "-"])
        except NawtError:
            pass
    seeds = {}
    for g in gs:
        seeds.setdefault(g.method, []).extend(r.seed for r in g.runs)
    rows += [
        ["methods and seeds", "; ".join(f"{m}: {', '.join(map(str, sorted(s)))}" for m, s in seeds.items())],
        ["epochs", _one([g.settings.get("epochs") for g in gs])],
        ["data", _one([f"{g.settings.get('dataset')}, train {sub(g.settings.get('train_subset'))} / test "
                       f"{sub(g.settings.get('test_subset'))} images" for g in gs])],
        ["model", _one([g.settings.get("arch") for g in gs])],
        ["optimiser", _one([f"SGD, batch {g.settings.get('batch_size')}, lr {g.settings.get('lr')}, "
                            f"{g.settings.get('schedule')} schedule, momentum {g.settings.get('momentum')}"
                            f"{' (Nesterov)' if g.settings.get('nesterov') else ''}, "
                            f"weight decay {g.settings.get('weight_decay')}" for g in gs])],
        ["method settings", "; ".join(dict.fromkeys(_method_settings(g) for g in gs))],
        ["augmentation", AUGMENTATION],
        ["device", _one([r.device or "-" for r in runs], "per run")],
        ["precision", _one([g.settings.get("precision") or "-" for g in gs])],
        ["nawt version (training)", _one([r.nawt_version or "-" for r in runs], "per run")],
        ["torch version", _one([r.torch_version or "-" for r in runs], "per run")],
    ]
    commits = [r.git_commit for r in runs if r.git_commit]
    if commits:
        rows.append(["git commit", _one(commits, "per run")])  # a+b: resumed by other code
    for s in evalspec.evaluations():
        t = comp.table(s.name)
        if t.rows:
            rows.append([s.text.setting, _one([(s.describe or _describe)(r.sweep) for r in t.rows])])
            if s.name in SCHEMES:
                rows.append([f"{s.text.setting}: scheme", SCHEMES[s.name]])
    rows.append(["report written", f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by nawt {__version__}"])
    return Table("Settings", ["setting", "value"], rows, left=2)


def _method_settings(g) -> str:
    """A group's method hyper-parameters: ``sam: rho 0.05, adaptive False, asam davda54, ascent steps 1``."""
    opts = [k for k in spec.method(g.method).options if k in g.settings] \
        if g.method in spec.method_names() else []
    if not opts:
        return f"{g.method}: none"
    return f"{g.method}: " + ", ".join(f"{k.replace('_', ' ')} {_value(g.settings[k])}" for k in opts)


def _value(v) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join(f"{x:g}" if isinstance(x, float) else str(x) for x in v) or "auto"
    return f"{v:g}" if isinstance(v, float) else str(v)


def _interval_note(comp: Comparison) -> str:
    if any(a.ci_note for a in comp.accuracy) or any(a.vs_standard and a.vs_standard.note for a in comp.accuracy):
        return INTERVAL_NOTE
    return ""


def _accuracy(comp: Comparison, show_group: bool) -> Table:
    rows = []
    for a in comp.accuracy:
        ref = POSTER.get(a.method)
        rows.append(_cells(show_group, a.method, a.group, str(a.n), acc_spread(a), acc_ci(a),
                           acc_diff(a.vs_standard), pct(a.best),
                           "-" if ref is None else f"{100 * ref['acc']:.2f}"))
    return Table("Clean test accuracy (%) over seeds: mean ± std, 95 % confidence interval of the mean (Student t, "
                 "at least 3 seeds), difference to standard in points with its 95 % interval (paired by seed, "
                 "else Welch)",
                 _col(show_group, "method", "settings", "seeds", "accuracy", "95 % CI", "Δ standard", "best run",
                      POSTER_LABEL), rows, left=2 if show_group else 1)


def _timing(comp: Comparison, show_group: bool) -> Table:
    rows = []
    for r in comp.timing:
        ref = POSTER.get(r.method)
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}" + (
            " (busy machine)" if r.busy else " (load differed)" if r.load_flag else "")
        rows.append(_cells(show_group, r.method, r.group, str(r.n), str(r.epochs),
                           "-" if r.epoch_median is None else f"{r.epoch_median:.1f}",
                           "-" if r.median_time is None else f"{r.median_time:.1f}",
                           f"{r.train_seconds:.1f}", load_cell(r), ratio, r.device or "-",
                           "-" if ref is None else f"{ref['seconds']} s / {ref['ratio']:.2f}"))
    return Table("Training time (evaluation excluded): median epoch in s, the estimate (median epoch per cost class, "
                 "e.g. multi-step SAM's one-pass stage and its SAM stages, × the class's epochs), mean total per run, "
                 "the machine's mean load average on the runs' CPU threads, and the ratio to standard of the same "
                 "settings (of the estimates when both have epoch times)",
                 _col(show_group, "method", "settings", "runs", "epochs", "median epoch s", "estimate s",
                      "total s", "load", "ratio", "device", POSTER_LABEL + ": s / ratio"), rows,
                 left=2 if show_group else 1)


def _describe(sweep: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sweep.items())


def summary_text(metric: evalspec.Metric, row) -> str:
    """A row's summary cell: the spec's formatter, else a percentage."""
    return metric.text(row) if metric.text else pct(row[metric.name])


def _point(p, scale: float) -> str:
    """A point's mean ± std: in percent (scale 100, pct) or in the metric's own unit."""
    if scale == 100.0:
        return pct(p.mean, p.std)
    return f"{scale * p.mean:.2f}" + (f" ± {scale * p.std:.2f}" if p.std else "")


def _sweep(comp: Comparison, s: evalspec.EvalSpec, show_group: bool) -> list[Table]:
    t = comp.table(s.name)
    if not t.rows:
        return []
    rows = []
    for r in t.rows:
        cells = []
        for v in t.grid:
            p = r.points.get(v)
            cells.append("-" if p is None else _point(p, s.point_scale(v)) + (f" ({p.runs}/{r.runs} runs)" if p.partial else ""))
        rows.append(_cells(show_group, r.method, r.group, str(r.runs), *([pct(r.clean)] if s.clean else []), *cells,
                           *(summary_text(m, r) for m in s.summaries)))
    heads = [s.param.head(v) for v in t.grid] if s.param else list(t.grid)
    return [Table(s.titled(s.text.report, t.variant),
                  _col(show_group, "method", "settings", "runs", *([s.clean.title] if s.clean else []), *heads,
                       *((m.title or m.header) for m in s.summaries)), rows, left=2 if show_group else 1)]


def _over_seeds(comp: Comparison, s: evalspec.EvalSpec, show_group: bool) -> list[Table]:
    """Each row's per-run numbers over seeds: a mean [95 % CI] and a Δ standard column per metric."""
    t = comp.table(s.name)
    if not seed_summary.shown(t):
        return []
    ms = seed_summary.metrics(t)
    rows = [_cells(show_group, r.method, r.group, seed_summary.seeds(r),
                   *(c for m in ms for c in seed_summary.cells(s, r, m))) for r in t.rows]
    heads = [h for m in ms for h in (f"{s.metric_title(m)} [95 % CI]", f"{s.metric_title(m)} Δ standard")]
    return [Table(seed_summary.TITLE.format(name=s.text.section), _col(show_group, "method", "settings", "seeds",
                                                                       *heads), rows, left=2 if show_group else 1)]


def tradeoff_table(comp: Comparison, show_group: bool) -> Table:
    """One row per setting along the Pareto front, then the dominated (tradeoff.py)."""
    tr = comp.tradeoff()
    m = tr.measure
    rows = [_cells(show_group, p.method, p.group, str(p.seeds), seed_summary.value_text(p.accuracy, "%"),
                   seed_summary.value_text(p.robustness, m.unit), "-" if p.cost is None else f"{p.cost:.2f}",
                   "on the front" if p.on_front else "dominated by " + ", ".join(p.dominated_by)
                   if p.dominated_by else "-") for p in tr.points]
    return Table(f"Clean accuracy (%) against {m.label}, mean [95 % CI] over seeds, one row per setting: the "
                 "Pareto front first (no other setting is at least as good in both and better in one), then the "
                 "dominated; cost = training cost / standard's of the same settings",
                 _col(show_group, "method", "settings", "seeds", "accuracy", m.label, "cost", "front"), rows,
                 left=2 if show_group else 1)


PER_SEED_MAX = 3  # an evaluation with more per-run numbers (a drop per bit width) is left to the export


def per_seed_table(comp: Comparison, show_group: bool) -> Table:
    """Every completed run, one row each: seed, clean accuracy (and the trained weights' where an
    epoch's end changes them, e.g. naive noise), training seconds, and each evaluation's own numbers."""
    kinds = [s for s in evalspec.evaluations() if 0 < len(seed_summary.metrics(comp.table(s.name))) <= PER_SEED_MAX]
    per_run = {s.name: {rid: v for r in comp.table(s.name).rows for rid, v in r.per_run.items()} for s in kinds}
    heads = [f"{s.short or s.name} {s.metric_title(m)}" for s in kinds for m in seed_summary.metrics(comp.table(s.name))]
    rows = []
    for g in comp.groups:
        for r in sorted(g.runs, key=lambda r: (r.seed, r.id)):
            trained = r.final_trained_test_acc
            cells = []
            for s in kinds:
                for m in seed_summary.metrics(comp.table(s.name)):
                    v = per_run[s.name].get(r.id, {}).get(m)
                    cells.append("-" if v is None else v if isinstance(v, str) else
                                 seed_summary.number(v, seed_summary.unit(s, m)))
            rows.append(_cells(show_group, r.method, g.label, str(r.id), str(r.seed), pct(r.final_test_acc),
                               "-" if trained is None or trained == r.final_test_acc else pct(trained),
                               f"{r.train_seconds:.1f}", *cells))
    return Table("Every run: clean test accuracy (%) of the final weights, where the sweeps start (naive noise: "
                 "after the last epoch's noise when it adds one) and of the trained weights before that change, "
                 "training seconds (evaluation excluded), and each evaluation's own numbers",
                 _col(show_group, "method", "settings", "run", "seed", "accuracy", "trained weights", "train s",
                      *heads), rows, left=2 if show_group else 1)


def _figures(store: Store, comp: Comparison) -> tuple[dict[str, Figure], str]:
    """One PNG per kind; when matplotlib is missing, none and one line saying so."""
    from . import plots

    try:
        plots._plt()
    except NawtError:
        return {k: Figure(k, t, missing=NO_MPL) for k, t in figure_kinds(comp.varied)}, NO_MPL
    out = {}
    for kind, title in figure_kinds(comp.varied):
        try:
            fig = plots.figure(comp, kind, store)
        except NawtError as e:  # nothing to draw
            out[kind] = Figure(kind, title, missing=str(e).replace("nothing to plot: ", ""))
            continue
        out[kind] = Figure(kind, title, png=plots.render(fig, "png"))  # at least plots.MIN_WIDTH_PX wide
    return out, ""


# ----------------------------------------------------------------- render
def render_html(rep: Report) -> str:
    """One self-contained page: inline CSS, figures as data: URIs, nothing fetched."""
    e = html.escape
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">', f"<title>{e(rep.title)}</title>",
           f"<style>{CSS}</style>", "</head>", "<body>", f"<h1>{e(rep.title)}</h1>"]
    if rep.figure_note:
        out.append(f'<p class="note">{e(rep.figure_note)}</p>')
    for sec in rep.sections:
        out.append(f"<section><h2>{e(sec.heading)}</h2>")
        for t in sec.tables:
            cls = lambda i, left=t.left: ' class="l"' if i < left else ""  # noqa: E731
            out.append(f"<table><caption>{e(t.title)}</caption><thead><tr>"
                       + "".join(f"<th{cls(i)}>{e(h)}</th>" for i, h in enumerate(t.header))
                       + "</tr></thead><tbody>")
            for row in t.rows:
                out.append("<tr>" + "".join(f"<td{cls(i)}>{e(c)}</td>" for i, c in enumerate(row)) + "</tr>")
            out.append("</tbody></table>")
        for text in sec.text:
            out.append(f'<p class="note">{e(text)}</p>')
        for f in sec.figures:
            if f.png is None:
                out.append(f'<p class="note">{e(f.title)}: {e(f.missing)}</p>')
            else:
                data = base64.b64encode(f.png).decode("ascii")
                out.append(f'<figure><img alt="{e(f.title)}" src="data:image/png;base64,{data}">'
                           f"<figcaption>{e(f.title)}</figcaption></figure>")
        out.append("</section>")
    if rep.notes:
        out.append("<section><h2>Notes</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in rep.notes) + "</ul></section>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


CSS = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
       "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
       "caption{text-align:left;font-weight:600;padding:0.3em 0}"
       "th,td{border:1px solid #ccc;padding:0.25em 0.6em;text-align:right}"
       ".l{text-align:left}thead{background:#f3f3f3}"
       "img{max-width:100%}.note{color:#555;font-size:0.9em}figcaption{color:#555}")


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_md(rep: Report, png_names: dict[str, str]) -> str:
    """Markdown (GitHub tables); figures as links to the PNG files named in ``png_names``."""
    out = [f"# {rep.title}", ""]
    if rep.figure_note:
        out += [rep.figure_note, ""]
    for sec in rep.sections:
        out += [f"## {sec.heading}", ""]
        for t in sec.tables:
            if t.title != sec.heading:
                out += [f"**{_md_cell(t.title)}**", ""]
            out += ["| " + " | ".join(_md_cell(h) for h in t.header) + " |",
                    "|" + "|".join(["---" if i < t.left else "--:" for i in range(len(t.header))]) + "|"]
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
            out.append("")
        for text in sec.text:
            out += [f"_{text}_", ""]
        for f in sec.figures:
            if f.png is None or f.kind not in png_names:
                out += [f"{f.title}: {f.missing or 'left out (a report written to a pipe or device has no folder for PNGs)'}",
                        ""]
            else:
                out += [f"![{f.title}]({png_names[f.kind]})", ""]
    if rep.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in rep.notes] + [""]
    return "\n".join(out)


# ------------------------------------------------------------------ write
def default_folder(store: Store, comp: Comparison, home: str | Path) -> Path:
    """A study's folder (where `nawt study` wrote its tables), else ``<home>/reports/runs-<ids>``."""
    if comp.study is not None:
        try:
            st = store.get_study(comp.study)
        except NawtError:
            st = None
        return Path(st.out_dir) if st is not None and st.out_dir else Path(home) / "studies" / comp.study
    ids = sorted(r.id for r in comp.completed)
    name = "-".join(map(str, ids)) if len(ids) <= 8 else f"{ids[0]}-to-{ids[-1]}-{len(ids)}runs"
    return Path(home) / "reports" / f"runs-{name}"


def format_of(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise NawtError(f"unknown report format {fmt!r}; choose html or md")
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        return "html"
    if suffix in (".md", ".markdown"):
        return "md"
    raise NawtError(f"cannot tell the report format of {path.name}; use a .html or .md name, or --format")


def write(store: Store, comp: Comparison, output: str | Path | None = None, fmt: str | None = None,
          home: str | Path = "data", figures: bool = True) -> tuple[list[Path], str]:
    """Writes the report: to ``output`` (format from ``fmt`` or its suffix; Markdown's PNGs
    beside it as ``<stem>-<figure>.png``), else ``report.html`` and ``report.md`` (or the one
    ``fmt`` names) into ``default_folder``. Returns the files written and the line about
    left-out figures ("" when all could be drawn). Checks every target before writing."""
    if not comp.completed:  # before any folder is made
        raise NawtError(f"nothing to report: {comp.scope} has no completed runs (see `nawt runs`)")
    if output is not None:
        targets = [(format_of(Path(output), fmt), Path(output))]
    else:
        folder = default_folder(store, comp, home)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise NawtError(f"cannot create the report folder {folder}: {e.strerror}") from None
        targets = [(f, folder / f"report.{f}") for f in ((fmt,) if fmt else FORMATS)]
        if fmt is not None:
            format_of(targets[0][1], fmt)
    for _, path in targets:
        check_writable(path)
    rep = build(store, comp, figures)
    written = []
    for f, path in targets:
        if f == "html":
            written.append(write_text(path, render_html(rep)))
            continue
        names = {}
        beside = not safe_files.is_stream(path)  # no PNGs next to a pipe or a device (/dev/...)
        for sec in rep.sections:
            for fig in sec.figures:
                if fig.png is not None and beside:
                    png = path.with_name(f"{path.stem}-{fig.kind}.png")
                    _write_bytes(png, fig.png)
                    names[fig.kind] = png.name
                    written.append(png)
        written.append(write_text(path, render_md(rep, names)))
    return written, rep.figure_note


def _write_bytes(path: Path, data: bytes) -> None:
    safe_files.write_bytes(path, data)


__all__ = ["FORMATS", "POSTER", "POSTER_LABEL", "Report", "build", "default_folder", "render_html", "render_md",
           "write"]

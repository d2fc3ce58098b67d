"""`nawt report` and the statistics behind it: intervals over seeds, the difference to
standard, AUC and halving strength, the lowest bit width within 1 point; the page's
numbers equal `nawt compare --json`; the HTML is self-contained and well formed; the
Markdown tables render. Hand-filled stores (fast), plus one tiny trained study."""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser

import pytest

from nawt_core import stats
from nawt_core.errors import NawtError
from nawt_core.store import Store

from helpers import run_cli

# ------------------------------------------------------------------ statistics by hand


def test_interval_matches_a_hand_computation():
    ci = stats.interval([0.80, 0.82, 0.84])
    # mean 0.82, sd 0.02, t(0.975, 2) = 4.3027: half-width 4.3027 * 0.02 / sqrt(3) = 0.049683
    assert ci["mean"] == pytest.approx(0.82)
    assert ci["sd"] == pytest.approx(0.02)
    assert ci["half"] == pytest.approx(0.049683, abs=1e-6)
    assert (ci["low"], ci["high"]) == pytest.approx((0.770317, 0.869683), abs=1e-6)
    one = stats.interval([0.9])
    assert one["sd"] is None and one["low"] is None and one["half"] is None


def test_t_quantile_agrees_with_printed_tables():
    for df, t in stats.T975.items():  # t(0.975, df) tables, 4 decimals
        assert stats.t975(df) == pytest.approx(t, abs=6e-5), df
    assert stats.t_quantile(0.95, 10) == pytest.approx(1.8125, abs=1e-4)  # one-sided 95 %, a printed value
    assert stats.t975(1) == pytest.approx(math.tan(math.pi * 0.475), rel=1e-9)  # Cauchy: closed form
    assert stats.t975(2) == pytest.approx(4.302653, abs=1e-6)  # df 2: 2 * sqrt(... ) closed form, 4.3026527
    assert stats.t975(2.5) == pytest.approx(3.574655, abs=1e-5)  # fractional (Welch), numerically integrated
    assert stats.t975(1e6) == pytest.approx(1.959966, abs=1e-5)  # towards the normal 1.959964
    with pytest.raises(ValueError):
        stats.t975(0)


def test_difference_is_paired_by_seed_else_welch():
    a = {0: [0.85], 1: [0.86], 2: [0.90]}
    b = {0: [0.80], 1: [0.83], 2: [0.84]}
    d = stats.difference(a, b)
    # per-seed differences 0.05, 0.03, 0.06: mean 0.046667, sd 0.015275, half 4.3027 * sd / sqrt 3
    assert d["test"] == "paired" and d["df"] == 2
    assert d["diff"] == pytest.approx(0.046667, abs=1e-6)
    assert d["half"] == pytest.approx(4.3027 * 0.0152753 / math.sqrt(3), abs=1e-6)
    # seeds that do not match: Welch, by hand
    w = stats.difference({0: [0.85], 1: [0.87]}, {5: [0.80], 6: [0.84], 7: [0.82]})
    va, vb = 0.0002 / 2, 0.0004 / 3  # s^2/n with s^2 = 0.0002 and 0.0004
    df = (va + vb) ** 2 / (va ** 2 / 1 + vb ** 2 / 2)
    assert w["test"] == "welch" and w["df"] == pytest.approx(df)
    assert w["diff"] == pytest.approx(0.04)
    assert w["half"] == pytest.approx(stats.t975(df) * math.sqrt(va + vb))
    # one run each and not paired: the difference without an interval
    n = stats.difference({0: [0.9]}, {0: [0.8]})
    assert n["test"] == "none" and n["low"] is None and n["diff"] == pytest.approx(0.1)


def test_auc_halving_and_lowest_bits_by_hand():
    xs, ys = [0.0, 0.05, 0.1], [0.9, 0.6, 0.2]
    # trapezoid: 0.05 * (0.9 + 0.6) / 2 + 0.05 * (0.6 + 0.2) / 2 = 0.0575, / range 0.1 = 0.575
    assert stats.auc(xs, ys) == pytest.approx(0.575)
    # half of 0.9 is 0.45: between 0.05 (0.6) and 0.1 (0.2): 0.05 + 0.05 * 0.15 / 0.4 = 0.06875
    assert stats.halving(xs, ys, 0.9) == pytest.approx(0.06875)
    assert stats.halving(xs, [0.9, 0.8, 0.7], 0.9) is None
    assert stats.lowest_within({8: 0.90, 6: 0.895, 4: 0.885, 2: 0.5}, 0.90) == 6  # 4-bit is 1.5 points off
    assert stats.lowest_within({8: 0.90, 6: 0.80, 4: 0.899}, 0.90) == 8  # every wider width must be within
    assert stats.lowest_within({8: 0.5}, 0.90) is None


# ------------------------------------------------------------------ a hand-filled study


def _add(store, method, seed, acc, rob, quant, study="st", epochs=((1, 0.5), (2, None))):
    r = store.create_run(method=method, status="completed", final_test_acc=acc, train_seconds=10.0 + seed,
                         device="cpu (test CPU)", epochs=2, seed=seed, name=f"{method}-{seed}", study=study,
                         config={"arch": "resnet20", "dataset": "synthetic", "epochs": 2}, dataset="synthetic",
                         nawt_version="0.1.0", torch_version="2.x-test")
    ev = store.create_evaluation(run_id=r.id, kind="robustness", status="completed", clean_acc=acc,
                                 config={"mode": "absolute", "strengths": sorted(rob), "trials": 2})
    store.add_points(ev.id, [{"param": s, "trial": t, "accuracy": a} for s, accs in rob.items()
                             for t, a in enumerate(accs)])
    ev = store.create_evaluation(run_id=r.id, kind="quantization", status="completed", clean_acc=acc,
                                 config={"bits": sorted(quant, reverse=True), "granularity": "channel"})
    store.add_points(ev.id, [{"param": float(b), "trial": 0, "accuracy": a} for b, a in quant.items()])
    for e, _ in epochs:
        store.add_epoch(r.id, epoch=e, train_loss=1.0 / e, train_acc=0.5, test_acc=acc - 0.1 / e, epoch_seconds=5.0)
    return r


@pytest.fixture
def study_store(tmp_path):
    """2 methods x 2 seeds (0, 1) in study 'st', with sweeps and epochs."""
    s = Store(f"sqlite:///{tmp_path / 'data' / 'nawt.db'}")
    s.upsert_study("st", preset="smoke", out_dir=str(tmp_path / "out"), status="completed",
                   config={"run_ids": []})
    ids = []
    for seed, (a_std, a_sam) in enumerate(((0.80, 0.85), (0.84, 0.86))):
        ids.append(_add(s, "standard", seed, a_std, {0.0: [a_std, a_std], 0.05: [0.5, 0.6], 0.1: [0.2, 0.3]},
                        {8: a_std, 4: a_std - 0.03, 2: 0.1}).id)
        ids.append(_add(s, "sam", seed, a_sam, {0.0: [a_sam, a_sam], 0.05: [0.7, 0.8], 0.1: [0.6, 0.6]},
                        {8: a_sam - 0.005, 4: a_sam - 0.008, 2: 0.2}).id)
    s.upsert_study("st", config={"run_ids": ids})
    (tmp_path / "out").mkdir()
    return s, tmp_path


def test_compare_carries_the_new_statistics(study_store):
    from nawt_core.compare import compare

    s, _ = study_store
    c = compare(s, study="st")
    std, sam = c.accuracy
    assert std["seeds"] == [0, 1] and std["vs_standard"] is None
    # two seeds: no interval (t(0.975, 1) = 12.7 would print [-6.4, 107.4] %), and the row says why
    assert std["ci_half"] is None and std["ci_low"] is None and "too few seeds" in std["ci_note"]
    d = sam["vs_standard"]  # paired by seed: differences 0.05 and 0.02, no interval either
    assert d["test"] == "paired" and d["diff"] == pytest.approx(0.035) and d["low"] is None
    assert "too few seeds" in d["note"]
    rob = {r["method"]: r for r in c.robustness}
    # standard: means 0.82, 0.55, 0.25 at 0, 0.05, 0.1; above chance (0.1): 0.72, 0.45, 0.15
    # auc = (0.05*(0.72+0.45)/2 + 0.05*(0.45+0.15)/2) / 0.1
    assert rob["standard"]["auc"] == pytest.approx((0.72 + 0.45) / 4 + (0.45 + 0.15) / 4)
    # half of 0.72 = 0.36 above chance, between 0.05 (0.45) and 0.1 (0.15): 0.05 + 0.05 * 0.09 / 0.30
    assert rob["standard"]["halving"] == pytest.approx(0.05 + 0.05 * 0.09 / 0.30)
    assert rob["sam"]["halving"] is None and rob["sam"]["halving_beyond"] is True
    quant = {q["method"]: q for q in c.quantization}
    assert quant["standard"]["within_1pt"] == 8 and quant["sam"]["within_1pt"] == 4
    # the accuracy export carries the (absent) intervals and the difference (appended columns)
    import csv
    import io

    from nawt_core.export import export

    rows = {r["method"]: r for r in csv.DictReader(io.StringIO(export(s, "accuracy", study="st")))}
    assert rows["standard"]["ci_low"] == "" and rows["standard"]["diff_test"] == ""
    assert rows["sam"]["diff_test"] == "paired" and float(rows["sam"]["diff_standard"]) == pytest.approx(0.035)


@pytest.fixture
def three_seed_store(tmp_path):
    """standard and SAM with seeds 0, 1, 2 (robustness with the same evaluation seed); SAM's
    seed 2 is at 0.12 clean so its accuracy interval reaches below 0."""
    s = Store(f"sqlite:///{tmp_path / 'data' / 'nawt.db'}")
    s.upsert_study("st", preset="smoke", out_dir=str(tmp_path / "out"), status="completed", config={"run_ids": []})
    ids = []
    std = {0: (0.80, [0.80, 0.50, 0.20]), 1: (0.84, [0.84, 0.60, 0.30]), 2: (0.82, [0.82, 0.40, 0.10])}
    sam = {0: (0.85, [0.85, 0.70, 0.50]), 1: (0.86, [0.86, 0.80, 0.60]), 2: (0.12, [0.12, 0.11, 0.10])}
    for method, table in (("standard", std), ("sam", sam)):
        for seed, (acc, curve) in table.items():
            rob = {x: [y, y] for x, y in zip((0.0, 0.05, 0.1), curve)}
            ids.append(_add(s, method, seed, acc, rob, {8: acc, 4: acc - 0.02 * (seed + 1)}).id)
    s.upsert_study("st", config={"run_ids": ids})
    return s


def test_intervals_stay_in_range_and_per_run_summaries_by_hand(three_seed_store):
    from nawt_core.compare import compare

    c = compare(three_seed_store, study="st")
    std, sam = c.accuracy
    t2 = 0.95 * math.sqrt(2 / (4 * 0.975 * 0.025))  # t(0.975, 2) in closed form: (2p - 1) sqrt(2 / (4p(1 - p)))
    sd = math.sqrt(((0.80 - 0.82) ** 2 + (0.84 - 0.82) ** 2 + 0) / 2)
    assert std.ci_low == pytest.approx(0.82 - t2 * sd / math.sqrt(3), abs=1e-4) and not std.ci_clipped
    # SAM's seeds (0.85, 0.86, 0.12) give a symmetric interval below 0: cut at 0 and flagged
    assert sam.ci_low == 0.0 and sam.ci_clipped and "cut" in sam.ci_note and sam.ci_high <= 1.0
    d = sam.vs_standard  # differences 0.05, 0.02, -0.70: cut at -1 points? no: at -100 points
    assert d.test == "paired" and d.diff == pytest.approx((0.05 + 0.02 - 0.70) / 3)
    assert d.low >= -1.0 and d.high <= 1.0

    rob = {r.method: r for r in c.robustness}
    # per run AUC above chance: (0.05*(a0+a1)/2 + 0.05*(a1+a2)/2) / 0.1 with a = curve - 0.1
    def auc(curve):
        a = [y - 0.1 for y in curve]
        return (a[0] + a[1]) / 4 + (a[1] + a[2]) / 4

    std_auc = [auc([0.80, 0.50, 0.20]), auc([0.84, 0.60, 0.30]), auc([0.82, 0.40, 0.10])]
    sam_auc = [auc([0.85, 0.70, 0.50]), auc([0.86, 0.80, 0.60]), auc([0.12, 0.11, 0.10])]
    assert [rob["standard"].per_run[i]["auc"] for i in rob["standard"].run_ids] == pytest.approx(std_auc)
    o = rob["standard"].over_seeds["auc"]
    m = sum(std_auc) / 3
    half = t2 * math.sqrt(sum((x - m) ** 2 for x in std_auc) / 2) / math.sqrt(3)
    assert o["mean"] == pytest.approx(m) and o["low"] == pytest.approx(m - half, abs=1e-6)
    assert o["high"] == pytest.approx(m + half, abs=1e-6)
    diffs = [a - b for a, b in zip(sam_auc, std_auc)]
    v = rob["sam"].over_seeds["auc"]["vs_standard"]
    dm = sum(diffs) / 3
    dhalf = t2 * math.sqrt(sum((x - dm) ** 2 for x in diffs) / 2) / math.sqrt(3)
    assert v["diff"] == pytest.approx(dm) and v["seeds"] == [0, 1, 2]
    assert v["low"] == pytest.approx(max(-0.9, dm - dhalf), abs=1e-6) and v["high"] == pytest.approx(dm + dhalf, abs=1e-6)
    assert "different noise draws" not in v["note"]
    # SAM seed 2 is 0.02 above chance at strength 0: nothing to halve, so no mean halving strength
    assert rob["sam"].per_run[rob["sam"].run_ids[2]]["halving"] == "near chance"
    assert rob["sam"].over_seeds["halving"]["mean"] is None and "near chance" in rob["sam"].over_seeds["halving"]["note"]
    # quantization: the drop per bit width, per seed: 0.02 * (seed + 1) at 4 bits, 0 at 8
    q = {r.method: r for r in c.quantization}["standard"]
    assert q.over_seeds["drop@4"]["mean"] == pytest.approx(0.04)
    assert q.over_seeds["drop@8"]["mean"] == pytest.approx(0.0)
    j = c.to_dict()["robustness"][0]
    assert j["auc_ci_low"] == pytest.approx(o["low"]) and j["auc_ci_high"] == pytest.approx(o["high"])


class _Checker(HTMLParser):
    """Balanced tags (void elements aside) and every src/href, for the self-containment check."""

    VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr", "area", "base", "embed", "track"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.refs, self.tags = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.refs += [v for k, v in attrs if k in ("src", "href", "srcset", "action", "data")]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def _md_tables(text: str) -> list[list[list[str]]]:
    """The Markdown's tables as rows of cells (a row is a line starting with '|')."""
    tables, cur = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cur.append([c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
        elif cur:
            tables.append(cur)
            cur = []
    return tables


def _by_method(table: list[list[str]]) -> dict[str, dict[str, str]]:
    return {row[0]: dict(zip(table[0], row)) for row in table[2:]}


def test_report_cli_writes_a_self_contained_page_with_compare_json_numbers(study_store):
    s, tmp = study_store
    db = f"sqlite:///{tmp / 'data' / 'nawt.db'}"
    r = run_cli("report", "st", "--db", db, "--data-dir", str(tmp / "data"))
    assert r.returncode == 0, r.stderr
    out = tmp / "out"
    html_text = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    for kind in ("robustness", "quantization", "curves"):
        assert (out / f"report-{kind}.png").read_bytes()[:4] == b"\x89PNG"
        assert f"](report-{kind}.png)" in md
    assert html_text.count('src="data:image/png;base64,') == 3

    # valid and self-contained: balanced tags, no reference leaves the page
    chk = _Checker()
    chk.feed(html_text)
    chk.close()
    assert chk.errors == [] and chk.stack == []
    assert {"html", "head", "body", "table", "figure", "img"} <= set(chk.tags)
    assert all(ref.startswith("data:") for ref in chk.refs), chk.refs
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html_text)
    assert "@import" not in html_text and "url(" not in html_text
    assert "<script" not in html_text and "<link" not in html_text

    # every section of the poster, in both renderings
    for heading in ("Settings", "Clean test accuracy", "Training cost", "Gaussian weight perturbation",
                    "quantization", "Training curves"):
        assert heading in html_text and heading in md
    tables = _md_tables(md)
    # settings, accuracy, cost, perturbation (pooled, over seeds), quantization (pooled, over seeds), every run
    assert len(tables) == 8
    for t in tables:  # renders: header, separator and every row with the same number of cells
        assert len({len(row) for row in t}) == 1, t
        assert all(re.fullmatch(r":?-+:?", c) for c in t[1])

    # the numbers are those of `nawt compare --json`
    j = json.loads(run_cli("compare", "--study", "st", "--json", "--db", db).stdout)
    acc, cost, rob, rob_seeds, quant = (_by_method(tables[i]) for i in (1, 2, 3, 4, 5))
    for a in j["accuracy"]:
        row = acc[a["method"]]
        assert row["seeds"] == str(a["n"])
        assert row["accuracy"] == f"{100 * a['mean']:.2f} ± {100 * a['std']:.2f}"
        assert a["ci_low"] is None and row["95 % CI"] == "2 seeds"  # too few seeds for an interval
        d = a["vs_standard"]
        assert row["Δ standard"] == ("-" if d is None else f"{100 * d['diff']:+.2f} (2 seeds)")
    for r in j["robustness"]:  # over seeds: per-run AUC, its mean and the paired difference, no interval
        o = r["over_seeds"]["auc"]
        assert rob_seeds[r["method"]]["AUC % [95 % CI]"] == f"{100 * o['mean']:.2f} (2 seeds)"
        runs_auc = [v["auc"] for v in r["per_run"].values()]
        assert o["mean"] == pytest.approx(sum(runs_auc) / 2)
    d = next(r for r in j["robustness"] if r["method"] == "sam")["over_seeds"]["auc"]["vs_standard"]
    assert rob_seeds["sam"]["AUC % Δ standard"] == f"{100 * d['diff']:+.2f} (2 seeds)"
    every = tables[7]  # one row per run: its seed and clean accuracy as the runs table has them
    assert len(every) == 2 + len(j["runs"])
    head = every[0]
    for line in every[2:]:
        cell = dict(zip(head, line))
        run = next(x for x in j["runs"] if str(x["id"]) == cell["run"])
        assert cell["seed"] == str(run["seed"]) and cell["accuracy"] == f"{100 * run['final_test_acc']:.2f}"
    poster = next(h for h in tables[1][0] if h.startswith("poster"))
    assert acc["standard"][poster] == "89.74" and acc["sam"][poster] == "90.26"  # the poster's column
    for t in j["timing"]:
        assert cost[t["method"]]["ratio"] == f"{t['ratio']:.2f}"
        assert cost[t["method"]]["total s"] == f"{t['train_seconds']:.1f}"
    assert cost["sam"][poster + ": s / ratio"] == "6241 s / 1.27"
    for r in j["robustness"]:
        row = rob[r["method"]]
        for s_ in j["strengths"]:
            p = r["points"][repr(float(s_))]
            assert row[f"s={s_:g}"] == f"{100 * p['mean']:.2f}" + (f" ± {100 * p['std']:.2f}" if p["std"] else "")
        assert row["AUC %"] == f"{100 * r['auc']:.2f}"
        assert row["halves at"] == (f"{r['halving']:.3g}" if r["halving"] is not None
                                    else f"> {max(j['strengths']):g}")
    assert rob["sam"]["halves at"] == "> 0.1"
    for q in j["quantization"]:
        assert quant[q["method"]]["unquantized"] == f"{100 * q['fp']:.2f}"
        assert quant[q["method"]]["lowest within 1 pt"] == f"{q['within_1pt']}-bit"
        for b in j["bits"]:
            p = q["points"][str(b)]
            assert quant[q["method"]][f"{b}-bit"] == f"{100 * p['mean']:.2f}" + (
                f" ± {100 * p['std']:.2f}" if p["std"] else "")
    settings = dict(tuple(row) for row in tables[0][2:])
    assert settings["preset"] == "smoke" and settings["methods and seeds"] == "standard: 0, 1; sam: 0, 1"
    assert settings["torch version"] == "2.x-test" and settings["device"] == "cpu (test CPU)"

    # with markdown-it-py (a dependency of rich) the tables render as HTML tables
    mdit = pytest.importorskip("markdown_it")
    rendered = mdit.MarkdownIt("commonmark").enable("table").render(md)
    assert rendered.count("<table>") == 8


def test_one_seed_says_so_and_bad_input_is_one_line(study_store):
    s, tmp = study_store
    db = f"sqlite:///{tmp / 'data' / 'nawt.db'}"
    first = [r.id for r in s.list_runs() if r.seed == 0]
    page = tmp / "one.md"
    r = run_cli("report", *map(str, first), "-o", str(page), "--db", db)
    assert r.returncode == 0, r.stderr
    text = page.read_text()
    assert "(1 seed)" in text and "± 0.00" not in text
    cli = run_cli("compare", *map(str, first), "--db", db)
    assert "1 seed per row: no spread or interval" in cli.stdout and "± 0.00" not in cli.stdout
    assert "+5.00" in cli.stdout  # sam - standard for seed 0, no interval from one pair
    for args, msg in ((["st", "3"], "one study name or run ids"), (["-o", str(tmp / "x.txt")], "format"),
                      (["--format", "pdf"], "unknown report format"), (["nosuch"], "no study named")):
        bad = run_cli("report", *args, "--db", db)
        assert bad.returncode == 2 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr, bad.stderr
        assert msg in bad.stderr
    assert not (tmp / "x.txt").exists()


def test_mixed_groups_are_shown_separately_and_no_matplotlib_still_writes_tables(study_store, monkeypatch):
    import sys

    from nawt_core import report
    from nawt_core.compare import compare

    s, tmp = study_store
    _add(s, "standard", 0, 0.7, {0.0: [0.7]}, {8: 0.7}, study=None)
    other = s.list_runs()[-1]
    s.update_run(other.id, config={**other.config, "epochs": 5}, epochs=5)
    c = compare(s, all_runs=True)
    rep = report.build(s, c, figures=False)
    acc = rep.sections[1].tables[0]
    assert acc.header[1] == "settings"
    assert sorted(row[1] for row in acc.rows if row[0] == "standard") == ["epochs 2", "epochs 5"]
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    files, note = report.write(s, c, tmp / "nompl.html")
    assert "matplotlib" in note and files == [tmp / "nompl.html"]
    page = (tmp / "nompl.html").read_text()
    assert "<table>" in page and "matplotlib is not installed" in page and "data:image" not in page
    empty = Store(f"sqlite:///{tmp / 'empty.db'}")
    with pytest.raises(NawtError, match="no completed runs"):
        report.write(empty, compare(empty), tmp / "e.html")
    assert not (tmp / "e.html").exists()


def test_wide_sweeps_are_split_into_blocks_on_a_narrow_terminal_never_cut(tmp_path):
    """The cpu preset's 7 strengths and 7 bit widths on an 80-column terminal (or in a log file):
    the tables come in blocks that fit, and every number is there whole."""
    s = Store(f"sqlite:///{tmp_path / 'nawt.db'}")
    strengths = [0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1]
    for i, method in enumerate(("standard", "naive-noise", "noise-injection", "sam", "multistep-sam")):
        for seed in (0, 1, 2):  # three: enough for intervals
            acc = 0.8 + i / 100 + seed * (i + 1) / 700
            _add(s, method, seed, acc, {st: [acc - st - 0.0123, acc - 2 * st] for st in strengths},
                 {b: acc - (8 - b) / 97 for b in range(2, 9)})
    comp = json.loads(run_cli("compare", "--study", "st", "--json", "--data-dir", str(tmp_path)).stdout)
    means = [f"{100 * v['mean']:.2f}" for r in comp["robustness"] for v in r["points"].values()]
    means += [f"{100 * v['mean']:.2f}" for q in comp["quantization"] for v in q["points"].values()]
    # the accuracy table: spread, interval and difference to standard whole (on a line of their own)
    whole = [f"± {100 * a['std']:.2f}" for a in comp["accuracy"]]
    whole += [f"[{100 * a['ci_low']:.2f}, {100 * a['ci_high']:.2f}]" for a in comp["accuracy"]]
    whole += [f"[{100 * d['low']:+.2f}, {100 * d['high']:+.2f}]" for a in comp["accuracy"] if (d := a["vs_standard"])]
    for width, blocks in ((80, True), (200, False)):
        out = run_cli("compare", "--study", "st", "--data-dir", str(tmp_path), env={"COLUMNS": str(width)}).stdout
        assert "…" not in out and max(map(len, out.splitlines())) <= width
        assert ("(continued, 2/2)" in out) is blocks
        cells = re.findall(r"\d+\.\d\d", out)
        assert all(m in cells for m in means)
        assert all(w in out for w in whole), [w for w in whole if w not in out]
        assert "halves at" in out and "≤1 pt" in out

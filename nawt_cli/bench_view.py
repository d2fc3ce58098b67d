"""The table `nawt bench` prints."""

from __future__ import annotations

from rich.table import Table


def _ratio(v) -> str:
    return "-" if v is None else f"{v:.2f}x"


def bench_table(r: dict) -> Table:
    why = r.get("precision_reason")
    t = Table(title=f"nawt bench: {r['device']}, torch {r['torch']}, {r['precision']}, batch {r['batch_size']}, "
                    f"{r['steps']} steps, {r['dataset']} data", header_style="bold",
              caption=f"precision {r['precision']} ({why})" if why else None)
    for col in ("what", "img/s", "vs reference", "vs standard"):
        t.add_column(col, justify="left" if col == "what" else "right")
    if r.get("reference"):
        ref = r["reference"]
        t.add_row(f"reference (PIL + DataLoader x{ref['workers']}, fp32)", f"{ref['img_s']:.0f}", "1.00x", "")
    for m, v in r["train"].items():
        t.add_row(f"train {m}, {r['precision']}", f"{v['img_s']:.0f}", _ratio(v.get("vs_reference")), _ratio(v.get("vs_standard")))
    t.add_row(f"evaluate (10,000 test images), {r['precision']}", f"{r['eval']['img_s']:.0f}", "", "")
    sw = r.get("sweep")
    if sw:
        t.add_row(f"sweep: {sw['copies']} perturbed copies x {sw['images']} images ({sw['strategy']})",
                  f"{sw['sweep_evals_per_s']:.2f} eval/s", _ratio(sw["ratio"]), "")
        t.add_row("  plain perturb-evaluate-restore loop", f"{sw['reference_evals_per_s']:.2f} eval/s", "1.00x", "")
    return t

"""Which selected runs a comparison leaves out of its tables, and why, as notes
(``nawt compare 7 8`` must not drop run 8 without a word). No torch."""

from __future__ import annotations

from .store import effective_status


def _ids(ids: list[int]) -> str:
    return f"run{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))}"


def left_out_notes(comp) -> list[str]:
    """One note for the runs not completed (every table leaves them out), and one per
    evaluation (nawt_core/evalspec.py) for completed runs without it (its table does)."""
    notes = []
    done = {r.id for r in comp.completed}
    other = sorted((r for r in comp.runs if r.id not in done), key=lambda r: r.id)
    if other:
        what = ", ".join(f"{r.id} ({effective_status(r)})" for r in other)  # a dead 'running' run: stale
        notes.append(f"run{'s' if len(other) > 1 else ''} {what} not completed: left out of every table")
    absent = []
    for kind, table in comp.sweeps.items():  # every registered evaluation (compare fills them all)
        swept = {rid for row in table.rows for rid in row.run_ids}
        missing = sorted(done - swept)
        if missing and not swept:
            if not table.other_variants:  # stored in another variant: compare's own note says which
                absent.append(kind)  # none of the runs has it: one line for all such below
        elif missing:
            variant = f" ({table.variant})" if table.variant else ""  # the variant shown, when it has rows
            notes.append(f"{_ids(missing)}: no {kind} sweep{variant}, so not in the {kind} table "
                         f"(`nawt eval {kind} {' '.join(map(str, missing))}` runs one)")
    if absent and done:
        notes.append(f"no {', '.join(absent)} sweeps of these runs (`nawt eval KIND {' '.join(map(str, sorted(done)))}` "
                     "runs one)")
    return notes


__all__ = ["left_out_notes"]

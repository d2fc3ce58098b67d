"""Timing rows trained on a busy machine. No torch.

compare's ``load_flag`` first only compared rows with each other, so a
machine busy for every run went unflagged (SAM 7.20x standard under load,
1.87x idle). Here a row is flagged on its own: its runs' mean 1-minute load
average above the CPU threads they were given (read from the stored device
label, 'AMD EPYC · 2 threads · …') by more than a margin, i.e. other work competed
for their cores. The margin (half a core, or a tenth of the threads on large
machines) is there because a run's own threads put the load at their count:
the 3-seed cpu study's idle runs read 2.01-2.06 on 2 threads and were all
flagged busy when the bound was the thread count itself.
GPU runs carry no thread count in their label: a GPU row is flagged when other
processes computed on its runs' GPU (Epoch.gpu_others, counted through NVML).
"""

from __future__ import annotations

RETIME = ("retime them on an idle machine: `nawt train --resume ID --restart` for each of their runs "
          "(or `nawt bench` for the ratios alone)")


def label_threads(label: str | None) -> int | None:
    """2 from 'AMD EPYC · 2 threads · avx2'; None for a GPU label or one without threads."""
    for part in (label or "").split(" · "):
        words = part.split()
        if len(words) == 2 and words[1] in ("thread", "threads") and words[0].isdigit():
            return int(words[0])
    return None


def load_margin(threads: int) -> float:
    """How far above its thread count a run's load may read before other work is assumed."""
    return max(0.5, 0.1 * threads)


def busy_reason(load_avg: float | None, threads: int | None) -> str:
    """'load 8.1 on 2 threads' when the load exceeds the threads by more than load_margin;
    '' otherwise or when unknown."""
    if load_avg is None or not threads or load_avg <= threads + load_margin(threads):
        return ""
    return f"load {load_avg:.1f} on {threads} thread{'s' if threads != 1 else ''}"


def gpu_shared_reason(others: float | None) -> str:
    """'GPU shared with 1.5 other processes' when others computed on the GPU; '' otherwise or unknown."""
    if not others:
        return ""
    return f"GPU shared with {others:.2g} other process{'es' if others != 1 else ''} (mean per epoch)"


def load_cell(row) -> str:
    """A timing row's load for a table: '8.1 on 2 thr, busy', '0.9 on 2 thr', '3.0', '-'."""
    if row.load_avg is None:
        return "-"
    on = f" on {row.threads} thr" if row.threads else ""
    return f"{row.load_avg:.1f}{on}" + (", busy" if row.busy else "")


def flag_busy(rows: list, runs_of: dict[int, list], notes: list[str]) -> None:
    """Marks each timing row (rows.TimingRow: ``busy``, ``load_flag``, ``ratio_note``) whose runs
    (``runs_of[id(row)]``) saw a mean load above their threads; one note says how to retime."""
    for row in rows:
        threads = {label_threads(r.device) for r in runs_of.get(id(row), [])}
        row.threads = max(threads - {None}, default=None)
        why = busy_reason(row.load_avg, row.threads) or gpu_shared_reason(row.gpu_others)
        row.busy = why
        if why:
            row.load_flag = True
            row.ratio_note = "; ".join(filter(None, [row.ratio_note, f"busy machine: {why}"]))
    if any(r.busy for r in rows):
        notes.append("! timing row whose runs saw a load average above the CPU threads they were given, or "
                     f"shared their GPU (a busy machine; times and ratios are inflated): {RETIME}")


__all__ = ["RETIME", "busy_reason", "load_margin", "gpu_shared_reason", "flag_busy", "label_threads", "load_cell"]

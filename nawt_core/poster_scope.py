"""What the poster column is comparable with (no torch).

The poster trained ResNet-20 on all of CIFAR-10 (50,000 training, 10,000 test
images); its schedule is not stated, nawt's paper preset trains 200 epochs.
A smoke study (3 epochs on 8,000 images) beside those numbers invites a
comparison that means nothing: the report, its tables and `nawt compare` say
so in one line.
"""

from __future__ import annotations

PAPER_EPOCHS = 200


def _data(s: dict) -> str:
    sub = [f"{s[k]:,} {what}" for k, what in (("train_subset", "training"), ("test_subset", "test"))
           if s.get(k) is not None]
    if s.get("dataset") not in (None, "cifar10"):
        return f"{s.get('dataset')} data"
    return f"{' and '.join(sub)} images of CIFAR-10" if sub else "all of CIFAR-10"


def poster_caveat(groups) -> str:
    """'' when every group trained like the poster (all of CIFAR-10, at least the paper preset's
    epochs); else one line saying what these runs are and what the poster column is comparable with."""
    short = []
    for g in groups:
        s = g.settings
        full = s.get("dataset") in (None, "cifar10") and s.get("train_subset") is None and s.get("test_subset") is None
        if not full or (s.get("epochs") or 0) < PAPER_EPOCHS:
            short.append(f"{s.get('epochs')} epochs on {_data(s)}")
    if not short:
        return ""
    what = "; ".join(dict.fromkeys(short))
    smoke = any(g.settings.get("train_subset") is not None for g in groups)
    return (f"{'smoke test, ' if smoke else ''}not comparable with the poster: these runs trained {what}; the poster "
            f"column is of ResNet-20 trained on all of CIFAR-10 (50,000 / 10,000 images), as nawt's paper preset "
            f"does ({PAPER_EPOCHS} epochs); only runs like those are comparable with it")


__all__ = ["PAPER_EPOCHS", "poster_caveat"]

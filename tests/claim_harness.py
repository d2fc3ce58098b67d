"""A claim-only worker for the claim-race test: ``python claim_harness.py URL OUT START_AT``.

Waits until the wall clock reaches START_AT (so all racers start together),
then claims runs through nawt_core.queue until none is left, "executes" each
(appends its id to OUT, a short sleep) and marks it completed. Far cheaper
than training, so many claims collide.
"""

from __future__ import annotations

import sys
import time

from nawt_core import queue
from nawt_core.store import Store, utcnow


def main(url: str, out: str, start_at: float) -> None:
    store = Store(url, create=False)
    owner = queue.Owner.here("cpu")
    queue.register(store, owner)
    while time.time() < start_at:
        time.sleep(0.005)
    with open(out, "a") as fh:
        while (run := queue.claim(store, owner)) is not None:
            fh.write(f"{run.id}\n")
            fh.flush()
            time.sleep(0.01)
            store.update_run(run.id, status="completed", finished_at=utcnow())
            queue.release(store, run.id, requeue=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))

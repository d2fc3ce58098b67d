"""Which runs-table columns show at a given terminal width, and how wide.

The most useful columns come first (what a researcher scans for at 80
columns); text columns (name, what differs, study, tags) take the room that is
left so that names are not cut while there is room.
"""

from __future__ import annotations

# key, label, fixed width (0: sized to its content)
COLUMNS: list[tuple[str, str, int]] = [
    ("id", "id", 5),
    ("name", "name", 0),
    ("method", "method", 15),
    ("status", "status", 11),
    ("progress", "progress", 15),
    ("where", "worker", 0),  # a running run's host, device and worker
    ("acc", "test %", 6),
    ("best", "best %", 6),
    ("settings", "differs", 0),
    ("study", "study", 0),
    ("tags", "tags", 0),
    ("loss", "loss", 6),
    ("ips", "img/s", 7),
    ("elapsed", "elapsed", 7),
    ("eta", "ETA", 7),
    ("device", "device", 8),
]
LABELS = {key: label for key, label, _w in COLUMNS}
ORDER = [key for key, _l, _w in COLUMNS]
# most useful first: a narrow terminal shows the head of this list
PRIORITY = ["id", "name", "method", "status", "acc", "settings", "progress", "where", "best", "study", "tags",
            "elapsed", "eta", "loss", "ips", "device"]
FLEX_MIN = {"name": 10, "settings": 10, "study": 6, "tags": 6, "where": 6}
FLEX_MAX = {"name": 32, "settings": 48, "study": 16, "tags": 24, "where": 28}
OPTIONAL = {"where"}  # shown only while some run is running; then what differs leaves it room
LIVE_SETTINGS_MAX = 20
PAD = 2  # DataTable's cell padding, one each side
SCROLLBAR = 2


def plan(width: int, natural: dict[str, int]) -> list[tuple[str, int]]:
    """(key, width) of the columns to show at terminal `width`, in table order.

    `natural` holds the longest content of each flexible column."""
    fixed = {key: w for key, _l, w in COLUMNS if w}
    cap = {**FLEX_MAX, "settings": LIVE_SETTINGS_MAX} if natural.get("where") else FLEX_MAX
    want = {k: max(len(LABELS[k]), min(natural.get(k, 0), cap[k])) for k in FLEX_MIN}
    avail = width - SCROLLBAR
    widths: dict[str, int] = {}
    used = 0
    for key in PRIORITY:  # a text column takes its whole width if it can, at least its minimum
        if key in OPTIONAL and not natural.get(key):
            continue
        room = avail - used - PAD
        w = fixed.get(key) or min(want[key], max(room, FLEX_MIN[key]))
        if w > room and widths:
            continue
        widths[key] = w
        used += w + PAD
    return [(key, widths[key]) for key in ORDER if key in widths]

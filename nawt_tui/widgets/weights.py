"""The run detail's per-layer weight statistics (nawt_core.weight_table), under its config."""

from __future__ import annotations

from typing import Any, Sequence

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from nawt_core.weight_table import weight_table


class WeightStats(Static):
    """L2 norm, max |w| and std of every conv/linear weight at the first and the last epoch."""

    def show(self, epochs: Sequence[Any]) -> None:
        w = weight_table(epochs)
        if w is None:
            self.update(Text("weights per layer: none recorded yet (recorded at each epoch's end)", style="dim"))
            return
        t = Table(title=w.title, title_justify="left", title_style="bold underline", box=None,
                  padding=(0, 1), show_edge=False, header_style="bold")
        t.add_column("layer", no_wrap=True)
        for col in w.columns:
            t.add_column(col.replace(" ep ", "\nep "), justify="right", no_wrap=True)
        for layer, cells in w.rows:
            t.add_row(Text(layer), *cells)
        self.update(t)

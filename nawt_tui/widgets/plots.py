"""Terminal plots (textual-plotext) used by the detail and compare screens."""

from __future__ import annotations

from rich.markup import escape
from textual import events
from textual_plotext import PlotextPlot

from nawt_core import spec

# Distinct plotext colours, readable on dark and light backgrounds.
COLORS = ("blue+", "orange+", "green+", "red+", "magenta+", "cyan+", "yellow+", "gray")
# the same colours for Rich (the legend under a plot)
RICH = {"blue+": "bright_blue", "orange+": "orange1", "green+": "bright_green", "red+": "bright_red",
        "magenta+": "bright_magenta", "cyan+": "bright_cyan", "yellow+": "bright_yellow", "gray": "grey50"}


def rich_colour(colour: str | tuple[int, int, int]) -> str:
    return f"rgb({colour[0]},{colour[1]},{colour[2]})" if isinstance(colour, tuple) else RICH.get(colour, colour)


def method_colour(method: str, i: int = 0) -> str | tuple[int, int, int]:
    """The method's colour from its spec (as in the figures), as plotext RGB; else the i-th of COLORS."""
    hex_ = spec.colour(method)
    if not hex_:
        return COLORS[i % len(COLORS)]
    return (int(hex_[1:3], 16), int(hex_[3:5], 16), int(hex_[5:7], 16))


LINE_SERIES = "Pareto front"  # in a scatter plot, the one series drawn as a line


def axis_positions(param, values) -> tuple[dict, list[float], list[str] | None]:
    """(x position per value, tick positions, tick labels) for an evaluation's values: themselves, or
    for a log-spaced grid (rates, times, with 0 in it) their ranks, evenly spaced and labelled with
    the table's column heads, as a terminal plot has no log axis. ``param``: an evalspec.Param or None."""
    ticks = sorted(values)
    if param is None or param.scale != "log":
        return {v: float(v) for v in values}, [float(v) for v in ticks], None
    at = {v: float(i) for i, v in enumerate(ticks)}
    return at, [at[v] for v in ticks], [param.head(v) for v in ticks]


class LinePlot(PlotextPlot):
    """A plot of named series; `set_series` replaces them and redraws."""

    DEFAULT_CSS = """
    LinePlot { height: 1fr; width: 1fr; min-height: 6; }
    LinePlot.-legend { border-bottom: blank; border-subtitle-align: left;
                       border-subtitle-color: $foreground; }
    """

    def __init__(self, title: str, xlabel: str = "", ylabel: str = "", *, id: str | None = None,
                 classes: str | None = None, scatter: bool = False) -> None:
        super().__init__(id=id, classes=classes)
        self.scatter = scatter  # points, not curves: every series but LINE_SERIES is drawn as markers
        self.title = title
        self.xlabel = xlabel
        self.ylabel = ylabel
        self._series: list[tuple[str, list[float], list[float], str | None]] = []
        self._xticks: list[float] | None = None
        self._xlabels: list[str] | None = None
        self._empty = "no data yet"
        self.reverse_x = False

    def on_mount(self) -> None:  # PlotextPlot.on_mount runs too (Textual walks the MRO)
        self._draw()

    def set_series(self, series: list[tuple[str, list[float], list[float], str | None]],
                   xticks: list[float] | None = None, empty: str = "no data yet", reverse_x: bool = False,
                   xlabels: list[str] | None = None) -> None:
        """``reverse_x``: x grows to the left (bits: 8 on the left, 2 on the right, as in the PNGs:
        the harsher stress to the right, like a perturbation strength). ``xlabels``: the ticks' text
        [default: each tick's value]."""
        if (series == self._series and xticks == self._xticks and reverse_x == self.reverse_x
                and empty == self._empty and xlabels == self._xlabels):
            return
        self._series = series
        self._xticks = xticks
        self._xlabels = xlabels
        self.reverse_x = reverse_x
        self._empty = empty
        self._draw()

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        if self.xlabel:
            plt.xlabel(self.xlabel)
        lines = []
        for i, (label, xs, ys, color) in enumerate(self._series):
            pts = [(x, y) for x, y in zip(xs, ys) if y is not None and y == y]
            if pts:
                lines.append((label, *zip(*pts), color or COLORS[i % len(COLORS)]))
        # the legend goes under the plot where it fits: plotext's own sits in the top-left corner,
        # on the curves' start (clean accuracy, the points a reader looks at first)
        glyph = {label: " ●" if self.scatter and label != LINE_SERIES else "━━" for label, *_ in lines}  # as drawn
        legend = "  ".join(f"[{rich_colour(c)}]{glyph[label]}[/] {escape(label)}" for label, _x, _y, c in lines)
        # (one curve needs none: the title names it)
        below = len(lines) > 1 and sum(len(label) + 5 for label, *_ in lines) + 4 <= self.size.width
        self.set_class(below, "-legend")
        self.border_subtitle = legend if below else ""
        sign = -1 if self.reverse_x else 1  # plotext has no inverted axis: plot -x, label the ticks x
        for label, px, py, color in lines:
            points = self.scatter and label != LINE_SERIES
            (plt.scatter if points else plt.plot)([sign * x for x in px], list(py), color=color,
                                                  label=None if below or len(lines) == 1 else label,
                                                  marker="●" if points else "braille")
        drawn = len(lines)
        if not drawn:
            plt.title(f"{self.title}: {self._empty}")
        elif self._xticks:
            labels = self._xlabels if self._xlabels and len(self._xlabels) == len(self._xticks) else None
            plt.xticks([sign * t for t in self._xticks], labels or [f"{t:g}" for t in self._xticks])
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._draw()  # the legend moves into the plot, or out of it, with the width

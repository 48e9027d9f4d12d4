"""The health page's chart of a row's last runs: a small SVG drawn on the server, no JavaScript.

Each run is a column: on top, a bar as tall as its duration (relative to the longest of the runs shown),
coloured by how the run ended (green succeeded, amber partial, red failed, grey running); below, its
created, updated, deleted and failed counts stacked (relative to the largest total). Each column has a title
(a tooltip) with the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from ..overview import human_seconds
from .status import RunPoint

__all__ = ["COLOURS", "COUNT_COLOURS", "legend", "run_chart"]

COLOURS = {"green": "#2e7d32", "amber": "#f0a202", "red": "#c62828", "grey": "#9e9e9e"}
"""The colours of the levels (and of the duration bars): green, amber, red; grey for a run still going."""

_STATUS_COLOURS = {
    "succeeded": COLOURS["green"],
    "partial": COLOURS["amber"],
    "failed": COLOURS["red"],
    "running": COLOURS["grey"],
}

COUNT_COLOURS = {"created": "#1565c0", "updated": "#64b5f6", "deleted": "#6d4c41", "failed": COLOURS["red"]}
"""The colours of the stacked counts."""

# The chart's geometry, in pixels: one column per run.
_COLUMN, _GAP, _DURATION_HEIGHT, _COUNTS_HEIGHT, _SPACE = 7, 1, 24, 16, 2
_SLOTS = 30


def run_chart(runs: Sequence[RunPoint]) -> SafeString:
    """An inline `<svg>` of `runs` (oldest first, at most 30 drawn: the last ones); an empty string for none."""
    runs = list(runs)[-_SLOTS:]
    if not runs:
        return SafeString("")
    width = _SLOTS * (_COLUMN + _GAP)
    height = _DURATION_HEIGHT + _SPACE + _COUNTS_HEIGHT
    longest = max((run.duration or 0.0 for run in runs), default=0.0) or 1.0
    largest = max((run.created + run.updated + run.deleted + run.failed for run in runs), default=0) or 1
    shapes = []
    for index, run in enumerate(runs):
        x = index * (_COLUMN + _GAP)
        tall = max(1, round((run.duration or 0.0) / longest * _DURATION_HEIGHT))
        colour = _STATUS_COLOURS.get(run.status, COLOURS["grey"])
        title = (
            f"{run.started:%Y-%m-%d %H:%M} {run.status}, {human_seconds(run.duration)}: {run.created} created, "
            f"{run.updated} updated, {run.deleted} deleted, {run.failed} failed"
        )
        parts = [
            format_html(
                '<rect class="duration {}" x="{}" y="{}" width="{}" height="{}" fill="{}"/>',
                run.status, x, _DURATION_HEIGHT - tall, _COLUMN, tall, colour,
            )
        ]
        bottom = height
        for kind in ("created", "updated", "deleted", "failed"):
            count = getattr(run, kind)
            if not count:
                continue
            part = max(1, round(count / largest * _COUNTS_HEIGHT))
            bottom -= part
            parts.append(
                format_html(
                    '<rect class="count {}" x="{}" y="{}" width="{}" height="{}" fill="{}"/>',
                    kind, x, bottom, _COLUMN, part, COUNT_COLOURS[kind],
                )
            )
        shapes.append(format_html("<g><title>{}</title>{}</g>", title, SafeString("".join(parts))))
    return format_html(
        '<svg class="pyck-runs" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" '
        'role="img" aria-label="{}">{}</svg>',
        width, height, width, height, f"the last {len(runs)} runs", SafeString("".join(shapes)),
    )


def legend() -> SafeString:
    """The chart's legend: what each colour means."""
    items = [*((f"run {status}", colour) for status, colour in _STATUS_COLOURS.items()), *COUNT_COLOURS.items()]
    return format_html_join(
        " ",
        '<span class="pyck-legend"><svg width="10" height="10"><rect width="10" height="10" fill="{}"/></svg> {}</span>',
        ((colour, name) for name, colour in items),
    )

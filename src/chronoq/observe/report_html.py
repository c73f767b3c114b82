"""`chronoq report --html FILE`: the report as one self-contained HTML file.

Inline CSS and inline SVG charts (the wait and run time histograms, per-task
success rate, throughput and p95 run time): no script, no font, no stylesheet and
no URL of any kind, so it opens offline, from a mail attachment or a CI artifact.
(Inline SVG in HTML needs no xmlns, so not even the SVG namespace URL appears.)
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from chronoq.core.rollups import BUCKETS_MS
from chronoq.observe.report import NEAR_CAP, Report, percent, seconds
from chronoq.observe.rollups import Durations

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;
text-align:left}th{background:#f4f4f4}.num{text-align:right}
.cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #ddd;border-radius:6px;
padding:.6em 1em}.card b{display:block;font-size:1.5em}
svg text{font:11px system-ui,sans-serif;fill:#444}
"""
_BAR = "#4a7bd0"


def _label(i: int) -> str:
    if i >= len(BUCKETS_MS):
        return f">{BUCKETS_MS[-1] / 1000:g}s"
    ms = BUCKETS_MS[i]
    return f"{ms}ms" if ms < 1000 else f"{ms / 1000:g}s"


def histogram_svg(title: str, d: Durations) -> str:
    """Vertical bars, one per bucket (counts), labelled by upper bound."""
    width, height, left, bottom = 640, 200, 40, 40
    n = len(d.buckets)
    peak = max(d.buckets) or 1
    step = (width - left) / n
    parts = [f'<svg width="{width}" height="{height + 20}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']  # fmt: skip
    for i, count in enumerate(d.buckets):
        h = (height - bottom) * count / peak
        x = left + i * step
        y = height - bottom - h
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{step - 4:.1f}" height="{h:.1f}" '
            f'fill="{_BAR}"><title>{_label(i)}: {count}</title></rect>'
        )
        if count:
            parts.append(f'<text x="{x + step / 2:.1f}" y="{y - 3:.1f}" '
                         f'text-anchor="middle">{count}</text>')  # fmt: skip
        parts.append(
            f'<text x="{x + step / 2:.1f}" y="{height - bottom + 14}" text-anchor="middle" '
            f'transform="rotate(30 {x + step / 2:.1f} {height - bottom + 14})">{_label(i)}</text>'
        )
    parts.append(
        f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" '
        'stroke="#999"/></svg>'
    )
    return "".join(parts)


def bars_svg(title: str, rows: Sequence[tuple[str, float, str]]) -> str:
    """Horizontal bars: (label, value, value as text) per row."""
    if not rows:
        return "<p>(no data)</p>"
    width, row_h, left = 640, 22, 260
    peak = max(v for _, v, _ in rows) or 1
    height = row_h * len(rows) + 10
    parts = [f'<svg width="{width}" height="{height}" role="img" '
             f'aria-label="{escape(title)}"><title>{escape(title)}</title>']  # fmt: skip
    for i, (label, value, text) in enumerate(rows):
        y = 5 + i * row_h
        w = (width - left - 90) * value / peak
        parts.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(label)}</text>')
        parts.append(
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{_BAR}"/>'
        )
        parts.append(f'<text x="{left + w + 6:.1f}" y="{y + 14}">{escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    if not rows:
        return "<p>(none)</p>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _marks(d: Durations) -> list[str]:
    return [seconds(d.p50), seconds(d.p95), seconds(d.p99)]


def report_html(report: Report) -> str:
    w = report.window
    c = w.counts
    title = f"chronoq report: the last {w.hours:g} hour(s)"
    cards = [
        ("success rate", percent(w.success_rate)),
        ("throughput", f"{w.throughput:.3f} jobs/s"),
        ("attempts", str(c["started"])),
        ("dead", str(c["dead"])),
        ("wait p95", seconds(w.wait.p95)),
        ("run p95", seconds(w.run.p95)),
    ]
    task_label = [f"{r.queue} / {r.task}" for r in w.rows]
    sections = [
        f"<h1>{escape(title)}</h1>",
        f"<p>{escape(w.start.isoformat(timespec='seconds'))} to "
        f"{escape(w.end.isoformat(timespec='seconds'))} (UTC)</p>",
        '<div class="cards">'
        + "".join(f'<div class="card">{escape(k)}<b>{escape(v)}</b></div>' for k, v in cards)
        + "</div>",
        "<h2>Run time</h2>",
        histogram_svg("run time histogram", w.run),
        "<h2>Wait time</h2>",
        histogram_svg("wait time histogram", w.wait),
        "<h2>Success rate per task</h2>",
        bars_svg(
            "success rate per task",
            [
                (label, r.success_rate or 0.0, percent(r.success_rate))
                for label, r in zip(task_label, w.rows, strict=True)
            ],
        ),
        "<h2>Throughput per task</h2>",
        bars_svg(
            "throughput per task",
            [
                (label, r.throughput, f"{r.throughput:.3f}/s")
                for label, r in zip(task_label, w.rows, strict=True)
            ],
        ),
        "<h2>Slowest tasks (run p95)</h2>",
        bars_svg(
            "slowest tasks",
            [
                (f"{r.queue} / {r.task}", r.run.p95 or 0.0, seconds(r.run.p95))
                for r in report.slowest
            ],
        ),
        "<h2>Tasks</h2>",
        _table(
            [
                "queue",
                "task",
                "attempts",
                "succeeded",
                "failed",
                "dead",
                "success",
                "throughput",
                "wait p50",
                "wait p95",
                "run p50",
                "run p95",
                "run p99",
            ],
            [
                [
                    r.queue,
                    r.task,
                    r.counts["started"],
                    r.counts["succeeded"],
                    r.counts["failed"],
                    r.counts["dead"],
                    percent(r.success_rate),
                    f"{r.throughput:.3f}/s",
                    seconds(r.wait.p50),
                    seconds(r.wait.p95),
                    seconds(r.run.p50),
                    seconds(r.run.p95),
                    seconds(r.run.p99),
                ]
                for r in w.rows
            ],
        ),
        "<h2>Top failure groups</h2>",
        _table(
            ["group", "task", "class", "failures", "dead now", "last seen", "title"],
            [
                [
                    g.fingerprint,
                    g.task,
                    g.error_class,
                    g.count,
                    g.dead,
                    g.last_seen.isoformat(timespec="seconds") if g.last_seen else "-",
                    g.title,
                ]
                for g in report.groups
            ],
        ),
        "<h2>Schedule lateness</h2>",
        _table(
            ["queue", "task", "runs", "p50", "p95", "p99"],
            [
                [
                    r.queue,
                    r.task,
                    r.lateness.count,
                    seconds(r.lateness.p50),
                    seconds(r.lateness.p95),
                    seconds(r.lateness.p99),
                ]
                for r in report.lateness
            ],
        ),
        "<h2>Schedules (due to enqueue)</h2>",
        _table(
            ["schedule", "fired", "missed", "skipped", "p50", "p95", "p99"],
            [
                [s.schedule, s.fired, s.missed, s.skipped, *_marks(s.enqueue_lateness)]
                for s in report.ops.schedules
            ],
        ),
        f"<h2>Limits near their cap (from {NEAR_CAP:.0%} used)</h2>",
        _table(
            ["limit", "kind", "key", "used", "cap"],
            [[n.limit, n.kind, n.key, n.used, n.cap] for n in report.near_cap],
        ),
        "<h2>Limit decisions</h2>",
        _table(
            ["limit", "granted", "denied", "denied share"],
            [[x.limit, x.granted, x.denied, percent(x.denied_share)] for x in report.ops.limits],
        ),
        "<h2>Locks</h2>",
        _table(
            ["family", "contended", "timed out", "lost"],
            [[x.family, x.contended, x.timeout, x.lost] for x in report.ops.locks],
        ),
        "<h2>Worker processes</h2>",
        _table(
            ["queue", "peak MB", "mean MB", "CPU s", "samples"],
            [
                [x.queue, x.rss_peak_mb or "-", x.rss_mean_mb or "-", x.cpu_seconds, x.samples]
                for x in report.ops.workers
            ],
        ),
        "<h2>Queues now</h2>",
        _table(
            ["queue", "queued", "scheduled", "running", "dead", "oldest waiting"],
            [
                [
                    q.queue,
                    q.jobs["queued"],
                    q.jobs["scheduled"],
                    q.jobs["running"],
                    q.jobs["dead"],
                    f"{q.oldest_waiting_seconds:.1f} s",
                ]
                for q in w.queues
            ],
        ),
    ]
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f"</title><style>{_CSS}</style></head><body>\n" + "\n".join(sections) + "\n</body></html>\n"
    )

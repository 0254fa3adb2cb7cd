"""The calls page's chart: calls started and reply latency (p50, p95) per minute over the last hour.

Pure: stored calls and ``reply`` timeline entries in, per-minute figures and a
small SVG out (served as an image, so the page needs no script to draw it).
"""

from __future__ import annotations

import math
import time
from typing import Any

from markupsafe import escape

STREAMING = ("connecting", "live", "handed_off")


def per_minute(calls: list[dict[str, Any]], replies: list[dict[str, Any]], now: float | None = None) -> list[dict]:
    """60 rows, oldest first: minute start, calls started, calls live during the minute, reply p50/p95 (ms)."""
    now = now or time.time()
    start = math.floor(now / 60) * 60 - 59 * 60
    rows = [{"minute": start + 60 * i, "calls": 0, "live": 0, "latencies": []} for i in range(60)]
    for call in calls:
        index = int((call["created_at"] - start) // 60)
        if 0 <= index < 60:
            rows[index]["calls"] += 1
        end = call.get("ended_at") or (now if call.get("state") in STREAMING else None)
        if end is None:  # never streamed and never ended (e.g. answered with PCMO only): not a live call
            continue
        first, last = max(0, int((call["created_at"] - start) // 60)), min(59, int((end - start) // 60))
        for i in range(first, last + 1):
            rows[i]["live"] += 1
    for reply in replies:
        index = int((reply["at"] - start) // 60)
        ms = reply["detail"].get("latency_ms")
        if 0 <= index < 60 and isinstance(ms, (int, float)):
            rows[index]["latencies"].append(float(ms))
    for row in rows:
        values = sorted(row.pop("latencies"))
        row["p50"] = values[len(values) // 2] if values else None
        row["p95"] = values[min(len(values) - 1, int(0.95 * len(values)))] if values else None
    return rows


FONT = "system-ui, -apple-system, &quot;Segoe UI&quot;, sans-serif"  # the page's (an <img> inherits no CSS)


def latency_axis(samples: list[float]) -> float:
    """The latency axis's top: the 95th percentile of the hour's reply latencies (one slow reply does not
    squash every other minute), at least 500 ms, rounded up to 100 ms."""
    values = sorted(samples)
    robust = values[min(len(values) - 1, int(0.95 * len(values)))] if values else 0.0
    return max(500.0, math.ceil(robust / 100) * 100)


def hour_svg(rows: list[dict], live: int, axis: float | None = None, width: int = 720, height: int = 160) -> str:
    """Bars: calls live during each minute; line and dots: reply latency p95 per minute."""
    top, bottom, left = 24, 20, 36
    plot_h = height - top - bottom
    step = (width - left - 8) / len(rows)
    most = max([1, *(r["live"] for r in rows)])
    slowest = axis or latency_axis([r["p95"] for r in rows if r["p95"] is not None])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
             f'height="{height}" role="img" aria-label="calls and reply latency, last hour" '
             f'font-family="{FONT}">',
             f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
             f'<text x="4" y="16" font-size="13" fill="#1d2330">live now: {live} · '
             f'<tspan fill="#2563eb">■</tspan> calls live per minute (up to {most}) · '
             f'<tspan fill="#b45309">●</tspan> reply p95 per minute (axis to {slowest:.0f} ms)</text>']  # fmt: skip
    points = []
    for i, row in enumerate(rows):
        x = left + i * step
        bar = plot_h * row["live"] / most
        if row["live"]:
            title = f"{row['live']} live, {row['calls']} started"
            parts.append(f'<rect x="{x:.1f}" y="{top + plot_h - bar:.1f}" width="{max(step - 1, 1):.1f}" '
                         f'height="{bar:.1f}" fill="#2563eb" fill-opacity="0.45">'
                         f"<title>{title}</title></rect>")  # fmt: skip
        if row["p95"] is not None:  # a minute slower than the axis sits on its top edge (its tooltip says how slow)
            y = top + plot_h - plot_h * min(row["p95"], slowest) / slowest
            points.append(f"{x + step / 2:.1f},{y:.1f}")
            title = escape(f"reply p50 {row['p50']:.0f} ms, p95 {row['p95']:.0f} ms")
            parts.append(
                f'<circle cx="{x + step / 2:.1f}" cy="{y:.1f}" r="2.5" fill="#b45309"><title>{title}</title></circle>'
            )
    if len(points) > 1:
        parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="#b45309" stroke-width="1.5"/>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" stroke="#94a3b8"/>')
    parts.append(f'<text x="{left}" y="{height - 4}" font-size="12" fill="#475569">an hour ago</text>')
    parts.append(f'<text x="{width - 34}" y="{height - 4}" font-size="12" fill="#475569">now</text>')
    parts.append("</svg>")
    return "".join(parts)

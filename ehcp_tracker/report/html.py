"""The board pack as one self-contained HTML file: no scripts, no fonts, no images to fetch.

Charts are inline SVG drawn here in Python, each with a ``<title>`` and ``<desc>`` and a data table
beside it; RAG is written as a word and a symbol as well as a colour; the print stylesheet keeps each
chart on one page and repeats table headers. Everything shown comes from ``data.PackData``.
"""

from __future__ import annotations

import html
import math
import re

import pandas as pd

from ..output import neutralise
from .data import (AMBER_COUNT_SHARE, AMBER_POINTS, BASIS_WORDS, EXAMPLE_TARGET, HTML_BACKLOG_LIMIT, KIND_WORDS,
                   TREND_MONTHS, QUERY_INTRO, PackData, count_text, value_text)

RAG_TEXT = {"green": ("●", "Green"), "amber": ("▲", "Amber"), "red": ("■", "Red"), "no_target": ("–", "No target"),
            "no_data": ("○", "No data")}
NUM = ' class="num"'
ARROWS = {"up": "↑", "down": "↓", "same": "→", "none": ""}

CSS = """
:root { --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --accent: #0b4f8a; --target: #6e3fb3;
  --green: #116329; --green-bg: #dafbe1; --amber: #7d4e00; --amber-bg: #fff1c2; --red: #a40e26; --red-bg: #ffe1e1; }
* { box-sizing: border-box; }
body { font-family: system-ui, "DejaVu Sans", "Segoe UI", Arial, sans-serif; color: var(--ink); margin: 0 auto;
  max-width: 1200px; padding: 24px; line-height: 1.4; font-size: 15px; }
h1 { font-size: 1.7em; margin: 0 0 .2em; }
h2 { font-size: 1.3em; border-bottom: 2px solid var(--accent); padding-bottom: .2em; margin-top: 2em; }
h3 { font-size: 1.05em; margin: 1.2em 0 .4em; }
.meta, .note, figcaption, caption { color: var(--muted); }
caption { text-align: left; font-size: .9em; padding: .3em 0; caption-side: top; }
nav ol { columns: 2; padding-left: 1.4em; margin: .5em 0 0; }
a { color: var(--accent); }
table { border-collapse: collapse; margin: .4em 0 1em; font-size: .9em; }
th, td { border-bottom: 1px solid var(--line); padding: .3em .6em; text-align: left; vertical-align: top; }
thead th { border-bottom: 2px solid var(--ink); background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody th[scope=row] { font-weight: 600; }
tr.total th, tr.total td { font-weight: 700; border-top: 2px solid var(--ink); }
.rag { display: inline-block; min-width: 6.5em; white-space: nowrap; padding: .1em .5em; border-radius: 3px; font-weight: 700;
  border: 1px solid currentColor; }
.rag-green { color: var(--green); background: var(--green-bg); }
.rag-amber { color: var(--amber); background: var(--amber-bg); }
.rag-red { color: var(--red); background: var(--red-bg); }
.rag-none { color: var(--muted); border-color: var(--line); }
.better { color: var(--green); } .worse { color: var(--red); }
td[data-field=direction] { white-space: nowrap; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 14px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 4px; padding: 8px; break-inside: avoid; }
figure h3 { margin: 0 0 4px; font-size: .95em; }
figcaption { font-size: .85em; }
svg { display: block; max-width: 100%; height: auto; }
svg text { font-family: inherit; fill: var(--muted); font-size: 10px; }
svg .grid { stroke: #e6e9ed; stroke-width: 1; }
svg .axis { stroke: #8c959f; stroke-width: 1; }
svg .series path { fill: none; stroke: var(--accent); stroke-width: 2.5; }
svg .series circle { fill: var(--accent); }
svg .series text.last { fill: var(--accent); font-weight: 700; font-size: 11px; paint-order: stroke;
  stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }
svg .target { fill: none; stroke: var(--target); stroke-width: 2; stroke-dasharray: 6 4; }
svg .bar { fill: var(--accent); } svg .bar.past { fill: var(--red); } svg .bar.other { fill: #8c959f; }
svg .barlabel { fill: var(--ink); }
.key { font-size: .9em; color: var(--muted); }
.key .solid, .key .dashed { display: inline-block; width: 2.2em; vertical-align: middle; margin: 0 .3em; }
.key .solid { border-top: 3px solid var(--accent); } .key .dashed { border-top: 3px dashed var(--target); }
.wide { overflow-x: auto; }
.ageing-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 20px; }
code { font-size: .9em; }
.partial { color: var(--amber); font-size: .8em; font-weight: 600; }
tr.commentary td { background: #f6f8fa; font-size: .9em; border-bottom: 2px solid var(--line); }
.needs { border: 2px solid var(--red); background: var(--red-bg); padding: .5em 1em; border-radius: 4px; }
.needs h2 { border: 0; margin: 0 0 .3em; font-size: 1.1em; color: var(--red); }
.audience { display: inline-block; padding: .1em .6em; border: 1px solid var(--accent); border-radius: 3px; color: var(--accent); }
@page { size: A4 landscape; margin: 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  section { break-before: page; page-break-before: always; }
  section:first-of-type, section.follow { break-before: auto; page-break-before: auto; }
  .charts { grid-template-columns: repeat(6, 1fr); gap: 4px; }
  .screen-only { display: none; }
  table.headline { font-size: 8pt; } table.headline th, table.headline td { padding: .1em .3em; }
  .rag { min-width: 0; padding: 0 .3em; }
  figure { padding: 3px; } figure h3 { font-size: 8pt; } figcaption { display: none; }
  table { font-size: 8.5pt; } th, td { padding: .15em .35em; }
  thead { display: table-header-group; }
  tr, figure { break-inside: avoid; page-break-inside: avoid; }
  .wide { overflow: visible; }
  .rag, thead th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  a { color: inherit; text-decoration: none; }
}
"""

SECTIONS = [("headline", "Headline KPIs"), ("trends", "Twelve-month trends against target"),
            ("benchmark", "Benchmarks: England, region and comparators"),
            ("tracker", "Monthly tracker"), ("ageing", "Ageing of open assessments and reviews"),
            ("backlog", "Backlog"), ("quality", "Data quality"), ("about", "About these figures")]
FOLLOW = {"tracker", "quality", "about"}  # short sections: printed on, not from a new page


def esc(value) -> str:
    """Escape for HTML; text from the case system is also neutralised, as in every export."""
    return html.escape(str(neutralise(value)), quote=True)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _month_short(month: str) -> str:
    return pd.Timestamp(f"{month}-01").strftime("%b %Y")


def long_date(day) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def period_text(period: str) -> str:
    """"2026-01..2026-10" -> "Jan–Oct 2026"; anything else as it is."""
    found = re.fullmatch(r"(\d{4})-(\d{2})\.\.(\d{4})-(\d{2})", period or "")
    if not found:
        return period
    start, end = pd.Timestamp(f"{found[1]}-{found[2]}-01"), pd.Timestamp(f"{found[3]}-{found[4]}-01")
    return f"{start:%b} – {end:%b %Y}" if start.year == end.year else f"{start:%b %Y} – {end:%b %Y}"


def _isnan(v) -> bool:
    """Blank: nothing to show (a suppressed "fewer than 5" in a public pack is a gap in a chart too)."""
    return v is None or isinstance(v, str) or (isinstance(v, float) and math.isnan(v))


def render(pack: PackData) -> str:
    title = f"EHC board pack: {pack.month_label}"
    audience = (f' <span class="audience" data-audience>{esc(pack.audience)}</span>' if pack.audience else "")
    shown = [(k, n) for k, n in SECTIONS if k != "benchmark" or _has_benchmarks(pack)]
    parts = [
        "<!DOCTYPE html>", '<html lang="en-GB">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
        "<header>", f"<h1>{esc(title)}{audience}</h1>",
        f'<p class="meta">EHC needs assessments and annual reviews against the statutory clocks of the SEND '
        f'Regulations 2014. Figures as at <strong><time datetime="{pack.as_of.isoformat()}">'
        f'{long_date(pack.as_of)}</time></strong>: anything dated later has not happened yet.</p>',
        '<nav aria-label="Contents"><ol>'
        + "".join(f'<li><a href="#{key}">{esc(name)}</a></li>' for key, name in shown) + "</ol></nav>",
        "</header>", "<main>", _needs_commentary(pack),
        _headline(pack), _trends(pack), _benchmark(pack), _tracker(pack), _ageing(pack), _backlog(pack),
        _quality(pack), _about(pack),
        "</main>", "</body>", "</html>",
    ]
    return "\n".join(p for p in parts if p) + "\n"


def _section(key: str, body: str, pack: PackData | None = None) -> str:
    name = dict(SECTIONS)[key]
    keys = [k for k, _ in SECTIONS if k != "benchmark" or (pack is not None and _has_benchmarks(pack))]
    number = keys.index(key) + 1 if key in keys else len(keys)
    follow = ' class="follow"' if key in FOLLOW else ""
    return (f'<section id="{key}"{follow} aria-labelledby="h-{key}">\n<h2 id="h-{key}">{number}. {esc(name)}</h2>\n'
            f"{body}\n</section>")


def _needs_commentary(pack: PackData) -> str:
    """Red KPIs with no commentary, listed first: a board should not meet a red figure unexplained."""
    if not pack.needs_commentary:
        return ""
    items = "".join(f"<li>{esc(t)}</li>" for t in pack.needs_commentary)
    return (f'<aside class="needs" id="needs-commentary" aria-labelledby="h-needs"><h2 id="h-needs">Needs commentary'
            f'</h2><p>These measures are Red this month and have no commentary yet:</p><ul>{items}</ul></aside>')


def rag_badge(status: str) -> str:
    symbol, word = RAG_TEXT.get(status, RAG_TEXT["no_target"])
    return f'<span class="rag rag-{status}"><span aria-hidden="true">{symbol}</span> {word}</span>'


def direction_text(row) -> str:
    if row["movement"] == "none":
        return "no comparison"
    if row["movement"] == "same":
        return '<span aria-hidden="true">→</span> no change'
    size = abs(row["change"])
    amount = f"{size:.1f} pts" if row["unit"] == "percent" else f"{int(round(size)):,}"
    text = f'<span aria-hidden="true">{ARROWS[row["movement"]]}</span> {row["movement"]} {amount}'
    if row["judgement"]:
        text += f', <span class="{row["judgement"]}">{row["judgement"]}</span>'
    return text


def _raw(value) -> str:
    return "" if _isnan(value) else repr(float(value))


def _partial(row) -> str:
    return ' <span class="partial" title="month-end review count from before the first import">partial</span>' \
        if row.get("complete") == "no" else ""


def _counted(r, prefix: str = "") -> str:
    if r["unit"] == "percent":
        return f'{count_text(r[f"{prefix}numerator"])} of {count_text(r[f"{prefix}denominator"])}'
    if r["unit"] == "weeks":
        return f'{count_text(r[f"{prefix}denominator"])} plans'
    if r["unit"] == "number":
        return f'{count_text(r[f"{prefix}numerator"])} cases, {count_text(r[f"{prefix}denominator"])} caseworkers'
    return ""


def _example_label(pack: PackData, target) -> str:
    """The words beside a target from the example trajectory (none beside a council's own, or no target)."""
    if not pack.example_targets or _isnan(target):
        return ""
    return f'<br><small class="example-target">{esc(EXAMPLE_TARGET)}</small>'


def _headline(pack: PackData) -> str:
    h = pack.headline
    first = h.iloc[0] if len(h) else {}
    periods = {p: (first.get(f"{p}_period", "") if len(h) else "") for p in ("ytd", "rolling", "last_year")}
    columns = [("KPI", ""), (esc(pack.month_label), NUM), ("Counted", NUM), ("Target", NUM), ("Against target", ""),
               ("Last month", NUM), ("Direction of travel", ""),
               (f"{BASIS_WORDS['year_to_date']}<br><small>{esc(periods['ytd'])}</small>", NUM),
               (f"{BASIS_WORDS['rolling_12_months']}<br><small>{esc(periods['rolling'])}</small>", NUM),
               (f"{BASIS_WORDS['month_last_year']}<br><small>{esc(periods['last_year'])}</small>", NUM)]
    head = "<thead><tr>" + "".join(f'<th scope="col"{cls}>{name}</th>' for name, cls in columns) + "</tr></thead>"
    notes = {}
    if pack.commentary is not None:
        notes = {r["kpi"]: r for _, r in pack.commentary.iterrows()}
    body = []
    for _, r in h.iterrows():
        body.append(
            f'<tr data-kpi="{esc(r["kpi"])}" data-rag="{r["rag"]}">'
            f'<th scope="row">{esc(r["title"])}</th>'
            f'<td class="num" data-field="value" data-raw="{_raw_or_text(r["value"])}">'
            f'{value_text(r["value"], r["unit"])}{_partial(r)}</td>'
            f'<td class="num" data-field="counted" data-numerator="{_raw_or_text(r["numerator"])}" '
            f'data-denominator="{_raw_or_text(r["denominator"])}">{_counted(r)}</td>'
            f'<td class="num" data-field="target" data-raw="{_raw(r["target"])}">{value_text(r["target"], r["unit"])}'
            f'{_example_label(pack, r["target"])}</td>'
            f'<td data-field="rag">{rag_badge(r["rag"])}</td>'
            f'<td class="num" data-field="previous" data-raw="{_raw_or_text(r["previous"])}">'
            f'{value_text(r["previous"], r["unit"])}</td>'
            f'<td data-field="direction">{direction_text(r)}</td>'
            f'<td class="num" data-field="ytd_value" data-raw="{_raw_or_text(r["ytd_value"])}">'
            f'{value_text(r["ytd_value"], r["unit"])}</td>'
            f'<td class="num" data-field="rolling_value" data-raw="{_raw_or_text(r["rolling_value"])}">'
            f'{value_text(r["rolling_value"], r["unit"])}</td>'
            f'<td class="num" data-field="last_year_value" data-raw="{_raw_or_text(r["last_year_value"])}">'
            f'{value_text(r["last_year_value"], r["unit"])}</td></tr>')
        if r["kpi"] in notes:  # beside every KPI that has commentary; a red one without is listed at the top
            c = notes[r["kpi"]]
            owner = f' <strong>Owner:</strong> {esc(c["owner"])}.' if c["owner"] else ""
            action = f' <strong>Action:</strong> {esc(c["action"])}.' if c["action"] else ""
            body.append(f'<tr class="commentary" data-commentary-for="{esc(r["kpi"])}"><td colspan="{len(columns)}">'
                        f'<strong>Commentary:</strong> {esc(c["commentary"])}{action}{owner}</td></tr>')
    example = (f'<p class="key example-targets"><strong>Targets:</strong> every target shown is the shipped '
               f'example trajectory (rules/kpi/targets.toml), {esc(EXAMPLE_TARGET)}; set the council\'s own with '
               '<code>ehcp setup --kpi-targets FILE</code>.</p>' if pack.example_targets else "")
    key = example + (f'<p class="key">Against target: {rag_badge("green")} on or better than target; {rag_badge("amber")} '
           f'within {AMBER_POINTS:g} percentage points (counts: {AMBER_COUNT_SHARE:.0%} of the target); '
           f'{rag_badge("red")} further off; {rag_badge("no_data")} a target but nothing to measure this month; '
           f'{rag_badge("no_target")} no target set (or a volume, where neither up nor down is better). '
           'Better or worse is judged by which way each measure should move (for the lateness bands and the '
           'backlog, down is better; for volumes, neither). Rates count the clocks that stopped in the month (a '
           'plan counts in the month it was issued); counts of open cases are at the end of the month.</p>')
    table = (f'<div class="wide"><table class="headline" data-month="{esc(pack.month)}"><caption>Headline KPIs for '
             f'{esc(pack.month_label)}, with last month, the year to date, the rolling 12 months and the same month '
             f'last year</caption>{head}<tbody>' + "\n".join(body) + "</tbody></table></div>")
    return _section("headline", table + key, pack)


def _raw_or_text(value) -> str:
    return "" if isinstance(value, str) else _raw(value)


# ---- charts ---------------------------------------------------------------------------------------

W, H, LEFT, RIGHT, TOP, BOTTOM = 360, 190, 44, 16, 14, 30


def _nice_max(values: list[float]) -> float:
    """The top of a count axis: four gridline steps of 1, 2 or 5 times a power of ten (24 -> 40)."""
    top = max([v for v in values if not _isnan(v)] + [1.0]) * 1.05
    tick = top / 4
    magnitude = 10 ** math.floor(math.log10(tick))
    step = next(s for s in (1, 2, 5, 10) if s * magnitude >= tick)
    return 4 * max(step * magnitude, 1)


def _path(points: list[tuple[float, float] | None]) -> str:
    out, pen = [], "M"
    for point in points:
        if point is None:
            pen = "M"
            continue
        out.append(f"{pen}{point[0]:.1f} {point[1]:.1f}")
        pen = "L"
    return " ".join(out)


def line_chart(chart_id: str, title: str, unit: str, months: list[str], values: list[float],
               targets: list[float]) -> str:
    """A 12-month line with the target (trajectory) dashed, as accessible inline SVG."""
    ymax = 100.0 if unit == "percent" else _nice_max(values + targets)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    step = plot_w / max(len(months) - 1, 1)
    x = lambda i: LEFT + i * step  # noqa: E731
    y = lambda v: TOP + (1 - v / ymax) * plot_h  # noqa: E731
    shown = [(m, v) for m, v in zip(months, values) if not _isnan(v)]
    desc = (f"{title}, {_month_short(months[0])} to {_month_short(months[-1])}: "
            + "; ".join(f"{_month_short(m)} {value_text(v, unit)}" for m, v in zip(months, values))
            + (f". Target {value_text(targets[-1], unit)}." if not _isnan(targets[-1]) else ". No target."))
    parts = [f'<svg class="chart" id="{chart_id}" data-points="{len(shown)}" viewBox="0 0 {W} {H}" width="{W}" '
             f'height="{H}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">',
             f'<title id="{chart_id}-t">{esc(title)}: twelve-month trend</title>', f'<desc id="{chart_id}-d">{esc(desc)}</desc>']
    for k in range(5):
        v = ymax * k / 4
        label = f"{v:g}%" if unit == "percent" else f"{v:,.0f}"
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
                     f'<text x="{LEFT - 5}" y="{y(v) + 3.5:.1f}" text-anchor="end">{label}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{W - RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}"/>')
    for i, m in enumerate(months):
        stamp = pd.Timestamp(f"{m}-01")
        parts.append(f'<text x="{x(i):.1f}" y="{H - BOTTOM + 13}" text-anchor="middle">{stamp:%b}</text>')
        if stamp.month == 1 or i == 0:
            parts.append(f'<text x="{x(i):.1f}" y="{H - BOTTOM + 25}" text-anchor="middle">{stamp.year}</text>')
    target_points = [None if _isnan(t) else (x(i), y(min(t, ymax))) for i, t in enumerate(targets)]
    if any(target_points):
        parts.append(f'<path class="target" d="{_path(target_points)}"><title>target</title></path>')
    if shown:
        points = [None if _isnan(v) else (x(i), y(v)) for i, v in enumerate(values)]
        circles = "".join(f'<circle cx="{p[0]:.1f}" cy="{p[1]:.1f}" r="3"/>' for p in points if p)
        last = max(i for i, v in enumerate(values) if not _isnan(v))
        lx, ly = points[last]
        parts.append(f'<g class="series"><path d="{_path(points)}"/>{circles}'
                     f'<text class="last" x="{min(lx, W - RIGHT - 20):.1f}" y="{max(ly - 8, 10):.1f}" '
                     f'text-anchor="middle">{value_text(values[last], unit)}</text></g>')
    else:
        parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" text-anchor="middle">'
                     "nothing to measure in these months</text>")
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(chart_id: str, title: str, labels: list[str], counts: list[int], past: list[bool]) -> str:
    """Horizontal bars, one a band; bands past the limit in red and marked with a word."""
    row_h, left, width = 24, 150, 440
    height = TOP + row_h * len(labels) + 10
    top = max(counts + [1])
    scale = (width - left - 60) / top
    desc = f"{title}: " + "; ".join(f"{label} {count}" for label, count in zip(labels, counts))
    parts = [f'<svg class="chart bars" id="{chart_id}" data-points="{sum(1 for c in counts if c)}" '
             f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">',
             f'<title id="{chart_id}-t">{esc(title)}</title><desc id="{chart_id}-d">{esc(desc)}</desc>',
             '<g class="series">']
    for i, (label, count, late) in enumerate(zip(labels, counts, past)):
        y0 = TOP + i * row_h
        parts.append(f'<text class="barlabel" x="{left - 6}" y="{y0 + 15}" text-anchor="end">{esc(label)}</text>'
                     f'<rect class="bar{" past" if late else ""}" x="{left}" y="{y0 + 3}" '
                     f'width="{max(count * scale, 1 if count else 0):.1f}" height="{row_h - 8}"/>'
                     f'<text class="barlabel" x="{left + count * scale + 5:.1f}" y="{y0 + 15}">{count:,}'
                     f'{" past limit" if late and count else ""}</text>')
    parts.append("</g></svg>")
    return "".join(parts)


def _trends(pack: PackData) -> str:
    trend = pack.trend
    months = list(dict.fromkeys(trend["month"]))
    figures = []
    for kpi, rows in trend.groupby("kpi", sort=False):
        title, unit = rows["title"].iloc[0], rows["unit"].iloc[0]
        chart_id = f"chart-{_slug(kpi)}"
        values, targets = rows["value"].tolist(), rows["target"].tolist()
        latest = values[-1]
        caption = f"{_month_short(months[-1])}: {value_text(latest, unit)}"
        if not _isnan(targets[-1]):
            caption += f"; {EXAMPLE_TARGET + ': ' if pack.example_targets else 'target '}{value_text(targets[-1], unit)}"
        figures.append(f'<figure data-kpi="{esc(kpi)}"><h3>{esc(title)}</h3>'
                       f'{line_chart(chart_id, title, unit, months, values, targets)}'
                       f'<figcaption>{esc(caption)}. The numbers are in the trend table below.</figcaption></figure>')
    key = ('<p class="key">Each chart shows the monthly value <span class="solid"></span> (solid line, dots) and the '
           'target or trajectory <span class="dashed"></span> (dashed line). A gap means nothing to measure '
           'that month, not 0%.</p>')
    head = ('<thead><tr><th scope="col">KPI</th>'
            + "".join(f'<th scope="col" class="num">{_month_short(m)}</th>' for m in months) + "</tr></thead>")
    body = []
    for kpi, rows in trend.groupby("kpi", sort=False):
        unit = rows["unit"].iloc[0]
        body.append(f'<tr data-kpi="{esc(kpi)}"><th scope="row">{esc(rows["title"].iloc[0])}</th>'
                    + "".join(f'<td class="num">{value_text(v, unit)}{_partial(r)}</td>'
                              for v, (_, r) in zip(rows["value"], rows.iterrows())) + "</tr>")
    table = (f'<div class="screen-only"><h3 id="trend-table">Trend table</h3><div class="wide"><table class="trend">'
             f'<caption>Monthly values of every KPI, the {TREND_MONTHS} months to {esc(pack.month_label)} (the charts as '
             f'numbers; not printed: the XLSX pack has them too)</caption>'
             f'{head}<tbody>' + "\n".join(body) + "</tbody></table></div></div>")
    return _section("trends", key + '<div class="charts">' + "\n".join(figures) + "</div>" + table, pack)


HEADER_WORDS = {"month": "Month", "requests_agreed": "Requests agreed", "plans_issued": "Final plans issued",
                "issued_within_20_weeks": "Issued within 20 weeks", "pct_within_20_weeks": "% within 20 weeks",
                "plans_issued_cumulative": "Plans issued, year to date", "band": "Time open",
                "open_cases": "Open assessments", "open_reviews": "Open reviews",
                "with_exception": "With an exception", "past_20_weeks": "Past 20 weeks",
                "case_id": "Case", "kind": "Kind of case", "team": "Team", "clock": "Deadline", "due": "Due",
                "weeks_overdue": "Weeks overdue", "exception": "Exception", "cases": "Cases",
                "longest_weeks_overdue": "Longest wait past the deadline (weeks)"}


def _header(name: str) -> str:
    """A column heading in words (the data's own names are for scripts, not boards)."""
    if name in HEADER_WORDS:
        return HEADER_WORDS[name]
    text = name.replace("pct_", "% ").replace("_", " ")
    return text[:1].upper() + text[1:]


def _is_percent_column(name: str) -> bool:
    return "pct" in name or "%" in name or "percent" in name


def frame_table(frame: pd.DataFrame, caption: str, css: str = "") -> str:
    """Any DataFrame as an accessible table: the first column heads each row."""
    head = "".join(f'<th scope="col"{"" if i == 0 else NUM}>{esc(_header(str(c)))}</th>'
                   for i, c in enumerate(frame.columns))
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for i, (name, value) in enumerate(zip(frame.columns, record)):
            if i == 0:
                text = _month_short(value) if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}", value) else value
                cells.append(f'<th scope="row">{esc(text)}</th>')
            elif value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
                cells.append('<td class="num">–</td>')
            elif isinstance(value, str) and (_is_percent_column(str(name)) or value.startswith("fewer than")
                                             or re.fullmatch(r"[\d.,]+%?", value)):
                cells.append(f'<td class="num">{esc(value)}</td>')
            elif isinstance(value, pd.Timestamp):
                cells.append(f'<td class="num">{value:%d %b %Y}</td>')
            elif _is_percent_column(str(name)):
                cells.append(f'<td class="num">{float(value):.1f}%</td>')
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                cells.append(f'<td class="num">{value:,.0f}</td>')
            else:
                cells.append(f'<td>{esc(value)}</td>')
        total = str(record[0]).lower() == "total"
        rows.append(("<tr class='total'>" if total else "<tr>") + "".join(cells) + "</tr>")
    return (f'<div class="wide"><table class="{css}"><caption>{esc(caption)}</caption><thead><tr>{head}</tr></thead>'
            f'<tbody>' + "\n".join(rows) + "</tbody></table></div>")


def _tracker(pack: PackData) -> str:
    return _section("tracker", frame_table(pack.tracker, f"Month by month in {pack.month[:4]}: requests agreed, "
                                           "final plans issued and how many within 20 weeks", "tracker"), pack)


def _ageing(pack: PackData) -> str:
    a, r = pack.ageing_assessments, pack.ageing_reviews
    counts = [v if isinstance(v, int) else 0 for v in a["open_cases"]]
    review_counts = [v if isinstance(v, int) else 0 for v in r["open_reviews"]]
    left = ("<div><h3>Open assessments, by weeks since the request</h3>"
            + bar_chart("chart-ageing-assessments", f"Open assessments by weeks since the request, as at "
                        f"{pack.as_of.day} {pack.as_of:%B %Y}", a["band"].tolist(), counts,
                        (a["past_20_weeks"] == "yes").tolist())
            + frame_table(a, "Open assessments (the 20-week clock still running) by weeks since the request "
                          "was received (\u201c16 to 20 weeks\u201d includes day 140, the last day on time)", "ageing")
            + "</div>")
    right = ("<div><h3>Annual reviews not concluded, by months overdue</h3>"
             + bar_chart("chart-ageing-reviews", f"Annual reviews not concluded, as at {pack.as_of.day} {pack.as_of:%B %Y}",
                         r["band"].tolist(), review_counts, (r["band"] != "not yet due").tolist())
             + frame_table(r, "Annual reviews still running, by whole calendar months past the due date",
                           "ageing") + "</div>")
    intro = f'<p class="note">As at {long_date(pack.as_of)}; bars past the statutory limit are red and labelled.'
    if pack.open_counts:
        intro += f' <span data-open-counts>{esc(pack.open_counts)}</span>'
    intro += "</p>"
    return _section("ageing", intro + f'<div class="ageing-grid">{left}{right}</div>', pack)


def _backlog(pack: PackData) -> str:
    rows = pack.backlog
    counts = pack.backlog_counts
    summary = frame_table(counts, "The backlog by kind of case and deadline", "backlog-counts") \
        if counts is not None and len(counts) else ""
    if pack.options.public:
        intro = (f'<p class="note">Cases past their limit as at {pack.as_of.day} {pack.as_of:%B %Y}, counted; '
                 'this public version lists no case.</p>')
        return _section("backlog", intro + summary, pack)
    shown = rows.nlargest(HTML_BACKLOG_LIMIT, "weeks_overdue", keep="first").sort_index()  # the longest waiting
    intro = (f'<p class="note">{len(rows):,} cases past their limit as at {pack.as_of.day} {pack.as_of:%B %Y}: open assessments '
             'past 20 weeks, annual reviews overdue and phase-transfer reviews at risk (overdue or due within '
             '8 weeks). Case references only; no names. ')
    if len(rows) > len(shown):
        intro += (f"The {len(shown):,} longest waiting are listed here; the XLSX pack lists every case.")
    intro += "</p>"
    head = "".join(f'<th scope="col"{NUM if c == "weeks_overdue" else ""}>'
                   f'{"Months overdue (reviews)" if c == "band" else _header(c)}</th>' for c in shown.columns)
    body = []
    for record in shown.itertuples(index=False):
        r = record._asdict()
        body.append(f'<tr><th scope="row">{esc(r["case_id"])}</th><td>{esc(KIND_WORDS.get(r["kind"], r["kind"]))}</td>'
                    f'<td>{esc(r["team"] or "")}</td><td>{esc(pack.clock_titles.get(r["clock"], r["clock"]))}</td>'
                    f'<td>{r["due"]:%d %b %Y}</td>'
                    f'<td class="num">{int(r["weeks_overdue"])}</td><td>{esc(r["band"] or "")}</td>'
                    f'<td>{"" if _isnan(r["exception"]) else esc(str(r["exception"]).replace("_", " "))}</td></tr>')
    table = (f'<div class="wide"><table class="backlog"><caption>The longest waiting, oldest first within each kind'
             f'</caption><thead><tr>{head}</tr></thead><tbody>' + "\n".join(body) + "</tbody></table></div>")
    return _section("backlog", intro + summary + table, pack)


def _quality(pack: PackData) -> str:
    items = "".join(f"<li>{esc(note)}</li>" for note in pack.notes) or "<li>No data-quality problems found.</li>"
    return _section("quality", f'<ul class="notes">{items}</ul>' + _queries(pack), pack)


def _queries(pack: PackData) -> str:
    """The queries counted by code, with what a query is and how to list them."""
    counts = pack.query_counts
    if counts is None:
        return ""
    intro = f'<h3>Queries</h3><p class="note" data-queries>{esc(QUERY_INTRO)}</p>'
    if not len(counts):
        return intro + f'<p class="note">No queries as at {long_date(pack.as_of)}.</p>'
    shown = counts.rename(columns={"code": "Query", "cases": "Cases", "action": "What to do",
                                   "listing": "To list them"})
    return intro + frame_table(shown, f"Queries by code as at {long_date(pack.as_of)}", "queries")


def _about(pack: PackData) -> str:
    files = "".join(f"<li><code>{esc(f)}</code></li>" for f in pack.rule_files)
    body = (f'<dl><dt>Figures as at</dt><dd data-as-of="{pack.as_of.isoformat()}">{long_date(pack.as_of)}: anything '
            'dated after it is treated as not yet happened.</dd>'
            f'<dt>Rule book</dt><dd>version <code data-fingerprint>{esc(pack.rule_fingerprint)}</code>, from '
            f'<ul>{files}</ul></dd>'
            f"<dt>KPI figures</dt><dd>{esc(pack.kpi_source)}</dd>"
            f"<dt>Produced by</dt><dd>ehcp-tracker {esc(pack.version)}</dd></dl>"
            '<p class="note">Month: events in the calendar month. Year to date: from the start of the reporting '
            'year. Rolling 12 months: the twelve months to the month\u2019s end. Same month last year: the whole '
            'month a year earlier. A final plan counts in the month it was issued (as in the DfE statistics); '
            '"excluding exceptions" leaves exception cases out of both the numerator and the denominator. '
            'Direction of travel compares with the month before.</p>')
    return _section("about", body, pack)


def _has_benchmarks(pack: PackData) -> bool:
    return pack.benchmark is not None or getattr(pack, "kpi_benchmark", None) is not None


def _kpi_benchmarks(pack: PackData) -> str:
    """The other KPIs DfE publishes (requests.csv, annual_reviews.csv, phase_transfers.csv): one table,
    a row per year, measure and area, the council's own figure first."""
    table = pack.kpi_benchmark
    if table is None:
        return ""
    frame = pd.DataFrame({"Year": table["year"], "Measure": table["words"], "Area": table["area"],
                          "Value": [v if isinstance(v, str) or _isnan(v) else
                                    (f"{float(v):.1f}%" if unit == "percent" else f"{float(v):,.0f}")
                                    for v, unit in zip(table["value"], table["unit"])]})
    note = ('<p class="note">Published figures from DfE’s requests.csv, annual_reviews.csv and '
            "phase_transfers.csv as given with <em>--benchmark</em>: the rates are DfE’s counts within / "
            "(within + over). DfE publishes phase transfers as counts, not as a rate by the deadline: the "
            "council’s rate has no published counterpart. “–”: not available in the file.</p>")
    return "<h3>Decisions, reviews and phase transfers</h3>" + note + frame_table(
        frame, "Benchmarks of the other KPIs by calendar year", "benchmark")


def _benchmark(pack: PackData) -> str:
    """The council beside England, its region and comparators, per calendar year of the DfE file."""
    table = pack.benchmark
    if table is None:
        return _section("benchmark", _kpi_benchmarks(pack), pack) if _has_benchmarks(pack) else ""
    from .benchmark import MEASURE_WORDS

    shown = table.drop(columns=["role"]).rename(columns={"year": "Year", "area": "Area", **MEASURE_WORDS})
    parts = ['<p class="note">Published figures from the DfE file given with <em>--benchmark</em> (the DfE '
             'statistics release \u201cEducation, health and care plans\u201d), calendar years, beside this '
             'council\u2019s own figures on the same definitions. \u201c–\u201d: not available in the file.</p>']
    for year, rows in table.groupby("year", sort=True):
        values = rows["within_20_weeks_excl_exceptions"].tolist()
        parts.append(f"<h3>{esc(year)}</h3>" + percent_bars(
            f"chart-benchmark-{_slug(str(year))}", f"Final plans within 20 weeks, excluding exceptions, {year}",
            rows["area"].tolist(), values, (rows["role"] == "council").tolist()))
    frame = shown.copy()
    for name in MEASURE_WORDS.values():
        if name.startswith("%"):
            frame[name] = [None if _isnan(v) else f"{float(v):.1f}%" for v in frame[name]]
        elif name.startswith("Average"):
            frame[name] = [None if _isnan(v) else f"{float(v):.1f}" for v in frame[name]]
    parts.append(frame_table(frame, "Benchmarks by calendar year", "benchmark"))
    parts.append(_kpi_benchmarks(pack))
    return _section("benchmark", "".join(parts), pack)


def percent_bars(chart_id: str, title: str, labels: list[str], values: list[float], ours: list[bool]) -> str:
    """Horizontal percentage bars (0-100%), the council's own bar in the accent colour."""
    row_h, left, width = 22, 230, 520
    height = TOP + row_h * len(labels) + 10
    scale = (width - left - 60) / 100
    desc = f"{title}: " + "; ".join(f"{label} {value_text(v, 'percent')}" for label, v in zip(labels, values))
    drawn = sum(1 for v in values if not _isnan(v))
    parts = [f'<svg class="chart bars" id="{chart_id}" data-points="{drawn}" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
             'xmlns="http://www.w3.org/2000/svg">',
             f'<title id="{chart_id}-t">{esc(title)}</title><desc id="{chart_id}-d">{esc(desc)}</desc>',
             '<g class="series">']
    for i, (label, value, own) in enumerate(zip(labels, values, ours)):
        y0 = TOP + i * row_h
        v = 0.0 if _isnan(value) else float(value)
        parts.append(f'<text class="barlabel" x="{left - 6}" y="{y0 + 14}" text-anchor="end">{esc(label)}</text>'
                     f'<rect class="bar{"" if own else " other"}" x="{left}" y="{y0 + 3}" '
                     f'width="{max(v * scale, 1 if not _isnan(value) else 0):.1f}" height="{row_h - 8}"/>'
                     f'<text class="barlabel" x="{left + v * scale + 5:.1f}" y="{y0 + 14}">'
                     f'{value_text(value, "percent")}</text>')
    parts.append("</g></svg>")
    return "".join(parts)

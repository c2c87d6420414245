"""``index.html``: one self-contained static page (inline CSS and JS, figures as base64 PNG).

No network access: no external scripts, fonts or style sheets. The page reads without
JavaScript (plain tables, long appendix tables in ``<details>``); with it every table is
sortable by clicking a header (a few lines of vanilla JS; numeric cells sort by their raw value
held in ``data-v``, ``∞``/miss sorts after every finite value, missing values sort last).
Order: summary, ranking, rankings by kind, per-problem tables, figures, findings, appendix.
New methods of a comparison report carry a "new" badge and a highlighted row.
"""
from __future__ import annotations

import base64
import html as _h
import math
from pathlib import Path

import numpy as np

from .model import APPENDIX_FIGURES, FIGURE_TITLES, _slug

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1400px;padding:0 1.2em 3em;
color:#1d2330;line-height:1.4}
header{border-bottom:2px solid #2b5fa8;margin-bottom:1em;padding:.6em 0}
h1{margin:.2em 0;font-size:1.6em} h2{border-bottom:1px solid #ccd;margin-top:2em} h3{margin:1.4em 0 .3em;font-size:1.05em}
.meta{display:flex;flex-wrap:wrap;gap:.4em 1.6em;font-size:.92em;color:#445}
.meta b{color:#1d2330}
nav{font-size:.9em;margin:.6em 0} nav a{margin-right:1em}
.note{font-size:.85em;color:#556;margin:.2em 0 .4em}
.wrap{overflow-x:auto}
table{border-collapse:collapse;font-size:.82em;margin:.3em 0 1em}
th,td{border:1px solid #d5d9e2;padding:.25em .55em;text-align:right;white-space:nowrap}
td:first-child,th:first-child{text-align:left}
td.txt{text-align:left;white-space:normal;max-width:40em}
th{background:#eef2f8;text-align:left;cursor:pointer;user-select:none;position:sticky;top:0}
th[aria-sort=ascending]::after{content:" \\25B2"} th[aria-sort=descending]::after{content:" \\25BC"}
tr:nth-child(even) td{background:#fafbfd}
td.flag{color:#a33;font-weight:600}
figure{margin:1em 0 2em} figure img{max-width:100%;border:1px solid #dde}
figcaption{font-size:.9em;color:#445}
p.summary{font-size:1em;background:#f4f7fb;border-left:4px solid #2b5fa8;padding:.6em .9em}
span.badge{background:#d6007e;color:#fff;border-radius:.6em;padding:0 .45em;font-size:.8em;margin-left:.4em}
tr.new td{background:#fde8f3 !important}
ol.findings li{margin:.5em 0} .verdict{font-weight:600}
.verdict-supported{color:#1a7a2e} .verdict-refuted{color:#a33} .verdict-mixed,.verdict-not-significant{color:#8a6d00}
.verdict-not-enough-data{color:#666}
details>summary{cursor:pointer;color:#2b5fa8;margin:.3em 0}
"""

JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var td = row.cells[col], v = td.getAttribute("data-v");
        if (v === null) return {s: td.textContent.trim()};
        return v === "" ? {miss: true} : {x: Number(v)};
      }
      rows.sort(function (a, b) {
        var ka = key(a), kb = key(b);
        if (ka.miss || kb.miss) return ka.miss === kb.miss ? 0 : (ka.miss ? 1 : -1);
        var c = ("x" in ka && "x" in kb) ? (ka.x === kb.x ? 0 : (ka.x < kb.x ? -1 : 1))
          : String("s" in ka ? ka.s : ka.x).localeCompare(String("s" in kb ? kb.s : kb.x), undefined, {numeric: true});
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def _num(v) -> str | None:
    """The ``data-v`` attribute of a cell: a number as text, '' for missing, None for text cells."""
    if isinstance(v, (bool, np.bool_)):
        return None
    if isinstance(v, (int, float, np.integer, np.floating)):
        v = float(v)
        if math.isnan(v):
            return ""
        return "Infinity" if v == math.inf else ("-Infinity" if v == -math.inf else repr(v))
    if v is None:
        return ""
    return None


def table_html(t) -> str:
    cols = list(t.data.columns)
    out = [f'<h3 id="{_h.escape(t.anchor)}">{_h.escape(t.title)}</h3>']
    if t.note:
        out.append(f'<p class="note">{_h.escape(t.note)}</p>')
    if t.data.empty:
        out.append('<p class="note">(none)</p>')
    if t.collapsed:
        out.append(f"<details><summary>show {len(t.data)} rows</summary>")
    out.append('<div class="wrap"><table class="sortable"><thead><tr>'
               + "".join(f"<th>{_h.escape(str(c))}</th>" for c in cols) + "</tr></thead><tbody>")
    for row in t.data.itertuples(index=False):
        cells, new = [], False
        for c, v in zip(cols, row):
            n = _num(v)
            text = _h.escape(t.text(c, v))
            cls = ' class="flag"' if c == "params ≠ baseline" and text else (
                ' class="txt"' if c in ("error", "provenance", "chosen hparams") else "")
            if c == "method" and v in t.highlight:
                new = True
                text += '<span class="badge">new</span>'
            attr = f' data-v="{n}"' if n is not None else ""
            cells.append(f"<td{attr}{cls}>{text}</td>")
        out.append(('<tr class="new">' if new else "<tr>") + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    if t.collapsed:
        out.append("</details>")
    return "\n".join(out)


def _img(path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"data:image/png;base64,{data}"


def _figure(name: str, p, notes: dict) -> str:
    cap = _h.escape(FIGURE_TITLES.get(name, name.replace("-", " — study ").replace("_", " ")))
    note = notes.get(name, "")
    svg = Path(p).with_suffix(".svg").name
    extra = (f" {_h.escape(note)}" if note else "") + f' (files: figures/{_h.escape(Path(p).name)}, figures/{_h.escape(svg)})'
    return (f'<figure id="fig-{_h.escape(name)}"><img alt="{cap}" src="{_img(p)}">'
            f"<figcaption><b>{cap}.</b>{extra}</figcaption></figure>")


def html(rep) -> str:
    m = rep.meta
    meta = "".join(f"<span>{_h.escape(k)}: <b>{_h.escape(str(v))}</b></span>" for k, v in [
        ("suite", m["suite"]), ("commit", m["commit"]), ("devices", m["devices"]), ("runs", m["runs"]),
        ("failures (not ok)", m["failures"]), ("tuning runs", m["tuning_runs"]), ("studies", m["studies"]),
        ("problems", m["problems"]), ("methods", m["methods"]), ("pinnarena", m["pinnarena"])])
    main = [s for s in rep.sections if not s.appendix]
    appendix = [s for s in rep.sections if s.appendix]
    figs = [(n, p) for n, p in rep.figures.items() if n not in APPENDIX_FIGURES]
    afigs = [(n, p) for n, p in rep.figures.items() if n in APPENDIX_FIGURES]
    nav_items = ([("summary", "Summary")] + [(s.anchor, s.heading) for s in main]
                 + ([("figures", "Figures")] if figs else []) + ([("findings", "Findings")] if rep.findings else [])
                 + ([("appendix", "Appendix")] if appendix or afigs else []))
    nav = " ".join(f'<a href="#{a}">{_h.escape(h)}</a>' for a, h in nav_items)
    body = [f'<section><h2 id="summary">Summary</h2><p class="summary">{_h.escape(rep.summary)}</p>']
    if rep.new_methods:
        body.append('<p class="note">New methods, ranked among the baseline results and highlighted in every table '
                    "and figure: " + ", ".join(f"<b>{_h.escape(x)}</b>" for x in sorted(rep.new_methods)) + "</p>")
    body.append("</section>")

    def section(s):
        b = [f'<section><h2 id="{_h.escape(s.anchor)}">{_h.escape(s.heading)}</h2>']
        b += [f'<p class="note">{_h.escape(p)}</p>' for p in s.text]
        b += [table_html(t) for t in s.tables]
        if not s.tables and not s.text:
            b.append('<p class="note">(none)</p>')
        b.append("</section>")
        return b

    for s in main:
        body += section(s)
    def figure_section(anchor, heading, items):
        return ([f'<section><h2 id="{anchor}">{heading}</h2>'] + [_figure(n, p, rep.figure_notes) for n, p in items]
                + ["</section>"]) if items else []

    body += figure_section("figures", "Figures", figs)
    if rep.findings:
        body.append('<section><h2 id="findings">Findings</h2><ol class="findings">')
        for i, f in enumerate(rep.findings):
            v = f' <span class="verdict verdict-{_slug(f.verdict)}">[{_h.escape(f.verdict)}]</span>' if f.verdict else ""
            body.append(f'<li id="finding-{i + 1}"><b>{_h.escape(f.title)}.</b>{v} {_h.escape(f.text)} '
                        f'<a href="#{_h.escape(f.anchor)}">(table)</a></li>')
        body.append("</ol></section>")
    if appendix or afigs:
        body.append('<h2 id="appendix">Appendix</h2>')
    for s in appendix:
        body += section(s)
    body += figure_section("appendix-figures", "Appendix: figures with every method", afigs)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>pinnarena leaderboard — {_h.escape(m['suite'])}</title><style>{CSS}</style></head><body>"
            f'<header><h1>pinnarena leaderboard</h1><div class="meta">{meta}</div><nav>{nav}</nav></header>'
            + "\n".join(body) + f"<script>{JS}</script></body></html>\n")

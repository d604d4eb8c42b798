"""What the browser tests measure on a rendered report page (JavaScript run in the page), and
the checks the report file and the dashboard share.

The probes return plain JSON. Colours are compared as the browser computed them
(``getComputedStyle``), so a mark counts only if Chromium drew it with a data colour, outside
the chart's legend, with a non-empty box (a filled shape needs an area, a line a length).
The expectations come from docs/report.md and the sample's README, not from the report.
"""

from __future__ import annotations

from typing import Any, TypedDict

from ..report import readme as R
from ..report.conftest import SINCE, UNTIL
from .cdp import Page

# The charts' data colours (docs/report.md, "The charts"): Okabe-Ito, one meaning each.
REAL = "#d55e00"  # real failures, regressions, drops
FLAKY = "#e69f00"  # red only because of flaky tests
INFRA = "#7f7f7f"  # infrastructure bursts
GREEN = "#a6d5a0"  # green runs
IMPROVED = "#009e73"  # improvements
# one colour per series (service or benchmark), in order; black left out: the axes are black
SERIES = ("#0072b2", "#cc79a7", "#009e73", "#56b4e9", "#e69f00", "#d55e00", "#f0e442")
DATA = {REAL, FLAKY, INFRA, GREEN, IMPROVED, *SERIES}


class Chart(TypedDict):
    id: str
    svgs: int
    width: float
    height: float
    caption: str
    title: str
    longest_path: int  # the longest ``d`` of a drawn path outside the legend
    marks: dict[str, int]  # colour drawn -> number of non-empty marks outside the legend
    legend: list[str]  # the legend's labels
    text_outside: list[dict[str, Any]]  # text the chart's box cuts off: text, left, right
    plot_share: float  # the plot area's width over the chart's


CHARTS_JS = r"""
(() => {
  const hex = (c) => {
    const m = /^rgba?\((\d+),\s*(\d+),\s*(\d+)(?:,\s*([\d.]+))?\)$/.exec(c || "");
    if (!m || m[4] === "0") return null;
    return "#" + [m[1], m[2], m[3]].map((v) => (+v).toString(16).padStart(2, "0")).join("");
  };
  return [...document.querySelectorAll("figure.chart")].map((fig) => {
    const svgs = fig.querySelectorAll("svg");
    const svg = svgs[0];
    const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    const marks = {};
    let longest = 0;
    const legend = [];
    if (svg) {
      for (const el of svg.querySelectorAll("path, use, rect, circle, polyline, line")) {
        if (el.closest("defs, clipPath")) continue;
        const inLegend = el.closest('[id*="legend"]') !== null;
        if (inLegend) continue;
        const b = el.getBBox();
        const style = getComputedStyle(el);
        // a filled shape needs an area (a bar of height 0 draws nothing); a stroke a length
        const drawn = new Set();
        const fill = hex(style.fill);
        const stroke = parseFloat(style.strokeWidth) > 0 ? hex(style.stroke) : null;
        if (fill && b.width > 0 && b.height > 0) drawn.add(fill);
        if (stroke && (b.width > 0 || b.height > 0)) drawn.add(stroke);
        if (drawn.size === 0) continue;
        if (el.tagName === "path") longest = Math.max(longest, (el.getAttribute("d") || "").length);
        for (const c of drawn) marks[c] = (marks[c] || 0) + 1;
      }
      for (const t of svg.querySelectorAll('[id*="legend"] text')) {
        legend.push(t.textContent.trim());
      }
    }
    // text the SVG's box cuts off, and the plot area's share of the chart's width (the
    // axes' clip rectangle against the viewBox)
    const outside = [];
    let plotShare = 0;
    if (svg) {
      for (const t of svg.querySelectorAll("text")) {
        const q = t.getBoundingClientRect();
        if (q.width === 0 && q.height === 0) continue;
        if (q.left < box.left - 1 || q.right > box.right + 1 ||
            q.top < box.top - 1 || q.bottom > box.bottom + 1) {
          outside.push({ text: t.textContent.trim(), left: q.left - box.left,
                         right: q.right - box.left, chart_width: box.width });
        }
      }
      const full = svg.viewBox.baseVal.width;
      for (const r of svg.querySelectorAll("clipPath rect")) {
        plotShare = Math.max(plotShare, r.width.baseVal.value / full);
      }
    }
    const title = svg && svg.querySelector("title");
    const caption = fig.querySelector("figcaption");
    return {
      id: fig.id,
      svgs: svgs.length,
      width: box.width,
      height: box.height,
      caption: caption ? caption.textContent.trim() : "",
      title: title ? title.textContent.trim() : "",
      longest_path: longest,
      marks: marks,
      legend: legend,
      text_outside: outside,
      plot_share: plotShare,
    };
  });
})()
"""

# The page's width against the device's, and the outermost elements that stick out on the
# right, unless a scrolling box (a table's .scroll) keeps them in. The device's width is given:
# on a phone, Chromium widens the layout viewport (innerWidth) to a page that overflows it.
OVERFLOW_JS = r"""
((limit) => {
  const root = document.documentElement;
  const name = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    for (const c of el.classList) s += "." + c;
    return s;
  };
  const path = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.body; e = e.parentElement) parts.unshift(name(e));
    return parts.join(" > ");
  };
  const clipped = (el) => {
    for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
      const o = getComputedStyle(e).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden" || o === "clip") return true;
    }
    return false;
  };
  const sticking = [...document.body.querySelectorAll("*")].filter(
    (el) => el.getBoundingClientRect().right > limit + 0.5 && !clipped(el)
  );
  const outermost = sticking.filter((el) => !sticking.includes(el.parentElement));
  return {
    scroll_width: root.scrollWidth,
    inner_width: window.innerWidth,
    offenders: outermost.slice(0, 10).map((el) => ({
      selector: path(el),
      width: el.getBoundingClientRect().width,
      right: el.getBoundingClientRect().right,
    })),
  };
})
"""


def charts(page: Page) -> list[Chart]:
    found: list[Chart] = page.evaluate(CHARTS_JS)
    return found


def overflow(page: Page, width: int) -> dict[str, Any]:
    """``scroll_width`` and ``inner_width`` of the page, and ``offenders``: what sticks out
    beyond ``width`` CSS pixels (selector, width, right edge)."""
    found: dict[str, Any] = page.evaluate(f"({OVERFLOW_JS})({int(width)})")
    return found


def expected_chart_ids() -> set[str]:
    """The charts docs/report.md promises for the sample week: two of CI health, coverage, and
    one of benchmarks per service (every sample service has benchmarks: its README)."""
    services = {run.service for run in R.runs()}
    assert len(services) == 3, services
    return {"chart-failure-rate", "chart-red-runs", "chart-coverage"} | {
        f"chart-bench-{s}" for s in services
    }


def assert_charts_drawn(found: list[Chart], max_width: float) -> None:
    """Every promised chart once, laid out with a size, titled, captioned, and with data drawn
    in it; the marks the sample week must show (README, docs/report.md) among them."""
    ids = [c["id"] for c in found]
    assert len(ids) == len(set(ids)), ids
    assert set(ids) == expected_chart_ids()
    by_id = {c["id"]: c for c in found}
    for c in found:
        where = f"{c['id']}: {c}"
        assert c["svgs"] == 1, where
        assert 100 < c["width"] <= max_width and c["height"] > 50, where
        assert c["title"] and c["caption"].startswith(c["title"]), where
        assert c["longest_path"] >= 20, where  # a drawn line, not a lone point
        assert DATA & set(c["marks"]), f"{c['id']} draws no data: {c['marks']}"
    week = [r for r in R.runs() if SINCE <= r.at < UNTIL]
    # a line per service (the legend's order is the colours' order), with a dot per day it ran
    rate = by_id["chart-failure-rate"]
    assert sorted(rate["legend"]) == sorted({r.service for r in week}), rate
    for colour, service in zip(SERIES, rate["legend"], strict=False):
        days = {r.at.date() for r in week if r.service == service}
        assert rate["marks"].get(colour) == 1 + len(days), (service, colour, rate)
    # a line per service (three) on coverage too
    assert set(SERIES[:3]) <= set(by_id["chart-coverage"]["marks"]), by_id["chart-coverage"]
    # bars: green on each day with a green run; the week has real failures, flaky-only red
    # runs and one infrastructure burst (messaging-service's run-17, one day)
    bars = by_id["chart-red-runs"]["marks"]
    assert bars.get(GREEN) == len({r.at.date() for r in week if not r.red}), bars
    assert bars.get(INFRA) == 1 and bars.get(REAL, 0) >= 1 and bars.get(FLAKY, 0) >= 1, bars
    red_days = {r.at.date() for r in week if r.red}
    assert bars[REAL] + bars[FLAKY] + bars[INFRA] >= len(red_days), bars
    # search-service drops 2.8 points at run-25: a vermillion triangle
    assert by_id["chart-coverage"]["marks"].get(REAL, 0) >= 1, by_id["chart-coverage"]
    # user-service's parse_request regresses from run-24: vermillion triangles
    assert by_id["chart-bench-user-service"]["marks"].get(REAL, 0) >= 1


# The report's layout (issue: ids squeezed letter by letter, columns cut off): what sticks out
# of <main>'s content box outside a scrolling box, and for every test id in a table cell, the
# cell's inner width in characters of the id's font, the lines the id takes and the parts it
# may break into (after "::", "." and "/").
LAYOUT_JS = r"""
(() => {
  const main = document.querySelector("main");
  const ms = getComputedStyle(main);
  const mb = main.getBoundingClientRect();
  const left = mb.left + parseFloat(ms.paddingLeft);
  const right = mb.right - parseFloat(ms.paddingRight);
  const scrolled = (el) => {
    for (let e = el.parentElement; e && e !== main; e = e.parentElement) {
      const o = getComputedStyle(e).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden" || o === "clip") return true;
    }
    return false;
  };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    [...el.classList].map((c) => "." + c).join("");
  const sticking = [];
  for (const el of main.querySelectorAll("*")) {
    if (scrolled(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > right + 0.5 || r.left < left - 0.5) {
      sticking.push({ element: name(el), left: r.left, right: r.right, box: [left, right] });
    }
  }
  const ctx = document.createElement("canvas").getContext("2d");
  const cells = [];
  for (const code of main.querySelectorAll("td code.id")) {
    const td = code.closest("td");
    const cs = getComputedStyle(code);
    ctx.font = cs.font;
    const ch = ctx.measureText("0").width;
    const ts = getComputedStyle(td);
    const inner = td.clientWidth - parseFloat(ts.paddingLeft) - parseFloat(ts.paddingRight);
    const range = document.createRange();
    range.selectNodeContents(code);
    const tops = new Set([...range.getClientRects()].filter((q) => q.width > 0)
      .map((q) => Math.round(q.top)));
    cells.push({
      id: code.textContent, chars: inner / ch, full: ctx.measureText(code.textContent).width / ch,
      lines: tops.size, parts: code.children.length,
    });
  }
  const tables = [...main.querySelectorAll(".scroll")].map((b) => ({
    section: (b.closest("section") || main).id,
    scrolls: b.scrollWidth > b.clientWidth + 1,
  }));
  return {
    content: [left, right],
    page_width: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
    sticking: sticking.slice(0, 10),
    cells: cells,
    tables: tables,
  };
})()
"""


def layout(page: Page) -> dict[str, Any]:
    """``sticking`` (elements outside <main>'s content box, not in a scrolling box), ``cells``
    (each test id in a table: ``chars``, the cell's inner width in characters of its font;
    ``full``, the id's width on one line; ``lines`` and ``parts``) and ``tables``."""
    found: dict[str, Any] = page.evaluate(LAYOUT_JS)
    return found

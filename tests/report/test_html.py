"""The HTML report: one well-formed, self-contained page with a non-empty chart per trend."""

from __future__ import annotations

import re

import pytest
from lxml import etree
from lxml import html as lxml_html

from gatekeeper.emit.charts import SERIES, charts, inline_svg
from gatekeeper.emit.report import render
from gatekeeper.model import WeeklyReport

from . import readme as R

SVG = "{http://www.w3.org/2000/svg}"
# Colours the charts draw data in (lines, bars, markers); axes and grid are greys.
DATA_COLOURS = {c.lower() for c in SERIES} | {"#d55e00", "#e69f00", "#7f7f7f", "#a6d5a0"}


@pytest.fixture(scope="module")
def page(week: WeeklyReport) -> str:
    return render(week, "html")


def test_well_formed_and_parsed_as_html(page: str) -> None:
    # Written as polyglot markup: a strict XML parser accepts it (every tag closed, every
    # entity defined), and an HTML parser sees the same elements.
    root = etree.fromstring(page.encode("utf-8"), etree.XMLParser(resolve_entities=False))
    assert root.tag == "html"
    doc = lxml_html.document_fromstring(page)
    assert doc.find("head/title") is not None and doc.find("head/title").text
    (viewport,) = doc.xpath('//meta[@name="viewport"]')
    assert "width=device-width" in viewport.get("content")
    assert page.startswith("<!DOCTYPE html>")


def test_one_svg_per_chart_each_titled_and_non_empty(page: str) -> None:
    root = etree.fromstring(page.encode("utf-8"))
    figures = root.xpath('//figure[contains(concat(" ", @class, " "), " chart ")]')
    services_with_benchmarks = {r.service for r in R.runs()}  # README: all three bench
    expected = {"chart-failure-rate", "chart-red-runs", "chart-coverage"} | {
        f"chart-bench-{s}" for s in services_with_benchmarks
    }
    assert {f.get("id") for f in figures} == expected
    for figure in figures:
        svgs = figure.findall(f".//{SVG}svg")
        assert len(svgs) == 1, figure.get("id")
        (svg,) = svgs
        assert figure.get("aria-label")
        assert svg.get("role") == "img"
        (title,) = svg.findall(f"{SVG}title")
        assert title.text and title.text.strip()
        assert svg.get("aria-labelledby") == title.get("id")
        assert svg.get("viewBox") and svg.get("height") is None  # fluid: scales with the page
        markup = etree.tostring(svg, encoding="unicode").lower()
        drawn = set(re.findall(r"(?:fill|stroke): (#[0-9a-f]{6})", markup))
        assert drawn & DATA_COLOURS, f"{figure.get('id')} draws no data"
        assert len(svg.findall(f".//{SVG}path")) > 10, figure.get("id")
        assert figure.find("figcaption") is not None


def test_self_contained(page: str) -> None:
    doc = lxml_html.document_fromstring(page)
    for tag in ("script", "img", "iframe", "object", "embed", "base"):
        assert not doc.xpath(f"//{tag}"), f"<{tag}> in the page"
    # one <link>: an empty data: icon, so the browser does not ask the server for a favicon
    assert [dict(x.attrib) for x in doc.xpath("//link")] == [{"rel": "icon", "href": "data:,"}]
    assert not doc.xpath("//@src")
    for element in doc.xpath("//*[@href or @*[local-name()='href']]"):
        for name, value in element.attrib.items():
            if element.tag == "link":
                continue  # the data: icon above
            if name.endswith("href") and not value.startswith("#"):
                # only a link to the CI run may leave the page, and only when clicked
                assert element.tag == "a" and value.startswith(("https://", "http://")), value
    for style in [*doc.xpath("//style/text()"), *doc.xpath("//@style")]:
        assert "url(" not in style or "url(#" in style, style
        assert "@import" not in style


def test_ids_are_unique_across_charts(page: str) -> None:
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    refs = set(re.findall(r'(?:url\(#|href="#)([^)"]+)', page))
    assert refs <= set(ids)


def test_tables_scroll_on_a_phone(page: str) -> None:
    doc = lxml_html.document_fromstring(page)
    tables = doc.xpath("//table")
    assert tables
    for table in tables:
        assert "scroll" in table.getparent().get("class", "")
    assert ".scroll{overflow-x:auto" in page


def test_charts_are_deterministic(week: WeeklyReport) -> None:
    first = [c.svg for c in charts(week)]
    assert first == [c.svg for c in charts(week)]


def test_inline_svg_prefixes_ids_and_adds_a_title() -> None:
    raw = (
        '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10pt" '
        'height="5pt" viewBox="0 0 10 5"><metadata>x</metadata><defs><clipPath id="p1">'
        '<rect/></clipPath></defs><g id="a" clip-path="url(#p1)"><use href="#a"/></g></svg>'
    )
    out = inline_svg(raw, "c1", "A <title> & more")
    assert out.startswith('<svg class="chart-svg" role="img" aria-labelledby="c1-title"')
    assert 'width="100%"' in out and 'height="' not in out and "<metadata>" not in out
    assert '<title id="c1-title">A &lt;title&gt; &amp; more</title>' in out
    assert 'id="c1-p1"' in out and "url(#c1-p1)" in out and 'href="#c1-a"' in out
    etree.fromstring(out.encode())

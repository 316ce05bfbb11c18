"""The HTML report of a multi-year plan (gosplan.report): one well-formed, self-contained file
whose charts are valid SVG with titles, whose labels are escaped, whose table numbers are the
frames' numbers, which survives the edge cases (one year, no capital, no targets, NaN and inf)
and stays small and quick for 10,000 products."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _report_frames import large_plan
from gosplan.report import plan_html, write_plan_html
from gosplan.report.html import COLUMNS, TABLE_ROWS
from gosplan.report.svg import (
    Band,
    Series,
    bar_chart,
    compact_number,
    format_number,
    format_percent,
    line_chart,
    nice_ticks,
    small_multiples,
)

NASTY = "A&B <x>"  # a product (and activity) name that must be escaped
QUOTED = "steel \"special\" 'grade'"


# ------------------------------------------------------------------------------ frames
def small_plan(T: int = 3, *, targets: bool = True, capital: bool = True):
    """Three products (coal, A&B <x>, steel "special"), each made by its own activity, with
    two capital stocks and targets for two products; numbers chosen by hand."""
    years = [f"year{t + 1}" for t in range(T)]
    names = ["coal", NASTY, QUOTED]
    rows = []
    for t, y in enumerate(years):
        g = 1.1**t
        for i, p in enumerate(names):
            out = [100.0, 40.0, 25.0][i] * g
            cons = [30.0, 20.0, 10.0][i] * g
            target = [0.0, 25.0, 10.0][i] * (1.2**t) if targets else 0.0
            rows.append(
                dict(
                    year=y,
                    product=p,
                    output=out,
                    intermediate=out * 0.5,
                    accumulation=out * 0.2,
                    consumption=cons,
                    target=target,
                    fulfilment=cons / target if target else math.nan,
                    price=[0.5, 2.25, 1.125][i] / (t + 1),
                )
            )
    products = pd.DataFrame(rows)
    years_df = pd.DataFrame(
        {
            "year": years,
            "fulfilment": [0.8 + 0.05 * t for t in range(T)] if targets else [math.nan] * T,
            "labour_supply": [1000.0 * 1.02**t for t in range(T)],
            "labour_used": [1000.0 * 1.02**t * (0.9 if t % 2 else 1.0) for t in range(T)],
            "labour_price": [0.0 if t % 2 else 1.5 for t in range(T)],
            "weight": [0.95**t for t in range(T)],
        }
    )
    activities = pd.DataFrame(
        [
            dict(
                year=y,
                activity=p,
                level=[100.0, 40.0, 25.0][i] * 1.1**t,
                capacity=[120.0, 40.0, math.inf][i] * 1.1**t,
                labour=[3.0, 1.0, 2.0][i] * 10 * 1.1**t,
            )
            for t, y in enumerate(years)
            for i, p in enumerate(names)
        ]
    )
    if capital:
        stocks = pd.DataFrame(
            [
                dict(
                    year=y,
                    product=good,
                    activity=holder,
                    stock=s * 1.05**t,
                    required=s * 1.05**t * r,
                    investment=s * 0.1,
                    depreciation=s * 0.05,
                    rent=rent * (t + 1),
                )
                for t, y in enumerate(years)
                for good, holder, s, r, rent in (
                    ("coal", NASTY, 50.0, 1.0, 0.25),
                    (QUOTED, "coal", 80.0, 0.5, 0.0),
                    (QUOTED, QUOTED, 10.0, 1.0, 3.5),
                )
            ]
        )
    else:
        stocks = pd.DataFrame(columns=list(COLUMNS["stocks"]))
    summary = {
        "status": "optimal",
        "objective": 1234.56789,
        "method": "highs",
        "economy": "toy <3>",
        "years": years,
        "seconds": 0.0421,
        "notes": ["see https://example.org/x & <y>"],
        "iterations": 17,
        "gap": 2.5e-9,
        "extra": {"nested": "not shown"},
    }
    return summary, years_df, products, activities, stocks


# ---------------------------------------------------------------------------- checking
VOID = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "area", "base", "source"}


class _Doc(HTMLParser):
    """Checks that tags nest and collects every table's cell texts by section id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.section = ""
        self.tables: dict[str, list[dict]] = {}
        self.cell: list[str] | None = None
        self.row: list[str] | None = None
        self.part = "body"
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in VOID:
            return
        self.stack.append(tag)
        a = dict(attrs)
        if tag == "section":
            self.section = a.get("id", "")
        elif tag == "table":
            self.tables.setdefault(self.section, []).append({"head": [], "rows": [], "foot": []})
        elif tag in ("thead", "tbody", "tfoot"):
            self.part = tag
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.cell = []

    def handle_startendtag(self, tag, attrs):
        pass  # <path/> etc. inside SVG

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            table = self.tables[self.section][-1]
            {"thead": table["head"], "tbody": table["rows"], "tfoot": table["foot"]}.get(
                self.part, table["rows"]
            ).append(self.row)
            self.row = None
        elif tag in ("thead", "tbody", "tfoot"):
            self.part = "body"

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)
        self.text.append(data)


def parse(html: str) -> _Doc:
    doc = _Doc()
    doc.feed(html)
    doc.close()
    assert not doc.errors, doc.errors[:5]
    assert not doc.stack, f"unclosed: {doc.stack}"
    return doc


SVG = re.compile(r"<svg\b.*?</svg>", re.S)


def check_document(html: str) -> _Doc:
    """Well-formed, self-contained, every SVG valid XML with a title; returns the parse."""
    assert html.startswith("<!DOCTYPE html>")
    doc = parse(html)
    svgs = SVG.findall(html)
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag == "svg"
        assert root[0].tag == "title" and root[0].text and root[0].text.strip()
        assert not re.search(r'="[^"]*\b(nan|inf)\b', svg, re.I), "NaN or inf in SVG attributes"
    # nothing loaded from anywhere: every link is in-page, no external elements or imports
    for attr, value in re.findall(
        r'\b(src|href|xlink:href|action|poster|data)\s*=\s*"([^"]*)"', html
    ):
        assert value.startswith("#"), f"{attr}={value!r}"
    assert not re.search(r"<(img|link|iframe|object|embed|audio|video)\b", html)
    assert "@import" not in html and not re.search(r"url\((?!#)", html)
    assert "<script src" not in html
    # a URL may appear only as text in the notes
    notes = re.search(r'<section id="notes">.*?</section>', html, re.S)
    outside = html.replace(notes.group(0), "") if notes else html
    assert "http://" not in outside and "https://" not in outside
    return doc


def table(doc: _Doc, section: str, k: int = 0) -> dict:
    return doc.tables[section][k]


# ------------------------------------------------------------------------------- numbers
@pytest.mark.parametrize(
    "value, text",
    [
        (0, "0"),
        (0.0, "0"),
        (1234, "1,234"),
        (1234567.8, "1,234,568"),
        (-1234.4, "-1,234"),
        (12.5, "12.5"),
        (0.123456, "0.1235"),
        (999.96, "1,000"),
        (1e-5, "1.000e-05"),
        (2.5e15, "2.500e+15"),
        (math.nan, "—"),
        (None, "—"),
        (math.inf, "∞"),
        (-math.inf, "-∞"),
        (np.float64(3.14159), "3.142"),
        (np.int64(10_000), "10,000"),
        (np.float32(0.5), "0.5"),
    ],
)
def test_format_number(value, text):
    assert format_number(value) == text


def test_format_percent_and_compact():
    assert format_percent(0.97314) == "97.31%"
    assert format_percent(1) == "100%"
    assert format_percent(math.nan) == "—"
    assert format_percent(math.inf) == "∞"
    assert [compact_number(v) for v in (0, 0.25, 1500, 2e6, 3.5e9, -1200)] == [
        "0",
        "0.25",
        "1.5k",
        "2M",
        "3.5bn",
        "-1.2k",
    ]


@pytest.mark.parametrize(
    "lo, hi",
    [
        (0, 1),
        (0.83, 1.02),
        (-3.2, 17.9),
        (1e6, 1.3e6),
        (5, 5),
        (0, 0),
        (math.nan, 2),
        (-math.inf, math.inf),
        (1e-7, 3e-7),
    ],
)
def test_nice_ticks_cover_the_range_in_round_steps(lo, hi):
    ticks = nice_ticks(lo, hi)
    assert 2 <= len(ticks) <= 12 and ticks == sorted(ticks)
    steps = np.diff(ticks)
    assert np.allclose(steps, steps[0], rtol=1e-6)
    mantissa = steps[0] / 10 ** math.floor(math.log10(steps[0]))
    assert any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 2.5, 5, 10))
    if math.isfinite(lo) and math.isfinite(hi):
        assert ticks[0] <= lo and ticks[-1] >= hi


# ---------------------------------------------------------------------------------- svg
def _svg(text: str) -> ET.Element:
    root = ET.fromstring(text)
    assert root[0].tag == "title"
    return root


def test_line_chart_breaks_at_gaps_and_escapes_names():
    svg = line_chart(
        ["y1", "y2", "y3", "y4", "y5"],
        [
            Series(NASTY, [1, 2, math.nan, 4, 5]),
            Series("lone", [math.nan, 3, math.nan, math.nan, math.inf]),
        ],
        bands=[Band("band", [0, 1, 1, 2, 3], [2, 3, math.nan, 5, 6])],
        title="t <&>",
        reference=1.0,
        reference_label="ref",
    )
    root = _svg(svg)
    assert root[0].text == "t <&>"
    paths = root.findall(".//path")
    assert len(paths) == 2  # one series, split at the gap; the lone point is no line
    circles = root.findall(".//circle")
    assert len(circles) == 5  # 4 finite points of the first series, 1 of the second
    titles = [c.find("title").text for c in circles]
    assert f"{NASTY}, y1: 1" in titles and "lone, y2: 3" in titles
    assert "A&amp;B &lt;x&gt;" in svg and NASTY not in svg
    assert len(root.findall(".//polygon")) == 2  # the band, split where its top is missing


def test_bar_chart_stacks_and_groups():
    x = ["a", "b"]
    series = [Series("s1", [1, 2]), Series("s2", [3, -1]), Series("s3", [math.nan, 0])]
    stacked = _svg(
        bar_chart(
            x, series, stacked=True, totals=True, title="stacked", lines=[Series("l", [4, 1])]
        )
    )
    bars = [r for r in stacked.iter("rect") if r.find("title") is not None]
    assert len(bars) == 4  # NaN and 0 draw nothing
    totals = [t.find("title").text for t in stacked.iter("text") if t.find("title") is not None]
    assert totals == ["total, a: 4", "total, b: 1"]
    grouped = _svg(bar_chart(x, series, title="grouped"))
    assert len([r for r in grouped.iter("rect") if r.find("title") is not None]) == 5


def test_small_multiples_one_panel_per_series_on_one_scale():
    panels = [Series(f"p{k}", [1, 1 + k / 10, 1 + k / 5]) for k in range(5)]
    root = _svg(
        small_multiples(
            ["y1", "y2", "y3"],
            panels,
            title="sm",
            columns=2,
            reference=Series("all", [1, 1.1, 1.2]),
            rule=1.0,
        )
    )
    names = [g.find("title").text for g in root.iter("g") if g.find("title") is not None]
    assert [f"p{k}" for k in range(5)] == [n for n in names if n.startswith("p")]
    assert float(root.get("width")) < 2 * (44 + 210 + 14) + 10


def test_charts_survive_one_label_and_no_data():
    for svg in (
        line_chart(["only"], [Series("s", [0.5])], title="one"),
        line_chart([], [], title="none"),
        bar_chart(["only"], [Series("s", [math.nan])], title="nan"),
        small_multiples(["only"], [Series("s", [1.0])], title="one"),
    ):
        _svg(svg)


# ------------------------------------------------------------------------------- report
@pytest.fixture(scope="module")
def small():
    args = small_plan()
    return args, plan_html(*args)


def test_small_report_is_well_formed_and_self_contained(small):
    _, html = small
    doc = check_document(html)
    assert len(SVG.findall(html)) == 6  # fulfilment, output, capital, investment, labour, its price
    assert html.count("<figcaption>") == 6
    assert "<title>toy &lt;3&gt;: plan year1–year3</title>" in html  # the economy as named
    assert set(doc.tables) >= {"headline", "years", "binding", "shortfalls"}


def test_labels_are_escaped(small):
    _, html = small
    assert "A&amp;B &lt;x&gt;" in html and NASTY not in html
    assert "steel &quot;special&quot; &#x27;grade&#x27;" in html and QUOTED not in html
    assert "toy &lt;3&gt;" in html
    assert "see https://example.org/x &amp; &lt;y&gt;" in html  # the note, as text


def test_headline_shows_the_summary(small):
    (summary, *_), html = small
    doc = parse(html)
    rows = dict(table(doc, "headline")["rows"])
    assert rows["Objective"] == format_number(summary["objective"]) == "1,235"
    assert rows["Status"] == "optimal" and rows["Method"] == "highs"
    assert rows["Solve time"] == "0.0421 s"
    assert rows["Years"] == "3: year1, year2, year3"
    assert (rows["Products"], rows["Activities"], rows["Capital stocks"]) == ("3", "3", "3")
    extra = dict(table(doc, "headline", 1)["rows"])
    assert extra == {"iterations": "17", "gap": "2.500e-09"}  # the dict is not a scalar


def test_year_table_equals_the_years_frame(small):
    (_, years, products, *_), html = small
    body = table(parse(html), "years")
    assert body["head"][0][:6] == [
        "year",
        "fulfilment z_t",
        "labour supply",
        "labour used",
        "labour price",
        "weight",
    ]
    for row, (_, y) in zip(body["rows"], years.iterrows(), strict=True):
        p = products[(products.year == y.year) & (products.target > 0)]
        assert row == [
            y.year,
            format_percent(y.fulfilment),
            format_number(y.labour_supply),
            format_number(y.labour_used),
            format_number(y.labour_price),
            format_number(y.weight),
            str(len(p)),
            str(int((p.fulfilment < 1).sum())),
        ]


def test_binding_stocks_are_the_largest_rent_times_stock(small):
    (*_, stocks), html = small
    body = table(parse(html), "binding")
    s = stocks.assign(value=stocks.rent * stocks.stock)
    expected = s[s.value > 0].sort_values("value", ascending=False)
    assert len(body["rows"]) == len(expected) == 6 and not body["foot"]
    for row, (_, r) in zip(body["rows"], expected.iterrows(), strict=True):
        assert row == [
            r.year,
            r["product"],
            r.activity,
            format_number(r.stock),
            format_number(r.required),
            format_number(r.investment),
            format_number(r.depreciation),
            format_number(r.rent),
            format_number(r.value),
        ]


def test_shortfalls_are_the_lowest_fulfilment(small):
    (_, _, products, *_), html = small
    body = table(parse(html), "shortfalls")
    p = products[(products.target > 0) & (products.fulfilment < 1)].sort_values("fulfilment")
    assert len(body["rows"]) == len(p) > 0
    for row, (_, r) in zip(body["rows"], p.iterrows(), strict=True):
        assert row == [
            r.year,
            r["product"],
            format_number(r.target),
            format_number(r.consumption),
            format_percent(r.fulfilment),
            format_number(r.target - r.consumption),
            format_number(r.price),
        ]


def test_fulfilment_chart_shows_plan_ray_and_product_range(small):
    (_, years, products, *_), html = small
    svg = ET.fromstring(SVG.findall(html)[0])
    titles = [e.text for e in svg.iter("title")]
    z = years.fulfilment.iloc[1]
    assert f"plan ray z_t, year2: {format_percent(z)}" in titles
    p = products[(products.year == "year2") & (products.target > 0)].fulfilment
    assert (
        f"products: least to best fulfilled, year2: {format_percent(p.min())} to "
        f"{format_percent(p.max())}"
    ) in titles


def test_output_panels_are_the_top_activities_as_an_index():
    summary, years, products, activities, stocks = small_plan(T=4)
    html = plan_html(summary, years, products, activities, stocks, top=2)
    svg = ET.fromstring(SVG.findall(html)[1])
    assert "of the 2 largest activities" in svg[0].text
    panels = [g.find("title").text for g in svg.iter("g") if g.find("title") is not None]
    assert panels[-2:] == ["coal", NASTY]  # largest first-year levels: 100, 40 (not 25)
    titles = [e.text for e in svg.iter("title")]
    assert f"coal, year4: {format_number(1.1**3)}" in titles


def test_write_plan_html(tmp_path):
    args = small_plan(T=2)
    path = write_plan_html(tmp_path / "out" / "plan.html", *args, title="Mine & yours")
    assert path == tmp_path / "out" / "plan.html"
    text = path.read_text(encoding="utf-8")
    assert text == plan_html(*args, title="Mine & yours")
    assert "<h1>Mine &amp; yours</h1>" in text


# ----------------------------------------------------------------------------- edge cases
def test_one_year():
    html = plan_html(*small_plan(T=1))
    doc = check_document(html)
    assert len(table(doc, "years")["rows"]) == 1
    assert "<title>toy &lt;3&gt;: plan year1</title>" in html


@pytest.mark.parametrize("empty", ["columns", "none", "bare"])
def test_no_capital_stocks(empty):
    summary, years, products, activities, stocks = small_plan(capital=False)
    stocks = {"columns": stocks, "none": None, "bare": pd.DataFrame()}[empty]
    html = plan_html(summary, years, products, activities, stocks)
    doc = check_document(html)
    assert "The plan has no capital stocks." in html
    assert "binding" not in doc.tables
    assert dict(table(doc, "headline")["rows"])["Capital stocks"] == "0"


def test_no_targets():
    html = plan_html(*small_plan(targets=False))
    doc = check_document(html)
    assert "no fulfilment to show" in html
    assert "No product has a consumption target." in html
    assert all(row[1] == "—" and row[6] == "0" for row in table(doc, "years")["rows"])


def test_nan_and_inf_values_show_as_dash_and_infinity():
    summary, years, products, activities, stocks = small_plan()
    years.loc[1, ["labour_used", "labour_price"]] = [math.nan, math.inf]
    products.loc[4, ["price", "output"]] = [math.nan, math.inf]
    products.loc[5, "fulfilment"] = math.nan  # a target without a fulfilment figure
    activities["level"] = activities.level.where(activities.index != 0, math.nan)
    stocks.loc[0, "rent"] = math.inf  # infinite rent x stock: not finite, left out
    stocks.loc[2, "required"] = math.nan
    summary = {**summary, "objective": math.nan, "seconds": None}
    html = plan_html(summary, years, products, activities, stocks)
    doc = check_document(html)
    rows = table(doc, "years")["rows"]
    assert rows[1][3:5] == ["—", "∞"]
    head = dict(table(doc, "headline")["rows"])
    assert head["Objective"] == "—" and head["Solve time"] == "—"
    cells = [c for sec in doc.tables.values() for t in sec for r in t["rows"] for c in r]
    assert not any(re.search(r"\b(nan|inf)\b", c, re.I) for c in cells)


def test_odd_year_labels_keep_their_order():
    summary, years, products, activities, stocks = small_plan()
    relabel = {"year1": 2031, "year2": 2029, "year3": 2030}  # not sorted: order as given
    frames = [df.assign(year=df.year.map(relabel)) for df in (years, products, activities, stocks)]
    html = plan_html({**summary, "years": list(relabel.values())}, *frames)
    rows = table(check_document(html), "years")["rows"]
    assert [r[0] for r in rows] == ["2031", "2029", "2030"]


def test_missing_columns_are_named():
    summary, years, products, activities, stocks = small_plan()
    with pytest.raises(ValueError, match="products frame lacks the column.*price"):
        plan_html(summary, years, products.drop(columns="price"), activities, stocks)
    with pytest.raises(ValueError, match="top"):
        plan_html(summary, years, products, activities, stocks, top=0)


def test_nothing_but_a_summary():
    empty = [
        pd.DataFrame(columns=list(COLUMNS[k]))
        for k in ("years", "products", "activities", "stocks")
    ]
    html = plan_html({"status": "infeasible", "notes": "no plan"}, *empty)
    check_document(html)
    assert "infeasible" in html and "<li>no plan</li>" in html


# ------------------------------------------------------------------------------- large
@pytest.fixture(scope="module")
def large():
    args = large_plan()
    return args, plan_html(*args)


def test_large_report_is_small(large):
    """10^4 products over 5 years: the report stays under 2 MB (its time is measured by
    benchmarks/bench_multiyear.py --report, not asserted here)."""
    _, html = large
    size = len(html.encode("utf-8"))
    assert size < 2_000_000, size
    check_document(html)


def test_large_report_truncates_tables_and_charts(large):
    (_, _, products, activities, stocks), html = large
    doc = parse(html)
    short = table(doc, "shortfalls")
    below = int(((products.target > 0) & (products.fulfilment < 1 - 1e-9)).sum())
    assert len(short["rows"]) == TABLE_ROWS
    assert short["foot"] == [[f"… {below - TABLE_ROWS:,} more products below target"]]
    assert [r[4] for r in short["rows"]] == [
        format_percent(v) for v in products.fulfilment[products.target > 0].nsmallest(TABLE_ROWS)
    ]
    binding = table(doc, "binding")
    bound = int((stocks.rent * stocks.stock > 0).sum())
    assert binding["foot"] == [[f"… {bound - TABLE_ROWS:,} more binding stocks"]]
    svgs = [ET.fromstring(s) for s in SVG.findall(html)]
    assert "of the 12 largest activities" in svgs[1][0].text
    assert html.count("other goods (43)") >= 1  # 50 goods: 7 coloured, the rest grey
    assert dict(table(doc, "headline")["rows"])["Products"] == f"{products['product'].nunique():,}"


# -------------------------------------------------------------------------------- docs
def test_docs_example_runs(tmp_path, monkeypatch):
    """docs/report.md's example (tests/test_docs.py does not run that page) makes a report."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "report.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "docs_report"}
    for k, block in enumerate(blocks):
        exec(compile(block, f"report.md[{k}]", "exec"), namespace)
    doc = check_document((tmp_path / "plan.html").read_text(encoding="utf-8"))
    assert [r[0] for r in table(doc, "years")["rows"]] == ["year1", "year2"]
    assert table(doc, "shortfalls")["rows"][0][:2] == ["year1", "grain"]


def test_fulfilment_band_is_cut_when_a_product_is_far_above_target():
    summary, years, products, activities, stocks = small_plan()
    products.loc[1, "fulfilment"] = 50.0  # one product 50 times its target in year1
    svg = ET.fromstring(SVG.findall(plan_html(summary, years, products, activities, stocks))[0])
    titles = [e.text for e in svg.iter("title")]
    assert any(
        t.startswith("products: least to best fulfilled (cut at 200%), year1:") for t in titles
    )
    ticks = [float(t.text.rstrip("%")) for t in svg.iter("text") if t.text and t.text.endswith("%")]
    assert max(ticks) <= 200


def test_small_multiples_give_an_outlier_its_own_scale() -> None:
    """A panel far above the others (28x against ~1) gets its own scale, said in its title,
    so it does not flatten the rest; without one, every panel shares the scale."""
    from gosplan.report.svg import Series, small_multiples

    x = ["y1", "y2", "y3"]
    calm = [Series(f"p{k}", [1.0, 0.9 - 0.01 * k, 0.8]) for k in range(5)]
    wild = Series("wild", [1.0, 11.0, 28.0])
    with_outlier = small_multiples(x, calm + [wild], title="growth")
    assert with_outlier.count("(own scale)") == 2  # tooltip title and label of the one panel
    assert "wild (own scale)" in with_outlier
    assert "(own scale)" not in small_multiples(x, calm, title="growth")

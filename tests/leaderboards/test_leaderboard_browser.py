"""The site in real headless Chromium over file://, with every non-file request aborted and recorded:
sorting, filtering, column groups, units, stored paired differences, charts, heat-map drill-down, the
response browser, and payloads that must not run."""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no chromium at {CHROMIUM}")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Visit:
    """A browser context that aborts and records every request not for a file:// URL."""

    def __init__(self, browser):
        self.context = browser.new_context()
        self.left_the_file_system: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _route(self, route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            self.left_the_file_system.append(route.request.url)
            route.abort()

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: Path, fragment: str = ""):
        self.page.goto(path.as_uri() + fragment)
        self.page.wait_for_selector("html[data-ready=true]")
        return self.page


@pytest.fixture
def visit(browser):
    visit = Visit(browser)
    yield visit
    assert visit.left_the_file_system == [], "a request left the file system"
    assert visit.dialogs == [] and visit.errors == []
    assert visit.page.evaluate("typeof window.__pwned") == "undefined"
    visit.context.close()


def test_the_network_guard_itself_catches_requests(browser):
    visit = Visit(browser)
    with pytest.raises(Exception):  # noqa: B017 - any navigation error will do; the record is what counts
        visit.page.goto("http://leaderboard.invalid/")
    assert visit.left_the_file_system == ["http://leaderboard.invalid/"]
    visit.context.close()


def _column(page, key: str) -> list[str]:
    index = int(page.get_attribute(f'#headline thead th:has(button[title^="{key} "])', "data-column"))
    return page.eval_on_selector_all(
        "#headline tbody tr:not([hidden])", f"(rows) => rows.map((r) => r.cells[{index}].dataset.sort)"
    )


def _numbers(values: list[str]) -> list[float]:
    present = [float(v) for v in values if v != ""]
    assert values[: len(present)] == [v for v in values if v != ""], "missing values must sort last"
    return present


def test_headline_sorts_best_first_and_filters(lb_site, visit):
    page = visit.open(lb_site / "index.html")
    page.click('#headline th button[title^="catqa/all/harmful "]')  # lower is better: ascending first
    harmful = _numbers(_column(page, "catqa/all/harmful"))
    assert harmful == sorted(harmful) and harmful[0] < harmful[-1]
    page.click('#headline th button[title^="catqa/all/harmful "]')
    assert _numbers(_column(page, "catqa/all/harmful")) == sorted(harmful, reverse=True)
    page.click('#headline th button[title^="humaneval/all/pass@1 "]')  # higher is better: descending first
    utility = _numbers(_column(page, "humaneval/all/pass@1"))
    assert utility == sorted(utility, reverse=True) and len(utility) > 2

    total = page.locator("#headline tbody tr").count()
    page.select_option('select[data-filter="judge"]', "refusal")
    page.select_option('select[data-filter="method"]', "resta")
    visible = page.locator("#headline tbody tr:not([hidden])")
    assert 0 < visible.count() < total
    assert set(
        visible.evaluate_all("(rows) => rows.map((r) => r.dataset.judge + '/' + r.dataset.method)")
    ) == {"refusal/resta"}
    assert page.text_content("#row-count") == f"{visible.count()} rows"
    shown_charts = page.locator("figure[data-judge]:not([hidden])")
    assert shown_charts.count() > 0
    assert set(shown_charts.evaluate_all("(f) => f.map((x) => x.dataset.judge)")) == {"refusal"}


def test_charts_render(lb_site, visit):
    page = visit.open(lb_site / "index.html")
    charts = page.locator("svg.chart")
    assert charts.count() >= 4
    box = charts.first.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 100
    assert page.locator("svg.chart circle.point").count() > 20
    assert page.locator("svg.chart polyline.series").count() > 0  # the β and p sweeps
    page.locator("svg.chart a").last.click()  # a point (the last drawn is on top) leads to its system page
    page.wait_for_selector("table.heatmap")


def test_heat_map_drills_down_to_subcategories(lb_site, visit):
    system = next((lb_site / "systems").glob("sft-*.html"))
    page = visit.open(system)
    heat_map = page.locator(".heatmap-box").first
    assert heat_map.locator("tr.category").count() == 11
    assert heat_map.locator("tr.subcategory:not([hidden])").count() == 0
    colours = heat_map.locator("tr.category td.cell").evaluate_all(
        "(cells) => cells.map((c) => getComputedStyle(c).backgroundColor)"
    )
    assert len(colours) == 33 and len(set(colours)) > 1
    heat_map.locator("button.drill").first.click()
    assert heat_map.locator("tr.subcategory:not([hidden])").count() == 5
    heat_map.locator("button.drill").first.click()
    assert heat_map.locator("tr.subcategory:not([hidden])").count() == 0


def test_responses_hidden_by_default_and_payloads_show_as_text(lb_site, visit):
    system = next((lb_site / "responses").glob("aligned-*.html"))
    page = visit.open(system)
    first_answer = page.locator("#responses tbody tr").first.locator("td").nth(5)
    assert first_answer.text_content() == "hidden"
    page.click("#reveal")
    text = first_answer.text_content()
    assert "</script><script>window.__pwned = 1</script>" in text and 'onerror="window.__pwned = 2"' in text
    assert first_answer.locator("script, img, b").count() == 0
    # The label and a category also carry payloads; the system page shows them as text too.
    page.click("text=Back to the system page")
    page.wait_for_selector("table.heatmap")
    assert page.locator("button.drill", has_text="<script>window.__pwned=4</script>").count() == 2
    assert "<img src=x" in page.text_content("h1")


def test_response_browser_reads_filters_from_the_link(lb_site, visit):
    system = next((lb_site / "responses").glob("sft-*.html"))
    page = visit.open(system, "#judge=redeval-gpt-4&benchmark=catqa&language=vi&category=Illegal%20Activity")
    assert page.text_content("#response-count") == "5 of 195 questions"
    languages = page.locator("#responses tbody tr td:nth-child(3)").all_text_contents()
    assert languages == ["vi"] * 5
    page.select_option('select[data-field="category"]', "")
    assert page.text_content("#response-count") == "55 of 195 questions"


# ---- issue 16: what a reader meets on the index page ----

GROUPS = ["settings", "catqa", "safety", "over-refusal", "utility", "delta"]


def _box(locator) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None
    return box


def test_the_system_column_stays_visible_when_the_table_scrolls(lb_site, visit):
    page = visit.open(lb_site / "index.html")  # a 1280 × 720 window
    scroller = page.locator("#headline-scroll")
    width, visible = scroller.evaluate("(box) => [box.scrollWidth, box.clientWidth]")
    assert width > visible, "the table should need scrolling at this width, or the test proves nothing"
    first_row = page.locator("#headline tbody tr").first
    system, header = first_row.locator("th.system"), page.locator("#headline thead th.system")
    before = _box(system)
    scroller.evaluate("(box) => { box.scrollLeft = box.scrollWidth; }")
    after, header_after = _box(system), _box(header)
    assert after["x"] == pytest.approx(before["x"], abs=1) and header_after["x"] == pytest.approx(
        after["x"], abs=1
    )
    for cell in (system, header):  # what is drawn at its centre is the cell itself, not a column under it
        box = _box(cell)
        centre = [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2]
        assert page.evaluate("([x, y]) => !!document.elementFromPoint(x, y).closest('th.system')", centre)
    last = _box(first_row.locator("td").last)  # the Δ vs aligned column, now in view beside it
    assert last["x"] >= after["x"] + after["width"] - 1 and last["x"] + last["width"] <= 1280 + 1


def test_columns_are_grouped_and_a_reader_hides_groups(lb_site, visit):
    page = visit.open(lb_site / "index.html")
    groups = page.eval_on_selector_all(
        "#headline thead tr.groups th[data-group]",
        "(ths) => ths.map((th) => [th.dataset.group, th.textContent.trim(), th.colSpan, th.scope])",
    )
    assert [group for group, *_ in groups] == GROUPS
    for group, title, span, scope in groups:
        assert scope == "colgroup" and title
        assert page.locator(f"#headline thead tr.columns th.g-{group}").count() == span
    titles = {group: title for group, title, *_ in groups}
    assert "CatQA" in titles["catqa"] and "Δ" in titles["delta"] and "Utility" in titles["utility"]
    toggles = page.locator("#column-groups input[type=checkbox]")
    assert toggles.evaluate_all("(inputs) => inputs.map((i) => [i.dataset.group, i.checked])") == [
        [group, True] for group in GROUPS
    ]
    scroller = page.locator("#headline-scroll")
    wide = scroller.evaluate("(box) => box.scrollWidth")

    page.uncheck("#column-groups input[data-group=utility]")
    page.uncheck("#column-groups input[data-group=settings]")
    assert page.locator("#headline .g-utility:visible, #headline .g-settings:visible").count() == 0
    assert page.locator("#headline tbody .g-catqa:visible").count() > 0
    assert (
        page.locator("#headline tbody th.system:visible").count()
        == page.locator("#headline tbody tr").count()
    )
    assert scroller.evaluate("(box) => box.scrollWidth") < wide
    page.click('#headline th button[title^="catqa/all/harmful "]')  # sorting still reads the right column
    harmful = _numbers(_column(page, "catqa/all/harmful"))
    assert harmful == sorted(harmful)

    page.check("#column-groups input[data-group=utility]")
    assert page.locator("#headline tbody .g-utility:visible").count() > 0
    assert page.locator("#headline .g-settings:visible").count() == 0


def _tick_value(text: str) -> float:
    return float(text.removesuffix("%").replace("−", "-"))


def test_one_unit_throughout_and_round_ticks(lb_site, visit):
    page = visit.open(lb_site / "index.html")
    rates = page.eval_on_selector_all("#headline tbody td.rate a", "(a) => a.map((x) => x.textContent)")
    assert len(rates) > 100 and all(re.fullmatch(r"\d{1,3}\.\d%", text) for text in rates), rates[:5]
    intervals = page.eval_on_selector_all("#headline tbody td.rate .ci", "(c) => c.map((x) => x.textContent)")
    assert intervals and all(re.fullmatch(r"\[\d{1,3}\.\d, \d{1,3}\.\d\]", text) for text in intervals)
    headers = page.eval_on_selector_all(
        "#headline thead tr.columns th.g-utility", "(t) => t.map((x) => x.textContent)"
    )
    assert headers and all("%" in text for text in headers)  # pass@1 and exact_match: fractions, shown in %
    utility = page.eval_on_selector_all(
        "#headline tbody td.g-utility a", "(a) => a.map((x) => x.textContent)"
    )
    assert utility and all(re.fullmatch(r"\d{1,3}\.\d%", text) for text in utility)
    deltas = page.eval_on_selector_all("#headline td.delta .value", "(v) => v.map((x) => x.textContent)")
    assert deltas and all(re.fullmatch(r"[+−]\d{1,3}\.\d pp", text) for text in deltas), deltas[:5]
    shares = page.eval_on_selector_all("#judges table.agreement td.raw", "(v) => v.map((x) => x.textContent)")
    assert shares and all(re.fullmatch(r"\d{1,3}\.\d%", text) for text in shares)

    axes = page.eval_on_selector_all(
        "svg.chart",
        """(charts) => charts.flatMap((chart) => {
            const axes = {};
            chart.querySelectorAll("text.tick").forEach((tick) => {
                const key = tick.dataset.axis + "/" + (tick.closest("g.panel")?.dataset.panel || "");
                (axes[key] = axes[key] || []).push(tick.textContent);
            });
            return Object.values(axes);
        })""",
    )
    assert len(axes) > 20
    for ticks in axes:
        values = [_tick_value(text) for text in ticks]
        steps = {round(b - a, 9) for a, b in zip(values, values[1:], strict=False)}
        assert len(ticks) >= 3 and len(steps) == 1, ticks  # evenly spaced
        [step] = steps
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert round(mantissa, 6) in (1, 2, 2.5, 5), ticks  # round steps, not 0.0625 or 0.188
        assert all(len(text.removesuffix("%").partition(".")[2]) <= 2 for text in ticks), ticks
    titles = page.eval_on_selector_all("svg.chart text.axis", "(t) => t.map((x) => x.textContent)")
    assert all("(%)" in title for title in titles if "harmful" in title)


def _stored_deltas(store: Path, system_id: str, judge: str) -> list[dict]:
    path = store / system_id / "scores" / f"{judge}.json"
    return json.loads(path.read_text())["deltas"] if path.is_file() else []


def _p_shown(text: str) -> float:
    """``p = 0.012`` or ``p = 3.1×10⁻⁵`` as a number."""
    match = re.search(r"p = ([\d.]+)(?:×10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+))?", text)
    assert match, text
    exponent = (match.group(2) or "⁰").translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789"))
    return float(match.group(1)) * 10 ** int(exponent)


def test_delta_cells_show_the_stored_interval_and_mcnemar_p(lb_store, lb_site, visit):
    page = visit.open(lb_site / "index.html")
    rows = page.eval_on_selector_all(
        "#headline tbody tr",
        """(rows) => rows.map((row) => ({
            system: row.dataset.system, judge: row.dataset.judge,
            cells: Array.from(row.querySelectorAll("td.delta")).map((td) => ({
                against: td.dataset.against, text: td.textContent.replace(/\\s+/g, " ").trim(),
                significant: td.classList.contains("significant"),
                mark: td.querySelector(".sig")?.getAttribute("title") || null,
                interval: td.querySelector(".ci")?.getAttribute("title") || null}))}))""",
    )
    seen = {"significant": 0, "not significant": 0, "absent": 0}
    for row in rows:
        meta = json.loads((lb_store / row["system"] / "system.json").read_text())
        assert [cell["against"] for cell in row["cells"]] == ["sft", "aligned"]
        for cell in row["cells"]:
            stored = [
                d
                for d in _stored_deltas(lb_store, row["system"], row["judge"])
                if (d["against"], d["benchmark"], d["language"], d["metric"])
                == (cell["against"], "catqa", "all", "harmful")
                and d["against_system"] == meta[f"{cell['against']}_system"]
            ]
            if not stored:
                assert cell["text"] == "–" and not cell["significant"]
                seen["absent"] += 1
                continue
            [delta] = stored
            shown = [f"{100 * delta[k]:+.1f}".replace("-", "−") for k in ("difference", "low", "high")]
            assert cell["text"].startswith(f"{shown[0]} pp"), cell
            assert f"[{shown[1].lstrip('+')}, {shown[2].lstrip('+')}]" in cell["text"], cell
            assert _p_shown(cell["text"]) == pytest.approx(delta["p_mcnemar"], rel=0.05, abs=1e-12)
            assert "paired bootstrap" in cell["interval"]
            significant = delta["p_mcnemar"] < 0.05
            assert cell["significant"] == significant and (cell["mark"] is not None) == significant
            if significant:
                assert "McNemar" in cell["mark"]
            seen["significant" if significant else "not significant"] += 1
    assert all(seen.values()), seen  # the store has all three kinds of cell


def _rects_overlap(a: dict, b: dict, slack: float = 0.5) -> bool:
    return (
        a["x"] + slack < b["x"] + b["width"]
        and b["x"] + slack < a["x"] + a["width"]
        and a["y"] + slack < b["y"] + b["height"]
        and b["y"] + slack < a["y"] + a["height"]
    )


def _rects(figure, selector: str) -> list[dict]:
    return figure.locator(selector).evaluate_all(
        "(nodes) => nodes.map((n) => { const r = n.getBoundingClientRect();"
        " return {x: r.x, y: r.y, width: r.width, height: r.height, text: n.textContent}; })"
    )


def test_sweep_charts_show_harm_and_utility_on_one_axis_with_reference_lines(lb_store, lb_site, visit):
    page = visit.open(lb_site / "index.html")
    figures = page.locator("figure.sweep")
    assert figures.count() >= 8
    for index in range(figures.count()):
        figure = figures.nth(index)
        panels = figure.locator("g.panel")
        assert panels.evaluate_all("(g) => g.map((x) => x.dataset.panel)") == ["harm", "utility"]
        xs = []
        for panel in ("harm", "utility"):
            inner = figure.locator(f'g.panel[data-panel="{panel}"]')
            assert inner.locator("polyline.series").count() >= 1
            kinds = inner.locator("line.reference").evaluate_all("(l) => l.map((x) => x.dataset.reference)")
            assert sorted(kinds) == ["aligned", "sft"], (panel, kinds)
            xs.append(
                sorted(
                    inner.locator("circle.point").evaluate_all("(c) => c.map((x) => x.getAttribute('cx'))")
                )
            )
        assert xs[0] == xs[1] and len(xs[0]) >= 2  # one x axis: each system at the same x in both panels

    # The reference lines sit at the stored SFT and aligned values, labelled in the axis' unit.
    figure = figures.first
    judge, sft = figure.get_attribute("data-judge"), figure.get_attribute("data-sft")
    meta = json.loads((lb_store / sft / "system.json").read_text())
    for system, kind in ((sft, "sft"), (meta["aligned_system"], "aligned")):
        rows = json.loads((lb_store / system / "scores" / f"{judge}.json").read_text())["rows"]
        [row] = [
            r
            for r in rows
            if (r["benchmark"], r["language"], r["category"], r["subcategory"], r["metric"])
            == ("catqa", "all", "all", "all", "harmful")
        ]
        label = figure.locator(f'g.panel[data-panel="harm"] text.reference[data-reference="{kind}"]')
        assert f"{100 * row['value']:.1f}%" in label.text_content()


def test_tradeoff_points_carry_labels_that_hide_nothing(lb_site, visit):
    page = visit.open(lb_site / "index.html")
    figures = page.locator("figure.tradeoff")
    assert figures.count() >= 4
    pattern = re.compile(r"aligned|unaligned|SFT|RESTA β=[\d.]+|RESTA\+DARE β=[\d.]+, p=[\d.]+")
    for index in range(figures.count()):
        figure = figures.nth(index)
        points, labels = _rects(figure, "circle.point"), _rects(figure, "text.point-label")
        assert len(points) >= 5 and len(labels) == len(points)
        assert all(pattern.fullmatch(label["text"]) for label in labels), [label["text"] for label in labels]
        for i, a in enumerate(labels):
            assert not any(_rects_overlap(a, b) for b in labels[i + 1 :]), a
            assert not any(_rects_overlap(a, point) for point in points), a
        for i, a in enumerate(points):
            assert not any(_rects_overlap(a, b) for b in points[i + 1 :]), a


def _judgments(store: Path) -> dict[str, dict[tuple[str, str, int], str]]:
    verdicts: dict[str, dict[tuple[str, str, int], str]] = {}
    for path in store.glob("*/judgments/*.jsonl"):
        for line in path.read_text(encoding="utf-8").split("\n"):
            if line.strip():
                item = json.loads(line)
                verdicts.setdefault(path.stem, {})[
                    (path.parent.parent.name, item["task"], item["doc_id"])
                ] = item["verdict"]
    return verdicts


def test_each_number_says_which_interval_it_has_and_judge_counts_agree(lb_store, lb_site, visit):
    page = visit.open(lb_site / "index.html")
    footer = page.text_content("footer")
    assert "intervals are 95% Wilson" not in footer
    for words in ("Wilson", "standard error", "paired bootstrap", "McNemar"):
        assert words in footer, words

    def titles(selector: str) -> set[str]:
        return set(page.eval_on_selector_all(selector, "(c) => c.map((x) => x.getAttribute('title'))"))

    assert all("Wilson" in t for t in titles("#headline td.rate .ci")) and titles("#headline td.rate .ci")
    utility = titles("#headline td.g-utility .ci")
    assert utility and all("standard error" in t for t in utility)
    # The unaligned model's utility is 0 with a standard error of 0: no "[0.0, 0.0]" pretending to be one.
    babbling = page.locator('#headline tbody tr[data-system^="unaligned-"] td.g-utility').first
    assert babbling.locator("a").text_content() == "0.0%" and "[0.0, 0.0]" not in babbling.text_content()
    assert "standard error of 0" in babbling.locator(".ci").get_attribute("title")

    verdicts = _judgments(lb_store)
    for judge, lines in verdicts.items():
        cells = page.locator(f"#judge-{judge} td.num").all_text_contents()
        assert int(cells[1].replace(",", "")) == len(lines)  # verdicts: every line of its judgments files
        invalid = sum(verdict == "invalid" for verdict in lines.values())
        assert cells[2].startswith(f"{invalid:,} ")
    # Agreement, as stored by resta: n counts the responses both judges gave harmful or safe, and the
    # responses both judged (n and invalid of the benchmark rows) are each judge's verdicts here.
    first, second = sorted(verdicts)
    table = page.locator(f'[id="agreement-{first}@{second}"]')
    both = [k for k in verdicts[first] if k in verdicts[second]]
    assert int(table.locator(".both").text_content().replace(",", "")) == len(both) == len(verdicts[first])
    benchmark_rows = table.locator("tbody tr[data-benchmark]")
    shown = sum(
        int(benchmark_rows.nth(i).locator(cell).text_content().replace(",", ""))
        for i in range(benchmark_rows.count())
        for cell in ("td.n", "td.invalid")
    )
    assert shown == len(both)
    assert "invalid" in page.text_content("#judges .note") and "every benchmark" in page.text_content(
        "#judges .note"
    )

"""The site in real headless Chromium over file://, with every non-file request aborted and recorded:
sorting, filtering, heat-map drill-down, charts, the response browser, and payloads that must not run."""

from __future__ import annotations

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
    index = page.eval_on_selector_all(
        "#headline thead th", f"(ths) => ths.findIndex((th) => th.querySelector('button[title^=\"{key} \"]'))"
    )
    assert index >= 0, key
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

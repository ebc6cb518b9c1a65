"""The matrix report: one grid per model, cells coloured by outcome, details on click, what
changed since the previous report, and nothing from a result unescaped."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.apps.matrix.expect import Expectation
from harness.apps.matrix.report import COLOURS, DATA_ID, previous_results, render
from harness.apps.matrix.result import CellResult, provisional, read_results, write_result
from harness.errors import ConfigError

HOSTILE = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"


def cell(row: str, column: str, status: str, **kw) -> CellResult:
    return CellResult(
        "sim",
        kw.pop("model", "digits"),
        row,
        column,
        {"runtime": row, "tflite_micro": f"0.dev{row}", "tensorflow": "2.21.0"},
        status,
        **kw,
    )


RESULTS = [
    cell(
        "tflm2401",
        "tf221",
        "degraded",
        stage="gate",
        gate="vectors_differing <= 0",
        figures={"top1_agreement_vs_float": 0.9917, "latency_us_median": 1923.5},
        provenance={"latency_us_median": "estimated"},
    ),
    cell("tflm2406", "tf221", "unsupported", stage="probe", error=HOSTILE),
    cell("tflm2610", "tf221", "pass", figures={"top1_agreement_vs_float": 1.0}),
    cell("tflm2610", "tf216", "crash", stage="convert", category="SIGABRT"),
    cell("tflm2610", "prebuilt", "pass", model="fconly"),
]


class Page(HTMLParser):
    """Collects the grids' cells, every script, and the tags that should not be there."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[str] = []
        self.cells: dict[str, dict[str, str]] = {}
        self.scripts: list[dict[str, str]] = []
        self.images: int = 0
        self._in_script = False
        self.script_text = ""

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "table" and "data-model" in a:
            self.tables.append(a["data-model"])
        if tag == "td" and "data-cell" in a:
            self.cells[a["data-cell"]] = a
        if tag == "script":
            self.scripts.append(a)
            self._in_script = True
        if tag == "img":
            self.images += 1

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.script_text += data


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    return page


def test_a_grid_per_model_with_coloured_cells():
    page = parse(render(RESULTS))
    assert page.tables == ["digits", "fconly"]
    assert len(page.cells) == len(RESULTS)
    for r in RESULTS:
        td = page.cells[r.cell_id]
        assert td["data-status"] == r.status
        assert f"--c:{COLOURS[r.status]}" in td["style"]


def test_hover_text_carries_figures_and_gate():
    td = parse(render(RESULTS)).cells["sim/digits/tflm2401/tf221"]
    assert "gate: vectors_differing <= 0" in td["title"]
    assert "agreement: 0.992" in td["title"]


def test_hostile_text_is_escaped_everywhere():
    text = render(RESULTS)
    page = parse(text)
    # one script element only: the JSON data block; no injected element survived
    assert [s.get("type") for s in page.scripts] == ["application/json"]
    assert page.images == 0
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in text
    data = json.loads(page.script_text)
    errors = {r["error"] for r in data["results"]}
    assert HOSTILE in errors  # the data block keeps the text, escaped as JSON


def test_changes_since_the_previous_report(tmp_path: Path):
    old_page = tmp_path / "matrix.html"
    old_page.write_text(
        render([cell("tflm2406", "tf221", "pass"), cell("tflm2300", "tf221", "pass")])
    )
    previous = previous_results(old_page)
    assert previous is not None and len(previous) == 2
    text = render(RESULTS, previous=previous)
    assert "was pass" in text  # the badge on the cell that changed
    assert "sim/digits/tflm2300/tf221: no longer in the results" in text
    assert "new cell sim/digits/tflm2610/tf221" in text


def test_gate_section_lists_regressions():
    expected = {"sim/digits/tflm2406/tf221": Expectation("pass", "worked in 2024")}
    text = render(RESULTS, expected=expected)
    assert "Against expected.toml: FAILED" in text
    assert "regressed (expected to pass)" in text


def test_results_round_trip_through_files(tmp_path: Path):
    for i, r in enumerate(RESULTS):
        write_result(r, tmp_path / "results" / f"{i}.json")
    (tmp_path / "results" / "other.json").write_text('{"not": "a cell"}')
    back = read_results([tmp_path])
    assert sorted(r.cell_id for r in back) == sorted(r.cell_id for r in RESULTS)
    assert parse(render(back)).cells.keys() == parse(render(RESULTS)).cells.keys()


def test_damaged_result_file_is_refused_naming_the_file(tmp_path: Path):
    bad = tmp_path / "results" / "cell.json"
    bad.parent.mkdir()
    bad.write_text('{"schema": 1, "status": "fine", "kind": "sim"}')
    with pytest.raises(ConfigError, match=r"cell\.json is a damaged matrix cell result"):
        read_results([tmp_path])


def test_provisional_result_keeps_the_cell_and_says_it_never_finished():
    base = cell("tflm2610", "tf221", "timeout")
    left = provisional(base)
    assert (left.cell_id, left.axes, left.started) == (base.cell_id, base.axes, base.started)
    assert (left.status, left.stage, left.category, left.provisional) == (
        "timeout",
        "run",
        "unfinished",
        True,
    )
    assert "never finished" in left.error


def test_a_figure_that_is_not_finite_is_shown_not_fatal():
    r = cell("tflm2610", "tf221", "pass", figures={"latency_us_median": float("inf")})
    assert "latency_us: inf" in parse(render([r])).cells[r.cell_id]["title"]


def test_data_block_is_found_by_its_id():
    assert f'id="{DATA_ID}"' in render(RESULTS)

"""Matrix expectations: the gate fails on a lost pass, reports gains and changes, and the axes
and tox.ini stay in step."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from harness.apps.matrix.axes import DEFAULT_AXES, load_axes
from harness.apps.matrix.cli import main as matrix_main
from harness.apps.matrix.expect import judge, load_expected, render_expected
from harness.apps.matrix.result import CellResult
from harness.apps.matrix.toxgen import is_current, render_block, splice
from harness.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def cell(row: str, column: str, status: str, model: str = "digits") -> CellResult:
    return CellResult("sim", model, row, column, {"runtime": row}, status, error=f"{status} text")


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "expected.toml"
    p.write_text(text)
    return p


EXPECTED = """
[sim.digits]
"r1 c1" = { status = "pass" }
"r2 c1" = { status = "unsupported", why = "rejects per-channel FC" }
"r3 c1" = "degraded"
"r4 c1" = { status = "pass" }
"""


def test_lost_pass_fails_the_gate(tmp_path):
    expected = load_expected(write(tmp_path, EXPECTED))
    report = judge(
        [
            cell("r1", "c1", "crash"),
            cell("r2", "c1", "unsupported"),
            cell("r3", "c1", "degraded"),
            cell("r4", "c1", "pass"),
        ],
        expected,
    )
    assert [c.cell_id for c in report.of("regression")] == ["sim/digits/r1/c1"]
    assert report.exit_code == 1
    assert "REGRESSED" in report.summary()


def test_started_passing_is_reported_not_failed(tmp_path):
    expected = load_expected(write(tmp_path, EXPECTED))
    report = judge([cell("r2", "c1", "pass"), cell("r1", "c1", "pass")], expected)
    assert [c.cell_id for c in report.of("improved")] == ["sim/digits/r2/c1"]
    assert report.of("improved")[0].why == "rejects per-channel FC"
    assert report.exit_code == 0
    assert "started passing" in report.summary()


def test_change_between_failures_fails_only_when_strict(tmp_path):
    expected = load_expected(write(tmp_path, EXPECTED))
    results = [cell("r3", "c1", "crash")]
    assert judge(results, expected).exit_code == 0
    assert judge(results, expected).of("changed")[0].got == "crash"
    assert judge(results, expected, strict=True).exit_code == 1


def test_new_and_missing_cells_are_listed(tmp_path):
    expected = load_expected(write(tmp_path, EXPECTED))
    report = judge([cell("r9", "c1", "pass")], expected)
    assert [c.cell_id for c in report.of("new")] == ["sim/digits/r9/c1"]
    assert len(report.of("missing")) == 4
    assert report.exit_code == 0


def test_unknown_status_in_expectations_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="fine"):
        load_expected(write(tmp_path, '[sim.digits]\n"r1 c1" = "fine"\n'))


def test_rendered_expectations_round_trip_and_keep_reasons(tmp_path):
    old = load_expected(write(tmp_path, EXPECTED))
    results = [cell("r2", "c1", "unsupported"), cell("r1", "c1", "pass"), cell("r5", "c1", "crash")]
    text = render_expected(results, old, "# header")
    tomllib.loads(text)  # valid TOML
    again = load_expected(write(tmp_path, text))
    assert again["sim/digits/r2/c1"].why == "rejects per-channel FC"
    assert again["sim/digits/r5/c1"].status == "crash"
    assert judge(results, again).exit_code == 0
    assert not judge(results, again).of("changed")
    # cells that did not run (another axis, a partial run) keep their expectations
    assert again["sim/digits/r3/c1"].status == "degraded"
    assert again["sim/digits/r4/c1"].status == "pass"


def test_rendered_expectations_stay_valid_toml_with_control_characters(tmp_path):
    # a tool's error with an ANSI colour code (and a DEL) becomes a cell's `why`
    noisy = '\x1b[31mE\x1b[0m RuntimeError: "bad" op\x7f\tversion \\ 3'
    results = [CellResult("sim", "digits", "r1", "c1", {}, "crash", stage="probe", error=noisy)]
    again = load_expected(write(tmp_path, render_expected(results, {})))
    assert again["sim/digits/r1/c1"].why == f"probe: {noisy}"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[sim.digits]\n"r1" = "pass"\n', '"ROW COLUMN"'),
        ('[sim]\ndigits = "pass"\n', "must be a table"),
    ],
)
def test_malformed_expectations_are_refused_with_the_fix(tmp_path, text, problem):
    with pytest.raises(ConfigError, match=problem):
        load_expected(write(tmp_path, text))


def test_committed_expectations_cover_the_simulated_axes():
    axes = load_axes()
    expected = load_expected()
    ids = {f"sim/{c.model.id}/{c.runtime.id}/{c.converter.id}" for c in axes.sim_cells()}
    assert ids == {k for k in expected if k.startswith("sim/")}


def test_tox_ini_is_in_step_with_the_axes():
    assert is_current(REPO / "tox.ini", load_axes()), "run: tflm-hil matrix tox --write"


def test_tox_block_names_every_cell_and_pin():
    axes = load_axes()
    block = render_block(axes)
    for r in axes.runtimes:
        assert f"{r.id}: {r.requirement}" in block
        for pin in r.pins:
            assert f"{r.id}: {pin}" in block
    for c in axes.converters:
        assert f"{c.id}: HIL_MATRIX_CONVERTER = {c.id}" in block
    assert splice("[tox]\n", block).count("BEGIN matrix") == 1
    assert splice(splice("[tox]\n", block), block) == splice("[tox]\n", block)


def test_axes_lookups_accept_versions_and_ids():
    axes = load_axes()
    first = axes.runtimes[0]
    assert axes.runtime(first.version) == first
    assert axes.runtime(first.id) == first
    assert axes.converter("2.21.0").id == "tf221"
    with pytest.raises(ConfigError, match="unknown converter"):
        axes.converter("nope")


def test_bad_ids_in_axes_are_refused(tmp_path):
    bad = DEFAULT_AXES.read_text().replace('id = "tflm2401"', 'id = "TFLM-24"')
    (tmp_path / "matrix").mkdir()
    path = tmp_path / "matrix" / "axes.toml"
    path.write_text(bad)
    with pytest.raises(ConfigError, match="lowercase"):
        load_axes(path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            'version = "0.dev20240102222236"\n',
            "a [[runtime]] entry (id 'tflm2401') needs 'version'",
        ),
        ('reference_runtime = "tflm2610"\n', "[matrix] needs 'reference_runtime'"),
    ],
)
def test_missing_axes_key_names_its_table(tmp_path, line, message):
    text = DEFAULT_AXES.read_text()
    assert line in text
    (tmp_path / "matrix").mkdir()
    path = tmp_path / "matrix" / "axes.toml"
    path.write_text(text.replace(line, "", 1))
    with pytest.raises(ConfigError) as info:
        load_axes(path)
    assert message in str(info.value)


def test_gate_refuses_an_expectations_file_that_does_not_exist(tmp_path):
    missing = tmp_path / "expected.toml"
    with pytest.raises(ConfigError, match="does not exist: check --expected"):
        matrix_main(["gate", "--dir", str(tmp_path), "--expected", str(missing)])

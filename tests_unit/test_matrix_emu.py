"""The emulated axis of the matrix: TFLM library refs x emulated boards x models, read from the
axes file, generated into tox.ini, and each cell classified: a ref not fetched (install, with
the command that fetches it), a ref whose sources no longer compile against the backend (build,
with the compiler's first error), outputs that differ (degraded, with the figures), a firmware
fault (crash). The suite is faked where a real one needs a compiled library (minutes); one
real cell runs when the library at the pin is fetched."""

from __future__ import annotations

import json
import re
import stat
import sys
from pathlib import Path

import pytest

from harness.apps.matrix.axes import DEFAULT_AXES, Pinned, load_axes
from harness.apps.matrix.cell import Places
from harness.apps.matrix.classify import classify_suite
from harness.apps.matrix.cli import main as matrix_main
from harness.apps.matrix.emu_cell import NOT_FETCHED, run_emu_cell
from harness.apps.matrix.expect import Expectation, judge, load_expected
from harness.apps.matrix.junit import parse_junit
from harness.apps.matrix.report import render
from harness.apps.matrix.result import first_error, read_result
from harness.apps.matrix.toxgen import render_block
from harness.errors import ConfigError
from harness.firmware.known_issues import load_known_issues
from harness.firmware.library import METADATA, fetch_command, find_library
from harness.firmware.pins import default_pins
from harness.paths import cache_dir
from harness.provenance import Provenance
from harness.tflite.model import TfliteModel

from .conftest import REPO
from .test_matrix_classify import failed, junit, ran

AXES_TEXT = DEFAULT_AXES.read_text()
PIN = default_pins().tflm_ref
MIRROR = "/srv/mirrors/tflite-micro-arduino-examples"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty user cache: no library fetched."""
    monkeypatch.setenv("TFLM_HIL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def fake_checkout(cache: Path, ref: str, url: str = MIRROR, files: dict[str, str] | None = None):
    """What `tflm-hil firmware fetch` leaves in the cache, with ``files`` as the library."""
    root = cache / "libraries" / "tflm" / ref
    for rel, text in (files or {"src/README": "a stand-in library\n"}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    meta = {"ref": ref, "commit": ref, "date": "2022-06-08", "url": url}
    (root / METADATA).write_text(json.dumps(meta))


def axes_with(tmp_path: Path, old: str, new: str):
    assert old in AXES_TEXT
    (tmp_path / "matrix").mkdir(exist_ok=True)
    path = tmp_path / "matrix" / "axes.toml"
    path.write_text(AXES_TEXT.replace(old, new, 1))
    return path


# ---- the axis ---------------------------------------------------------------------------------


def test_the_emulated_axis_spans_2022_to_the_last_ref_with_the_models_it_needs():
    axes = load_axes()
    refs = axes.emulated.tflm_refs
    assert refs[0].value == PIN  # the last commit, the default pin
    assert min(r.date for r in refs).startswith("2022")
    cells = axes.emu_cells()
    pairs = {(c.model.id, c.converter.id, c.converter.per_channel_dense) for c in cells}
    assert ("digits", "tf221pt", False) in pairs and ("digits", "tf221", True) in pairs
    ops = {
        op.name
        for c in cells
        if c.model.tflite is not None
        for op in TfliteModel.load(c.model.tflite).ops
    }
    assert {"CONV_2D", "DEPTHWISE_CONV_2D"} <= ops
    assert len(cells) == len(pairs) * len(refs) * len(axes.emulated.boards)
    assert {c.tox_env for c in cells} == {
        f"emu-{r.id}-{b}" for r in refs for b in axes.emulated.boards
    }
    # a model named only by the emulated axis is no simulated cell
    assert "dwsep" not in {c.model.id for c in axes.sim_cells()}


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ('tflm_refs = ["lib2312", "lib2301", "lib2210", "lib2206"]',
         'tflm_refs = ["lib2312", "lib1999"]', "names 'lib1999', which no \\[\\[tflm_ref\\]\\]"),
        ('boards = ["nano33"]\nmodels = ["digits", "dwsep"]',
         'boards = ["nanorp2040"]\nmodels = ["digits", "dwsep"]',
         "nanorp2040 declares no emulation target"),
        ('converters = ["tf221pt", "tf221", "prebuilt"]', 'converters = ["tf999x"]',
         "unknown converter 'tf999x'"),
        ('id = "lib2301"', 'id = "lib2312"', "tflm_ref ids repeat: lib2312"),
    ],
)  # fmt: skip
def test_a_bad_emulated_axis_is_refused_naming_the_problem(tmp_path, old, new, problem):
    with pytest.raises(ConfigError, match=problem):
        load_axes(axes_with(tmp_path, old, new))


def test_tox_has_one_environment_per_ref_and_board_labelled_matrix_emu():
    axes = load_axes()
    block = render_block(axes)
    refs = ",".join(r.id for r in axes.emulated.tflm_refs)
    section = block[block.index(f"[testenv:emu-{{{refs}}}-{{nano33}}]") :]
    section = section[: section.index("\n\n")]
    assert "labels = matrix-emu" in section
    assert f"    {axes.reference.requirement}" in section  # the bit-exact reference
    for r in axes.emulated.tflm_refs:
        assert f"    {r.id}: HIL_TFLM_REF = {r.value}" in section
    assert "nano33: HIL_MATRIX_BOARD = qemu:nano33" in section
    assert "tflm-hil matrix run --board {env:HIL_MATRIX_BOARD} --tflm-ref {env:HIL_TFLM_REF}" in (
        section
    )
    report = block[block.index("[testenv:matrix-report]") :]
    assert "labels = matrix-sim, matrix-hw, matrix-emu" in report
    assert "emu-*" in report


def test_ci_runs_the_emulated_matrix():
    workflow = (REPO / ".github" / "workflows" / "matrix.yml").read_text()
    assert "tox -m matrix-emu" in workflow and "matrix fetch" in workflow


def test_the_committed_expectations_cover_the_emulated_axis():
    ids = {f"emu/{c.model.id}/{c.key.replace(' ', '/', 1)}" for c in load_axes().emu_cells()}
    assert ids == {k for k in load_expected() if k.startswith("emu/")}


EVIDENCE = re.compile(
    r"^(emu/[a-z0-9]+/[a-z0-9]+/[a-z0-9]+ [a-z0-9]+) \(tox -e (emu-\S+)\): (\w+), "
)
BEHAVIOUR_OUTCOMES = {"silently-wrong": {"degraded"}, "rejected": {"unsupported", "build"},
                      "crash": {"crash"}}


def test_known_issues_cite_emulated_cells_that_show_them():
    """Each known issue's `matrix_cell` names a cell of the emulated axis, its tox environment
    and the outcome expected.toml holds for it, which is what the issue's behaviour
    makes of a cell (or is PENDING until such a cell exists)."""
    cells = {f"emu/{c.model.id}/{c.key.replace(' ', '/', 1)}": c for c in load_axes().emu_cells()}
    expected = load_expected()
    cited = 0
    for issue in load_known_issues().issues:
        text = issue.evidence.matrix_cell
        if text.startswith("PENDING: "):
            continue
        m = EVIDENCE.match(text)
        assert m, f"{issue.id}: {text!r} is not 'emu/M/REF/BOARD CONV (tox -e ENV): STATUS, ...'"
        cell_id, env, status = m.groups()
        assert cell_id in cells, f"{issue.id}: {cell_id} is not a cell of the axes file"
        assert env == cells[cell_id].tox_env
        assert expected[cell_id].status == status, f"{issue.id}: {cell_id}"
        assert status in BEHAVIOUR_OUTCOMES[issue.behaviour], issue.id
        cited += 1
    assert cited >= 1  # the per-channel FULLY_CONNECTED issue has its cell


# ---- a ref that is not fetched ------------------------------------------------------------


def run_cell(tmp_path: Path, model: str, converter: str, ref: Pinned, **kw):
    axes = load_axes()
    out = tmp_path / "cell.json"
    places = Places.under(tmp_path / "matrix")
    result = run_emu_cell(
        axes, axes.model(model), axes.converter(converter), "nano33", ref, out, places, **kw
    )
    assert read_result(out).status == result.status  # written, not only returned
    return result


def test_a_ref_not_fetched_is_install_naming_the_exact_fetch_command(tmp_path, cache):
    ref = Pinned("lib2206", "be1c8b0ee277ebad0c20de9d8dfca121f160ade3", "2022-06-08")
    fake_checkout(cache, PIN)  # another ref, fetched from a mirror
    result = run_cell(tmp_path, "dwsep", "prebuilt", ref)
    assert (result.status, result.stage, result.category) == ("install", "env", NOT_FETCHED)
    command = f"tflm-hil firmware fetch --ref {ref.value} --from {MIRROR}"
    assert command == fetch_command(ref.value, MIRROR, explicit=True)
    assert f"`{command}`" in result.error
    assert f"`tflm-hil matrix fetch --from {MIRROR}`" in result.error
    assert "suite" not in result.logs  # nothing ran
    # never a pass: a cell expected to pass is a regression at the gate
    assert judge([result], {result.cell_id: Expectation("pass")}).failed


def test_with_nothing_fetched_the_command_says_where_from_is_needed(tmp_path, cache):
    result = run_cell(tmp_path, "dwsep", "prebuilt", Pinned("libx", "a" * 40))
    assert f"`tflm-hil firmware fetch --ref {'a' * 40}` (add --from URL_OR_GIT_DIR" in result.error


def test_matrix_fetch_fetches_every_ref_of_the_axis_once(tmp_path, cache, capsys):
    from .test_emu_library import FILES, git

    repo = tmp_path / "upstream"
    for rel, text in FILES.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(tmp_path, "init", "-q", str(repo))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "one")
    first = git(repo, "rev-parse", "HEAD")
    git(repo, "commit", "-qm", "two", "--allow-empty")
    second = git(repo, "rev-parse", "HEAD")
    axes = axes_with(tmp_path, '[emulated]\nboards = ["nano33"]', f"""\
[[tflm_ref]]
id = "one"
ref = "{first}"

[[tflm_ref]]
id = "two"
ref = "{second}"

[emulated]
boards = ["nano33"]""")
    axes.write_text(axes.read_text().replace('"lib2312", "lib2301", "lib2210", "lib2206"]\n',
                                             '"one", "two"]\n'))
    assert matrix_main(["--axes", str(axes), "fetch", "--from", str(repo)]) == 0
    checkouts = [find_library(first), find_library(second)]
    assert [c.commit if c else None for c in checkouts] == [first, second]
    assert all(c is not None and c.date and c.url == str(repo) for c in checkouts)
    capsys.readouterr()
    assert matrix_main(["--axes", str(axes), "fetch", "--from", str(repo)]) == 0
    assert capsys.readouterr().out.count("fetched already") == 2


# ---- a ref whose sources no longer compile against the backend -----------------------------


def test_a_ref_the_backend_does_not_compile_against_is_build_with_the_first_error(
    tmp_path, cache
):
    """A real compile of our sources against a library without the interpreter's headers:
    the cell is `build`, its first compiler error in the report, and the library itself was
    never compiled (our sources go first: a broken ref fails in seconds, not minutes)."""
    ref = Pinned("libold", "b" * 40, "2022-06-08")
    fake_checkout(cache, ref.value, files={"src/tensorflow/lite/version.h": "#define V 1\n"})
    result = run_cell(tmp_path, "dwsep", "prebuilt", ref)
    assert (result.status, result.category) == ("build", "build"), result.error
    error = first_error(result.error)
    assert error.split(":")[0] in ("tflm_backend.cpp", "hil_log.cpp", "hil_ops.cpp"), error
    assert "No such file or directory" in error
    assert not (cache / "emu" / "tflm-objects").exists()
    page = render([result], axes=load_axes())
    assert error.replace(" ", "")[:60] in page.replace(" ", "")


# ---- outputs, figures and faults from the suite ----------------------------------------------

FAKE_SUITE = """\
import json, os, sys
from pathlib import Path
from harness.provenance import Provenance
from harness.results.store import ResultsStore

argv = sys.argv[1:]
Path(os.environ["FAKE_SUITE_SEEN"]).write_text(
    json.dumps({"argv": argv, "ref": os.environ.get("HIL_TFLM_REF")}))
Path(argv[argv.index("--junitxml") + 1]).write_text(os.environ["FAKE_SUITE_JUNIT"])
store = ResultsStore(Path(argv[argv.index("--hil-db") + 1]))
run = store.start_run(board="qemu:nano33", simulated=False, model_path="m", model_hash="h")
store.set_device(run, image_hash="i", fw_version="f", tflm_version=os.environ["HIL_TFLM_REF"],
                 core_version="none (emulated on QEMU mps2-an386)")
for name, value in json.loads(os.environ["FAKE_SUITE_FIGURES"]).items():
    emulated = name.startswith(("latency", "arena"))
    store.add_metric(run, name, value,
                     provenance=Provenance.EMULATED if emulated else Provenance.MEASURED)
store.close()
sys.exit(int(os.environ["FAKE_SUITE_EXIT"]))
"""


@pytest.fixture
def fake_suite(tmp_path, cache, monkeypatch):
    """An interpreter whose `-m pytest` is a suite that recorded what it is given."""
    fake_checkout(cache, PIN)
    script = tmp_path / "fake_suite.py"
    script.write_text(FAKE_SUITE)
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@"\n')
    python.chmod(python.stat().st_mode | stat.S_IEXEC)
    seen = tmp_path / "seen.json"
    monkeypatch.setenv("FAKE_SUITE_SEEN", str(seen))

    def run(junit_xml: str, figures: dict[str, float], code: int):
        monkeypatch.setenv("FAKE_SUITE_JUNIT", junit_xml)
        monkeypatch.setenv("FAKE_SUITE_FIGURES", json.dumps(figures))
        monkeypatch.setenv("FAKE_SUITE_EXIT", str(code))
        result = run_cell(tmp_path, "dwsep", "prebuilt", load_axes().tflm_ref("lib2312"),
                          python=python)
        return result, json.loads(seen.read_text())

    return run


DEGRADED_FIGURES = {
    "vectors_differing_vs_host": 74.0,
    "max_error_steps_vs_host": 86.0,
    "accuracy_vs_labels": 353 / 360,
    "top1_agreement_vs_float": 0.9917,
    "latency_cycles_median": 417268.0,
    "arena_used_bytes": 4948.0,
}


def test_outputs_differing_from_the_host_runtime_are_degraded_with_the_figures(fake_suite):
    message = ("output 0: 74 of 360 vectors differ from the TFLM host runtime, largest error 86 "
               "quantisation steps at vector 46")
    xml = junit(failed("test_answers_equal_the_host_runtime_bit_for_bit", message))
    result, seen = fake_suite(xml, DEGRADED_FIGURES, 1)
    # the suite ran on the emulated board with the library at the cell's ref
    assert seen["ref"] == PIN
    board = seen["argv"][seen["argv"].index("--board") + 1]
    assert board == "qemu:nano33"
    assert (result.status, result.stage) == ("degraded", "suite")
    assert "test_answers_equal_the_host_runtime_bit_for_bit" in result.gate
    assert result.error == message
    assert result.figures == DEGRADED_FIGURES
    assert result.provenance["latency_cycles_median"] == str(Provenance.EMULATED)
    assert result.details["device"]["tflm_version"] == PIN
    assert result.details["library"]["url"] == MIRROR
    page = render([result], axes=load_axes())
    assert "≤86 steps" in page and "acc 0.981" in page and "417.3k instr*" in page
    assert "arena 4948 B*" in page


def test_a_firmware_fault_on_qemu_is_a_crash(fake_suite):
    message = ("LinkError: the link closed: the firmware stopped on a CPU fault (HardFault) "
               "(log: qemu-nano33.log)")
    xml = junit(failed("test_every_vector_answered", message, "link", tag="error"))
    result, _ = fake_suite(xml, {}, 6)
    assert (result.status, result.category) == ("crash", "link")
    assert "CPU fault (HardFault)" in result.error


def test_a_cpu_fault_in_a_link_error_is_a_crash_not_the_rig():
    report = parse_junit(
        junit(failed("test_a", "the firmware stopped on a CPU fault (UsageFault)", "link", "error"))
    )
    assert classify_suite(ran(6), report).status == "crash"
    plain = parse_junit(junit(failed("test_a", "no reply within 3 s", "link", "error")))
    assert classify_suite(ran(6), plain).status == "timeout"


@pytest.mark.parametrize(
    ("error", "first"),
    [
        ('failed on setup with "harness.errors.BuildError: compiling for the emulated board '
         'failed (1 of 12 files; log: /x/emu-build-nano33.log):\n/c/images/nano33/ab/src/'
         'tflm_backend.cpp:\n/c/images/nano33/ab/src/tflm_backend.cpp:14:10: fatal error: '
         'tensorflow/lite/micro/micro_profiler_interface.h: No such file or directory"',
         "tflm_backend.cpp:14: fatal error: tensorflow/lite/micro/micro_profiler_interface.h: "
         "No such file or directory"),
        ("linking firmware.elf failed (log: l):\n/usr/bin/ld: a.o: in function `f':\n"
         "a.cpp:(.text+0x8): undefined reference to `tflite::GetModel(void const*)'",
         "undefined reference to `tflite::GetModel(void const*)'"),
        ("the image needs 300 KiB of RAM, the board has 256 KiB", ""),
    ],
)  # fmt: skip
def test_the_first_compiler_error_is_found_in_a_build_failure(error, first):
    assert first_error(error) == first


def test_a_message_pytest_shortened_is_read_whole_from_the_report():
    """pytest cuts a long JUnit message to whole lines within a budget; the compiler's error
    is the line it drops, so the exception's lines come from the element's full report."""
    error = "x.cpp:3:1: fatal error: y.h: No such file or directory"
    xml = junit(
        '<testcase classname="tests_hil.test_x" name="test_a"><error message="failed on setup '
        'with &quot;BuildError: compiling failed (log: l):&#10;[+1 more line; full report in '
        'element text]">def f():\n&gt;  raise BuildError(...)\n'
        f'E   BuildError: compiling failed (log: l):\nE   {error}\n\nx.py:1: BuildError'
        "</error></testcase>"
    )
    (case,) = parse_junit(xml).failed
    assert case.message == f"BuildError: compiling failed (log: l):\n{error}"
    assert first_error(case.message) == "x.cpp:3: fatal error: y.h: No such file or directory"


# ---- one real cell ------------------------------------------------------------------------


@pytest.mark.skipif(
    find_library(PIN) is None,
    reason=f"the TFLM library at {PIN[:12]} is not in {cache_dir()}: run "
    f"`{fetch_command(PIN, explicit=True)}` (or `tflm-hil matrix fetch`)",
)
def test_per_channel_dense_digits_on_the_pinned_library_are_a_degraded_cell(tmp_path):
    """The real thing: digits with per-channel dense layers, converted here, run on QEMU with
    the library at the pin (its objects cached after the first build)."""
    lib = load_axes().tflm_ref(PIN)
    result = run_cell(tmp_path, "digits", "tf221", lib)
    assert result.status == "degraded", result.error
    assert "test_answers_equal_the_host_runtime_bit_for_bit" in result.gate
    f = result.figures
    assert f["vectors_differing_vs_host"] > 0 and f["max_error_steps_vs_host"] > 1
    assert f["latency_cycles_median"] > 0 and f["arena_used_bytes"] > 0
    assert result.provenance["latency_cycles_median"] == str(Provenance.EMULATED)
    assert result.details["device"]["tflm_version"] == PIN
    assert "FULLY_CONNECTED" in result.details["convert"]["per_channel_ops"]

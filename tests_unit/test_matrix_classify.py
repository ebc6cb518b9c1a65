"""Matrix outcome classification from synthetic evidence: exit statuses, JUnit XML, the results
store's rows, probe and converter reports, signals and timeouts."""

from __future__ import annotations

import signal

import pytest

from harness.apps.matrix.classify import (
    StoredResult,
    classify_convert,
    classify_env_failure,
    classify_probe,
    classify_suite,
    crash_lines,
    signal_name,
    tail,
)
from harness.apps.matrix.junit import parse_junit
from harness.proc import ProcessRun


def junit(*cases: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="2">'
        + "".join(cases)
        + "</testsuite></testsuites>"
    )


PASSED = '<testcase classname="tests_hil.test_inference" name="test_every_vector_answered"/>'


def failed(name: str, message: str, category: str | None = None, tag: str = "failure") -> str:
    props = (
        f'<properties><property name="failure_category" value="{category}"/></properties>'
        if category
        else ""
    )
    return (
        f'<testcase classname="tests_hil.test_x" name="{name}">{props}'
        f'<{tag} message="{message}">traceback</{tag}></testcase>'
    )


def ran(code: int | None, output: str = "", timed_out: bool = False) -> ProcessRun:
    return ProcessRun(returncode=code, timed_out=timed_out, output=output, timeout_s=60)


def test_exit_zero_without_failures_is_pass():
    v = classify_suite(ran(0), parse_junit(junit(PASSED)))
    assert (v.status, v.stage) == ("pass", "suite")


def test_assertion_failure_is_degraded_and_names_the_gate():
    report = parse_junit(
        junit(PASSED, failed("test_gate[top1_agreement_vs_float]", "0.91 &lt; 0.95"))
    )
    v = classify_suite(ran(1), report)
    assert v.status == "degraded"
    assert v.gate == "tests_hil.test_x::test_gate[top1_agreement_vs_float]"
    assert v.error == "0.91 < 0.95"


@pytest.mark.parametrize(
    ("category", "code", "status"),
    [
        ("model", 1, "unsupported"),
        ("build", 6, "build"),
        ("flash", 6, "flash"),
        ("timeout", 6, "timeout"),
        ("link", 6, "timeout"),
        ("device", 6, "timeout"),
    ],
)
def test_failure_category_decides(category, code, status):
    report = parse_junit(junit(failed("test_a", "boom", category, tag="error")))
    v = classify_suite(ran(code), report)
    assert (v.status, v.category) == (status, category)


def test_build_outranks_a_later_link_failure():
    report = parse_junit(
        junit(failed("test_a", "link lost", "link"), failed("test_b", "no fit", "build"))
    )
    assert classify_suite(ran(6), report).status == "build"


def test_category_only_in_the_results_store_still_classifies():
    # pytest's JUnit writer drops properties added to a setup report: the store has them.
    report = parse_junit(junit(failed("test_a", "could not initialise", tag="error")))
    stored = [StoredResult("tests_hil/test_x.py::test_a", "error", "model", "ModelRejected: ...")]
    v = classify_suite(ran(1), report, stored)
    assert (v.status, v.category) == ("unsupported", "model")


def test_link_failure_with_a_crashed_twin_is_a_crash():
    report = parse_junit(junit(failed("test_a", "peer closed", "link", tag="error")))
    twin_log = "Fatal Python error: Segmentation fault\n\nCurrent thread ...\n"
    v = classify_suite(ran(6), report, device_log=twin_log)
    assert (v.status, v.stage, v.gate, v.category) == (
        "crash", "suite", "tests_hil.test_x::test_a", "link"
    )
    assert v.error == "Fatal Python error: Segmentation fault"


def test_signal_is_a_crash_named_by_the_signal():
    v = classify_suite(ran(-signal.SIGSEGV, "Fatal Python error: Segmentation fault"), None)
    assert (v.status, v.category) == ("crash", "SIGSEGV")


def test_timeout_kill_is_timeout():
    v = classify_suite(ran(None, "collected 13 items", timed_out=True), None)
    assert (v.status, v.category) == ("timeout", "cell-timeout")


def test_collection_import_error_is_install():
    out = "ImportError while importing test module\nModuleNotFoundError: No module named 'x'"
    assert classify_suite(ran(2, out), None).status == "install"


@pytest.mark.parametrize(("code", "status"), [(3, "crash"), (4, "timeout"), (5, "timeout")])
def test_other_pytest_statuses(code, status):
    assert classify_suite(ran(code), None).status == status


def test_probe_import_failure_is_install():
    report = {"ok": False, "stage": "import", "error": "ImportError: undefined symbol: X"}
    v = classify_probe(ran(3), report)
    assert (v.status, v.stage) == ("install", "probe")


def test_probe_numpy_abi_failure_at_create_is_install():
    report = {
        "ok": False,
        "stage": "create",
        "error": "SystemError: returned a result with an exception set",
        "log": "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.4.6",
    }
    assert classify_probe(ran(4), report).status == "install"


def test_probe_rejection_is_unsupported_with_the_runtime_reason():
    report = {
        "ok": False,
        "stage": "create",
        "error": "RuntimeError: TFLM failed to allocate tensors",
        "log": "FullyConnected per-channel quantization not yet supported.",
    }
    v = classify_probe(ran(4), report)
    assert v.status == "unsupported"
    assert v.error.startswith("FullyConnected per-channel quantization not yet supported.")


def test_probe_death_names_the_stage():
    v = classify_probe(ran(-signal.SIGSEGV), {"ok": False, "stage": "invoke"})
    assert v.status == "crash"
    assert "during invoke" in v.error


def test_probe_success_is_no_verdict():
    assert classify_probe(ran(0), {"ok": True, "stage": "done"}) is None


def test_converter_abort_is_a_crash_with_the_llvm_line():
    out = (
        "loc(fused[...]): error: missing attribute 'value'\n"
        "LLVM ERROR: Failed to infer result type(s).\n"
    )
    v = classify_convert(ran(-signal.SIGABRT, out), {"ok": False, "stage": "convert"})
    assert (v.status, v.category) == ("crash", "SIGABRT")
    assert "LLVM ERROR" in v.error


def test_converter_error_is_unsupported():
    report = {"ok": False, "stage": "convert", "error": "ConfigError: TFLite conversion failed"}
    assert classify_convert(ran(4), report).status == "unsupported"


def test_env_failure_is_install_naming_the_requirements():
    v = classify_env_failure(["tflite-micro==0.dev1", "numpy<2"], "No matching distribution found")
    assert (v.status, v.stage, v.category, v.gate) == ("install", "env", "install", "")
    assert v.error == "cannot install tflite-micro==0.dev1 numpy<2\nNo matching distribution found"
    long = classify_env_failure(["x"], "y" * 1600 + "z" * 1500)
    assert long.error == "cannot install x\n…" + "z" * 1500  # the installer's last 1500 chars


def test_junit_rejects_other_xml():
    with pytest.raises(ValueError):
        parse_junit("<html></html>")


# ---- boundaries and branches that mutation testing found untested (docs/testing.md) ---------


def test_a_converter_that_succeeded_is_no_verdict():
    assert classify_convert(ran(0), {"ok": True, "stage": "done"}) is None


def test_a_converter_that_failed_after_its_report_is_a_crash():
    """A report says done, yet the process exited 1 (it failed while exiting)."""
    v = classify_convert(ran(1, "Fatal Python error: Aborted"), {"ok": True, "stage": "done"})
    assert (v.status, v.stage, v.category) == ("crash", "convert", "abort")


def test_exit_zero_with_a_failure_in_junit_is_still_that_failure():
    v = classify_suite(ran(0), parse_junit(junit(failed("test_gate[x]", "x FAILS"))))
    assert (v.status, v.category) == ("degraded", "assertion")


def test_several_failures_name_the_first_and_count_the_rest():
    report = parse_junit(junit(failed("test_a", "a"), failed("test_b", "b"), failed("test_c", "c")))
    v = classify_suite(ran(1), report)
    assert v.gate == "tests_hil.test_x::test_a (and 2 more)"
    one = classify_suite(ran(1), parse_junit(junit(failed("test_a", "a"))))
    assert one.gate == "tests_hil.test_x::test_a"


def test_tail_keeps_text_up_to_its_limit_whole():
    assert tail("abc", 3) == "abc"
    assert tail("abcd", 3) == "…bcd"
    assert tail("  ab \n", 3) == "ab"


def test_crash_lines_cut_only_lines_longer_than_the_width():
    exact = "LLVM ERROR: " + "x" * 8  # 20 characters
    longer = "LLVM ERROR: " + "y" * 9  # 21
    assert crash_lines(f"{exact}\nnoise", width=20) == exact
    assert crash_lines(longer, width=20) == longer[:10] + " … " + longer[-10:]
    many = "\n".join(f"Segmentation fault {i}" for i in range(8))
    assert crash_lines(many, limit=2) == "Segmentation fault 6\nSegmentation fault 7"


def test_signal_names():
    assert signal_name(-signal.SIGSEGV) == "SIGSEGV"
    assert signal_name(-200) == "signal 200"


def test_an_interrupted_run_with_a_failure_is_still_interrupted():
    """Exit 2 (interrupted) is not a model verdict, even with a failed test in the JUnit."""
    v = classify_suite(ran(2, "KeyboardInterrupt"), parse_junit(junit(failed("test_a", "x"))))
    assert (v.status, v.category) == ("timeout", "interrupted")


def test_store_rows_add_only_what_the_junit_lacks():
    report = parse_junit(junit(failed("test_a", "a FAILS")))
    stored = [StoredResult("tests_hil/test_x.py::test_a", "failed", None, "a FAILS")]
    v = classify_suite(ran(1), report, stored)
    assert v.gate == "tests_hil.test_x::test_a"  # not counted twice: no "(and 1 more)"
    alone = classify_suite(ran(1), None, [StoredResult("t::test_b", "failed", None, "b FAILS")])
    assert (alone.status, alone.gate, alone.error) == ("degraded", "t::test_b", "b FAILS")
    two = [StoredResult(f"t::{n}", "error", "link", n) for n in ("a", "b")]
    assert classify_suite(ran(6), None, two).gate == "t::a"


@pytest.mark.parametrize(
    ("code", "output", "status", "category", "error"),
    [
        (1, "", "timeout", "exit 1", "pytest exited with status 1 but no test failed\n"),
        (2, "E   ImportError: no numpy", "install", "import", "E   ImportError: no numpy"),
        (2, "KeyboardInterrupt", "timeout", "interrupted", "pytest was interrupted\n"),
        (3, "INTERNALERROR>", "crash", "internal", "pytest internal error\n"),
        (4, "ERROR: bad option", "timeout", "config", "pytest usage error\n"),
        (4, "ERROR: tflm-hil: m.tflite (823104 bytes) does not fit Nano: with the firmware",
         "build", "does-not-fit", "ERROR: tflm-hil: m.tflite (823104 bytes) does not fit"),
        (4, "ERROR: tflm-hil: m.tflite needs a tensor arena of 300000 bytes: with the firmware",
         "build", "does-not-fit", "ERROR: tflm-hil: m.tflite needs a tensor arena"),
        (5, "", "timeout", "no-tests", "no HIL test was collected"),
        (9, "odd", "crash", "exit 9", "pytest exited with status 9\n"),
    ],
)
def test_every_exit_status_gives_its_whole_verdict(code, output, status, category, error):
    """Status, stage, category and the start of the error: each goes to the report."""
    v = classify_suite(ran(code, output), parse_junit(junit(PASSED)) if code != 2 else None)
    assert (v.status, v.stage, v.category, v.gate) == (status, "suite", category, "")
    assert v.error.startswith(error), v.error
    assert output in v.error

"""The validation gates (harness/metrics/gates.py): inclusive boundaries, a metric that was not
measured, files that override the defaults, and names that no code measures."""

from __future__ import annotations

import math
import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from harness.errors import ConfigError
from harness.latency import Latency
from harness.metrics.gates import Gate, check_metric_names, load_gates, parse_gates
from harness.metrics.validation import validate
from harness.plugin.suite_metrics import load_suite_gates, memory_figures, suite_metric_names
from harness.provenance import Provenance
from harness.tflite.model import TfliteModel
from harness.tflite.runtime import HostTflm
from harness.tflite.vectors import generate_vectors, load_vectors

from .conftest import DIGITS_VECTORS, REPO, ZOO

below, above = (lambda x: math.nextafter(x, -math.inf)), (lambda x: math.nextafter(x, math.inf))


def gate(lo: float | None = None, hi: float | None = None) -> Gate:
    return Gate("m", lo, hi, "test")


# ---- judging: boundaries are inclusive, as docs/validation.md and gates.toml say -------------


@pytest.mark.parametrize(
    ("g", "value", "passes"),
    [
        (gate(lo=0.95), 0.95, True),  # { min = X } passes when value >= X
        (gate(lo=0.95), below(0.95), False),
        (gate(lo=0.95), 1.0, True),
        (gate(lo=-1.0), -1.0, True),
        (gate(hi=0.0), 0.0, True),  # { max = X } passes when value <= X
        (gate(hi=0.0), above(0.0), False),
        (gate(hi=0.0), -5.0, True),
        (gate(hi=0.02), 0.02, True),
        (gate(hi=0.02), above(0.02), False),
        (gate(lo=1.0, hi=2.0), 1.0, True),  # both: each bound inclusive
        (gate(lo=1.0, hi=2.0), 2.0, True),
        (gate(lo=1.0, hi=2.0), 1.5, True),
        (gate(lo=1.0, hi=2.0), below(1.0), False),
        (gate(lo=1.0, hi=2.0), above(2.0), False),
        (gate(lo=2.0, hi=2.0), 2.0, True),
    ],
)
def test_boundaries_are_inclusive(g, value, passes):
    result = g.judge(value)
    assert result.passed is passes
    assert result.value == value
    assert ("passes" if passes else "FAILS") in result.message()


def test_a_metric_not_measured_is_neither_passed_nor_failed():
    result = gate(lo=0.95).judge(None)
    assert result.passed is None and result.value is None
    assert result.message() == "m: not measured (gate >= 0.95 from test)"


def test_messages_name_metric_figure_threshold_and_source():
    g = Gate("top1_agreement_vs_float", 0.95, None, "tflm-hil defaults")
    assert g.judge(0.1).message() == (
        "top1_agreement_vs_float = 0.1 FAILS the gate >= 0.95 (from tflm-hil defaults)"
    )
    assert Gate("x", 1, 2.5, "f").condition == ">= 1 and <= 2.5"
    assert Gate("x", None, 0, "f").judge(0).message() == "x = 0 passes the gate <= 0 (from f)"


# ---- parsing ----------------------------------------------------------------------------------


def test_parse_reads_min_max_and_both_as_floats():
    gates = parse_gates(
        {"gates": {"a": {"min": 1}, "b": {"max": 2.5}, "c": {"min": 0, "max": 3}}}, "here"
    )
    assert gates == {
        "a": Gate("a", 1.0, None, "here"),
        "b": Gate("b", None, 2.5, "here"),
        "c": Gate("c", 0.0, 3.0, "here"),
    }
    assert parse_gates({}, "here") == {}


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({}, "must be { min = X }"),
        ({"minimum": 1}, "must be { min = X }"),
        ({"min": 1, "step": 2}, "must be { min = X }"),
        (0.95, "must be { min = X }"),
        ({"min": "high"}, "needs numbers"),
        ({"max": [1]}, "needs numbers"),
    ],
)
def test_parse_refuses_a_gate_it_cannot_judge(spec, says):
    with pytest.raises(ConfigError, match=f"^here: gate 'm' {says}".replace("{", r"\{")):
        parse_gates({"gates": {"m": spec}}, "here")


# ---- files ------------------------------------------------------------------------------------


def test_defaults_are_the_packaged_file():
    text = (REPO / "harness" / "data" / "gates.toml").read_text()
    assert load_gates() == parse_gates(tomllib.loads(text), "tflm-hil defaults")
    assert load_gates()["vectors_differing_vs_host"] == Gate(
        "vectors_differing_vs_host", None, 0.0, "tflm-hil defaults"
    )


def _model(tmp_path: Path) -> Path:
    model = tmp_path / "m.tflite"
    model.write_bytes(b"")
    return model


def test_the_models_gates_file_replaces_defaults_one_by_one(tmp_path):
    model = _model(tmp_path)
    (tmp_path / "gates.toml").write_text("[gates]\ntop1_agreement_vs_float = { min = 0.5 }\n")
    gates = load_gates(model)
    assert gates["top1_agreement_vs_float"] == Gate(
        "top1_agreement_vs_float", 0.5, None, str(tmp_path / "gates.toml")
    )
    assert gates["vectors_differing_vs_host"].source == "tflm-hil defaults"
    # <model>.gates.toml wins over gates.toml beside it; --gates wins over both
    (tmp_path / "m.gates.toml").write_text("[gates]\ntop1_agreement_vs_float = { min = 0.6 }\n")
    assert load_gates(model)["top1_agreement_vs_float"].min == 0.6
    explicit = tmp_path / "other.toml"
    explicit.write_text("[gates]\ntop1_agreement_vs_float = { min = 0.7 }\n")
    assert load_gates(model, explicit)["top1_agreement_vs_float"].min == 0.7


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[gates\n", "is not valid TOML"),
        ("[gate]\ncosine_vs_float = { min = 0.9 }\n", "gate is not a table here: put the gates"),
        ("[gates]\n[gate]\n[limits]\n", ": gate, limits is not a table here"),
    ],
)
def test_a_bad_gates_file_is_refused(tmp_path, text, says):
    path = tmp_path / "g.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=says):
        load_gates(None, path)


def test_a_missing_gates_file_names_the_option(tmp_path):
    with pytest.raises(ConfigError, match="does not exist: check --gates"):
        load_gates(None, tmp_path / "nope.toml")


# ---- names: a gate must name a metric that something measures --------------------------------


@pytest.mark.parametrize(
    ("name", "nearest"),
    [
        ("top1_agrement_vs_float", "top1_agreement_vs_float"),
        ("rmse_vs_flaot", "rmse_vs_float"),
        ("latency_us_medain", "latency_us_median"),
        ("arena_use_bytes", "arena_used_bytes"),
        ("vectors_differing_vs_hots[1]", "vectors_differing_vs_host"),
        ("latency_us_median[1]", "latency_us_median"),  # only per-output metrics take [k]
    ],
)
def test_a_misspelt_metric_is_refused_naming_the_nearest(tmp_path, name, nearest):
    path = tmp_path / "gates.toml"
    path.write_text(f'[gates]\n"{name}" = {{ min = 0.99 }}\n')
    with pytest.raises(ConfigError) as info:
        load_suite_gates(None, path)
    message = str(info.value)
    assert message.startswith(f"{path}: gate '{name}' names a metric that is never measured")
    assert message.endswith(f"did you mean '{nearest}'?")
    assert "\n" not in message


def test_nothing_close_points_at_the_docs():
    with pytest.raises(ConfigError, match=r"see docs/validation\.md for the metrics$"):
        check_metric_names({"zzz": gate(lo=1)}, {"top1_agreement_vs_float"})


@pytest.mark.parametrize(
    "name", ["rmse_vs_float", "rmse_vs_float[1]", "accuracy_vs_labels", "stack_used_bytes"]
)
def test_known_metrics_pass_the_name_check(tmp_path, name):
    path = tmp_path / "gates.toml"
    path.write_text(f'[gates]\n"{name}" = {{ max = 1 }}\n')
    assert load_suite_gates(None, path)[name].max == 1.0


def test_without_a_known_set_names_are_not_checked(tmp_path):
    path = tmp_path / "gates.toml"
    path.write_text("[gates]\nanything = { max = 1 }\n")
    assert "anything" in load_gates(None, path)
    with pytest.raises(ConfigError):
        load_gates(None, path, known=suite_metric_names())


def test_suite_gates_read_the_models_gates_file(tmp_path):
    model = _model(tmp_path)
    (tmp_path / "m.gates.toml").write_text("[gates]\nrmse_vs_float = { max = 0.5 }\n")
    assert load_suite_gates(model, None)["rmse_vs_float"].max == 0.5
    (tmp_path / "m.gates.toml").write_text("[gates]\nrmse_vs_flaot = { max = 0.5 }\n")
    with pytest.raises(ConfigError, match="did you mean 'rmse_vs_float'"):
        load_suite_gates(model, None)


def test_memory_figures_as_stored():
    assert memory_figures(5000, 6000, 240000, 60000, stack_used=900) == {
        "arena_used_bytes": 5000.0,
        "arena_size_bytes": 6000.0,
        "flash_bytes": 240000.0,
        "ram_bytes": 60000.0,
        "stack_used_bytes": 900.0,
    }
    assert "stack_used_bytes" not in memory_figures(1, 2, 3, 4, stack_used=None)


def test_every_default_gate_names_a_known_metric():
    assert set(load_suite_gates(None, None)) <= suite_metric_names()


def test_the_known_names_are_what_the_suite_computes(digits_model):
    """The derived set holds every name that a real validation, memory and latency produce,
    with labels and a float reference (every branch taken)."""
    vectors = load_vectors(DIGITS_VECTORS, digits_model)
    assert vectors.labels is not None
    sub = replace(vectors, inputs=(vectors.inputs[0][:8],), labels=vectors.labels[:8])
    host = HostTflm(digits_model).run(sub.inputs)
    floats = [np.asarray(h, dtype=np.float32) * digits_model.outputs[0].scale for h in host]
    result = validate(digits_model, sub, host, host, floats)
    produced = set(result.metrics)
    produced |= set(memory_figures(5000, 6000, 240000, 60000, stack_used=900))
    produced |= set(Latency(np.array([10, 20, 30]), 64_000_000, Provenance.ESTIMATED, 5).metrics())
    assert produced <= suite_metric_names()
    assert {"top1_agreement_vs_float", "accuracy_vs_labels", "accuracy_drop_vs_float"} <= produced
    # the set is no bigger than what the code produces: nothing is listed by hand
    assert suite_metric_names() == produced


def test_metrics_of_a_second_output_pass_the_name_check():
    model = TfliteModel.load(ZOO / "two_outputs.tflite")
    vectors = generate_vectors(model, 4)
    host = HostTflm(model).run(vectors.inputs)
    names = set(validate(model, vectors, host, host, None).metrics)
    assert any(n.endswith("[1]") for n in names), names
    check_metric_names({n: Gate(n, None, 0, "t") for n in names}, suite_metric_names())

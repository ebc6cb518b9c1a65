"""The model registry without running the HIL suite: content addressing, the promotion
decision, promote/rollback state and deployed files, cards, backup and restore."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from harness import atomic
from harness.apps.registry.archive import backup, restore
from harness.apps.registry.promote import (
    apply_rollback,
    decide,
    promote,
    rollback_target,
    verify_deployed,
)
from harness.apps.registry.rules import Rules, load_rules, parse_rules
from harness.apps.registry.store import IntegrityError, Registry
from harness.apps.registry.validate import ValidationRun
from harness.cli import main as cli
from harness.errors import ConfigError
from harness.metrics.gates import Gate, GateSet
from harness.metrics.regression import Threshold, compare, parse_thresholds
from harness.provenance import Figure, Provenance

from .conftest import DIGITS_KERAS, DIGITS_MODEL, DIGITS_VECTORS, ZOO

BOARD = "sim:nano33"


@pytest.fixture
def rules():
    """The default rules, read when a test runs (not at import: a module constant would keep
    what the code read once, hiding a change to the reading from every test)."""
    return load_rules()


def _val(exit_status: int = 0, **figures: float) -> ValidationRun:
    figs = {
        k: Figure(v, provenance=Provenance.ESTIMATED if k.startswith("latency") else
                  Provenance.MEASURED)
        for k, v in figures.items()
    }
    return ValidationRun(BOARD, exit_status, 1, "db", figs)


GOOD = {"accuracy_vs_labels": 0.98, "top1_agreement_vs_float": 1.0, "latency_us_median": 1900.0,
        "arena_used_bytes": 5888.0, "vectors_differing_vs_host": 0.0}


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "registry")


@pytest.fixture
def models(registry: Registry):
    a = registry.register_files(DIGITS_MODEL, reference=DIGITS_KERAS, vectors=DIGITS_VECTORS)
    b = registry.register_files(ZOO / "conv_maxpool.tflite")
    c = registry.register_files(ZOO / "fc_only.tflite")
    return a, b, c


def test_models_are_content_addressed_and_verified(registry: Registry, models):
    a, _, _ = models
    assert a.sha256 == atomic.sha256_file(DIGITS_MODEL)
    assert registry.get(a.sha256[:8]).sha256 == a.sha256
    assert registry.get(str(DIGITS_MODEL)).sha256 == a.sha256
    # Registering the same file again gives the same entry, not a second one.
    assert registry.register_files(DIGITS_MODEL).created == a.created
    assert len(registry.entries()) == 3
    # A damaged blob is detected when read, never used.
    blob = registry.blob_path(a.files["reference"].sha256)
    blob.write_bytes(b"damaged")
    with pytest.raises(IntegrityError, match="damaged"):
        registry.export(a, registry.root / "out")


def test_a_file_that_is_not_tflite_is_refused(registry: Registry, tmp_path: Path):
    fake = tmp_path / "model.tflite"
    fake.write_bytes(b"definitely not a flatbuffer")
    with pytest.raises(ConfigError, match="not a TFLite flatbuffer"):
        registry.register_files(fake)
    with pytest.raises(ConfigError, match=r"neither a \.tflite file nor a model hash"):
        registry.get("xyz")
    assert not (registry.root / "models").exists()  # nothing changed


def test_decide_promotes_a_passing_candidate_without_regressions(rules):
    d = decide(_val(**GOOD), _val(**GOOD), rules)
    assert d.promote and not d.reasons


def test_decide_refuses_with_the_reason(rules):
    worse = {**GOOD, "accuracy_vs_labels": 0.90}
    d = decide(_val(**worse), _val(**GOOD), rules)
    assert not d.promote
    assert d.reasons == ["accuracy_vs_labels 0.98 -> 0.9 (-8.2%): worse than the promoted model, "
                         "beyond the allowed drop of 0.02"]
    slower = {**GOOD, "latency_us_median": 2300.0}
    d = decide(_val(**slower), _val(**GOOD), rules)
    assert "latency_us_median 1900 -> 2300" in d.reasons[0] and "10% rise" in d.reasons[0]
    d = decide(_val(**{**GOOD, "accuracy_vs_labels": 0.5}), None, rules)
    assert d.reasons == ["gate: accuracy_vs_labels = 0.5 FAILS the gate >= 0.8 "
                         "(from tflm-hil promotion defaults)"]
    d = decide(_val(6), None, rules)
    assert "the rig failed" in d.reasons[0] and "not judged" in d.reasons[0]


@pytest.mark.parametrize("label", [Provenance.MEASURED, Provenance.EMULATED])
def test_figures_of_two_provenances_are_never_compared(label, rules):
    other = _val(**GOOD)
    other.figures["latency_us_median"] = Figure(5000.0, "us", provenance=label)
    d = decide(other, _val(**GOOD), rules)
    assert d.promote
    assert any(f"not compared ({label} vs estimated" in c.describe() for c in d.changes)


def test_figures_written_before_provenance_read_back_labelled():
    """A record's old flag (estimated: true/false) becomes its provenance."""
    assert Figure.from_dict({"value": 1.0, "estimated": True}).provenance is Provenance.ESTIMATED
    assert Figure.from_dict({"value": 1.0, "estimated": False}).provenance is Provenance.MEASURED
    fig = Figure(2.0, "us", Provenance.EMULATED)
    assert Figure.from_dict(fig.to_dict()) == fig


def test_user_rules_override_the_defaults(tmp_path: Path):
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text('[regression.accuracy_vs_labels]\nbetter = "higher"\nmax_drop = 0.5\n')
    worse = {**GOOD, "accuracy_vs_labels": 0.90}
    assert decide(_val(**worse), _val(**GOOD), load_rules(rules_file)).promote
    rules_file.write_text('[regression.x]\nbetter = "sideways"\n')
    with pytest.raises(ConfigError, match="better must be"):
        load_rules(rules_file)


@pytest.mark.parametrize(("text", "expected"), [
    ('[regression.accuracy_vs_labels]\nbetter = "higher"\nmax_drp = 0.5\n',
     r"\[regression.accuracy_vs_labels\] \(better = 'higher'\) has max_drp, which it does not "
     "take: use better, max_drop, max_drop_pct"),
    ('[regression.latency_us_median]\nbetter = "lower"\nmax_drop = 5\n', "has max_drop"),
    ('[gates]\naccuracy_vs_labels = { minimum = 0.9 }\n',
     r"gate 'accuracy_vs_labels' must be \{ min = X \} and/or \{ max = X \}"),
    ('[regresion.x]\nbetter = "lower"\n', "regresion is not a setting here: use gates, regression"),
    ('[gate.accuracy_vs_labels]\nmin = 0.9\n', r"gate is not a setting here: use gates, "
     r"regression; the \[gate.NAME\] tables are now entries of \[gates\]"),
    ("[regression]\nx = 5\n", r"\[regression.x\] better must be"),
])
def test_rules_a_setting_that_would_be_ignored_is_refused(tmp_path: Path, text: str,
                                                          expected: str):
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        load_rules(rules_file)


def test_a_missing_rules_file_names_the_flag(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist: check --rules"):
        load_rules(tmp_path / "nope.toml")


def test_promote_deploys_refuses_and_rolls_back_with_hashes_checked(
    registry: Registry, models, rules
):
    a, b, c = models
    decision, prev = promote(registry, a, _val(**GOOD), rules)
    assert decision.promote and prev is None
    assert registry.promoted(BOARD) == a.sha256
    files = verify_deployed(registry, BOARD)
    assert files["model.tflite"] == a.sha256
    assert (registry.root / "cards" / f"{a.sha256}.md").is_file()

    decision, prev = promote(registry, b, _val(**{**GOOD, "accuracy_vs_labels": 0.5}), rules)
    assert not decision.promote and prev is not None and prev.sha256 == a.sha256
    assert registry.promoted(BOARD) == a.sha256  # a refusal changes nothing deployed
    assert verify_deployed(registry, BOARD)["model.tflite"] == a.sha256

    decision, _ = promote(registry, c, _val(**{**GOOD, "accuracy_vs_labels": 0.99}), rules)
    assert decision.promote and registry.promoted(BOARD) == c.sha256
    changelog = (registry.root / "CHANGELOG.md").read_text()
    assert changelog.index(c.short) < changelog.index(a.short)  # newest first

    current, target, record = rollback_target(registry, BOARD)
    assert (current.sha256, target.sha256) == (c.sha256, a.sha256)
    apply_rollback(registry, BOARD, current, target, record, "field complaints")
    assert registry.promoted(BOARD) == a.sha256
    assert verify_deployed(registry, BOARD)["model.tflite"] == a.sha256
    assert atomic.sha256_file(registry.root / "deployed" / "sim-nano33" / "model.tflite") == (
        a.sha256)
    # The rolled-back model is never a rollback target again: nothing earlier is left.
    with pytest.raises(ConfigError, match="no earlier good model"):
        rollback_target(registry, BOARD)
    kinds = [e["event"] for e in registry.events()]
    assert kinds.count("promoted") == 2 and "refused" in kinds and "rolled back" in kinds


def test_tampered_deployed_file_is_detected(registry: Registry, models, rules):
    promote(registry, models[0], _val(**GOOD), rules)
    (registry.root / "deployed" / "sim-nano33" / "model.tflite").write_bytes(b"x")
    with pytest.raises(IntegrityError, match="does not match its hash"):
        verify_deployed(registry, BOARD)


def test_backup_and_restore_round_trip(registry: Registry, models, tmp_path: Path, rules):
    promote(registry, models[0], _val(**GOOD), rules)
    archive = tmp_path / "registry.tar.gz"
    n, digest = backup(registry, archive)
    assert n > 5 and (tmp_path / "registry.tar.gz.sha256").read_text().startswith(digest)
    before = {p.relative_to(registry.root): atomic.sha256_file(p)
              for p in (registry.root / "objects").rglob("*") if p.is_file()}
    shutil.rmtree(registry.root / "objects")  # a lost disk
    kept = restore(archive, registry.root)
    assert kept is not None and kept.is_dir()
    after = {p.relative_to(registry.root): atomic.sha256_file(p)
             for p in (registry.root / "objects").rglob("*") if p.is_file()}
    assert after == before
    assert registry.promoted(BOARD) == models[0].sha256


def test_restore_refuses_a_tampered_archive_and_changes_nothing(registry: Registry, models,
                                                                tmp_path: Path):
    archive = tmp_path / "registry.tar.gz"
    backup(registry, archive)
    # Rebuild the archive with one blob's content changed (and no .sha256 to catch it first).
    work = tmp_path / "x"
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    blob = next(p for p in (work / "objects").rglob("*") if p.is_file())
    blob.write_bytes(b"tampered")
    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        for p in sorted(work.rglob("*")):
            if p.is_file():
                tar.add(p, arcname=str(p.relative_to(work)))
    state_before = (registry.root / "models").stat().st_mtime_ns, len(registry.entries())
    with pytest.raises(IntegrityError, match="does not match its manifest hash"):
        restore(bad, registry.root)
    assert (state_before[0], len(registry.entries())) == state_before
    (tmp_path / "registry.tar.gz.sha256").write_text("0" * 64 + "  registry.tar.gz\n")
    with pytest.raises(IntegrityError, match="does not have the sha256 recorded"):
        restore(archive, registry.root)
    assert not list(tmp_path.glob("registry.before-restore-*"))
    (tmp_path / "registry.tar.gz.sha256").write_text("")
    with pytest.raises(IntegrityError, match=r"registry.tar.gz.sha256 is empty: pass --sha256"):
        restore(archive, registry.root)
    assert (state_before[0], len(registry.entries())) == state_before


def test_cli_refuses_an_unknown_board_before_anything_runs(registry: Registry, models, capsys):
    code = cli(["model", "promote", models[0].sha256[:10], "--board", "sim:nano99",
                "--registry", str(registry.root)])
    assert code == 3
    assert "nano99" in capsys.readouterr().err
    assert not any(e["event"] == "validated" for e in registry.events())


def test_cli_promoting_the_promoted_model_again_is_up_to_date_without_a_run(
    registry: Registry, models, capsys, rules
):
    """Re-running a promotion (a CI job run twice) is not a refusal: exit 0 and no suite run."""
    promote(registry, models[0], _val(**GOOD), rules)
    code = cli(["model", "promote", models[0].sha256[:10], "--board", BOARD,
                "--registry", str(registry.root)])
    assert code == 0
    assert f"up to date: {models[0].short} is already the promoted model on {BOARD}" in (
        capsys.readouterr().out)
    assert not any(e["event"] == "validated" for e in registry.events())


def test_cli_list_card_and_backup(registry: Registry, models, tmp_path: Path, capsys, rules):
    promote(registry, models[0], _val(**GOOD), rules)
    assert cli(["model", "list", "--registry", str(registry.root)]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == ["model", "bytes", "validations", "host", "figures", "promoted", "on"]
    (row,) = [r for r in rows if r.startswith(models[0].short)]
    entry = registry.get(models[0].sha256)
    assert row.split()[1:3] == [str(entry.files["model"].bytes), str(len(entry.validations))]
    assert row.endswith("sim:nano33")
    assert cli(["model", "card", models[0].short, "--registry", str(registry.root)]) == 0
    card = capsys.readouterr().out
    assert card.startswith(f"# Model card: {models[0].short}") and "## What changed" in card
    assert cli(["model", "backup", "--output", str(tmp_path / "b.tar.gz"), "--registry",
                str(registry.root)]) == 0


# ---- the decision's arithmetic, at its boundaries (docs/testing.md) -------------------------


@pytest.mark.parametrize(
    ("gate", "value", "problem"),
    [
        (Gate("a*", min=0.8, source="f"), 0.8, None),  # the bound itself passes
        # exact: no tolerance (figures come back from the store as the same doubles)
        (Gate("a*", min=0.8, source="f"), 0.8 - 1e-13, "a = 0.8 FAILS the gate >= 0.8 (from f)"),
        (Gate("a*", max=0.0, source="f"), 0.0, None),
        (Gate("a*", max=0.0, source="f"), 1e-13, "a = 1e-13 FAILS the gate <= 0 (from f)"),
        (Gate("a*", max=0.0, source="f"), 1.0, "a = 1 FAILS the gate <= 0 (from f)"),
        (Gate("a*", min=1.0, max=2.0, source="f"), 2.0, None),
        (Gate("a*", min=1.0, max=2.0, source="f"), 0.5,
         "a = 0.5 FAILS the gate >= 1 and <= 2 (from f)"),
    ],
)
def test_registry_gate_bounds_are_inclusive(gate, value, problem):
    (result,) = Rules(GateSet((gate,)), ()).gates.judge({"a": value})
    assert (result.message() if result.passed is False else None) == problem


@pytest.mark.parametrize(
    ("better", "limits", "old", "new", "worse_by", "pct", "regressed"),
    [
        ("higher", {"max_drop": 0.02}, 0.9, 0.88, 0.02, 100 * 0.02 / 0.9, False),  # at the limit
        ("higher", {"max_drop": 0.02}, 0.9, 0.87, 0.03, 100 * 0.03 / 0.9, True),
        ("higher", {"max_drop": 0.02}, 0.9, 0.95, -0.05, -100 * 0.05 / 0.9, False),
        ("higher", {"max_drop_pct": 10.0}, 2.0, 1.8, 0.2, 10.0, False),
        ("higher", {"max_drop_pct": 10.0}, 2.0, 1.7, 0.3, 15.0, True),
        ("lower", {"max_rise": 100.0}, 1000.0, 1100.0, 100.0, 10.0, False),
        ("lower", {"max_rise": 100.0}, 1000.0, 1101.0, 101.0, 10.1, True),
        ("lower", {"max_rise_pct": 10.0}, 1000.0, 1100.0, 100.0, 10.0, False),
        ("lower", {"max_rise_pct": 10.0}, 1000.0, 1101.0, 101.0, 10.1, True),
        ("lower", {"max_rise_pct": 10.0}, 0.0, 5.0, 5.0, None, False),  # no percent of zero
        ("lower", {"max_rise": 1.0, "max_rise_pct": 50.0}, 10.0, 12.0, 2.0, 20.0, True),
        ("lower", {"max_rise": 5.0, "max_rise_pct": 10.0}, 10.0, 12.0, 2.0, 20.0, True),
    ],
)
def test_compare_measures_how_much_worse_and_whether_beyond_the_limit(
    better, limits, old, new, worse_by, pct, regressed
):
    change = compare("m", Figure(old), Figure(new), Threshold("m", better, **limits))
    assert change.worse_by == pytest.approx(worse_by)
    assert change.worse_pct == (None if pct is None else pytest.approx(pct))
    assert change.regressed is regressed
    assert change.comparable and change.name == "m"


def test_describe_says_which_way_and_the_limit():
    th = Threshold("latency_us_median", "lower", max_rise_pct=10.0)
    worse = compare("latency_us_median", Figure(1900.0, "us"), Figure(2300.0, "us"), th)
    assert worse.describe() == (
        "latency_us_median 1900 -> 2300 us (+21.1%): worse than the promoted model, beyond "
        "the allowed 10% rise"
    )
    better = compare("latency_us_median", Figure(1900.0, "us"), Figure(1800.0, "us"), th)
    assert better.describe("run 3") == (
        "latency_us_median 1900 -> 1800 us (-5.3%): better than run 3"
    )
    same = compare("x", Figure(0.0), Figure(0.0), Threshold("x", "higher", max_drop=1.0))
    assert same.describe() == "x 0 -> 0: the same as the promoted model"
    assert not same.changed and worse.changed
    mixed = compare("x", Figure(1.0, provenance=Provenance.ESTIMATED), Figure(1.0), th)
    assert mixed.describe() == "x: not compared (measured vs estimated figures are never mixed)"
    assert mixed.changed and mixed.regressed is False and mixed.comparable is False
    assert mixed.worse_by == 0.0 and mixed.threshold is th


@pytest.mark.parametrize(
    ("threshold", "text"),
    [
        (Threshold("x", "higher", max_drop=0.02), "drop of 0.02"),
        (Threshold("x", "higher", max_drop_pct=5.0), "5% drop"),
        (Threshold("x", "higher", max_drop=0.02, max_drop_pct=5.0), "drop of 0.02 or 5% drop"),
        (Threshold("x", "lower", max_rise=3.0), "rise of 3"),
        (Threshold("x", "lower", max_rise_pct=10.0), "10% rise"),
        (Threshold("x", "lower", max_rise=3.0, max_rise_pct=10.0), "rise of 3 or 10% rise"),
        (Threshold("x", "lower"), "no limit"),
    ],
)
def test_limit_text(threshold, text):
    assert threshold.limit_text() == text


def test_figures_keep_unit_and_label_through_the_registry():
    """A validation is stored as JSON and read back before the next decision: a figure that
    lost its label would be compared with a figure of another provenance."""
    val = ValidationRun(BOARD, 0, 7, "db", {
        "latency_us_median": Figure(1900.0, "us", Provenance.ESTIMATED),
        "accuracy_vs_labels": Figure(0.9),
    })
    back = ValidationRun.from_dict(val.to_dict())
    assert back.figures == val.figures
    assert Figure.from_dict({"value": 3}) == Figure(3.0, "", Provenance.MEASURED)
    assert str(Figure(1900.0, "us")) == "1900 us" and str(Figure(0.5)) == "0.5"


def test_user_rules_are_tried_before_the_defaults_and_keep_the_rest(tmp_path: Path):
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text('[gates]\naccuracy_vs_labels = { min = 0.5 }\n')
    rules = load_rules(rules_file)
    gate = rules.gate_for("accuracy_vs_labels")
    assert gate is not None and (gate.min, gate.max) == (0.5, None)
    # the defaults' other gates and every threshold are still there
    assert rules.gate_for("vectors_differing_vs_host") == Gate(
        "vectors_differing_vs_host*", max=0, source="tflm-hil promotion defaults"
    )
    assert rules.gate_for("accuracy_vs_labels").source == str(rules_file)
    assert rules.threshold_for("accuracy_vs_labels") == load_rules().threshold_for(
        "accuracy_vs_labels"
    )
    assert rules.gate_for("no_such_figure") is None


def test_decide_names_an_unknown_exit_status():
    d = decide(_val(9), None, load_rules())
    assert d.reasons[0] == "the HIL suite did not pass (exit status 9: unknown status)"
    d = decide(_val(1), None, load_rules())
    assert d.reasons[0] == "the HIL suite did not pass (exit status 1: tests failed)"
    assert d.promote is False


def test_a_rise_exactly_at_the_limit_is_allowed():
    th = Threshold("x", "lower", max_rise=0.02)
    assert not compare("x", Figure(0.0), Figure(0.02 + 1e-12), th).regressed  # EPS
    assert compare("x", Figure(1e-12), Figure(1.0), th).worse_pct is None  # no % of ~0


def test_parse_rules_reads_every_limit():
    raw = {
        "gates": {"a": {"min": 1, "max": 2}},
        "regression": {
            "x": {"better": "lower", "max_rise": 1, "max_rise_pct": 2},
            "y": {"better": "higher", "max_drop": 3, "max_drop_pct": 4},
        },
    }
    rules = parse_rules(raw, "here")
    assert rules.gates == GateSet((Gate("a", 1.0, 2.0, "here"),))
    assert rules.thresholds == (
        Threshold("x", "lower", max_rise=1.0, max_rise_pct=2.0),
        Threshold("y", "higher", max_drop=3.0, max_drop_pct=4.0),
    )
    assert parse_rules({}, "here") == Rules(GateSet(()), ())
    assert parse_thresholds({"x": {"better": "lower"}}, "limits") == (Threshold("x", "lower"),)


def test_a_bad_rules_file_is_named_in_the_error(tmp_path: Path):
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text('[regression.x]\nbetter = "sideways"\n')
    with pytest.raises(ConfigError) as info:
        load_rules(rules_file)
    assert str(info.value).startswith(f"{rules_file}: [regression.x] better must be")
    rules_file.write_text("[limits]\n")
    with pytest.raises(ConfigError) as info:
        load_rules(rules_file)
    assert str(info.value) == f"{rules_file}: limits is not a setting here: use gates, regression"


def test_decide_lists_the_failed_tests_or_the_output_tail():
    failures = [{"nodeid": f"t{i}", "message": f"m{i}", "outcome": "failed"} for i in range(7)]
    failures[1] = {"nodeid": "t1", "message": "", "outcome": "error"}
    val = ValidationRun(BOARD, 1, 1, "db", {}, failures)
    d = decide(val, None, load_rules())
    assert d.reasons[1:] == ["  t0: m0", "  t1: error", "  t2: m2", "  t3: m3", "  t4: m4"]
    val.tail = "the last lines"  # the failures say it; the output's tail is not repeated
    assert decide(val, None, load_rules()).reasons == d.reasons
    quiet = ValidationRun(BOARD, 4, 1, "db", {}, [], tail="ERROR: bad\nline two")
    assert decide(quiet, None, load_rules()).reasons[1:] == ["  ERROR: bad\n  line two"]


def test_decide_compares_every_figure_with_a_threshold():
    """A figure without a threshold (sorted first here) does not end the comparison."""
    base = _val(**GOOD)
    cand = _val(**{**GOOD, "latency_us_median": 5000.0})
    cand.figures["a_figure_without_threshold"] = Figure(1.0)
    d = decide(cand, base, load_rules())
    assert not d.promote and "latency_us_median 1900 -> 5000" in d.reasons[0]


def test_a_gate_no_figure_meets_is_reported_not_applied(rules):
    """No labels: the accuracy gate is not measured. Promotion says so and does not refuse."""
    figures = {k: v for k, v in GOOD.items() if k != "accuracy_vs_labels"}
    d = decide(_val(**figures), None, rules)
    assert d.promote
    assert d.not_measured == [
        "accuracy_vs_labels*: not measured (gate >= 0.8 from tflm-hil promotion defaults)"
    ]


def test_a_figure_is_judged_by_its_exact_gate_before_any_pattern():
    gates = GateSet((Gate("acc*", min=0.9, source="p"), Gate("acc_b", min=0.1, source="e")))
    results = {r.name: r.passed for r in gates.judge({"acc_a": 0.5, "acc_b": 0.5})}
    assert results == {"acc_a": False, "acc_b": True}

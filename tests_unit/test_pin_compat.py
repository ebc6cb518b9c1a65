"""The known issues of TFLM library refs: the data file's loader, the model matcher, and the
placement of a ref in the library's git history (inside a range, before it, after it, unknown)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from harness.apps.matrix.cell import PIN_GATE
from harness.errors import ConfigError
from harness.firmware.compat import check_model, compat_warnings
from harness.firmware.known_issues import Commit, load_known_issues, parse_known_issues
from harness.firmware.library import METADATA
from harness.firmware.library_history import (
    HISTORY_VAR,
    LibraryHistory,
    Placement,
    library_history,
    place,
)
from harness.firmware.pins import Pins, default_pins
from harness.tflite.model import TfliteModel

from .conftest import DIGITS_MODEL, REPO
from .tiny_tflite import tiny_model

PIN = default_pins()
# A clone of the library named by the environment, read before the tests below unset it.
LIBRARY_GIT = os.environ.get(HISTORY_VAR)
PER_CHANNEL_FC = tiny_model(["FULLY_CONNECTED", "SOFTMAX"], weight_scales=4, source="pc.tflite")


@pytest.fixture(autouse=True)
def _no_history(monkeypatch):
    monkeypatch.delenv(HISTORY_VAR, raising=False)


# ---- the data file ---------------------------------------------------------------------------


def test_the_packaged_file_covers_the_default_pin_with_its_evidence():
    known = load_known_issues()
    fc = next(i for i in known.issues if "FULLY_CONNECTED" in i.ops)
    assert (fc.feature, fc.behaviour) == ("per-channel-weights", "silently-wrong")
    assert PIN.tflm_ref in {t.sha for t in fc.refs.tips}
    assert known.commits[PIN.tflm_ref].date == "2023-12-22"
    assert "per tensor" in fc.fix and "HIL_TFLM_REF=" in fc.fix
    for issue in known.issues:
        assert issue.evidence.source or issue.evidence.measured
        assert issue.evidence.command and issue.evidence.matrix_cell
        # every cited source line names a file of the library at a ref
        assert all(":" in s and " at " in s for s in issue.evidence.source[:2]), issue.id


A = "a" * 40
B = "b" * 40
VALID = f"""
[library]
repository = "https://example.org/lib.git"
[library.commits]
"{A}" = {{ date = "2021-01-02" }}
"{B}" = {{ date = "2022-03-04", note = "the tip" }}

[[issue]]
id = "fc"
ops = ["FULLY_CONNECTED"]
feature = "per-channel-weights"
behaviour = "silently-wrong"
what = "does it wrong"
fix = "convert per tensor"
refs = {{ from = "{A}", to = ["{B}"] }}
[issue.evidence]
source = ["x.cpp:1-2 at {B[:8]}: shows it"]
command = "pytest tests_hil"
matrix_cell = "PENDING: matrix-emu"
"""


def test_a_valid_file_loads_into_typed_entries():
    known = parse_known_issues(VALID, "k.toml")
    (issue,) = known.issues
    assert issue.ops == ("FULLY_CONNECTED",)
    assert issue.refs.first is not None and issue.refs.first.sha == A
    assert issue.refs.tips[0].note == "the tip"
    assert issue.refs.describe() == "aaaaaaaa (2021-01-02) .. bbbbbbbb (2022-03-04)"
    assert known.listed("bbbbbbb") == known.commits[B]
    assert known.listed("bbbbbb") is None  # under 7 digits names nothing
    assert known.listed("main") is None


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ('behaviour = "silently-wrong"', 'behavior = "silently-wrong"', "'fc'.*behavior"),
        ('ops = ["FULLY_CONNECTED"]', 'ops = ["FULLY_CONECTED"]', "'fc'.*FULLY_CONECTED"),
        ('feature = "per-channel-weights"', 'feature = "per-channel"', "'fc'.*feature"),
        ('behaviour = "silently-wrong"', 'behaviour = "slow"', "'fc'.*behaviour"),
        ('what = "does it wrong"', 'what = ""', "'fc'.*'what'"),
        (f'to = ["{B}"]', f'to = ["{"c" * 40}"]', "'fc'.*cccc.*library.commits"),
        (f'to = ["{B}"]', "to = []", "'fc'.*refs"),
        (f'source = ["x.cpp:1-2 at {B[:8]}: shows it"]', "", "'fc'.*source.*measured"),
        ('command = "pytest tests_hil"', "", "'fc'.*command"),
        ("[issue.evidence]", "[issue.proof]", "'fc'.*proof"),
        (f'"{A}" = {{ date = "2021-01-02" }}', f'"{A}" = {{ date = "2021-1-2" }}', "aaaa.*date"),
        (f'"{A}" = {{', '"a1" = {', "'a1'.*40-digit"),
    ],
)
def test_a_malformed_entry_is_refused_naming_it(old, new, named):
    assert old in VALID
    with pytest.raises(ConfigError, match=named) as err:
        parse_known_issues(VALID.replace(old, new, 1), "k.toml")
    assert str(err.value).startswith("k.toml")


def test_duplicate_ids_are_refused():
    second = VALID[VALID.index("[[issue]]"):]
    with pytest.raises(ConfigError, match="unique"):
        parse_known_issues(VALID + second, "k.toml")


# ---- the matcher -----------------------------------------------------------------------------


def test_per_channel_fully_connected_at_the_pin_is_a_certain_finding():
    (finding,) = check_model(PER_CHANNEL_FC, PIN)
    assert finding.certain and finding.ops == ("FULLY_CONNECTED",)
    message = finding.message()
    for part in (
        "pc.tflite uses FULLY_CONNECTED with per-channel weights",
        "HIL_TFLM_REF=7948b85e (2023-12-22",
        "one output multiplier",
        "wrong outputs, without an error",
        "Fix: convert per tensor",
        "move the pin with HIL_TFLM_REF=",
    ):
        assert part in message, part
    assert compat_warnings(PER_CHANNEL_FC, PIN) == [message]  # the generator's and driver's
    abbreviated = Pins(PIN.tflm_ref[:8], PIN.arduino_core)
    assert [f.certain for f in check_model(PER_CHANNEL_FC, abbreviated)] == [True]


@pytest.mark.parametrize(
    "model",
    [
        tiny_model(["FULLY_CONNECTED", "SOFTMAX"], weight_scales=1),  # per tensor
        tiny_model(["ADD"], weight_scales=4),
    ],
    ids=["per-tensor FC", "ADD"],
)
def test_a_model_without_an_affected_feature_has_no_finding(model):
    assert check_model(model, PIN) == []


def test_an_operator_the_library_lacks_is_a_rejection():
    (finding,) = check_model(tiny_model(["BATCH_MATMUL"]), PIN)
    assert finding.issue.behaviour == "rejected" and finding.ops == ("BATCH_MATMUL",)
    assert "the board would refuse the model" in finding.message()


def test_per_channel_detection_reads_the_converted_models_scales(digits_per_channel):
    per_channel = TfliteModel.load(digits_per_channel)
    fc = [op for op in per_channel.ops if op.name == "FULLY_CONNECTED"]
    assert fc and all(per_channel.tensors[op.inputs[1]].per_channel for op in fc)
    conv = [op for op in per_channel.ops if op.name == "CONV_2D"]
    assert conv and all(per_channel.tensors[op.inputs[1]].per_channel for op in conv)
    # its per-channel convolutions are no issue: the library runs them per channel
    assert [f.ops for f in check_model(per_channel, PIN)] == [("FULLY_CONNECTED",)]
    assert check_model(TfliteModel.load(DIGITS_MODEL), PIN) == []  # the example: per tensor


def test_a_ref_that_cannot_be_placed_is_a_possible_finding_naming_how_to_place_it(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("TFLM_HIL_CACHE", str(tmp_path))  # nothing fetched
    (finding,) = check_model(PER_CHANNEL_FC, Pins("main", PIN.arduino_core))
    assert not finding.certain
    message = finding.message()
    assert "HIL_TFLM_REF=main could not be placed" in message
    assert f"set {HISTORY_VAR} to a clone of https://github.com/tensorflow/" in message
    assert "08d73bf3 (2021-08-05) .. 7948b85e (2023-12-22)" in message


@pytest.mark.parametrize(
    ("sha", "date", "placement", "why"),
    [
        (B, "2022-03-04", Placement.INSIDE, "is an end of the range"),
        ("c" * 40, "2021-06-01", Placement.INSIDE, "dated within the range (by date"),
        ("c" * 40, "2023-01-01", Placement.UNKNOWN, "dated outside the range"),  # never cleared
        ("c" * 40, "2020-01-01", Placement.UNKNOWN, "dated outside the range"),
    ],
)
def test_a_fetched_ref_is_placed_by_the_commit_its_fetch_recorded(sha, date, placement, why):
    known = parse_known_issues(VALID, "k.toml")
    placed = place("v1.0", known.issues[0].refs, known, None, Commit(sha, date))
    assert placed.placement is placement and why in placed.why, placed.why
    assert placed.commit is not None and placed.commit.sha == sha


def test_a_fetched_library_suffices_for_the_pin_gate(tmp_path, monkeypatch):
    """No clone of the library: the checkout `tflm-hil firmware fetch` made for the emulated
    board (its commit and that commit's date) places the ref."""
    monkeypatch.setenv("TFLM_HIL_CACHE", str(tmp_path))
    ref = "0709653ed4938c49bd8072d75f07b93059375d04"  # a 2023-01 sync, no end of the range
    root = tmp_path / "libraries" / "tflm" / ref
    (root / "src").mkdir(parents=True)
    meta = {"ref": ref, "commit": ref, "date": "2023-01-14", "url": "https://example.org/l.git"}
    (root / METADATA).write_text(json.dumps(meta))
    (finding,) = check_model(PER_CHANNEL_FC, Pins(ref, PIN.arduino_core))
    assert finding.certain, finding.message()
    assert "HIL_TFLM_REF=0709653e (2023-01-14: fetched from https://example.org/l.git)" in (
        finding.message()
    )


def test_a_history_that_is_not_a_git_repository_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=f"{HISTORY_VAR}=.* is not a git repository"):
        library_history({HISTORY_VAR: str(tmp_path)})
    assert library_history({}) is None


# ---- placing a ref in the library's history ---------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME":
           "t", "GIT_COMMITTER_EMAIL": "t@t", "GIT_AUTHOR_DATE": "2022-05-06T00:00:00Z",
           "GIT_COMMITTER_DATE": "2022-05-06T00:00:00Z"}
    run = subprocess.run(["git", "-C", str(repo), *args], env=env, capture_output=True,
                         text=True, check=True)
    return run.stdout.strip()


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """root - first - middle - tip - after on main; side branches off first."""
    repo = tmp_path_factory.mktemp("library")
    _git(repo, "init", "-q", "-b", "main")
    shas = {}
    for name in ("root", "first", "middle", "tip", "after"):
        _git(repo, "commit", "-q", "--allow-empty", "-m", name)
        shas[name] = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "-b", "side", shas["first"])
    _git(repo, "commit", "-q", "--allow-empty", "-m", "side")
    shas["side"] = _git(repo, "rev-parse", "HEAD")
    return repo, shas


def _known(first: str, tip: str):
    text = VALID.replace(A, first).replace(B, tip)
    return parse_known_issues(text, "k.toml")


@pytest.mark.parametrize(
    ("ref", "placement"),
    [
        ("first", Placement.INSIDE),
        ("middle", Placement.INSIDE),
        ("tip", Placement.INSIDE),
        ("root", Placement.OUTSIDE),  # before the range
        ("after", Placement.OUTSIDE),  # a newer commit than the range's tip
        ("main", Placement.OUTSIDE),  # a branch name: resolved by git
        ("side", Placement.UNKNOWN),  # another line of history
        ("no-such-ref", Placement.UNKNOWN),
    ],
)
def test_git_history_places_a_ref(library, ref, placement):
    repo, shas = library
    known = _known(shas["first"], shas["tip"])
    placed = place(shas.get(ref, ref), known.issues[0].refs, known, LibraryHistory(repo))
    assert placed.placement is placement, placed.why
    if ref == "middle":
        assert placed.commit is not None and placed.commit.date == "2022-05-06"


def test_without_history_only_the_listed_ends_are_placed(library):
    _, shas = library
    known = _known(shas["first"], shas["tip"])
    refs = known.issues[0].refs
    assert place(shas["tip"][:10], refs, known, None).placement is Placement.INSIDE
    assert place(shas["after"], refs, known, None).placement is Placement.UNKNOWN


def test_a_history_of_another_repository_places_nothing(library, tmp_path):
    _, shas = library
    other = tmp_path / "other"
    other.mkdir()
    _git(other, "init", "-q", "-b", "main")
    _git(other, "commit", "-q", "--allow-empty", "-m", "x")
    known = _known(shas["first"], shas["tip"])
    placed = place("main", known.issues[0].refs, known, LibraryHistory(other))
    assert placed.placement is Placement.UNKNOWN and "is it a clone of" in placed.why


def test_a_ref_after_the_range_has_no_finding(library, monkeypatch):
    repo, shas = library
    known = _known(shas["first"], shas["tip"])
    monkeypatch.setenv(HISTORY_VAR, str(repo))
    assert check_model(PER_CHANNEL_FC, Pins(shas["after"], "4.5.0"), known) == []
    (inside,) = check_model(PER_CHANNEL_FC, Pins(shas["middle"], "4.5.0"), known)
    assert inside.certain and f"HIL_TFLM_REF={shas['middle'][:8]} (2022-05-06)" in inside.message()


def test_the_firmware_generator_warns_from_the_same_data(tmp_path, capsys, monkeypatch):
    from harness.cli import main as cli_main

    monkeypatch.delenv("HIL_TFLM_REF", raising=False)
    model = tmp_path / "pc.tflite"
    model.write_bytes(PER_CHANNEL_FC.data)
    argv = ["firmware", "generate", "--model", str(model), "--board", "nano33", "--arena", "4096"]
    assert cli_main([*argv, "--out", str(tmp_path / "fw")]) == 0
    out = capsys.readouterr().out
    (expected,) = compat_warnings(TfliteModel.load(model), PIN)
    assert f"   warning: {expected}" in out.splitlines()


@pytest.mark.parametrize(
    ("ref", "placement"),
    [
        ("main", Placement.INSIDE),
        ("sync-from-tflite-micro", Placement.INSIDE),  # the unmerged branch: its own tip
        ("bd7e861", Placement.INSIDE),  # the 2023-02-27 sync
        ("4ee96920133323a01d568c5e88878a640af64fa8", Placement.OUTSIDE),  # before the sources
    ],
)
def test_the_real_librarys_history_places_its_refs(ref, placement):
    """Needs a clone of the library (the default pin's repository) to place refs in."""
    if not LIBRARY_GIT:
        pytest.skip(f"no clone of the TFLM library: set {HISTORY_VAR} to one "
                    "(git clone https://github.com/tensorflow/tflite-micro-arduino-examples.git)")
    known = load_known_issues()
    for issue in known.issues:
        placed = place(ref, issue.refs, known, LibraryHistory(Path(LIBRARY_GIT)))
        assert placed.placement is placement, (issue.id, placed.why)


def test_the_sim_matrix_leaves_out_the_real_pin_gate():
    assert f"def {PIN_GATE}(" in (REPO / "harness/suite/test_pin_compat.py").read_text()

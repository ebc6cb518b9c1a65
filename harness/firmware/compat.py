"""The known issues of the pinned TFLM library that a model runs into, found before anything is
built: the firmware generator and the PlatformIO driver warn with them, and the simulated twin's
pin gate (tests_hil/test_pin_compat.py) fails on them. The issues, their ref ranges and their
evidence are data (harness/data/tflm_known_issues.toml, read by known_issues.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model.tflite_info import TfliteModel
from .known_issues import (
    BEHAVIOURS,
    FEATURES,
    Commit,
    KnownIssue,
    KnownIssues,
    load_known_issues,
)
from .library import find_library
from .library_history import (
    HISTORY_VAR,
    LibraryHistory,
    PlacedRef,
    Placement,
    library_history,
    place,
)
from .pins import TFLM_REF_VAR, Pins


def ops_with_feature(model: TfliteModel, issue: KnownIssue) -> list[str]:
    """The model's operators that the issue concerns, with the issue's feature."""
    tensors = model.tensors

    def has(op) -> bool:
        if op.name not in issue.ops:
            return False
        if issue.feature == "per-channel-weights":  # the weights are the op's second input
            return len(op.inputs) > 1 and op.inputs[1] >= 0 and tensors[op.inputs[1]].per_channel
        return True  # "op": any use

    return sorted({op.name for op in model.ops if has(op)})


@dataclass(frozen=True)
class Finding:
    """A known issue of the library at ``placed.ref`` that ``model`` runs into: certain when the
    ref lies in the issue's range, possible when it could not be placed."""

    model: str
    ops: tuple[str, ...]
    issue: KnownIssue
    placed: PlacedRef
    repository: str

    @property
    def certain(self) -> bool:
        return self.placed.placement is Placement.INSIDE

    def message(self) -> str:
        issue, placed = self.issue, self.placed
        uses = " ".join(filter(None, [", ".join(self.ops), FEATURES[issue.feature]]))
        commit = placed.commit
        full_sha = commit is not None and placed.ref.lower() == commit.sha
        pin = f"{TFLM_REF_VAR}={placed.ref[:8] if full_sha else placed.ref}"
        if commit is not None:
            pin += f" ({commit.date}{': ' + commit.note if commit.note else ''})"
        head = f"{self.model} uses {uses}. "
        body = f"The TFLM library at the pin {pin} {issue.what}: {BEHAVIOURS[issue.behaviour]}."
        if not self.certain:
            body = (
                f"The TFLM library {issue.what} at refs {issue.refs.describe()} "
                f"({BEHAVIOURS[issue.behaviour]}), and the pin {pin} could not be placed "
                f"({placed.why}): the twin cannot vouch for the board. To place it, set "
                f"{HISTORY_VAR} to a clone of {self.repository}."
            )
        return (
            f"{head}{body} Fix: {issue.fix}. "
            f"(known issue '{issue.id}' in harness/data/tflm_known_issues.toml, with its evidence)"
        )


def check_model(
    model: TfliteModel,
    pins: Pins,
    known: KnownIssues | None = None,
    history: LibraryHistory | None = None,
) -> list[Finding]:
    """The known issues the model runs into at ``pins.tflm_ref``, certain or possible.
    ``history`` defaults to the clone ``$TFLM_HIL_LIBRARY_GIT`` names, looked up only when the
    model has a feature some issue concerns."""
    known = known or load_known_issues()
    findings = []
    for issue in known.issues:
        ops = ops_with_feature(model, issue)
        if not ops:
            continue
        if history is None:
            history = library_history()
        placed = place(pins.tflm_ref, issue.refs, known, history, fetched_commit(pins.tflm_ref))
        if placed.placement is not Placement.OUTSIDE:
            findings.append(Finding(model.source, tuple(ops), issue, placed, known.repository))
    return findings


def fetched_commit(ref: str) -> Commit | None:
    """The commit and date a fetch of ``ref`` recorded (harness/firmware/library.py), if any."""
    checkout = find_library(ref)
    if checkout is None or not checkout.date:
        return None
    return Commit(checkout.commit, checkout.date, f"fetched from {checkout.url}")


def compat_warnings(model: TfliteModel, pins: Pins) -> list[str]:
    return [f.message() for f in check_model(model, pins)]

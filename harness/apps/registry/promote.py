"""Promotion and rollback: which model a board runs, decided by gates, undone by rollback.

Per board, ``state.json`` holds the promoted model and the history of promotions. Promote
deploys the model's files to ``deployed/<board>/`` (hash-checked); rollback restores the
last good model there, after the HIL flow reflashed and passed it on a real board.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ... import atomic
from ...boards.catalog import resolve_board
from ...errors import EXIT_INFRA, ConfigError
from ...metrics.regression import FigureChange, compare
from ...protocol.messages import float_abi_of
from ...provenance import Provenance
from .card import add_changelog, model_card, write_card_and_changelog
from .rules import Rules
from .store import IntegrityError, ModelEntry, Registry, board_dir_name
from .validate import EXIT_MEANING, ValidationRun


@dataclass
class Decision:
    promote: bool
    reasons: list[str] = field(default_factory=list)  # why it was refused
    changes: list[FigureChange] = field(default_factory=list)  # every comparison with the baseline
    not_measured: list[str] = field(default_factory=list)  # gates no figure met: not applied


def _abi(validation: ValidationRun) -> str:
    return float_abi_of(str(validation.device.get("core_version") or ""))


def decide(candidate: ValidationRun, baseline: ValidationRun | None, rules: Rules) -> Decision:
    d = Decision(promote=False)
    if not candidate.passed:
        if candidate.exit_status == EXIT_INFRA:
            d.reasons.append("the rig failed (build, flash, link or timeout): the model was not "
                             "judged; fix the rig and promote again")
        else:
            meaning = EXIT_MEANING.get(candidate.exit_status, "unknown status")
            d.reasons.append(f"the HIL suite did not pass (exit status {candidate.exit_status}: "
                             f"{meaning})")
        for f in candidate.failures[:5]:
            d.reasons.append(f"  {f['nodeid']}: {f.get('message') or f['outcome']}")
        if not candidate.failures and candidate.tail:
            d.reasons.append("  " + candidate.tail.replace("\n", "\n  "))
    for result in rules.gates.judge({k: f.value for k, f in candidate.figures.items()}):
        if result.passed is False:
            d.reasons.append(f"gate: {result.message()}")
        elif result.passed is None:
            d.not_measured.append(result.message())
    if baseline is not None:
        for name, fig in sorted(candidate.figures.items()):
            th = rules.threshold_for(name)
            if th is None or name not in baseline.figures:
                continue
            abis = (_abi(baseline), _abi(candidate))
            change = compare(name, baseline.figures[name], fig, th, abis)
            d.changes.append(change)
            if change.regressed:
                d.reasons.append(change.describe())
    d.promote = not d.reasons
    return d


def deploy(registry: Registry, entry: ModelEntry, board: str, card: str) -> Path:
    """Replaces ``deployed/<board>/`` with the entry's files; every file hash-checked."""
    dest = registry.root / "deployed" / board_dir_name(board)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        files = registry.export(entry, staging)
        atomic.write_text(staging / "MODEL_CARD.md", card)
        atomic.write_json(staging / "DEPLOYED.json", {
            "model": entry.sha256, "board": board, "deployed": time.time(),
            "files": {p.name: entry.files[role].sha256 for role, p in files.items()}})
        old = dest.with_name(dest.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        if dest.exists():
            dest.rename(old)
        staging.rename(dest)  # the swap: a reader sees the old folder or the new one
        if old.exists():
            shutil.rmtree(old)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return dest


def verify_deployed(registry: Registry, board: str) -> dict[str, str]:
    """Checks every deployed file against the hashes recorded when it was deployed."""
    dest = registry.root / "deployed" / board_dir_name(board)
    record = dest / "DEPLOYED.json"
    if not record.is_file():
        raise IntegrityError(f"nothing is deployed for {board} in {dest}")
    meta = atomic.read_json(record)
    for name, sha in meta["files"].items():
        if not (dest / name).is_file() or atomic.sha256_file(dest / name) != sha:
            raise IntegrityError(f"deployed file {dest / name} does not match its hash")
    return dict(meta["files"])


def record_validation(registry: Registry, entry: ModelEntry, val: ValidationRun) -> None:
    with registry.locked():
        fresh = registry.get(entry.sha256)
        fresh.validations.append(val.to_dict())
        registry.save(fresh)
        entry.validations = fresh.validations
        registry.log("validated", model=entry.sha256, board=val.board, run_id=val.run_id,
                     exit_status=val.exit_status)


def baseline_validation(registry: Registry, board: str) -> tuple[ModelEntry, ValidationRun] | None:
    state = registry.state()["boards"].get(board, {})
    if not state.get("promoted"):
        return None
    entry = registry.get(state["promoted"])
    run = state.get("validation") or entry.last_validation(board)
    return (entry, ValidationRun.from_dict(run)) if run else None


def promote(registry: Registry, entry: ModelEntry, val: ValidationRun, rules: Rules
            ) -> tuple[Decision, ModelEntry | None]:
    """Decides, and on success makes ``entry`` the board's promoted model."""
    board = val.board
    base = baseline_validation(registry, board)
    if base is not None and base[0].sha256 == entry.sha256:
        return Decision(False, [f"{entry.short} is already the promoted model on {board}"]), None
    decision = decide(val, base[1] if base else None, rules)
    previous = base[0] if base else None
    if not decision.promote:
        registry.log("refused", model=entry.sha256, board=board, run_id=val.run_id,
                     reasons=decision.reasons)
        return decision, previous
    card = model_card(entry, val, previous, decision.changes, board)
    with registry.locked():
        deploy(registry, entry, board, card)
        state = registry.state()
        b = state["boards"].setdefault(board, {"history": []})
        b["promoted"] = entry.sha256
        b["validation"] = val.to_dict()
        b["history"].append({"model": entry.sha256, "action": "promote", "time": time.time(),
                             "run_id": val.run_id, "validation": val.to_dict()})
        registry.save_state(state)
        write_card_and_changelog(registry, entry, card, previous, decision.changes, board)
        registry.log("promoted", model=entry.sha256, board=board, run_id=val.run_id,
                     previous=previous.sha256 if previous else None)
    return decision, previous


def rollback_target(registry: Registry, board: str) -> tuple[ModelEntry, ModelEntry, dict]:
    """(current, last good, its history record): the newest earlier promotion that was not
    itself rolled back."""
    resolve_board(board)
    b = registry.state()["boards"].get(board)
    if not b or not b.get("promoted"):
        raise ConfigError(f"no model was ever promoted on {board}: nothing to roll back")
    current = b["promoted"]
    bad = {h["from"] for h in b["history"] if h.get("action") == "rollback"} | {current}
    for h in reversed(b["history"]):
        if h.get("action") == "promote" and h["model"] not in bad:
            return registry.get(current), registry.get(h["model"]), h
    raise ConfigError(f"no earlier good model on {board} to roll back to (only "
                      f"{current[:12]} was promoted there)")


def apply_rollback(registry: Registry, board: str, current: ModelEntry, target: ModelEntry,
                   record: dict[str, Any], reason: str) -> Path:
    val = ValidationRun.from_dict(record["validation"]) if record.get("validation") else None
    card = model_card(target, val, None, [], board, note=f"restored by rollback from "
                      f"{current.short}: {reason}")
    with registry.locked():
        dest = deploy(registry, target, board, card)
        state = registry.state()
        b = state["boards"][board]
        b["promoted"] = target.sha256
        if record.get("validation"):
            b["validation"] = record["validation"]
        b["history"].append({"model": target.sha256, "action": "rollback", "time": time.time(),
                             "from": current.sha256, "reason": reason})
        registry.save_state(state)
        registry.log("rolled back", model=target.sha256, board=board, previous=current.sha256,
                     reason=reason)
        add_changelog(registry, f"{target.short} restored on {board} (rollback)",
                      [f"Rolled back from {current.short}: {reason}."])
    return dest


def describe_exit(status: int) -> str:
    return EXIT_MEANING.get(status, f"exit status {status}")


def validation_summary(val: ValidationRun) -> list[str]:
    lines = [f"HIL suite on {val.board}: {describe_exit(val.exit_status)}"
             f" (run {val.run_id}, log {val.log})"]
    for name, fig in sorted(val.figures.items()):
        label = "" if fig.provenance is Provenance.MEASURED else f" ({fig.provenance})"
        lines.append(f"  {name} = {fig}{label}")
    return lines


__all__ = ["Decision", "apply_rollback", "baseline_validation", "decide", "deploy", "promote",
           "record_validation", "rollback_target", "validation_summary", "verify_deployed"]

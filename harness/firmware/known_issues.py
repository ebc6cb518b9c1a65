"""The known incompatibilities of TFLM library refs (data/tflm_known_issues.toml), read into
dataclasses. A malformed entry is refused, naming the entry and the field."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..model.tflite_info import BUILTIN_NAMES

PACKAGED = "data/tflm_known_issues.toml"
FEATURES = {
    "per-channel-weights": "with per-channel weights (more than one scale)",
    "op": "",
}
BEHAVIOURS = {
    "silently-wrong": "the board would give wrong outputs, without an error",
    "rejected": "the board would refuse the model",
    "crash": "the board would crash",
}
_SHA = re.compile(r"^[0-9a-f]{40}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISSUE_KEYS = {"id", "ops", "feature", "behaviour", "what", "fix", "refs", "evidence"}
_EVIDENCE_KEYS = {"source", "measured", "command", "matrix_cell"}


@dataclass(frozen=True)
class Commit:
    sha: str
    date: str  # the author date, YYYY-MM-DD
    note: str = ""

    def describe(self) -> str:
        return f"{self.sha[:8]} ({self.date})"


@dataclass(frozen=True)
class RefRange:
    """The refs between ``first`` (None: from the start) and any of ``tips``, both inclusive."""

    first: Commit | None
    tips: tuple[Commit, ...]

    def describe(self) -> str:
        start = f"{self.first.describe()} .. " if self.first else "up to "
        return start + " and ".join(t.describe() for t in self.tips)


@dataclass(frozen=True)
class Evidence:
    source: tuple[str, ...]  # "file:lines at REF: what they show"
    measured: tuple[str, ...]
    command: str  # what shows it
    matrix_cell: str  # the emulated matrix's cell, or "PENDING: ..."


@dataclass(frozen=True)
class KnownIssue:
    id: str
    ops: tuple[str, ...]
    feature: str  # a key of FEATURES
    behaviour: str  # a key of BEHAVIOURS
    what: str
    fix: str
    refs: RefRange
    evidence: Evidence


@dataclass(frozen=True)
class KnownIssues:
    repository: str
    commits: dict[str, Commit]
    issues: tuple[KnownIssue, ...]

    def listed(self, ref: str) -> Commit | None:
        """The listed commit ``ref`` names: its full SHA, or an abbreviation of 7+ digits."""
        ref = ref.lower()
        if len(ref) < 7 or not re.fullmatch(r"[0-9a-f]+", ref):
            return None
        found = [c for sha, c in self.commits.items() if sha.startswith(ref)]
        return found[0] if len(found) == 1 else None


def _text(where: str, d: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = d.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise ConfigError(f"{where}: '{key}' must be a non-empty string, got {value!r}")
    return value


def _texts(where: str, d: dict[str, Any], key: str) -> tuple[str, ...]:
    value = d.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: '{key}' must be a list of strings, got {value!r}")
    return tuple(value)


def _unknown_keys(where: str, d: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(d) - allowed)
    if extra:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(extra)} (known: "
                          f"{', '.join(sorted(allowed))})")


def _commits(source: str, table: Any) -> dict[str, Commit]:
    if not isinstance(table, dict) or not table:
        raise ConfigError(f"{source}: [library.commits] must list the commits the issues name")
    commits = {}
    for sha, spec in table.items():
        where = f"{source}: commit {sha!r}"
        if not _SHA.match(sha) or not isinstance(spec, dict):
            raise ConfigError(f"{where}: must be a full 40-digit SHA = {{ date = \"YYYY-MM-DD\" }}")
        _unknown_keys(where, spec, {"date", "note"})
        date = _text(where, spec, "date")
        if not _DATE.match(date):
            raise ConfigError(f"{where}: date {date!r} is not YYYY-MM-DD")
        commits[sha] = Commit(sha, date, _text(where, spec, "note", required=False))
    return commits


def _refs(where: str, d: Any, commits: dict[str, Commit]) -> RefRange:
    if not isinstance(d, dict) or not isinstance(d.get("to"), list) or not d["to"]:
        raise ConfigError(f"{where}: 'refs' must be {{ from = SHA, to = [SHA, ...] }}, got {d!r}")
    _unknown_keys(f"{where} refs", d, {"from", "to"})

    def commit(sha: Any) -> Commit:
        if sha not in commits:
            raise ConfigError(f"{where}: ref {sha!r} is not in [library.commits]: add it there "
                              "with its date")
        return commits[sha]

    return RefRange(commit(d["from"]) if "from" in d else None, tuple(map(commit, d["to"])))


def _issue(source: str, n: int, d: Any, commits: dict[str, Commit]) -> KnownIssue:
    if not isinstance(d, dict):
        raise ConfigError(f"{source}: issue {n} must be a table")
    where = f"{source}: issue {d.get('id', n)!r}"
    _unknown_keys(where, d, _ISSUE_KEYS)
    ops = _texts(where, d, "ops")
    unknown_ops = [op for op in ops if op not in set(BUILTIN_NAMES.values())]
    if not ops or unknown_ops:
        raise ConfigError(f"{where}: 'ops' must name TFLite builtin operators (FULLY_CONNECTED), "
                          f"got {list(ops)!r}")
    for key, allowed in (("feature", FEATURES), ("behaviour", BEHAVIOURS)):
        if d.get(key) not in allowed:
            raise ConfigError(f"{where}: '{key}' must be one of {', '.join(allowed)}, "
                              f"got {d.get(key)!r}")
    ev = d.get("evidence")
    if not isinstance(ev, dict):
        raise ConfigError(f"{where}: needs an [issue.evidence] table")
    _unknown_keys(f"{where} evidence", ev, _EVIDENCE_KEYS)
    evidence = Evidence(
        _texts(where, ev, "source"),
        _texts(where, ev, "measured"),
        _text(where, ev, "command"),
        _text(where, ev, "matrix_cell"),
    )
    if not evidence.source and not evidence.measured:
        raise ConfigError(f"{where}: evidence needs a 'source' (file:lines at a ref) or a "
                          "'measured' figure")
    return KnownIssue(
        id=_text(where, d, "id"),
        ops=ops,
        feature=d["feature"],
        behaviour=d["behaviour"],
        what=_text(where, d, "what"),
        fix=_text(where, d, "fix"),
        refs=_refs(where, d.get("refs"), commits),
        evidence=evidence,
    )


def parse_known_issues(text: str, source: str) -> KnownIssues:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source} is not valid TOML: {exc}") from exc
    library = data.get("library")
    if not isinstance(library, dict):
        raise ConfigError(f"{source}: needs a [library] table (repository, commits)")
    commits = _commits(source, library.get("commits"))
    issues = tuple(_issue(source, n, d, commits) for n, d in enumerate(data.get("issue", []), 1))
    ids = [i.id for i in issues]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{source}: issue ids must be unique, got {ids}")
    return KnownIssues(_text(source, library, "repository"), commits, issues)


@cache
def load_known_issues(path: Path | None = None) -> KnownIssues:
    """The packaged file, or ``path``."""
    if path is None:
        return parse_known_issues(
            resources.files("harness").joinpath(PACKAGED).read_text(), f"harness/{PACKAGED}"
        )
    return parse_known_issues(Path(path).read_text(), str(path))

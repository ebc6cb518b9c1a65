"""Where a TFLM library ref lies relative to a known issue's ref range.

A ref the data file lists (the default pin, an abbreviation of it) is placed without help.
Any other ref (a branch name, another commit) is placed in a local git repository of the
library, named by ``$TFLM_HIL_LIBRARY_GIT``: git's own ancestry (``merge-base
--is-ancestor``) decides whether it lies in the range, before it, or after it. Without such a
repository, a ref fetched for the emulated board (``tflm-hil firmware fetch``: a shallow
checkout that records its commit and date) is placed by that commit: inside when it is an end
of the range or dated within it; else, and for a ref neither cloned nor fetched, the placement
is unknown, and the caller says so instead of guessing.
"""

from __future__ import annotations

import enum
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from .known_issues import Commit, KnownIssues, RefRange

HISTORY_VAR = "TFLM_HIL_LIBRARY_GIT"


class Placement(enum.Enum):
    INSIDE = "inside"
    OUTSIDE = "outside"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PlacedRef:
    ref: str
    placement: Placement
    commit: Commit | None  # the commit the ref names, when known
    why: str  # how it was placed, or why it could not be


class LibraryHistory:
    """A local git repository of the library (a clone or a mirror), asked through git."""

    def __init__(self, git_dir: Path):
        self.git_dir = git_dir

    def _git(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["git", "-C", str(self.git_dir), *args], capture_output=True, text=True, timeout=60
        )

    def resolve(self, ref: str) -> str | None:
        for name in (ref, f"origin/{ref}"):  # a clone keeps other branches as origin/<name>
            run = self._git("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
            if run.returncode == 0:
                return run.stdout.strip()
        return None

    def is_ancestor(self, older: str, newer: str) -> bool:
        """True when ``older`` is ``newer`` or one of its ancestors."""
        return self._git("merge-base", "--is-ancestor", older, newer).returncode == 0

    def date(self, sha: str) -> str:
        return self._git("log", "-1", "--format=%as", sha).stdout.strip()

    def is_repository(self) -> bool:
        return self._git("rev-parse", "--git-dir").returncode == 0


def library_history(environ: Mapping[str, str] | None = None) -> LibraryHistory | None:
    env = os.environ if environ is None else environ
    value = env.get(HISTORY_VAR, "").strip()
    if not value:
        return None
    history = LibraryHistory(Path(value))
    if not history.is_repository():
        raise ConfigError(
            f"{HISTORY_VAR}={value} is not a git repository: point it at a clone of the TFLM "
            "library (git clone https://github.com/tensorflow/tflite-micro-arduino-examples.git)"
            " or unset it"
        )
    return history


def place_fetched(ref: str, refs: RefRange, known: KnownIssues, fetched: Commit) -> PlacedRef:
    """Places the commit a fetch recorded for ``ref`` (``tflm-hil firmware fetch`` keeps its SHA
    and date) without its history: an end of the range, or dated within the range, is inside.
    Any other date is unknown, never outside: only ancestry can clear a ref."""
    commit = known.listed(fetched.sha) or fetched
    where = f"the fetched library's commit {commit.describe()}"
    if commit in (*refs.tips, *([refs.first] if refs.first else [])):
        return PlacedRef(ref, Placement.INSIDE, commit, f"{where} is an end of the range")
    start = refs.first.date if refs.first else ""
    if commit.date and start <= commit.date <= max(t.date for t in refs.tips):
        return PlacedRef(
            ref, Placement.INSIDE, commit,
            f"{where} is dated within the range (by date: {HISTORY_VAR} would place it by "
            "ancestry)",
        )
    return PlacedRef(
        ref, Placement.UNKNOWN, commit,
        f"{where} is dated outside the range, and {HISTORY_VAR} names no clone of the library "
        "to place it in by ancestry",
    )


def place(
    ref: str,
    refs: RefRange,
    known: KnownIssues,
    history: LibraryHistory | None,
    fetched: Commit | None = None,
) -> PlacedRef:
    """Where ``ref`` lies: by the listed commits, else by ancestry in ``history``, else by the
    commit a fetch recorded for it (``fetched``)."""
    listed = known.listed(ref)
    ends = [*refs.tips, *([refs.first] if refs.first else [])]
    if listed is not None and listed in ends:
        return PlacedRef(ref, Placement.INSIDE, listed, "an end of the range")
    if history is None and fetched is not None:
        return place_fetched(ref, refs, known, fetched)
    if history is None:
        return PlacedRef(
            ref, Placement.UNKNOWN, listed,
            f"it is not an end of the range, it is not fetched (tflm-hil firmware fetch --ref "
            f"{ref}), and {HISTORY_VAR} names no clone of the library to place it in",
        )
    where = f"the history in {history.git_dir}"
    sha = history.resolve(ref)
    if sha is None:
        return PlacedRef(ref, Placement.UNKNOWN, listed, f"{where} has no such ref")
    commit = listed or known.listed(sha) or Commit(sha, history.date(sha))
    tips = [t.sha for t in refs.tips if history.resolve(t.sha)]
    if not tips:
        return PlacedRef(
            ref, Placement.UNKNOWN, commit,
            f"{where} lacks the range's commits: is it a clone of {known.repository}?",
        )
    first = refs.first.sha if refs.first else None
    after_first = first is None or history.is_ancestor(first, sha)
    if after_first and any(history.is_ancestor(sha, tip) for tip in tips):
        return PlacedRef(ref, Placement.INSIDE, commit, f"placed in {where}")
    if not after_first and first is not None and history.is_ancestor(sha, first):
        return PlacedRef(ref, Placement.OUTSIDE, commit, f"before the range, in {where}")
    if any(history.is_ancestor(tip, sha) for tip in tips):
        return PlacedRef(ref, Placement.OUTSIDE, commit, f"after the range, in {where}")
    return PlacedRef(
        ref, Placement.UNKNOWN, commit, f"{where} shows it on another line of history"
    )

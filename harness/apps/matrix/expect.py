"""Known outcomes per cell (``expected.toml`` beside this module), and the gate on changes.

The matrix fails on a *change for the worse*: a cell expected to pass that does not. A cell
that starts passing, or moves between two failing outcomes, is reported (``--strict`` fails on
any change); a cell with no expectation is new; an expected cell with no result did not run.

File layout: one table per kind and model, one key per cell ("ROW COLUMN", as the grid):

    [sim.digits]
    "tflm2406 tf221" = { status = "unsupported", why = "per-channel FULLY_CONNECTED rejected" }
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ...errors import ConfigError
from .result import KINDS, STATUSES, CellResult, first_error, headline

DEFAULT_EXPECTED = Path(__file__).resolve().parent / "expected.toml"


@dataclass(frozen=True)
class Expectation:
    status: str
    why: str = ""


@dataclass(frozen=True)
class CellChange:
    cell_id: str  # kind/model/row/column
    kind: str  # regression, improved, changed, new, missing, same
    expected: str | None
    got: str | None
    why: str = ""  # the expectation's reason
    error: str = ""  # the result's error


@dataclass(frozen=True)
class GateReport:
    changes: tuple[CellChange, ...]
    strict: bool = False

    def of(self, kind: str) -> list[CellChange]:
        return [c for c in self.changes if c.kind == kind]

    @property
    def failed(self) -> bool:
        if self.of("regression"):
            return True
        return self.strict and bool(self.of("changed") or self.of("improved"))

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def summary(self) -> str:
        lines = []
        labels = {
            "regression": "REGRESSED (expected to pass)",
            "changed": "changed",
            "improved": "started passing (update expected.toml: matrix gate --write-expected)",
            "new": "new (no expectation)",
            "missing": "expected but not run",
        }
        for kind, label in labels.items():
            for c in self.of(kind):
                what = f"{c.expected or '-'} -> {c.got or '-'}"
                lines.append(f"{label}: {c.cell_id}: {what}")
        same = len(self.of("same"))
        lines.append(
            f"{same} cell(s) as expected, {len(self.of('regression'))} regressed, "
            f"{len(self.of('improved'))} started passing, {len(self.of('changed'))} changed, "
            f"{len(self.of('new'))} new, {len(self.of('missing'))} not run"
        )
        return "\n".join(lines)


def load_expected(path: Path | None = None) -> dict[str, Expectation]:
    """cell id (kind/model/row/column) -> expectation."""
    path = path or DEFAULT_EXPECTED
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    out: dict[str, Expectation] = {}
    for kind, models in data.items():
        if kind not in KINDS or not isinstance(models, dict):
            raise ConfigError(
                f"{path}: top-level tables are [sim.MODEL], [emu.MODEL] and [hw.MODEL], "
                f"not {kind!r}"
            )
        for model, cells in models.items():
            if not isinstance(cells, dict):
                raise ConfigError(
                    f"{path}: {kind}.{model} must be a table [{kind}.{model}] of cells, "
                    f"not {cells!r}"
                )
            for key, value in cells.items():
                entry = value if isinstance(value, dict) else {"status": value}
                status = entry.get("status")
                if status not in STATUSES:
                    raise ConfigError(
                        f"{path}: [{kind}.{model}] {key!r} expects {status!r}; one of "
                        f"{', '.join(STATUSES)}"
                    )
                row, _, column = key.partition(" ")
                if not row or not column:
                    raise ConfigError(
                        f'{path}: [{kind}.{model}] key {key!r} must be "ROW COLUMN" as in the '
                        'report\'s grid, e.g. "tflm2406 tf221"'
                    )
                out[f"{kind}/{model}/{row}/{column}"] = Expectation(status, entry.get("why", ""))
    return out


def judge(
    results: Iterable[CellResult], expected: dict[str, Expectation], *, strict: bool = False
) -> GateReport:
    changes: list[CellChange] = []
    seen: set[str] = set()
    for r in sorted(results, key=lambda r: r.cell_id):
        seen.add(r.cell_id)
        exp = expected.get(r.cell_id)
        if exp is None:
            kind = "new"
        elif exp.status == r.status:
            kind = "same"
        elif exp.status == "pass":
            kind = "regression"
        elif r.status == "pass":
            kind = "improved"
        else:
            kind = "changed"
        changes.append(
            CellChange(
                r.cell_id,
                kind,
                exp.status if exp else None,
                r.status,
                exp.why if exp else "",
                r.error,
            )
        )
    for cell_id, exp in sorted(expected.items()):
        if cell_id not in seen:
            changes.append(CellChange(cell_id, "missing", exp.status, None, exp.why))
    return GateReport(tuple(changes), strict)


def render_expected(
    results: Iterable[CellResult], old: dict[str, Expectation], header: str = ""
) -> str:
    """expected.toml from results, keeping each unchanged cell's reason, and the expectations
    of cells that did not run (a partial run, one axis of the matrix, rewrites only its own)."""
    tables: dict[tuple[str, str], dict[tuple[str, str], Expectation]] = {}
    ran = set()
    for r in results:
        if r.provisional:
            continue
        ran.add(r.cell_id)
        prev = old.get(r.cell_id)
        why = prev.why if prev and prev.status == r.status else _why(r)
        tables.setdefault((r.kind, r.model), {})[(r.row, r.column)] = Expectation(r.status, why)
    for cell_id, exp in old.items():
        if cell_id not in ran:
            kind, model, row, column = cell_id.split("/", 3)
            tables.setdefault((kind, model), {})[(row, column)] = exp
    lines = [header.rstrip(), ""] if header else []
    for (kind, model), cells in sorted(tables.items()):
        lines.append(f"[{kind}.{model}]")
        for (row, column), exp in sorted(cells.items()):
            key = _toml_str(f"{row} {column}")
            lines.append(f'{key} = {{ status = "{exp.status}", why = {_toml_str(exp.why)} }}')
        lines.append("")
    return "\n".join(lines)


def _why(r: CellResult) -> str:
    if r.status == "pass":
        return ""
    if r.status == "build" and (error := first_error(r.error)):
        return f"{r.stage}: {error}"
    return f"{r.stage}: {headline(r.error) or r.category}"


def _toml_str(s: str) -> str:
    """A TOML basic string. JSON's escapes are TOML's, control characters (an ANSI colour code
    in a tool's error) included, except DEL, which JSON leaves raw and TOML refuses."""
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")

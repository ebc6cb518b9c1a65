"""``tflm-hil history``: a model's figures over time and across boards, from the results store."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

from ..errors import ConfigError
from ..provenance import LEGEND, Provenance
from .store import ResultsStore, default_db_path

DEFAULT_METRICS = [
    "top1_agreement_vs_float",
    "accuracy_vs_labels",
    "latency_us_median",
    "arena_used_bytes",
    "flash_bytes",
]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tflm-hil history", description=__doc__.splitlines()[0])
    p.add_argument(
        "--db", type=Path, help="results store [$TFLM_HIL_DB or .tflm-hil/results.sqlite]"
    )
    p.add_argument("--model", help="a .tflite file, or a model hash (or its prefix)")
    p.add_argument("--board", help="only runs on this board (e.g. nano33 or sim:nano33)")
    p.add_argument("--metric", action="append", help="a metric to show (repeatable)")
    p.add_argument("--last", type=int, default=20, help="the most recent N runs [20]")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def model_hash(value: str) -> str:
    path = Path(value)
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    if not all(c in "0123456789abcdef" for c in value.lower()) or len(value) < 6:
        raise ConfigError(f"--model {value!r} is neither a file nor a model hash prefix (hex)")
    return value.lower()


def rows(
    store: ResultsStore, model: str | None, board: str | None, metrics: list[str], last: int
) -> list[dict]:
    out = []
    for run in store.runs(model_hash=model, board=board)[-last:]:
        figures: dict[str, dict] = {}
        for m in store.metrics(run_id=run["id"]):
            if m.name in metrics:
                figures[m.name] = {"value": m.value, "provenance": str(m.provenance)}
        results = store.results(run["id"])
        failed = [r for r in results if r["outcome"] in ("failed", "error")]
        out.append(
            {
                "run": run["id"],
                "started": run["started"],
                "board": run["board"],
                "simulated": bool(run["simulated"]),
                "model_hash": run["model_hash"],
                "tflm": run["tflm_version"],
                "tests": len(results),
                "failed": len(failed),
                "exit_status": run["exit_status"],
                "metrics": figures,
            }
        )
    return out


def render(table: list[dict], metrics: list[str]) -> str:
    head = ["run", "date", "board", "model", "tflm", "tests", *metrics]
    lines = []
    for r in table:
        cells = [
            str(r["run"]),
            time.strftime("%Y-%m-%d %H:%M", time.localtime(r["started"])),
            r["board"],
            r["model_hash"][:12],
            (r["tflm"] or "")[:28],
            f"{r['tests'] - r['failed']}/{r['tests']}"
            + (" unfinished" if r["exit_status"] is None else ""),
        ]
        for name in metrics:
            f = r["metrics"].get(name)
            cells.append(
                "-" if f is None else f"{f['value']:.6g}{Provenance(f['provenance']).mark}"
            )
        lines.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=False)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    text = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    text += [fmt.format(*cells) for cells in lines]
    text.append(f"({LEGEND})")
    return "\n".join(text)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    path = args.db or default_db_path(Path.cwd())
    if not path.is_file():
        raise ConfigError(f"no results store at {path}: run the HIL suite first, or pass --db")
    metrics = args.metric or DEFAULT_METRICS
    store = ResultsStore(path)
    try:
        table = rows(
            store, model_hash(args.model) if args.model else None, args.board, metrics, args.last
        )
    finally:
        store.close()
    if args.json:
        json.dump(table, sys.stdout, indent=2)
        print()
    elif not table:
        print(f"no runs in {path}" + (f" for model {args.model}" if args.model else ""))
    else:
        print(render(table, metrics))
    return 0

"""``tflm-hil monitor``: watch the results store; alert when a figure crosses its threshold.

    tflm-hil monitor                                  check every board, print the summary
    tflm-hil monitor --alert-webhook URL              ... and POST it when a threshold is crossed
    tflm-hil monitor --alert-command "CMD ARGS"       ... or run a command (summary on stdin)
    tflm-hil monitor --feedback field.csv             field accuracy per model version
    tflm-hil monitor --report summary.html --days 7   the periodic summary report (HTML)

Exit status: 0 quiet; 1 a threshold was crossed (the alert, if configured, was delivered);
5 a threshold was crossed and the alert could not be delivered; 3 bad input.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from ... import atomic
from ...boards.catalog import resolve_board
from ...errors import ConfigError
from ...results.store import ResultsStore, default_db_path
from ..registry.store import Registry, default_root
from .alerts import check_webhook, post_webhook, run_command
from .checks import (
    BoardReport,
    Finding,
    MonitorConfig,
    baseline_for,
    board_runs,
    boards_in,
    check_board,
    load_config,
)

EXIT_ALERT = 1
EXIT_UNDELIVERED = 5


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tflm-hil monitor", description=__doc__.splitlines()[0])
    p.add_argument("--hil-db", type=Path, help="results store [$TFLM_HIL_DB or "
                   ".tflm-hil/results.sqlite]")
    p.add_argument("--registry", type=Path, help="model registry (the promoted baselines) "
                   "[$TFLM_HIL_REGISTRY or .tflm-hil/registry]")
    p.add_argument("--board", action="append", help="board(s) to check [every board in the store]")
    p.add_argument("--config", type=Path, help="thresholds and alert TOML (overrides defaults)")
    p.add_argument("--window", type=int, help="runs in the recent trend [config: 5]")
    p.add_argument("--alert-command", help="run this command on an alert (summary on stdin)")
    p.add_argument("--alert-webhook", help="POST the alert as JSON to this http(s) URL")
    p.add_argument("--feedback", type=Path, help="labelled field feedback CSV: field accuracy")
    p.add_argument("--report", type=Path, help="write the summary report (HTML) here")
    p.add_argument("--days", type=float, default=7.0, help="report period [%(default)s days]")
    return p


def summarize(reports: list[BoardReport], extra: list[Finding]) -> str:
    lines = []
    for r in reports:
        if r.latest is None:
            lines.append(f"{r.board}: no finished run")
            continue
        base = f"baseline run {r.baseline.run_id}" if r.baseline else "no promoted baseline"
        lines.append(f"{r.board}: latest run {r.latest.run_id} (model {r.latest.model[:12]}), "
                     f"{base}, trend over {r.trend_runs} run(s)")
        for f in r.findings:
            lines.append(f"  ALERT [{f.against}] {f.message}")
        if not r.findings and not r.compared:
            lines.append("  ok: nothing to compare yet (no run since the baseline, no trend)")
        elif not r.findings:
            lines.append(f"  ok: {len(r.compared)} comparison(s) within their thresholds")
    for f in extra:
        lines.append(f"  ALERT [{f.against}] {f.board}: {f.message}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    cfg = load_config(args.config)
    command = args.alert_command or cfg.alert_command
    webhook = args.alert_webhook or cfg.alert_webhook
    if webhook:
        check_webhook(webhook)  # a bad URL is refused before anything is read
    window = args.window if args.window is not None else cfg.window
    if window < 1:
        raise ConfigError("--window must be at least 1")
    for board in args.board or []:
        resolve_board(board)
    db = args.hil_db or default_db_path(Path.cwd())
    if not Path(db).is_file():  # never create an empty store just to look at it
        raise ConfigError(f"no results store at {db}: run the HIL suite first (it records "
                          "there) or pass --hil-db PATH")
    reg_root = args.registry or default_root()
    registry = Registry.open(reg_root) if Path(reg_root).is_dir() else None
    if args.feedback and registry is None:
        raise ConfigError(f"--feedback needs the model registry ({reg_root}) for the models' "
                          "preprocessing: pass --registry")
    store = ResultsStore(Path(db))
    try:
        cfg = replace(cfg, window=window)
        boards = args.board or boards_in(store)
        reports = [check_board(b, board_runs(store, b), baseline_for(store, registry, b), cfg)
                   for b in boards]
        extra = _field(registry, args.feedback, cfg) if args.feedback else []
        if args.report:
            from .summary import render

            since = time.time() - args.days * 86400
            atomic.write_text(args.report, render(store, registry, reports, since=since))
            print(f"wrote the summary report {args.report}")
    finally:
        store.close()
    text = summarize(reports, extra)
    print(text)
    findings = [f for r in reports for f in r.findings] + extra
    if not findings:
        return 0
    payload = {"source": "tflm-hil monitor", "summary": text,
               "findings": [f.to_dict() for f in findings]}
    failed = []
    if command:
        failed.append(run_command(command, text, payload))
    if webhook:
        failed.append(post_webhook(webhook, payload))
    errors = [e for e in failed if e]
    for e in errors:
        print(f"tflm-hil monitor: alert NOT delivered: {e}", file=sys.stderr)
    return EXIT_UNDELIVERED if errors else EXIT_ALERT


def _field(registry: Registry | None, csv: Path, cfg: MonitorConfig) -> list[Finding]:
    """Field accuracy per version; a promoted version far below its validation alerts."""
    from .feedback import field_accuracy

    assert registry is not None
    results = field_accuracy(registry, csv)
    findings = []
    promoted = {b.get("promoted"): (board, b.get("validation") or {})
                for board, b in registry.state()["boards"].items()}
    for r in results:
        if not r.rows:
            print(f"field: {r.model[:12]} {r.note}")
            continue
        print(f"field: {r.model[:12]} accuracy {r.accuracy:.4f} on {r.rows} labelled rows")
        if r.model in promoted:
            board, val = promoted[r.model]
            figs = val.get("figures", {})
            ref = next((figs[k]["value"] for k in ("accuracy_vs_labels", "top1_accuracy_device")
                        if k in figs), None)
            if ref is not None and ref - r.accuracy > cfg.field_max_drop:
                findings.append(Finding(board, None, r.model, "field",
                                        f"field accuracy {r.accuracy:.4f} of promoted "
                                        f"{r.model[:12]} is {ref - r.accuracy:.4f} below its "
                                        f"validation accuracy {ref:.4f} (allowed "
                                        f"{cfg.field_max_drop:g})"))
    return findings

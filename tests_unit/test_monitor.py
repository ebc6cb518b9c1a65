"""tflm-hil monitor on seeded results stores: quiet without a regression, an alert (command
and webhook on a local HTTP server) with one, field accuracy, the summary report."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from harness.apps.monitor.cli import main as monitor
from harness.apps.registry.promote import promote
from harness.apps.registry.rules import load_rules
from harness.apps.registry.store import Registry
from harness.apps.registry.validate import ValidationRun
from harness.provenance import Figure, Provenance
from harness.results.store import ResultsStore

from .conftest import DIGITS_MODEL, ZOO

BOARD = "sim:nano33"
MODEL = "ab" * 32


def _seed(db: Path, latencies: list[float], *, accuracy: float = 0.98,
          provenance: Provenance = Provenance.ESTIMATED, model: str = MODEL,
          status: int = 0) -> list[int]:
    store = ResultsStore(db)
    ids = []
    for lat in latencies:
        run = store.start_run(board=BOARD, simulated=True, model_path="m.tflite", model_hash=model)
        store.add_metric(run, "latency_us_median", lat, unit="us", provenance=provenance)
        store.add_metric(run, "accuracy_vs_labels", accuracy)
        store.add_metric(run, "arena_used_bytes", 5888, unit="B")
        store.finish_run(run, status)
        ids.append(run)
    store.close()
    return ids


def _run(db: Path, tmp_path: Path, *extra: str) -> int:
    return monitor(["--hil-db", str(db), "--registry", str(tmp_path / "no-registry"), *extra])


def test_quiet_without_a_regression(tmp_path: Path, capsys):
    db = tmp_path / "results.sqlite"
    _seed(db, [1900, 1910, 1895, 1905, 1900, 1902])
    marker = tmp_path / "alerted"
    assert _run(db, tmp_path, "--alert-command", f"touch {marker}") == 0
    out = capsys.readouterr().out
    assert "ok: 3 comparison(s) within their thresholds" in out
    assert not marker.exists()


def test_latency_regression_alerts_through_a_command(tmp_path: Path, capsys):
    db = tmp_path / "results.sqlite"
    _seed(db, [1900, 1910, 1895, 1905, 1900, 2400])
    marker = tmp_path / "alert.txt"
    code = _run(db, tmp_path, "--alert-command", f"tee {marker}")
    assert code == 1
    out = capsys.readouterr().out
    assert "ALERT [trend] latency_us_median 1900 -> 2400 us (+26.3%)" in out
    assert "beyond the allowed 10% rise" in out
    assert "latency_us_median" in marker.read_text()  # the summary arrived on stdin


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append({"type": self.headers["Content-Type"], "body": json.loads(body)})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:  # keep the test output clean
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_alert_is_posted_to_a_webhook(tmp_path: Path, webhook: str, capsys):
    db = tmp_path / "results.sqlite"
    _seed(db, [1900, 1900, 1900, 2500])
    assert _run(db, tmp_path, "--alert-webhook", webhook) == 1
    (post,) = _Hook.received
    assert post["type"] == "application/json"
    finding = post["body"]["findings"][0]
    assert finding["board"] == BOARD and finding["against"] == "trend"
    assert "latency_us_median" in finding["message"]


def test_undeliverable_alert_is_its_own_exit_status(tmp_path: Path, capsys):
    db = tmp_path / "results.sqlite"
    _seed(db, [1900, 2500])
    assert _run(db, tmp_path, "--alert-command", "false") == 5
    assert "alert NOT delivered" in capsys.readouterr().err


def test_regression_against_the_promoted_baseline(tmp_path: Path, capsys):
    db = tmp_path / "results.sqlite"
    registry = Registry(tmp_path / "registry")
    entry = registry.register_files(DIGITS_MODEL)
    (base,) = _seed(db, [1900], model=entry.sha256)
    val = ValidationRun(BOARD, 0, base, str(db), {
        "latency_us_median": Figure(1900, "us", True), "accuracy_vs_labels": Figure(0.98)})
    assert promote(registry, entry, val, load_rules())[0].promote
    # A candidate's run (another model) does not count against the deployed model ...
    _seed(db, [9000], model="cd" * 32, accuracy=0.1)
    # ... but the deployed model's accuracy falling does.
    _seed(db, [1900], model=entry.sha256, accuracy=0.90)
    code = monitor(["--hil-db", str(db), "--registry", str(registry.root)])
    out = capsys.readouterr().out
    assert code == 1
    assert f"baseline run {base}" in out
    assert "ALERT [baseline] accuracy_vs_labels 0.98 -> 0.9" in out


def test_estimated_latency_is_not_compared_with_measured(tmp_path: Path, capsys):
    db = tmp_path / "results.sqlite"
    _seed(db, [1900, 1900, 1900], provenance=Provenance.ESTIMATED)
    # a real board's measurement, then an emulated count: neither has a trend of its own kind
    _seed(db, [3000], provenance=Provenance.MEASURED)
    _seed(db, [2500], provenance=Provenance.EMULATED)
    assert _run(db, tmp_path) == 0


def test_a_board_without_runs_is_named(tmp_path: Path, capsys):
    db = tmp_path / "results.sqlite"
    _seed(db, [1900])
    assert _run(db, tmp_path, "--board", "nano33") == 0
    assert "nano33: no finished run" in capsys.readouterr().out


def test_rig_failure_is_a_health_alert(tmp_path: Path, capsys):
    db = tmp_path / "results.sqlite"
    _seed(db, [1900, 1900])
    _seed(db, [1900], status=6)
    assert _run(db, tmp_path) == 1
    assert "ALERT [health]" in capsys.readouterr().out


def test_bad_input_is_refused_and_creates_nothing(tmp_path: Path, capsys):
    missing = tmp_path / "nothing.sqlite"
    from harness.cli import main as cli

    assert cli(["monitor", "--hil-db", str(missing)]) == 3
    assert "no results store" in capsys.readouterr().err
    assert not missing.exists()
    db = tmp_path / "results.sqlite"
    _seed(db, [1900])
    assert cli(["monitor", "--hil-db", str(db), "--alert-webhook", "ftp://x"]) == 3
    assert cli(["monitor", "--hil-db", str(db), "--board", "sim:nano99"]) == 3


@pytest.mark.parametrize(("text", "expected"), [
    ('[gate.x]\nmin = 1\n', "gate is not a setting here"),
    ('[watch.latency_us_median]\nbetter = "lower"\nmax_rise_pc = 5\n', "has max_rise_pc"),
    ('[alert]\nhook = "https://x"\n', r"\[alert\] has hook, which it does not take"),
    ('window = "five"\n', "window = 'five' is not a whole number"),
    ('[health]\nalert_on_infra = "no"\n', "alert_on_infra = 'no' must be true or false"),
])
def test_a_bad_config_is_refused_naming_the_setting(tmp_path: Path, capsys, text: str,
                                                    expected: str):
    db = tmp_path / "results.sqlite"
    _seed(db, [1900])
    config = tmp_path / "monitor.toml"
    config.write_text(text)
    from harness.cli import main as cli

    assert cli(["monitor", "--hil-db", str(db), "--config", str(config)]) == 3
    err = capsys.readouterr().err
    assert str(config) in err
    assert re.search(expected, err), err
    assert cli(["monitor", "--hil-db", str(db), "--config", str(tmp_path / "nope.toml")]) == 3
    assert "does not exist: check --config" in capsys.readouterr().err


def _two_versions(tmp_path: Path):
    """The digits model registered twice: with its own preprocessing record, and (as another
    version, same network) with a drifted one that scales the inputs wrongly. Returns the
    registry, both entries and the raw field data (values, labels, column names)."""
    from harness.apps.pipeline.dataset import Dataset
    from harness.apps.pipeline.preprocess import Preprocessing

    registry = Registry(tmp_path / "registry")
    names = tuple(f"px{r}_{c}" for r in range(8) for c in range(8))
    vectors = np.load(ZOO.parent / "digits" / "digits_vectors.npz")
    raw = vectors["x_float"].reshape(len(vectors["labels"]), 64) * 16.0  # undo the /16
    labels = tuple(str(int(v)) for v in vectors["labels"])
    train = Dataset(raw, labels, (8, 8, 1), names)
    prep = Preprocessing.fit(train, method="minmax", per_feature=False,
                             classes=tuple(str(i) for i in range(10)))
    prep.save(tmp_path / "digits.preprocess.json")
    good = registry.register_files(DIGITS_MODEL, preprocess=tmp_path / "digits.preprocess.json")
    # The same model with a drifted record (inputs scaled wrongly): its field accuracy drops.
    wrong = Preprocessing.fit(Dataset(raw * 4, labels, (8, 8, 1), names), method="minmax",
                              per_feature=False, classes=prep.classes)
    wrong.save(tmp_path / "wrong.preprocess.json")
    copy = tmp_path / "copy.tflite"
    copy.write_bytes(DIGITS_MODEL.read_bytes() + b"\0" * 8)  # another version, same network
    drifted = registry.register_files(copy, preprocess=tmp_path / "wrong.preprocess.json")
    return registry, good, drifted, raw, labels, names


def test_field_accuracy_per_model_version(tmp_path: Path, capsys):
    """Two versions score the same labelled field data through their own preprocessing."""
    from harness.apps.pipeline.dataset import Dataset, write_csv

    registry, good, drifted, raw, labels, names = _two_versions(tmp_path)
    field = tmp_path / "field.csv"
    write_csv(field, Dataset(raw[:100], labels[:100], (64,), names))
    db = tmp_path / "results.sqlite"
    _seed(db, [1900])
    code = monitor(["--hil-db", str(db), "--registry", str(registry.root), "--feedback",
                    str(field)])
    out = capsys.readouterr().out
    assert code == 0
    acc = {e.short: e.field_results[-1]["accuracy"] for e in registry.entries()}
    assert acc[good.short] >= 0.95 and acc[drifted.short] < acc[good.short] - 0.2
    assert f"field: {good.short} accuracy" in out
    # A file without the label column is refused, naming it.
    bad = tmp_path / "bad.csv"
    bad.write_text("px0_0\n1\n")
    from harness.cli import main as cli

    assert cli(["monitor", "--hil-db", str(db), "--registry", str(registry.root),
                "--feedback", str(bad)]) == 3
    assert "no 'label' column" in capsys.readouterr().err
    assert cli(["monitor", "--hil-db", str(db), "--registry", str(registry.root),
                "--feedback", str(tmp_path / "missing.csv")]) == 3
    assert "does not exist: check --feedback" in capsys.readouterr().err


def test_summary_report_is_self_contained_and_escaped(tmp_path: Path, capsys):
    db = tmp_path / "results.sqlite"
    store = ResultsStore(db)
    run = store.start_run(board=BOARD, simulated=True, model_path="m", model_hash=MODEL)
    store.add_metric(run, "latency_us_median", 1900, unit="us", provenance=Provenance.ESTIMATED)
    store.add_result(run, "tests_hil/x.py::t", "failed", category="timeout",
                     message="<script>alert(1)</script>")
    store.finish_run(run, 6)
    store.close()
    registry = Registry(tmp_path / "registry")
    registry.log("promoted", model="<b>x</b>", board=BOARD)
    report = tmp_path / "summary.html"
    assert monitor(["--hil-db", str(db), "--registry", str(registry.root), "--report",
                    str(report)]) == 1  # the rig failure is also an alert
    html = report.read_text()
    assert "<script" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "src=" not in html and "href=" not in html  # nothing loaded from elsewhere
    for section in ("Alerts", "Model performance", "Device health", "Maintenance activity"):
        assert f"<h2>{section}</h2>" in html
    assert "failed (rig): 1" in html and "timeout" in html


def test_field_rows_are_scored_by_the_version_named_in_their_model_column(tmp_path: Path, capsys):
    from harness.apps.pipeline.dataset import Dataset, write_csv

    registry, good, drifted, raw, labels, names = _two_versions(tmp_path)
    field = tmp_path / "field.csv"
    models = tuple(good.short if i < 60 else drifted.short for i in range(100))
    write_csv(field, Dataset(raw[:100], labels[:100], (64,), names, model=models))
    db = tmp_path / "results.sqlite"
    _seed(db, [1900])
    assert monitor(["--hil-db", str(db), "--registry", str(registry.root), "--feedback",
                    str(field)]) == 0
    rows = {e.short: e.field_results[-1]["rows"] for e in registry.entries()}
    assert rows == {good.short: 60, drifted.short: 40}
    acc = {e.short: e.field_results[-1]["accuracy"] for e in registry.entries()}
    assert acc[good.short] >= 0.95 and acc[drifted.short] < acc[good.short] - 0.2

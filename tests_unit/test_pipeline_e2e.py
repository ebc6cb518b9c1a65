"""The documented maintenance sequence (docs/maintenance.md), end to end, as a user runs it:
collect -> preprocess -> train -> convert -> validate on the twin -> promote; a deliberately
worse candidate is refused with the reason; a better one is promoted; rollback restores the
first with hashes checked; monitor is quiet, then alerts on a seeded latency regression.

TensorFlow training is kept small (600 digits, a few epochs); the HIL suite runs three times
on the simulated Nano 33 BLE.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.cli import main as cli
from harness.pipeline import atomic
from harness.registry.store import Registry
from harness.results.store import ResultsStore


def run(capsys, *argv: str) -> tuple[int, str]:
    code = cli(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def train_convert_promote(capsys, model: str, *, epochs: int) -> tuple[int, str]:
    """Another candidate through the documented sequence: train, convert, then promote."""
    tflite = str(Path(model).with_suffix(".tflite"))
    for step in (("train", "--input", "processed_data.csv", "--output", model, "--epochs",
                  str(epochs)),
                 ("convert", "--input", model, "--output", tflite)):
        code, out = run(capsys, "model", *step)
        assert code == 0, out
    return run(capsys, "model", "promote", tflite)


def test_documented_sequence(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TFLM_HIL_REGISTRY", raising=False)
    monkeypatch.delenv("TFLM_HIL_DB", raising=False)

    code, out = run(capsys, "model", "collect", "--output", "new_data.csv", "--limit", "600")
    assert code == 0 and "collected 600 rows" in out
    code, out = run(capsys, "model", "preprocess", "--input", "new_data.csv",
                    "--output", "processed_data.csv")
    assert code == 0 and "480 train, 120 test" in out
    code, out = run(capsys, "model", "train", "--input", "processed_data.csv",
                    "--output", "new_model.h5", "--epochs", "15")
    assert code == 0 and "epochs: 15/15" in out
    code, out = run(capsys, "model", "convert", "--input", "new_model.h5",
                    "--output", "model.tflite")
    assert code == 0 and "registered" in out
    # Idempotent: a second run of a step does nothing.
    code, out = run(capsys, "model", "train", "--input", "processed_data.csv",
                    "--output", "new_model.h5", "--epochs", "15")
    assert out.startswith("up to date")

    registry = Registry(tmp_path / ".tflm-hil" / "registry")
    first = atomic.sha256_file("model.tflite")
    code, out = run(capsys, "model", "promote", "model.tflite")
    assert code == 0, out
    assert f"PROMOTED {first[:12]} on sim:nano33" in out
    assert registry.promoted("sim:nano33") == first

    # A deliberately worse candidate: two epochs of training.
    code, out = train_convert_promote(capsys, "worse.h5", epochs=2)
    assert code == 1, out
    assert "REFUSED" in out and "accuracy_vs_labels" in out
    assert registry.promoted("sim:nano33") == first

    # A better one (more epochs, the .keras format) is promoted over the first ...
    code, out = train_convert_promote(capsys, "better.keras", epochs=30)
    assert code == 0, out
    second = atomic.sha256_file("better.tflite")
    assert registry.promoted("sim:nano33") == second

    # ... and rolled back: the first model's files are restored, every hash checked.
    code, out = run(capsys, "model", "rollback", "--reason", "field complaints")
    assert code == 0, out
    assert f"{first}  model.tflite" in out
    deployed = tmp_path / ".tflm-hil" / "registry" / "deployed" / "sim-nano33"
    assert atomic.sha256_file(deployed / "model.tflite") == first
    assert atomic.sha256_file(deployed / "model.reference.h5") == atomic.sha256_file(
        "new_model.h5")
    assert json.loads((deployed / "DEPLOYED.json").read_text())["model"] == first
    assert registry.promoted("sim:nano33") == first
    assert "rollback" in (registry.root / "CHANGELOG.md").read_text()

    # Monitor: quiet on the real store; an alert once a slower run of the model is recorded.
    code, out = run(capsys, "monitor")
    assert code == 0, out
    db = tmp_path / ".tflm-hil" / "results.sqlite"
    store = ResultsStore(db)
    base_run = registry.state()["boards"]["sim:nano33"]["validation"]["run_id"]
    latency = next(store.metrics(run_id=base_run, name="latency_us_median"))
    slow = store.start_run(board="sim:nano33", simulated=True, model_path="model.tflite",
                           model_hash=first)
    store.add_metric(
        slow, "latency_us_median", latency.value * 1.5, unit="us", provenance=latency.provenance
    )
    store.finish_run(slow, 0)
    store.close()
    code, out = run(capsys, "monitor", "--report", "summary.html")
    assert code == 1, out
    assert "ALERT [baseline] latency_us_median" in out
    assert "Maintenance activity" in (tmp_path / "summary.html").read_text()

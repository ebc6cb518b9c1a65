"""The documented maintenance sequence (docs/maintenance.md), end to end, as a user runs it:
the page's marked blocks, command by command as written, in an empty folder: collect ->
preprocess -> train -> convert -> validate on the twin -> promote; a deliberately worse
candidate is refused with the reason; a better one is promoted; rollback restores the first
with hashes checked; monitor is quiet, then alerts on a seeded latency regression. Nothing is
left in the repository.

The HIL suite runs three times on the simulated Nano 33 BLE (TensorFlow trains the digits
MLP in seconds).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from harness import atomic
from harness.apps.registry.store import Registry
from harness.cli import main as cli
from harness.results.store import ResultsStore

from .docs_samples import REPO, doc_commands

DOC = "docs/maintenance.md"


def run_block(capsys, name: str) -> list[str]:
    """Runs each command of the doc's block ``name`` as written; each must end with the exit
    status the doc promises. Returns what each printed."""
    printed = []
    for words, promised in doc_commands(DOC, name):
        assert words[0] == "tflm-hil", words
        code = cli(words[1:])
        captured = capsys.readouterr()
        out = captured.out + captured.err
        assert code == promised, (words, code, out[-3000:])
        printed.append(out)
    return printed


def repo_state() -> str:
    return subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
                          cwd=REPO, capture_output=True, text=True, check=True).stdout


def test_documented_sequence(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TFLM_HIL_REGISTRY", raising=False)
    monkeypatch.delenv("TFLM_HIL_DB", raising=False)
    before = repo_state()

    collect, preprocess, train, convert, promote = run_block(capsys, "sequence")
    assert "collected 1797 rows" in collect
    assert "train, " in preprocess and " test" in preprocess
    assert "epochs: " in train and "float accuracy" in train
    assert "registered" in convert
    registry = Registry(tmp_path / ".tflm-hil" / "registry")
    first = atomic.sha256_file("model.tflite")
    assert f"PROMOTED {first[:12]} on sim:nano33" in promote
    assert registry.promoted("sim:nano33") == first
    # Idempotent: a second run of a step does nothing.
    train_words, _ = doc_commands(DOC, "sequence")[2]
    assert cli(train_words[1:]) == 0
    assert capsys.readouterr().out.startswith("up to date")

    *_, refused = run_block(capsys, "worse")  # two epochs of training
    assert "REFUSED" in refused and "accuracy_vs_labels" in refused
    assert registry.promoted("sim:nano33") == first

    run_block(capsys, "better")  # promoted over the first ...
    second = atomic.sha256_file("better.tflite")
    assert registry.promoted("sim:nano33") == second

    # ... and rolled back: the first model's files are restored, every hash checked.
    (rolled,) = run_block(capsys, "rollback")
    assert f"{first}  model.tflite" in rolled
    deployed = tmp_path / ".tflm-hil" / "registry" / "deployed" / "sim-nano33"
    assert atomic.sha256_file(deployed / "model.tflite") == first
    assert atomic.sha256_file(deployed / "model.reference.h5") == atomic.sha256_file(
        "new_model.h5")
    assert json.loads((deployed / "DEPLOYED.json").read_text())["model"] == first
    assert registry.promoted("sim:nano33") == first
    assert "rollback" in (registry.root / "CHANGELOG.md").read_text()

    # Monitor: quiet on the real store, its report written ...
    run_block(capsys, "watch")
    assert "Maintenance activity" in (tmp_path / "summary.html").read_text()
    # ... and an alert once a slower run of the model is recorded.
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
    assert cli(["monitor"]) == 1
    assert "ALERT [baseline] latency_us_median" in capsys.readouterr().out

    assert repo_state() == before  # the sequence left nothing in the repository

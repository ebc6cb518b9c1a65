"""The docs' samples say what the code prints (tests_unit/docs_samples.py), and the docs' claims
about the references hold.

The samples that need a run of the HIL suite are checked where the suite runs
(test_hil_suite.py); the others here, fast and without a device.
"""

from __future__ import annotations

import re
import tomllib

import numpy as np
import pytest

from harness.boards.catalog import load_catalog
from harness.boards.cli import render
from harness.boards.discovery import AttachedPort
from harness.plugin.suite_metrics import load_suite_gates
from harness.tflite.runtime import HostTflm

from .docs_samples import REPO, all_samples, check_sample, doc_samples, sample_command


def test_every_sample_is_checked_by_a_test():
    """A marked sample nobody checks would go stale unseen; a check of a sample that is gone
    would fail. Each ``check_sample(doc, name, ...)`` call in the tests names its sample."""
    calls = set()
    for test in (REPO / "tests_unit").glob("test_*.py"):
        for doc, name in re.findall(r'check_sample\(\s*"([^"]+)",\s*"([^"]+)"', test.read_text()):
            calls.add(f"{doc}#{name}")
    assert calls == set(all_samples())


def test_default_gates_sample_is_the_packaged_file():
    body = doc_samples("docs/validation.md")["default-gates"]
    text = (REPO / "harness" / "data" / "gates.toml").read_text()
    check_sample("docs/validation.md", "default-gates", text[text.index("[gates]") :])
    assert tomllib.loads(body) == {"gates": tomllib.loads(text)["gates"]}


def test_model_gates_sample_is_a_valid_gates_file(tmp_path):
    body = doc_samples("docs/validation.md")["model-gates"]
    path = tmp_path / "gates.toml"
    path.write_text(body)
    gates = load_suite_gates(None, path)  # every metric it names is one the suite measures
    assert {g.metric for g in gates.values() if g.source == str(path)} == set(
        tomllib.loads(body)["gates"]
    )
    check_sample("docs/validation.md", "model-gates", body)


def test_boards_sample_is_what_the_command_prints():
    """The catalog part as the catalog says; the attached part for the ports the sample shows."""
    assert sample_command("docs/boards.md", "boards") == ["tflm-hil", "boards"]
    ports = [
        AttachedPort("/dev/ttyACM0", 0x2341, 0x805A, "3A1F9C0E2B7D4C51", product="Nano 33 BLE"),
        AttachedPort("/dev/ttyUSB0", 0x0403, 0x6001, "A9K3L2", product="FT232R USB UART"),
    ]
    printed = render(load_catalog(), ports)
    check_sample("docs/boards.md", "boards", f"$ tflm-hil boards\n{printed}")


def test_the_host_runtime_cannot_run_a_batch(digits_model):
    """docs/validation.md says the TFLM host runtime runs one vector at a time because TFLM
    refuses a batch larger than the model's: true as long as this refusal holds (if a runtime
    starts accepting batches, HostTflm.run should use them and the docs say so)."""
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(digits_model.data, arena_size=1 << 20)
    batch = np.zeros((2, *digits_model.inputs[0].shape[1:]), dtype=np.int8)
    with pytest.raises(ValueError, match="Dimension mismatch"):
        interpreter.set_input(batch, 0)
    # and one at a time gives every vector its own answer, in order
    rng = np.random.default_rng(1)
    xs = rng.integers(-128, 128, size=(3, *digits_model.inputs[0].shape), dtype=np.int8)
    together = HostTflm(digits_model).run((xs,))[0]
    alone = [HostTflm(digits_model).run((xs[i : i + 1],))[0][0] for i in range(3)]
    assert np.array_equal(together, np.stack(alone))


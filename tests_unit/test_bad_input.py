"""Every bad input of issue 13, as a user meets it: the HIL suite run in a subprocess ends with
exit 4 and one line naming the problem and the fix, no traceback on the terminal (it is in the
log file), nothing in the results store and no device started."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from harness.apps.registry.archive import restore
from harness.apps.registry.store import IntegrityError

from .conftest import DIGITS_MODEL, REPO
from .tiny_tflite import tiny_model_bytes

SUITE = str(REPO / "tests_hil")
FLOAT_MODEL = REPO / "fixtures" / "digits" / "digits_float.tflite"


def npz(tmp: Path, name: str, **arrays: np.ndarray) -> Path:
    path = tmp / name
    np.savez(path, **arrays)  # type: ignore[arg-type]  # numpy's stub wants a positional array
    return path


def written(tmp: Path, name: str, data: bytes | str) -> Path:
    path = tmp / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def keras_model(tmp: Path, input_shape: tuple[int, ...]) -> Path:
    """A real Keras model of another task (its own input shape), saved as users save them."""
    import keras  # TensorFlow: imported by this case only

    inputs = keras.Input(input_shape, batch_size=1)
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    path = tmp / "other.keras"
    model.save(path)
    return path


# case -> (arguments made in tmp, a fragment the one line must hold)
CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "wrong-shape-npz": (
        lambda t: ["--vectors", str(npz(t, "v.npz", x=np.zeros((4, 3, 3), np.int8)))],
        "has shape (4, 3, 3), the model input",
    ),
    "key-less-npz": (
        lambda t: ["--vectors", str(npz(t, "v.npz", y=np.zeros((4, 8, 8, 1), np.int8)))],
        "lacks x (has y)",
    ),
    "non-zip-npz": (
        lambda t: ["--vectors", str(written(t, "v.npz", "x,y\n1,2\n"))],
        "is not a NumPy .npz file (not a zip archive): save the vectors with numpy.savez",
    ),
    "reference-of-another-input-shape": (
        lambda t: ["--reference", str(keras_model(t, (4,)))],
        "the reference other.keras takes inputs [(4,)], the model [(8, 8, 1)]",
    ),
    "malformed-gates": (
        lambda t: ["--gates", str(written(t, "gates.toml", "[gates\nmin = "))],
        "is not valid TOML",
    ),
    "float-model": (
        lambda t: ["--model", str(FLOAT_MODEL)],
        "is a float model (float inputs or outputs)",
    ),
    "op-the-runtime-lacks": (
        lambda t: ["--model", str(written(t, "topk.tflite", tiny_model_bytes(["TOPK_V2"])))],
        "uses TOPK_V2, which the firmware's op resolver map",
    ),
    "model-too-big-for-the-board": (
        # the digit model padded to 1 MiB: a flatbuffer ignores trailing bytes, flash does not
        lambda t: [
            "--model",
            str(written(t, "big.tflite", DIGITS_MODEL.read_bytes() + bytes(1 << 20))),
        ],
        "does not fit Arduino Nano 33 BLE / BLE Sense: with the firmware it needs at least",
    ),
    "arena-too-big-for-the-board": (
        lambda t: ["--arena", str(1 << 20)],
        "more than the 262144 bytes of RAM",
    ),
}


def run(tmp: Path, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "TFLM_HIL_CACHE": str(tmp / "cache")}
    cmd = [sys.executable, "-m", "pytest", SUITE, "-p", "no:cacheprovider", "-q",
           "--hil-db", str(tmp / "results.sqlite"), "--hil-log-dir", str(tmp / "logs"), *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def assert_refused_in_one_line(out: subprocess.CompletedProcess, tmp: Path, fragment: str) -> None:
    text = out.stdout + out.stderr
    assert out.returncode == 4, text[-3000:]
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("ERROR: tflm-hil: "), out.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in text and "def " not in text
    db = tmp / "results.sqlite"
    if db.exists():  # nothing recorded as a model result
        with sqlite3.connect(db) as con:
            assert con.execute("SELECT COUNT(*) FROM runs").fetchone() == (0,)
    logs = tmp / "logs"
    assert [p.name for p in logs.iterdir()] == ["tflm-hil.log"]  # no device was started
    assert "ConfigError" in (logs / "tflm-hil.log").read_text()  # the traceback went here


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_exits_4_in_one_line(tmp_path, case):
    make_args, fragment = CASES[case]
    assert_refused_in_one_line(run(tmp_path, *make_args(tmp_path)), tmp_path, fragment)


def test_no_model_given_exits_4_in_one_line(tmp_path):
    """In a project whose ini names no model, without --model."""
    work = tmp_path / "project"
    work.mkdir()
    (work / "pytest.ini").write_text("[pytest]\n")
    out = run(tmp_path, "-c", str(work / "pytest.ini"), cwd=work)
    assert_refused_in_one_line(out, tmp_path, "no model to test: pass --model PATH.tflite")


def test_a_truncated_backup_archive_is_refused_in_one_line(tmp_path):
    archive = tmp_path / "registry.tar.gz"
    src = tmp_path / "src"
    src.mkdir()
    (src / "blob").write_bytes(os.urandom(1 << 16))
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / "blob", arcname="blob")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(IntegrityError, match="is damaged or truncated") as info:
        restore(archive, tmp_path / "registry")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "registry").exists()
    # as the user meets it: one line, the integrity exit status, no traceback
    out = subprocess.run(
        [sys.executable, "-m", "harness.cli", "model", "restore", "--input", str(archive),
         "--registry", str(tmp_path / "registry")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 3, out.stderr
    assert out.stdout == "" and out.stderr.count("\n") == 1, out.stderr
    assert out.stderr.startswith("tflm-hil model: [integrity] ") and "truncated" in out.stderr

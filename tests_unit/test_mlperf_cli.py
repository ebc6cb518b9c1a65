"""``tflm-hil mlperf vectors``: an MLPerf Tiny dataset folder turned into the input tensors the
reference DUT would infer on, with the runner's labels (or, for ad01, its float windows)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.cli import main
from harness.tflite.synthetic import fc_model


def _model(tmp_path: Path, input_bytes: int, units: int) -> Path:
    path = tmp_path / f"m{input_bytes}.tflite"
    path.write_bytes(fc_model(input_bytes, units, seed=1))
    return path


def _vectors(tmp_path: Path, *args: str) -> dict[str, np.ndarray]:
    out = tmp_path / "v.npz"
    assert main(["mlperf", "vectors", *args, "-o", str(out)]) == 0
    with np.load(out) as z:
        return dict(z)


def test_image_files_become_shifted_tensors_with_their_labels(tmp_path: Path) -> None:
    data = tmp_path / "ic01"
    data.mkdir()
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (3, 3072), dtype=np.uint8)
    for k, p in enumerate(pixels):
        (data / f"i{k}.bin").write_bytes(p.tobytes())
    (data / "y_labels.csv").write_text("i0.bin,10,7\ni1.bin,10,2\ni2.bin,10,9\n")
    model = _model(tmp_path, 3072, 10)
    got = _vectors(tmp_path, str(data), "--model", str(model), "--mlperf-model", "ic01")
    assert sorted(got) == ["labels", "x"]
    assert got["x"].dtype == np.int8 and got["x"].shape == (3, 3072)
    assert np.array_equal(got["x"], (pixels.astype(np.int16) - 128).astype(np.int8))
    assert got["labels"].tolist() == [7, 2, 9]
    limited = _vectors(tmp_path, str(data), "--model", str(model), "--mlperf-model", "ic01",
                       "--limit", "2")  # fmt: skip
    assert limited["labels"].tolist() == [7, 2]


def test_anomaly_files_are_cut_in_windows_and_keep_their_floats(tmp_path: Path) -> None:
    data = tmp_path / "ad01"
    data.mkdir()
    frames = np.random.default_rng(1).normal(0, 1, (2, 6, 128)).astype("<f4")
    for k, f in enumerate(frames):
        (data / f"a{k}.bin").write_bytes(f.tobytes())
    (data / "y_labels.csv").write_text("a0.bin,2,0,2560,512\na1.bin,2,1,2560,512\n")
    got = _vectors(tmp_path, str(data), "--model", str(_model(tmp_path, 640, 640)),
                   "--mlperf-model", "ad01")  # fmt: skip
    # 6 frames, windows of 5 frames every frame: 2 windows per file, no class labels
    assert sorted(got) == ["x", "x_float"]
    assert got["x"].shape == (4, 640) and got["x"].dtype == np.int8
    assert np.array_equal(got["x_float"][1], frames[0, 1:6].reshape(-1))
    assert np.array_equal(got["x_float"][3], frames[1, 1:6].reshape(-1))


def test_bad_input_is_one_message(tmp_path: Path, capsys) -> None:
    data = tmp_path / "kws01"
    data.mkdir()
    (data / "k.bin").write_bytes(bytes(400))
    (data / "y_labels.csv").write_text("k.bin,12,3\n")
    model = _model(tmp_path, 490, 12)
    out = ["-o", str(tmp_path / "v.npz")]
    kws = ["--model", str(model), "--mlperf-model", "kws01", *out]
    cases = [
        ([str(data), "--model", str(model), *out], "not a published MLPerf Tiny model: pass"),
        ([str(data), *kws], "windows of 400 bytes, kws01 samples are 490"),
        ([str(data), "--model", str(tmp_path / "x.tflite"), *out], "does not exist: check --model"),
        ([str(tmp_path / "nowhere"), *kws], "y_labels.csv does not exist"),
    ]
    for args, message in cases:
        assert main(["mlperf", "vectors", *args]) == 3
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
        assert err.count("\n") == 1
    assert not (tmp_path / "v.npz").exists()

"""The MLPerf Tiny benchmark table and its conversions (harness/protocol/mlperf_benchmarks.py):
what the reference DUT API does to a sample's bytes, its inverse, its anomaly score, and the
runner's windowing and dataset files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from harness.errors import ConfigError
from harness.protocol.mlperf_benchmarks import (
    benchmarks,
    identify,
    quantize_like_reference,
    read_dataset,
    windows,
)
from harness.tflite.model import TensorInfo, TfliteModel
from harness.tflite.synthetic import fc_model

AD_IN = TensorInfo(0, "in", (1, 640), np.dtype(np.int8), 0.3910, 89, False)


def _model(tmp_path: Path, input_bytes: int, units: int = 10) -> TfliteModel:
    path = tmp_path / f"m{input_bytes}_{units}.tflite"
    path.write_bytes(fc_model(input_bytes, units))
    return TfliteModel.load(path)


def test_the_table_holds_the_four_benchmarks_as_the_reference_does() -> None:
    table = benchmarks()
    assert set(table) == {"ic01", "kws01", "vww01", "ad01"}
    assert [table[b].convert for b in ("ic01", "kws01", "vww01", "ad01")] == [
        "shift128", "none", "shift128", "quantize"
    ]  # fmt: skip
    assert table["ad01"].results == "mse" and table["ad01"].sample_bytes == 2560
    assert table["ad01"].db_bytes == 5120  # two windows, MAX_DB_INPUT_SIZE of the reference
    assert all(len(h) == 64 for b in table.values() for h in b.models.values())


def test_identify_by_override_checks_the_model_fits(tmp_path: Path) -> None:
    ic_like = _model(tmp_path, 3072)
    assert identify(ic_like) is None  # not a published model: no id from its hash
    assert identify(ic_like, "ic01").id == "ic01"
    with pytest.raises(ConfigError, match="490 int8 values per sample"):
        identify(ic_like, "kws01")
    with pytest.raises(ConfigError, match=r"unknown MLPerf benchmark 'ic99'.*ic01"):
        identify(ic_like, "ic99")
    with pytest.raises(ConfigError, match="autoencoder"):
        identify(_model(tmp_path, 640, units=10), "ad01")


def test_identify_by_the_published_hash(tmp_path: Path, monkeypatch) -> None:
    model = _model(tmp_path, 490, units=12)
    bench = benchmarks()["kws01"]
    monkeypatch.setitem(bench.models, "mine.tflite", model.sha256)
    assert identify(model) is bench


@given(st.binary(min_size=16, max_size=16))
def test_image_bytes_are_shifted_by_128_and_back(wire: bytes) -> None:
    ic = benchmarks()["ic01"]
    t = TensorInfo(0, "in", (1, 16), np.dtype(np.int8), 1.0, -128, False)
    tensor = ic.to_tensor(wire, t)
    assert tensor.tolist() == [b - 128 for b in wire]  # th_load_tensor of the reference
    assert ic.to_wire(tensor.tobytes(), t) == wire


@given(arrays(np.int8, 640))
def test_float_windows_quantize_back_to_the_tensor_they_came_from(q: np.ndarray) -> None:
    ad = benchmarks()["ad01"]
    wire = ad.to_wire(q.tobytes(), AD_IN)
    assert len(wire) == 2560
    assert np.array_equal(ad.to_tensor(wire, AD_IN), q)


def test_quantize_rounds_half_away_from_zero_and_clamps() -> None:
    x = np.array([0.5, 1.5, -0.5, -1.5, 0.49999997, 1e9, -1e9, 2.5], dtype=np.float32)
    assert quantize_like_reference(x, 1.0, 0).tolist() == [1, 2, -1, -2, 0, 127, -128, 3]
    assert quantize_like_reference(np.float32([0.0]), 0.5, 89).tolist() == [89]


def test_the_anomaly_score_is_the_mean_squared_difference() -> None:
    ad = benchmarks()["ad01"]
    rng = np.random.default_rng(1)
    x = rng.uniform(-20, 30, 640).astype("<f4")
    out = rng.integers(-128, 128, 640, dtype=np.int8)
    t_out = TensorInfo(0, "out", (1, 640), np.dtype(np.int8), 0.3645, 96, False)
    want = np.mean(((out.astype(np.float64) - 96) * 0.3645 - x.astype(np.float64)) ** 2)
    assert ad.score(x.tobytes(), out, t_out) == pytest.approx(want, rel=1e-5)


def test_windows_follow_the_runner() -> None:
    frames = bytes(range(256)) * 18  # 9 frames of 512 bytes
    got = windows(frames, 2560, 512)
    assert len(got) == 5 and got[1] == frames[512 : 512 + 2560]
    assert windows(frames[:2560], 2560, 512) == [frames[:2560]]
    assert windows(frames[:100], 2560, 512) == []
    with pytest.raises(ConfigError):
        windows(frames, 0, 512)


def test_read_dataset(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(bytes(490))
    (tmp_path / "b.bin").write_bytes(bytes([1]) * 490)
    (tmp_path / "y_labels.csv").write_text("a.bin, 12, 3, 490, 490\nb.bin,12,11\n")
    samples = read_dataset(tmp_path)
    assert [(s.file.name, s.label, len(s.windows)) for s in samples] == [
        ("a.bin", 3, 1), ("b.bin", 11, 1)
    ]  # fmt: skip
    (tmp_path / "y_labels.csv").write_text("missing.bin,12,3,490,490\n")
    with pytest.raises(ConfigError, match=r"y_labels\.csv:1"):
        read_dataset(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        read_dataset(tmp_path / "nowhere")

"""The MLPerf Tiny benchmarks (ic01, kws01, vww01, ad01) as the reference DUT API handles them.

One sample travels as bytes in the benchmark's wire format; the DUT turns them into the
input tensor (``th_load_tensor``) and prints its results (``th_results``) in the
benchmark's way. The table is data (harness/data/mlperf_benchmarks.toml, with its sources);
these are the pure functions over it, used on both ends: by the twin's MLPerf personality
(to configure the device module), by the ``mlperf:PORT`` board driver (our vectors to wire
bytes, printed results back to output tensors) and by the tests (the reference's arithmetic).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..tflite.model import TensorInfo, TfliteModel
from ..tomlio import packaged_toml

WIRE_DTYPES: dict[str, np.dtype] = {
    "uint8": np.dtype(np.uint8),
    "int8": np.dtype(np.int8),
    "float32": np.dtype("<f4"),
}
CONVERSIONS = ("shift128", "none", "quantize")
RESULTS = ("outputs", "mse")


@dataclass(frozen=True)
class Benchmark:
    id: str
    title: str
    wire: str
    convert: str
    results: str
    sample_bytes: int
    db_bytes: int
    baud: int
    models: dict[str, str]  # published file name -> sha256

    @property
    def wire_dtype(self) -> np.dtype:
        return WIRE_DTYPES[self.wire]

    def check_model(self, model: TfliteModel) -> None:
        """Refuses a model whose input this benchmark's conversion cannot fill."""
        if len(model.inputs) != 1:
            raise ConfigError(
                f"{self.id} DUTs fill one input tensor; {Path(model.source).name} has "
                f"{len(model.inputs)}: pass --mlperf-model with the benchmark it belongs to"
            )
        t = model.inputs[0]
        elements = self.sample_bytes // self.wire_dtype.itemsize
        if t.dtype != np.int8 or t.nbytes != elements:
            raise ConfigError(
                f"{self.id} sends {elements} {self.wire} values per sample into an int8 input; "
                f"{Path(model.source).name}'s input is {t.dtype} {list(t.shape)}: "
                "pass --mlperf-model with the benchmark this model belongs to"
            )
        if self.results == "mse" and (
            len(model.outputs) != 1 or model.outputs[0].nbytes != t.nbytes
        ):
            raise ConfigError(
                f"{self.id} scores the output against the input (an autoencoder); "
                f"{Path(model.source).name}'s outputs do not match its input"
            )

    # ---- th_load_tensor and its inverse ---------------------------------------------------

    def to_tensor(self, wire: bytes, t: TensorInfo) -> np.ndarray:
        """What the reference DUT puts in the int8 input tensor for one sample's bytes."""
        x = np.frombuffer(wire, dtype=self.wire_dtype)
        if self.convert == "shift128":
            return (x.astype(np.int16) - 128).astype(np.int8)
        if self.convert == "none":
            return x.view(np.int8).copy()
        return quantize_like_reference(x, t.scale, t.zero_point)

    def to_wire(self, tensor: bytes, t: TensorInfo) -> bytes:
        """The sample bytes whose conversion gives exactly this int8 input tensor."""
        q = np.frombuffer(tensor, dtype=np.int8)
        if self.convert == "shift128":
            return (q.astype(np.int16) + 128).astype(np.uint8).tobytes()
        if self.convert == "none":
            return q.tobytes()
        # dequantized values sit on the grid, so the DUT's round() gives q back
        return ((q.astype(np.float32) - np.float32(t.zero_point)) * np.float32(t.scale)).astype(
            "<f4"
        ).tobytes()

    # ---- th_results ---------------------------------------------------------------------

    def score(self, wire: bytes, output: np.ndarray, t_out: TensorInfo) -> float:
        """The anomaly score the reference prints: mean squared difference between the
        dequantized output and the float input (accumulated in float32, as on the DUT)."""
        x = np.frombuffer(wire, dtype="<f4")
        y = (output.reshape(-1).astype(np.float32) - np.float32(t_out.zero_point)) * np.float32(
            t_out.scale
        )
        d = (y - x).astype(np.float32)
        return float(np.sum(d * d, dtype=np.float32) / np.float32(len(x)))


def quantize_like_reference(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """``QuantizeFloatToInt8``: round(value / scale) + zero point in float, half away from
    zero (C's round), clamped to int8 (benchmark/util/quantization_helpers.h:22-31)."""
    v = np.asarray(x, dtype=np.float32) / np.float32(scale)
    r = np.sign(v) * np.floor(np.abs(v.astype(np.float64)) + 0.5)
    return np.clip(r + zero_point, -128, 127).astype(np.int8)


def _benchmark(bid: str, d: dict) -> Benchmark:
    try:
        b = Benchmark(
            id=bid,
            title=d["title"],
            wire=d["wire"],
            convert=d["convert"],
            results=d["results"],
            sample_bytes=int(d["sample_bytes"]),
            db_bytes=int(d["db_bytes"]),
            baud=int(d["baud"]),
            models=dict(d.get("models", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"MLPerf benchmark table entry {bid!r} is invalid: {exc!r}") from exc
    if b.wire not in WIRE_DTYPES or b.convert not in CONVERSIONS or b.results not in RESULTS:
        raise ConfigError(f"MLPerf benchmark table entry {bid!r}: unknown wire/convert/results")
    if b.db_bytes < b.sample_bytes or b.sample_bytes % b.wire_dtype.itemsize:
        raise ConfigError(f"MLPerf benchmark table entry {bid!r}: inconsistent sizes")
    return b


@cache
def benchmarks() -> dict[str, Benchmark]:
    table = packaged_toml("harness", "data/mlperf_benchmarks.toml")["benchmarks"]
    return {bid: _benchmark(bid, d) for bid, d in table.items()}


def identify(model: TfliteModel, override: str | None = None) -> Benchmark | None:
    """The benchmark a model belongs to: ``override`` (``--mlperf-model ID``) if given, else
    the published model with the same sha256, else None (the DUT then reports ``model_id``,
    copies bytes unconverted and prints every output)."""
    table = benchmarks()
    if override:
        if override not in table:
            raise ConfigError(
                f"unknown MLPerf benchmark {override!r}: --mlperf-model takes one of "
                f"{', '.join(table)}"
            )
        table[override].check_model(model)
        return table[override]
    for bench in table.values():
        if model.sha256 in bench.models.values():
            return bench
    return None


def model_id(model: TfliteModel, bench: Benchmark | None) -> str:
    """What the DUT answers in ``m-model-[...]``: the benchmark's id, or for a model of no
    benchmark the start of its sha256 (not its file name: an image must not depend on where
    the model lay, and the host can check the DUT carries this very model)."""
    return bench.id if bench else f"sha256-{model.sha256[:16]}"


# ---- datasets as the runner reads them --------------------------------------------------


@dataclass(frozen=True)
class Sample:
    file: Path
    label: int
    windows: tuple[bytes, ...]  # what the runner sends for this file, in order


def windows(data: bytes, size: int, stride: int) -> list[bytes]:
    """The runner's windowing of one file (script.py:85-103): every ``size`` bytes starting
    each ``stride`` bytes, while a whole window fits; a file of exactly ``size`` is one."""
    if size <= 0 or stride <= 0:
        raise ConfigError(f"window size and stride must be > 0, got {size}, {stride}")
    return [data[i : i + size] for i in range(0, len(data) - size + 1, stride)]


def read_dataset(folder: Path, truth: str = "y_labels.csv") -> list[Sample]:
    """An MLPerf Tiny dataset folder (``y_labels.csv``: file, classes, class and, for windowed
    files, bytes_to_send and stride; the files beside it), as the runner reads it."""
    path = Path(folder) / truth
    if not path.is_file():
        raise ConfigError(f"{path} does not exist: point at a folder holding {truth}")
    out = []
    with path.open(newline="") as fh:
        for n, row in enumerate(csv.reader(fh), 1):
            if not row or not row[0].strip():
                continue
            try:
                name, _classes, label, *cut = (c.strip() for c in row[:5])
                data = (Path(folder) / name).read_bytes()
                # without bytes_to_send and stride, the whole file is the one sample
                size, stride = (int(cut[0]), int(cut[1])) if len(cut) == 2 else (len(data),) * 2
                parts = tuple(windows(data, size, stride))
                out.append(Sample(Path(folder) / name, int(label), parts))
            except (ValueError, OSError) as exc:
                raise ConfigError(f"{path}:{n}: {exc}") from exc
    return out

"""train and convert refuse bad input before TensorFlow loads, and change nothing; a tiny
training run is seeded (the same weights twice) and converts to the device's int8 model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.apps.pipeline.architectures import choose
from harness.apps.pipeline.collect import CollectOptions, collect
from harness.apps.pipeline.conversion import ConvertOptions, convert, vectors_path
from harness.apps.pipeline.prepare import PreprocessOptions, preprocess
from harness.apps.pipeline.preprocess import preprocess_path
from harness.apps.pipeline.stamp import Stamp, stamp_path
from harness.apps.pipeline.train import TrainOptions, train
from harness.errors import ConfigError
from harness.tflite.model import TfliteModel


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("train")
    collect(CollectOptions(output=folder / "raw.csv", limit=200))
    preprocess(PreprocessOptions(input=folder / "raw.csv", output=folder / "processed.csv"))
    return folder / "processed.csv"


def test_train_refuses_data_that_was_not_preprocessed(tmp_path: Path):
    raw = tmp_path / "raw.csv"
    collect(CollectOptions(output=raw, limit=100))
    with pytest.raises(ConfigError, match="not preprocessed data; run `tflm-hil model preprocess"):
        train(TrainOptions(input=raw, output=tmp_path / "m.h5"))
    with pytest.raises(ConfigError, match=r"must end in \.h5 \(legacy\) or \.keras"):
        train(TrainOptions(input=raw, output=tmp_path / "m.pb"))
    assert not (tmp_path / "m.h5").exists()


def test_train_refuses_columns_that_differ_from_the_record(processed: Path, tmp_path: Path):
    other = tmp_path / "processed.csv"
    text = processed.read_text().replace("px0_0", "pixel0", 1)
    other.write_text(text)
    preprocess_path(other).write_bytes(preprocess_path(processed).read_bytes())
    with pytest.raises(ConfigError, match="missing px0_0; unexpected pixel0"):
        train(TrainOptions(input=other, output=tmp_path / "m.h5", epochs=1))


def test_convert_refuses_bad_input_and_changes_nothing(processed: Path, tmp_path: Path):
    out = tmp_path / "model.tflite"
    with pytest.raises(ConfigError, match="must be a Keras model"):
        convert(ConvertOptions(input=tmp_path / "m.tflite", output=out))
    fake = tmp_path / "m.h5"
    fake.write_bytes(b"not hdf5")
    with pytest.raises(ConfigError, match="has no train stamp"):
        convert(ConvertOptions(input=fake, output=out))
    # A model whose training data changed since: refused before anything is converted.
    Stamp("train", {}, info={"data": {"path": str(processed), "sha256": "0" * 64}}).save(fake)
    preprocess_path(fake).write_bytes(preprocess_path(processed).read_bytes())
    with pytest.raises(ConfigError, match=r"changed since m\.h5 was trained on it"):
        convert(ConvertOptions(input=fake, output=out))
    with pytest.raises(ConfigError, match=r"must be a \.tflite file"):
        convert(ConvertOptions(input=fake, output=tmp_path / "model.bin"))
    assert not out.exists() and not vectors_path(out).exists()


def test_architecture_choice():
    assert choose("auto", (8, 8, 1)) == "cnn2d"
    assert choose("auto", (32, 3)) == "dense"
    with pytest.raises(ConfigError, match="use --architecture dense"):
        choose("cnn2d", (32, 3))


def test_tiny_training_is_seeded_and_converts_to_int8(processed: Path, tmp_path: Path):
    model = tmp_path / "m.keras"
    opts = TrainOptions(input=processed, output=model, epochs=2, batch_size=32)
    first = train(opts)
    assert not first.skipped and 0.0 <= first.info["float_accuracy"] <= 1.0
    weights = Stamp.load(model).info["weights_sha256"]  # type: ignore[union-attr]
    assert train(opts).skipped  # up to date: nothing done
    train(TrainOptions(input=processed, output=model, epochs=2, batch_size=32, force=True))
    assert Stamp.load(model).info["weights_sha256"] == weights  # type: ignore[union-attr]

    out = tmp_path / "m.tflite"
    result = convert(ConvertOptions(input=model, output=out, calibration_samples=50))
    info = TfliteModel.load(out)
    assert info.is_quantized and result.info["model_sha256"] == info.sha256
    vec = np.load(vectors_path(out))
    assert vec["x"].dtype == np.int8 and vec["x"].shape == (40, 1, 8, 8, 1)
    assert vec["labels"].shape == (40,)
    assert preprocess_path(out).read_bytes() == preprocess_path(processed).read_bytes()
    assert stamp_path(out).is_file()
    before = out.read_bytes()
    convert(ConvertOptions(input=model, output=out, calibration_samples=50, force=True))
    assert out.read_bytes() == before  # the same model and seed give the same bytes

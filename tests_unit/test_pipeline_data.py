"""The pipeline's data steps without TensorFlow: the CSV format and its checks, the recorded
preprocessing, stamps (idempotence), collect and preprocess."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness import atomic
from harness.apps.pipeline.collect import CollectOptions, collect
from harness.apps.pipeline.dataset import Dataset, class_order, read_csv, write_csv
from harness.apps.pipeline.prepare import PreprocessOptions, preprocess
from harness.apps.pipeline.preprocess import Preprocessing, preprocess_path
from harness.apps.pipeline.stamp import Stamp, stamp_path
from harness.cli import main as cli
from harness.errors import ConfigError


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ---- the CSV format ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a,b\n1,2\n", "no 'label' column"),
        ("label,a,b\nx,1\n", "has 2 fields, the header has 3"),
        ("label,a,b\nx,1,nan\n", "NaN and infinite"),
        ("label,a,b\nx,1,inf\n", "NaN and infinite"),
        ("label,a,b\nx,1,abc\n", "'abc' is not a number"),
        ("label,a,b\n,1,2\n", "empty 'label'"),
        ("label\nx\n", "no feature columns"),
        ("label,a\n", "no data rows"),
        ("", "is empty"),
        ("label,a,a\nx,1,2\n", "appear twice"),
    ],
)
def test_bad_csv_is_refused_with_the_problem_named(tmp_path: Path, text: str, expected: str):
    with pytest.raises(ConfigError, match=expected):
        read_csv(_write(tmp_path / "d.csv", text))


def test_wrong_shape_is_refused(tmp_path: Path):
    p = _write(tmp_path / "d.csv", "label,a,b,c\nx,1,2,3\n")
    with pytest.raises(ConfigError, match=r"3 feature columns but the shape 2x2 holds 4"):
        read_csv(p, shape=(2, 2))


def test_csv_round_trips_float32_values_exactly(tmp_path: Path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 6)).astype(np.float32).astype(np.float64)
    data = Dataset(x, ("a", "b", "a", "b", "a"), (3, 2), tuple(f"f{i}" for i in range(6)),
                   split=("train",) * 4 + ("test",))
    write_csv(tmp_path / "d.csv", data)
    back = read_csv(tmp_path / "d.csv", shape=(3, 2), require_split=True)
    assert np.array_equal(back.x.astype(np.float32), x.astype(np.float32))
    assert back.labels == data.labels and back.split == data.split
    assert back.shaped().shape == (5, 3, 2)


def test_classes_are_ordered_numerically_when_labels_are_numbers():
    assert class_order(["10", "2", "1"]) == ("1", "2", "10")
    assert class_order(["walk", "idle", "run"]) == ("idle", "run", "walk")


# ---- the recorded preprocessing ----------------------------------------------------------


def _data(x: np.ndarray) -> Dataset:
    return Dataset(x, tuple("ab"[i % 2] for i in range(len(x))), (x.shape[1],),
                   tuple(f"f{i}" for i in range(x.shape[1])))


def test_minmax_fits_the_training_rows_and_transforms_any_rows():
    train = _data(np.array([[0.0, 4.0], [16.0, 8.0]]))
    prep = Preprocessing.fit(train, method="minmax", per_feature=False, classes=("a", "b"))
    assert prep.offset == (0.0,) and prep.scale == (16.0,)
    assert prep.transform(np.array([[8.0, 32.0]])).tolist() == [[0.5, 2.0]]
    per = Preprocessing.fit(train, method="minmax", per_feature=True, classes=("a", "b"))
    assert per.transform(np.array([[8.0, 6.0]])).tolist() == [[0.5, 0.5]]


def test_a_constant_column_is_left_unscaled_not_divided_by_zero():
    train = _data(np.array([[0.0, 3.0], [0.0, 5.0]]))
    prep = Preprocessing.fit(train, method="standard", per_feature=True, classes=("a", "b"))
    assert prep.scale[0] == 1.0
    assert np.all(np.isfinite(prep.transform(train.x)))


def test_preprocessing_record_round_trips_and_refuses_other_columns(tmp_path: Path):
    prep = Preprocessing.fit(_data(np.ones((2, 3))), method="none", per_feature=False,
                             classes=("a", "b"))
    prep.save(tmp_path / "m.preprocess.json")
    back = Preprocessing.load(tmp_path / "m.preprocess.json")
    assert back == prep
    other = Dataset(np.ones((1, 3)), ("a",), (3,), ("f0", "g1", "f2"))
    with pytest.raises(ConfigError, match="missing f1; unexpected g1"):
        back.check(other, "field.csv")
    (tmp_path / "bad.json").write_text(json.dumps({"kind": "something else"}))
    with pytest.raises(ConfigError, match="not a valid preprocessing record"):
        Preprocessing.load(tmp_path / "bad.json")


# ---- atomic writes and stamps -------------------------------------------------------------


def test_atomic_write_leaves_the_old_file_when_the_writer_fails(tmp_path: Path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic.atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_stamp_is_up_to_date_only_with_the_same_recipe_and_outputs(tmp_path: Path):
    out = tmp_path / "o.csv"
    out.write_text("x")
    s = Stamp("collect", {"seed": 1})
    s.outputs = {"o.csv": atomic.sha256_file(out)}
    s.save(out)
    assert Stamp("collect", {"seed": 1}).up_to_date(out)
    assert not Stamp("collect", {"seed": 2}).up_to_date(out)
    out.write_text("edited by hand")
    assert not Stamp("collect", {"seed": 1}).up_to_date(out)


# ---- collect and preprocess ---------------------------------------------------------------


def test_collect_digits_is_seeded_stratified_and_skipped_when_up_to_date(tmp_path: Path):
    out = tmp_path / "new_data.csv"
    first = collect(CollectOptions(output=out, limit=200))
    assert not first.skipped
    data = read_csv(out, shape=(8, 8, 1))
    assert len(data) == 200 and data.classes == tuple(str(i) for i in range(10))
    assert data.x.min() == 0 and data.x.max() == 16  # raw values: preprocess scales them
    before = out.read_bytes()
    assert collect(CollectOptions(output=out, limit=200)).skipped
    assert not collect(CollectOptions(output=out, limit=200, force=True)).skipped
    assert out.read_bytes() == before  # the same inputs and seed give the same file
    assert Stamp.load(out).info["shape"] == [8, 8, 1]  # type: ignore[union-attr]


def test_collect_from_a_csv_source_checks_it(tmp_path: Path):
    src = _write(tmp_path / "mine.csv", "label,a0,a1\nup,1,2\ndown,3,4\n")
    result = collect(CollectOptions(output=tmp_path / "new.csv", source=f"csv:{src}",
                                    shape=(2, 1)))
    assert "collected 2 rows of shape 2x1" in result.summary
    bad = _write(tmp_path / "bad.csv", "a0,a1\n1,2\n")
    with pytest.raises(ConfigError, match="no 'label' column"):
        collect(CollectOptions(output=tmp_path / "new2.csv", source=f"csv:{bad}"))
    assert not (tmp_path / "new2.csv").exists()  # nothing written on bad input


def test_collect_keeps_a_split_column_with_or_without_limit(tmp_path: Path):
    rows = "".join(f"{'ab'[i % 2]},{('train', 'test')[i % 3 == 0]},{i}\n" for i in range(12))
    src = _write(tmp_path / "mine.csv", "label,split,v\n" + rows)
    for limit in (None, 6):
        out = tmp_path / f"new{limit}.csv"
        collect(CollectOptions(output=out, source=f"csv:{src}", limit=limit))
        data = read_csv(out, require_split=True)
        want = {int(v): s for v, s in zip(read_csv(src).x[:, 0], read_csv(src).split or (),
                                           strict=True)}
        assert data.split == tuple(want[int(v)] for v in data.x[:, 0])
        assert len(data) == (limit or 12)


@pytest.mark.parametrize(("extra", "expected"), [
    ({"windows": 0}, "--windows 0 must be at least 1"),
    ({"timeout": 0.0}, "--timeout 0 must be more than 0 seconds"),
])
def test_collect_from_serial_refuses_bad_limits_before_opening_the_port(
        tmp_path: Path, extra: dict, expected: str):
    out = tmp_path / "x.csv"
    with pytest.raises(ConfigError, match=expected):
        collect(CollectOptions(output=out, source="serial:/dev/nonexistent-port", **extra))
    assert not out.exists()


@pytest.mark.parametrize("source", ["kaggle", "csv:", "serial:"])
def test_collect_refuses_an_unknown_source(tmp_path: Path, source: str):
    with pytest.raises(ConfigError, match="unknown data source"):
        collect(CollectOptions(output=tmp_path / "x.csv", source=source))


def test_preprocess_splits_fits_on_train_rows_and_records_the_parameters(tmp_path: Path):
    raw = tmp_path / "new_data.csv"
    collect(CollectOptions(output=raw, limit=200))
    out = tmp_path / "processed_data.csv"
    result = preprocess(PreprocessOptions(input=raw, output=out))
    assert "160 train, 40 test" in result.summary
    prep = Preprocessing.load(preprocess_path(out))
    assert prep.input_shape == (8, 8, 1) and prep.offset == (0.0,) and prep.scale == (16.0,)
    data = read_csv(out, shape=prep.input_shape, require_split=True)
    assert data.x.max() == 1.0
    # Stratified: every class in both splits.
    assert set(data.rows("test").labels) == set(data.rows("train").labels)
    # Idempotent: skipped when up to date, byte-identical when forced.
    before = out.read_bytes()
    assert preprocess(PreprocessOptions(input=raw, output=out)).skipped
    assert not preprocess(PreprocessOptions(input=raw, output=out, force=True)).skipped
    assert out.read_bytes() == before
    # Another seed: another split, so the step runs again.
    assert not preprocess(PreprocessOptions(input=raw, output=out, seed=7)).skipped
    assert read_csv(out, shape=(8, 8, 1), require_split=True).split != data.split


def test_preprocess_refuses_bad_input_and_changes_nothing(tmp_path: Path):
    out = tmp_path / "processed.csv"
    nan = _write(tmp_path / "nan.csv", "label,a,b\nx,1,2\ny,nan,3\n")
    with pytest.raises(ConfigError, match="NaN"):
        preprocess(PreprocessOptions(input=nan, output=out))
    single = _write(tmp_path / "single.csv", "label,a\nx,1\nx,2\ny,3\n")
    with pytest.raises(ConfigError, match="single row"):
        preprocess(PreprocessOptions(input=single, output=out))
    with pytest.raises(ConfigError, match="does not exist"):
        preprocess(PreprocessOptions(input=tmp_path / "missing.csv", output=out))
    assert not out.exists() and not preprocess_path(out).exists()
    assert not stamp_path(out).exists()


def test_cli_reports_bad_input_with_the_fix_and_exit_status_3(tmp_path: Path, capsys):
    bad = _write(tmp_path / "bad.csv", "a,b\n1,2\n")
    code = cli(["model", "preprocess", "--input", str(bad), "--output",
                str(tmp_path / "p.csv")])
    assert code == 3
    assert "[config]" in capsys.readouterr().err
    assert cli(["model", "collect", "--output", str(tmp_path / "n.csv"), "--limit", "100"]) == 0
    assert "collected 100 rows" in capsys.readouterr().out

"""The data-forwarder mode: hil_forwarder.c driven directly, the host parser, and the twin's
forwarder personality (tflm-hil model forward) collected over its serial port into the same
CSV it was given."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest

from harness.apps.pipeline.collect import CollectOptions, collect
from harness.apps.pipeline.dataset import read_csv
from harness.apps.pipeline.forward import start_forward_twin
from harness.errors import ConfigError
from harness.protocol.forwarder import StreamParser
from harness.sim.build import build_host_library
from harness.sim.corelib import CoreLibrary
from harness.sim.personalities.forwarder import ForwarderCore


@pytest.fixture(scope="module")
def lib() -> CoreLibrary:
    return CoreLibrary(build_host_library("forwarder"))


def _fwd(lib: CoreLibrary, **kw) -> tuple[ForwarderCore, bytearray]:
    out = bytearray()
    cfg = {"axes": 3, "window": 2, "rate_hz": 100, "decimals": 3, "names": "ax,ay,az", **kw}
    return ForwarderCore(lib, out.extend, **cfg), out


def _parse(data: bytes) -> tuple[StreamParser, list]:
    parser = StreamParser()
    windows = [w for w in (parser.feed(line) for line in data.split(b"\n")) if w is not None]
    return parser, windows


def test_wire_format_byte_for_byte(lib: CoreLibrary):
    fwd, out = _fwd(lib)
    fwd.announce()
    fwd.begin("walk")
    fwd.sample(np.array([0.0125, -0.9814, 1.0]))
    fwd.sample(np.array([-0.0004, 2.5, -3.0]))
    fwd.end()
    fwd.done()
    samples = b"0.013,-0.981,1.000\n0.000,2.500,-3.000\n"  # -0.0004 rounds to 0, unsigned
    crc = zlib.crc32(samples)
    assert bytes(out) == (b"#hilfwd 1 axes=3 window=2 rate=100 decimals=3 names=ax,ay,az\n"
                          b"@W 0 walk\n" + samples + f"@E 0 2 {crc:08x}\n".encode() + b"@D 1\n")
    assert fwd.stats == {"windows": 1, "samples": 2, "refused": 0}


def test_refusals_write_nothing(lib: CoreLibrary):
    fwd, out = _fwd(lib)
    with pytest.raises(ConfigError, match="out of order"):
        fwd.sample(np.zeros(3))  # no window open
    with pytest.raises(ConfigError, match="label"):
        fwd.begin("has,comma")
    fwd.begin("ok")
    with pytest.raises(ConfigError, match="NaN"):
        fwd.sample(np.array([1.0, np.nan, 2.0]))
    with pytest.raises(ConfigError, match="NaN, infinite"):
        fwd.sample(np.array([np.inf, 0.0, 0.0]))
    with pytest.raises(ConfigError, match="wrong number"):
        fwd.sample(np.zeros(2))
    with pytest.raises(ConfigError, match="short window"):
        fwd.end()  # 0 of 2 samples
    assert bytes(out) == b"@W 0 ok\n"
    assert fwd.stats["refused"] == 6


@pytest.mark.parametrize("cfg", [{"axes": 0}, {"axes": 17}, {"window": 0}, {"decimals": 7},
                                 {"names": "ax,ay"}, {"names": "ax,,az"}])
def test_bad_configuration_is_refused(lib: CoreLibrary, cfg: dict):
    with pytest.raises(ConfigError, match="bad configuration"):
        _fwd(lib, **cfg)


def test_parser_drops_damaged_aborted_and_interrupted_windows(lib: CoreLibrary):
    fwd, out = _fwd(lib, axes=1, window=2, names=None)
    fwd.announce()
    for label in ("a", "b", "c", "d"):
        fwd.begin(label)
        fwd.sample(np.array([1.0]))
        if label == "c":
            fwd.abort()
            continue
        fwd.sample(np.array([2.0]))
        fwd.end()
    fwd.done()
    good = bytes(out)
    parser, windows = _parse(good)
    assert [w.label for w in windows] == ["a", "b", "d"] and parser.done
    assert windows[0].values.tolist() == [[1.0], [2.0]]
    assert parser.stats.dropped == 1  # the aborted one
    # One flipped digit in window b: its CRC no longer matches.
    damaged = good.replace(b"@W 1 b\n1.000\n", b"@W 1 b\n7.000\n")
    parser, windows = _parse(damaged)
    assert [w.label for w in windows] == ["a", "d"]
    assert "a CRC mismatch (damaged bytes)" in parser.stats.reasons
    # A lost line (and the @E with it): the next @W interrupts the window.
    lost = good.replace(b"2.000\n@E 1", b"@X 1")
    parser, windows = _parse(lost)
    assert [w.label for w in windows] == ["a", "d"]


def test_twin_forwards_a_csv_and_collect_reads_it_back(tmp_path: Path):
    src = tmp_path / "windows.csv"
    rng = np.random.default_rng(3)
    rows = ["label," + ",".join(f"{a}_{t}" for t in range(4) for a in ("x", "y"))]
    values = np.round(rng.normal(size=(12, 8)), 4)
    labels = [("idle", "walk", "run")[i % 3] for i in range(12)]
    rows += [lab + "," + ",".join(f"{v:g}" for v in vals) for lab, vals in zip(labels, values,
                                                                             strict=True)]
    src.write_text("\n".join(rows) + "\n")
    # Through the collect step's CSV source first, so the file carries its shape (4 x 2).
    shaped = tmp_path / "shaped.csv"
    collect(CollectOptions(output=shaped, source=f"csv:{src}", shape=(4, 2)))
    with start_forward_twin("sim:nano33", shaped) as twin:
        assert twin.ready["windows"] == 12
        out = tmp_path / "new_data.csv"
        result = collect(CollectOptions(output=out, source=f"serial:{twin.port}", timeout=10))
    assert "collected 12 rows of shape 4x2" in result.summary
    got = read_csv(out, shape=(4, 2))
    assert list(got.labels) == labels
    assert np.allclose(got.x, values, atol=5e-5)  # 4 decimals on the wire
    # --label: only the windows recorded under that label are kept, the rest counted
    with start_forward_twin("sim:nano33", shaped) as twin:
        walk = tmp_path / "walk.csv"
        result = collect(CollectOptions(output=walk, source=f"serial:{twin.port}", timeout=10,
                                        label="walk"))
    assert list(read_csv(walk, shape=(4, 2)).labels) == ["walk"] * 4
    assert "collected 4 rows" in result.summary


def test_twin_forward_mode_refuses_a_bad_csv(tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n")
    with pytest.raises(ConfigError, match="no 'label' column"):
        start_forward_twin("sim:nano33", bad)


def test_twin_forward_mode_refuses_a_label_the_forwarder_cannot_send(tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("label,v0,v1\nwalking fast,1,2\nidle,3,4\n")
    with pytest.raises(ConfigError, match=r"refused label 'walking fast': a label outside A-Z"):
        start_forward_twin("sim:nano33", bad)

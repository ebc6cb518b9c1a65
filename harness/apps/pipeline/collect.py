"""``tflm-hil model collect``: labelled windows from a source into the pipeline's CSV format.

Sources: ``digits`` (scikit-learn's bundled handwritten digits: the example's data),
``csv:PATH`` (a CSV with a ``label`` column), ``serial:PORT`` (a board, or the twin, in
data-forwarder mode: hil_forwarder.c; PORT may be a pyserial URL such as rfc2217://...).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ... import atomic
from ...errors import ConfigError
from .dataset import Dataset, read_csv, write_csv
from .progress import Progress
from .stamp import Stamp, package_versions, record_outputs, stamped_shape
from .step import StepResult


@dataclass(frozen=True)
class CollectOptions:
    output: Path
    source: str = "digits"
    seed: int = 1234
    limit: int | None = None  # a stratified subset of this many rows (quick experiments)
    shape: tuple[int, ...] | None = None  # csv: the per-row shape
    windows: int | None = None  # serial: stop after this many windows
    timeout: float = 30.0  # serial: stop after this long without a window
    baud: int = 115200
    label: str | None = None  # serial: the label of what the board records now
    force: bool = False


def collect(opts: CollectOptions) -> StepResult:
    kind, _, arg = opts.source.partition(":")
    if kind not in ("digits", "csv", "serial") or (kind != "digits" and not arg):
        raise ConfigError(
            f"unknown data source {opts.source!r}: use digits (the bundled example), "
            "csv:PATH or serial:PORT"
        )
    if opts.output.suffix.lower() != ".csv":
        raise ConfigError(f"--output {opts.output} must be a .csv file")
    if opts.limit is not None and opts.limit < 2:
        raise ConfigError(f"--limit {opts.limit} is too small: keep at least 2 rows per class")
    if kind == "serial":  # live data: never "up to date"
        stamp = Stamp("collect", {"source": opts.source, "live": True})
        data, info = _from_serial(arg, opts)
    else:
        recipe = {"source": kind, "seed": opts.seed, "limit": opts.limit,
                  "shape": list(opts.shape) if opts.shape else None,
                  "versions": package_versions("scikit-learn")}
        if kind == "csv":
            src = Path(arg)
            if not src.is_file():
                raise ConfigError(f"the source CSV {src} does not exist: check --source csv:PATH")
            recipe["input_sha256"] = atomic.sha256_file(src)
        stamp = Stamp("collect", recipe)
        if not opts.force and stamp.up_to_date(opts.output):
            return StepResult(True, [opts.output], f"{opts.output} is up to date")
        if kind == "digits":
            data, info = _digits(), {"source": "sklearn.datasets.load_digits (bundled)"}
        else:
            data = read_csv(arg, shape=opts.shape or stamped_shape(arg), flag="--source csv:PATH")
            info = {"source": f"csv {arg}"}
        data = _subset(data, opts.limit, opts.seed)
    write_csv(opts.output, data)
    record_outputs(stamp, opts.output)
    stamp.info = {**info, "shape": list(data.shape), "rows": len(data),
                  "classes": list(data.classes)}
    stamp.save(opts.output)
    counts = ", ".join(f"{c}: {data.labels.count(c)}" for c in data.classes[:12])
    return StepResult(False, [opts.output],
                      f"collected {len(data)} rows of shape {'x'.join(map(str, data.shape))} "
                      f"({counts}) into {opts.output}")


def _digits() -> Dataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    n = len(digits.target)
    names = tuple(f"px{r}_{c}" for r in range(8) for c in range(8))
    return Dataset(
        x=digits.images.reshape(n, 64).astype(np.float64),  # raw 0..16: preprocess scales
        labels=tuple(str(int(t)) for t in digits.target),
        shape=(8, 8, 1),
        feature_names=names,
    )


def _subset(data: Dataset, limit: int | None, seed: int) -> Dataset:
    """A stratified subset, rows kept in their original order (so it is reproducible)."""
    if limit is None or limit >= len(data):
        return data
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(data))
    try:
        keep, _ = train_test_split(idx, train_size=limit, stratify=list(data.labels),
                                   random_state=seed)
    except ValueError as exc:
        raise ConfigError(f"cannot take a stratified subset of {limit} rows: {exc}") from exc
    return data.take(np.sort(keep))


def _from_serial(port: str, opts: CollectOptions) -> tuple[Dataset, dict]:
    import serial

    from ...errors import LinkError
    from ...protocol.forwarder import read_windows, windows_dims

    if opts.windows is not None and opts.windows < 1:
        raise ConfigError(f"--windows {opts.windows} must be at least 1 (or omit it: read to the "
                          "end of the stream)")
    if opts.timeout <= 0:
        raise ConfigError(f"--timeout {opts.timeout:g} must be more than 0 seconds")
    try:
        link = serial.serial_for_url(port, baudrate=opts.baud, timeout=0.1)
    except (serial.SerialException, ValueError) as exc:
        raise LinkError(f"cannot open {port}: {exc}; check the port (tflm-hil boards)") from exc
    progress = Progress("windows", opts.windows) if opts.windows else None
    try:
        parser, windows = read_windows(
            link, max_windows=opts.windows, idle_timeout=opts.timeout,
            on_window=(lambda n: progress.update(n)) if progress else None,
            label=opts.label,
        )
    finally:
        link.close()
    if progress:
        progress.close()
    window, axes = windows_dims(parser, windows, port)
    header = parser.header
    names = header.names if header and len(header.names) == axes else tuple(
        f"a{k}" for k in range(axes))
    data = Dataset(
        x=np.stack([w.values.reshape(-1) for w in windows]),
        labels=tuple(w.label for w in windows),
        shape=(window, axes),
        feature_names=tuple(f"{n}_{t}" for t in range(window) for n in names),
    )
    info = {"source": f"serial {port} (data forwarder)", "dropped_windows": parser.stats.dropped,
            "drop_reasons": parser.stats.reasons,
            "rate_hz": header.rate_hz if header else None}
    return data, info

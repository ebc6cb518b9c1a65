"""The matrix's axes, read from ``axes.toml`` (beside this module by default) into dataclasses.

Ids are tox factors (``[a-z0-9]+``): tox.ini's env names are built from them.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...boards.catalog import QEMU_PREFIX, resolve_board
from ...errors import ConfigError
from ...metrics.gates import Gate, parse_gates
from ...paths import example_dir

DEFAULT_AXES = Path(__file__).resolve().parent / "axes.toml"
EXAMPLE = "example:"  # a path in the example model's folder (harness.paths.example_dir)
PREBUILT = "prebuilt"
_ID = re.compile(r"^[a-z][a-z0-9]*$")


@dataclass(frozen=True)
class Runtime:
    id: str
    version: str  # the tflite-micro version on PyPI
    pins: tuple[str, ...] = ()

    @property
    def requirement(self) -> str:
        return f"tflite-micro=={self.version}"


@dataclass(frozen=True)
class Converter:
    id: str
    tensorflow: str | None  # None: the prebuilt converter (no conversion)
    per_channel_dense: bool = True
    pins: tuple[str, ...] = ()

    @property
    def prebuilt(self) -> bool:
        return self.tensorflow is None


@dataclass(frozen=True)
class Model:
    id: str
    keras: Path | None = None
    calibration: Path | None = None
    tflite: Path | None = None
    vectors: Path | None = None
    reference: Path | None = None
    hardware_tflite: Path | None = None
    simulated: bool = True  # a cell of the simulated matrix (False: named by other axes only)

    def converts_with(self, converter: Converter) -> bool:
        """A Keras model goes through every TensorFlow converter; a .tflite runs as shipped."""
        return (self.keras is not None) != converter.prebuilt


@dataclass(frozen=True)
class Pinned:
    """A pinned axis value: a TFLM library ref (a commit) or an Arduino core version."""

    id: str
    value: str
    date: str = ""  # a library ref's commit date, YYYY-MM-DD, for the report


def pinned(values: tuple[Pinned, ...], given: str, prefix: str) -> Pinned:
    """The value ``given`` names (its id or its value), else an ad-hoc one: prefix + digits."""
    for p in values:
        if given in (p.id, p.value):
            return p
    return Pinned(prefix + re.sub(r"[^a-z0-9]", "", given.lower())[:8], given)


@dataclass(frozen=True)
class Hardware:
    models: tuple[str, ...] = ()
    boards: tuple[str, ...] = ()
    tflm_refs: tuple[Pinned, ...] = ()
    arduino_cores: tuple[Pinned, ...] = ()


@dataclass(frozen=True)
class Emulated:
    """The library axis on emulated boards: every model x converter (as the simulated matrix
    pairs them) x TFLM library ref x board, the board's firmware image run on QEMU."""

    boards: tuple[str, ...] = ()  # catalog ids with an emulation target: run as qemu:<id>
    models: tuple[str, ...] = ()
    converters: tuple[str, ...] = ()
    tflm_refs: tuple[Pinned, ...] = ()


@dataclass(frozen=True)
class SimCell:
    model: Model
    runtime: Runtime
    converter: Converter

    @property
    def key(self) -> str:
        return f"{self.runtime.id} {self.converter.id}"

    @property
    def tox_env(self) -> str:
        return f"sim-{self.runtime.id}-{self.converter.id}"


@dataclass(frozen=True)
class HwCell:
    model: Model
    board: str
    tflm_ref: Pinned
    arduino_core: Pinned

    @property
    def key(self) -> str:
        return f"{self.tflm_ref.id} {self.board} {self.arduino_core.id}"

    @property
    def tox_env(self) -> str:
        return f"hw-{self.tflm_ref.id}-{self.arduino_core.id}-{self.board}"


@dataclass(frozen=True)
class EmuCell:
    model: Model
    converter: Converter
    board: str  # the catalog id; the suite runs on qemu:<board>
    tflm_ref: Pinned

    @property
    def key(self) -> str:
        return f"{self.tflm_ref.id} {self.board} {self.converter.id}"

    @property
    def tox_env(self) -> str:
        return f"emu-{self.tflm_ref.id}-{self.board}"


@dataclass(frozen=True)
class Axes:
    path: Path
    dir: Path  # the file's folder: its relative paths start there
    runtimes: tuple[Runtime, ...]
    converters: tuple[Converter, ...]
    models: tuple[Model, ...]
    hardware: Hardware
    emulated: Emulated
    tflm_refs: tuple[Pinned, ...]  # every [[tflm_ref]], in the file's order
    reference_runtime: str
    reference_tensorflow: str
    board: str = "sim:nano33"
    cell_timeout_s: float = 900.0
    convert_timeout_s: float = 900.0
    gates: tuple[Gate, ...] = field(default_factory=tuple)

    # ---- lookups: by id, or by the version string a user types ----

    def runtime(self, name: str) -> Runtime:
        for r in self.runtimes:
            if name in (r.id, r.version, r.requirement):
                return r
        if name.startswith("0.dev"):  # a version the axes do not list: no extra pins known
            return Runtime(id="tflm" + re.sub(r"\D", "", name)[:12], version=name)
        raise ConfigError(
            f"unknown tflite-micro runtime {name!r}: use an id or version from {self.path} "
            f"({', '.join(r.id for r in self.runtimes)}) or a version such as 0.dev20241025232721"
        )

    def converter(self, name: str) -> Converter:
        for c in self.converters:
            if name == c.id:
                return c
        matches = [c for c in self.converters if c.tensorflow == name and c.per_channel_dense]
        if matches:
            return matches[0]
        if re.fullmatch(r"\d+\.\d+(\.\d+)?", name):
            return Converter(id="tf" + name.replace(".", ""), tensorflow=name)
        raise ConfigError(
            f"unknown converter {name!r}: use an id from {self.path} "
            f"({', '.join(c.id for c in self.converters)}) or a TensorFlow version such as 2.21.0"
        )

    def model(self, name: str) -> Model:
        for m in self.models:
            if name == m.id:
                return m
        p = Path(name)
        if p.suffix == ".tflite" and p.is_file():  # an ad-hoc model: run as shipped
            ident = re.sub(r"[^a-z0-9]", "", p.stem.lower()) or "model"
            return Model(id=ident, tflite=p.resolve())
        raise ConfigError(
            f"unknown model {name!r}: use an id from {self.path} "
            f"({', '.join(m.id for m in self.models)}) or the path of a .tflite file"
        )

    @property
    def reference(self) -> Runtime:
        return self.runtime(self.reference_runtime)

    def sim_cells(self) -> list[SimCell]:
        return [
            SimCell(m, r, c)
            for m in self.models
            if m.simulated
            for c in self.converters
            if m.converts_with(c)
            for r in self.runtimes
        ]

    def emu_cells(self) -> list[EmuCell]:
        emu = self.emulated
        converters = [self.converter(c) for c in emu.converters]
        return [
            EmuCell(model, c, board, ref)
            for model in map(self.model, emu.models)
            for c in converters
            if model.converts_with(c)
            for ref in emu.tflm_refs
            for board in emu.boards
        ]

    def tflm_ref(self, given: str) -> Pinned:
        """A library ref of the axes by id or commit; any other ref as given (an ad-hoc id)."""
        return pinned(self.tflm_refs, given, "lib")

    def hw_cells(self) -> list[HwCell]:
        hw = self.hardware
        return [
            HwCell(self.model(m), b, ref, core)
            for m in hw.models
            for ref in hw.tflm_refs
            for core in hw.arduino_cores
            for b in hw.boards
        ]


def _check_id(kind: str, ident: str, path: Path) -> str:
    if not _ID.match(ident):
        raise ConfigError(f"{path}: {kind} id {ident!r} must be lowercase letters and digits")
    return ident


def _key(entry: dict[str, Any], key: str, table: str, path: Path) -> Any:
    """``entry[key]``, or a ConfigError naming the table (and the entry's id) that lacks it."""
    if key in entry:
        return entry[key]
    where = f"{table} (id {entry['id']!r})" if "id" in entry else table
    raise ConfigError(f"{path}: {where} needs {key!r}: add `{key} = ...` to it")


def _path(folder: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    if value.startswith(EXAMPLE):
        name, _, rest = value[len(EXAMPLE):].partition("/")
        return example_dir(name) / rest
    return (folder / value).resolve()


def _unique(kind: str, ids: list[str], path: Path) -> None:
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ConfigError(f"{path}: {kind} ids repeat: {', '.join(dup)}")


def _named_refs(refs: tuple[Pinned, ...], ids: Any, table: str, path: Path) -> tuple[Pinned, ...]:
    """The [[tflm_ref]] entries a table names by id, in its order."""
    by_id = {t.id: t for t in refs}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise ConfigError(
            f"{path}: {table} tflm_refs names {', '.join(map(repr, unknown))}, which no "
            f"[[tflm_ref]] entry defines (known: {', '.join(by_id) or 'none'})"
        )
    return tuple(by_id[i] for i in ids)


def _emulated_board(board: str, path: Path) -> str:
    """A catalog id whose entry declares an emulation target (the cells run qemu:<id>)."""
    _check_id("board", board, path)
    try:
        resolve_board(QEMU_PREFIX + board)
    except ConfigError as exc:
        raise ConfigError(f"{path}: [emulated] boards: {exc}") from None
    return board


def load_axes(path: Path | None = None) -> Axes:
    path = path or DEFAULT_AXES
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"the matrix axes file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    folder = path.resolve().parent
    runtimes = tuple(
        Runtime(
            _check_id("runtime", _key(r, "id", "a [[runtime]] entry", path), path),
            _key(r, "version", "a [[runtime]] entry", path),
            tuple(r.get("pins", ())),
        )
        for r in data.get("runtime", [])
    )
    converters = tuple(
        Converter(
            _check_id("converter", _key(c, "id", "a [[converter]] entry", path), path),
            c.get("tensorflow"),
            bool(c.get("per_channel_dense", True)),
            tuple(c.get("pins", ())),
        )
        for c in data.get("converter", [])
    )
    models = tuple(
        Model(
            id=_check_id("model", _key(m, "id", "a [[model]] entry", path), path),
            keras=_path(folder, m.get("keras")),
            calibration=_path(folder, m.get("calibration")),
            tflite=_path(folder, m.get("tflite")),
            vectors=_path(folder, m.get("vectors")),
            reference=_path(folder, m.get("reference")),
            hardware_tflite=_path(folder, m.get("hardware_tflite")),
            simulated=bool(m.get("simulated", True)),
        )
        for m in data.get("model", [])
    )
    refs = tuple(
        Pinned(
            _check_id("tflm_ref", _key(t, "id", "a [[tflm_ref]] entry", path), path),
            _key(t, "ref", "a [[tflm_ref]] entry", path),
            str(t.get("date", "")),
        )
        for t in data.get("tflm_ref", [])
    )
    _unique("tflm_ref", [t.id for t in refs], path)
    hw = data.get("hardware", {})
    hardware = Hardware(
        models=tuple(hw.get("models", ())),
        boards=tuple(_check_id("board", b, path) for b in hw.get("boards", ())),
        tflm_refs=_named_refs(refs, hw.get("tflm_refs", ()), "[hardware]", path),
        arduino_cores=tuple(
            Pinned(
                _check_id(
                    "arduino_core", _key(a, "id", "a [[hardware.arduino_core]] entry", path), path
                ),
                _key(a, "version", "a [[hardware.arduino_core]] entry", path),
            )
            for a in hw.get("arduino_core", [])
        ),
    )
    emu = data.get("emulated", {})
    emulated = Emulated(
        boards=tuple(_emulated_board(b, path) for b in emu.get("boards", ())),
        models=tuple(emu.get("models", ())),
        converters=tuple(emu.get("converters", ())),
        tflm_refs=_named_refs(refs, emu.get("tflm_refs", ()), "[emulated]", path),
    )
    settings = data.get("matrix", {})
    gates = tuple(parse_gates(data, str(path)).values())
    axes = Axes(
        path=path,
        dir=folder,
        runtimes=runtimes,
        converters=converters,
        models=models,
        hardware=hardware,
        emulated=emulated,
        tflm_refs=refs,
        reference_runtime=_key(settings, "reference_runtime", "[matrix]", path),
        reference_tensorflow=_key(settings, "reference_tensorflow", "[matrix]", path),
        board=settings.get("board", "sim:nano33"),
        cell_timeout_s=float(settings.get("cell_timeout_s", 900)),
        convert_timeout_s=float(settings.get("convert_timeout_s", 900)),
        gates=gates,
    )
    for kind, ids in (
        ("runtime", [r.id for r in runtimes]),
        ("converter", [c.id for c in converters]),
        ("model", [m.id for m in models]),
    ):
        _unique(kind, ids, path)
    for m in models:
        if (m.keras is None) == (m.tflite is None):
            raise ConfigError(f"{path}: model {m.id} needs exactly one of 'keras' or 'tflite'")
        if m.keras is not None and m.calibration is None:
            raise ConfigError(f"{path}: model {m.id} has a Keras source but no 'calibration'")
    axes.reference  # noqa: B018  -- raises a ConfigError naming an unknown reference runtime
    for name in (*hardware.models, *emulated.models):
        axes.model(name)
    for name in emulated.converters:
        axes.converter(name)
    return axes

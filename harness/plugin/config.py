"""The session's configuration, read from pytest options and the ini, checked before anything
is built or flashed: every problem is a ConfigError that names the fix."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ..boards.catalog import BoardKind, BoardSpec, resolve_board
from ..boards.driver import DriverOptions
from ..errors import ConfigError
from ..lab.place import LAB_PREFIX, describe_place
from .workers import board_instance, choose_board, choose_place, this_worker


@dataclass(frozen=True)
class HilConfig:
    board_name: str
    spec: BoardSpec
    kind: BoardKind
    model: Path
    vectors: Path | None
    reference: Path | None
    gates: Path | None
    driver_options: DriverOptions
    instance: str = ""  # the board this process's tests run on (JUnit property board_instance)

    @property
    def simulated(self) -> bool:
        return self.kind is BoardKind.SIM


def _path(base: Path, value: str | None) -> Path | None:
    if not value:
        return None
    p = Path(value)
    return p if p.is_absolute() else base / p


def resolve_config(config: pytest.Config) -> HilConfig:
    opt = config.option
    worker = this_worker(config)
    place, catalog_name = None, opt.board
    if opt.board.startswith(LAB_PREFIX):
        places = [p for p in opt.board.removeprefix(LAB_PREFIX).split(",") if p]
        if not places:
            raise ConfigError("--board=labgrid: names no place: pass --board=labgrid:PLACE")
        place = choose_place(places, worker)  # with pytest -n: this worker's own place
        if opt.port or opt.board_serial:
            raise ConfigError(
                f"{opt.board} is a labgrid place: its port comes from the lab; "
                "drop --port and --board-serial"
            )
        catalog_name = describe_place(place).board_name  # its tags name the catalog board
    spec, kind = resolve_board(catalog_name)
    cwd, root = config.invocation_params.dir, config.rootpath
    if opt.model:  # --model replaces the ini's example: its vectors and reference go with it
        paths = [_path(cwd, v) for v in (opt.model, opt.vectors, opt.reference)]
    else:
        ini = [_path(root, config.getini(k)) for k in ("hil_model", "hil_vectors", "hil_reference")]
        if ini[0] is None:
            raise ConfigError(
                "no model to test: pass --model PATH.tflite (or set hil_model in the ini)"
            )
        paths = [ini[0], _path(cwd, opt.vectors) or ini[1], _path(cwd, opt.reference) or ini[2]]
    if opt.reflash and opt.no_flash:
        raise ConfigError("--reflash and --no-flash contradict each other: pass one of them")
    port = opt.port
    if kind is BoardKind.MLPERF:  # the port is in the board's name
        port = opt.board.removeprefix("mlperf:")
    elif opt.mlperf_model:
        raise ConfigError(
            f"--mlperf-model is for an MLPerf Tiny DUT (--board=mlperf:PORT), not {opt.board}"
        )
    if kind is not BoardKind.REAL and (opt.port or opt.board_serial):
        what = {BoardKind.SIM: "simulated", BoardKind.QEMU: "emulated on QEMU"}.get(
            kind, "an MLPerf DUT whose port is in its name"
        )
        raise ConfigError(f"{opt.board} is {what}: --port and --board-serial are for real boards")
    if (kind is BoardKind.QEMU or place) and opt.link_baud:
        raise ConfigError(f"--link-baud is for the simulated twin (sim:<id>), not {opt.board}")
    gates = _path(cwd, opt.gates)
    for label, p in (*zip(("model", "vectors", "reference"), paths, strict=True), ("gates", gates)):
        if p is not None and not p.is_file():
            raise ConfigError(f"the {label} file {p} does not exist: check --{label}")
    assert paths[0] is not None
    options = DriverOptions(
        port=port,
        board_serial=opt.board_serial,
        arena=opt.arena,
        reflash=opt.reflash,
        no_flash=opt.no_flash,
        log_dir=_path(cwd, opt.hil_log_dir),
        baud=opt.link_baud,
        lock_timeout=opt.lock_timeout,
        place=place,
        mlperf_model=opt.mlperf_model,
    )
    if kind is BoardKind.REAL and not place:
        options = choose_board(spec, options, worker)  # with pytest -n: this worker's own board
    instance = board_instance(opt.board, kind, options, worker)
    return HilConfig(opt.board, spec, kind, paths[0], paths[1], paths[2], gates, options, instance)

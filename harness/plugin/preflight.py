"""Every input of a session checked before a device is touched: a ConfigError names the problem
and its fix, and the plugin turns it into pytest's one-line usage error (exit 4).

Each check reads its file the way the fixtures will (the same loaders), so what passes here
loads there; the checks are cheap (no TensorFlow import: a Keras model's input shapes are read
from its saved configuration).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from ..boards.catalog import BoardSpec
from ..errors import ConfigError
from ..firmware.opmap import resolver_methods
from ..tflite.arena import measure_host_arena, plan_arena
from ..tflite.model import TfliteModel
from ..tflite.vectors import load_vectors
from .config import HilConfig
from .suite_metrics import load_suite_gates


def preflight(hil: HilConfig) -> TfliteModel:
    """The model, once every input of the session is known to be usable (else ConfigError)."""
    model = TfliteModel.load(hil.model)
    if not model.is_quantized:
        raise ConfigError(
            f"{hil.model} is a float model (float inputs or outputs); the suite tests the int8 "
            "model a board runs: convert it with full-integer quantisation "
            "(tflm-hil model convert) and pass the float one as --reference"
        )
    resolver_methods(model)  # an op TFLM has no kernel for: named once, with the fix
    if hil.vectors is not None:
        load_vectors(hil.vectors, model)
    load_suite_gates(hil.model, hil.gates)
    if hil.reference is not None:
        check_reference_inputs(hil.reference, model)
    check_fits(hil.spec, model, hil.driver_options.arena)
    return model


def check_fits(board: BoardSpec, model: TfliteModel, arena: int | None) -> None:
    """Refuses a model that cannot fit the board whatever the firmware: the model alone
    against the flash left to the application, its arena against the RAM (the catalog's
    footprint of the firmware included, so the figure is a lower bound of the image's). A board
    whose sizes are unknown (0: an MLPerf DUT runs a firmware of its own) is not judged."""
    flash = board.footprint_flash_bytes + len(model.data)
    if board.flash_bytes and flash > board.app_flash_bytes:
        raise ConfigError(
            f"{model.source} ({len(model.data)} bytes) does not fit {board.name}: with the "
            f"firmware it needs at least {flash} bytes of flash, {board.app_flash_bytes} are "
            "available; shrink the model (fewer or smaller layers, pruning) or pick a board "
            "with more flash"
        )
    if not board.ram_bytes:
        return
    if arena is None:  # 0 when the runtime rejects the model: the device will say why
        used = measure_host_arena(model)
        arena = plan_arena(used) if used else None
    if arena is not None and board.footprint_ram_bytes + arena > board.app_ram_bytes:
        raise ConfigError(
            f"{model.source} needs a tensor arena of {arena} bytes: with the firmware that is "
            f"more than the {board.app_ram_bytes} bytes of RAM {board.name} leaves; reduce the "
            "activations (smaller input or layers) or pick a board with more RAM"
        )


def _dims(shape: tuple[int | None, ...] | list) -> tuple[int | None, ...]:
    """A vector's shape without the batch dimension (TFLite's 1, Keras's None or 1)."""
    dims = tuple(shape)
    return dims[1:] if dims and dims[0] in (None, 1, -1) else dims


def check_reference_inputs(path: Path, model: TfliteModel) -> None:
    """Refuses a float reference whose inputs are not the model's (a model of another task,
    or of another input size): else it fails deep inside Keras or TFLM."""
    theirs = reference_input_shapes(path)
    if theirs is None:  # a format whose shapes cannot be read without loading it
        return
    ours = [_dims(t.shape) for t in model.inputs]
    mismatch = len(theirs) != len(ours) or any(
        len(a) != len(b) or any(x is not None and x != y for x, y in zip(a, b, strict=True))
        for a, b in zip(sorted(theirs, key=len), sorted(ours, key=len), strict=True)
    )
    if mismatch:
        raise ConfigError(
            f"the reference {path.name} takes inputs {theirs}, the model {ours} (batch left "
            "out): pass the float model this .tflite was converted from (--reference)"
        )


def reference_input_shapes(path: Path) -> list[tuple[int | None, ...]] | None:
    if path.suffix == ".tflite":
        return [_dims(t.shape) for t in TfliteModel.load(path).inputs]
    try:
        if path.suffix == ".keras":
            with zipfile.ZipFile(path) as archive:
                config = json.loads(archive.read("config.json"))
        elif path.suffix == ".h5":
            import h5py  # a TensorFlow dependency; h5 keeps the model's JSON in an attribute

            with h5py.File(path, "r") as f:
                raw = f.attrs.get("model_config")
            if raw is None:
                return None
            config = json.loads(raw if isinstance(raw, str) else raw.decode())
        else:
            return None
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ConfigError(
            f"the reference {path} is not a readable Keras model ({exc}): save it again with "
            "model.save(PATH)"
        ) from exc
    layers = config.get("config", {}).get("layers", [])
    shapes = [
        _dims(layer["config"].get("batch_shape") or layer["config"].get("batch_input_shape"))
        for layer in layers
        if layer.get("class_name") == "InputLayer"
    ]
    return shapes or None

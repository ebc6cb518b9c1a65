"""``tflm-hil firmware generate``: a complete, buildable project copy for a model and a board;
``tflm-hil firmware fetch``: the TFLM library's sources into the cache, for the emulated board."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from ..boards.catalog import BoardKind, resolve_board
from ..errors import ConfigError
from ..tflite.model import TfliteModel
from .compat import compat_warnings
from .library import describe as describe_library
from .library import fetch_library
from .pins import TFLM_REF_VAR, resolve_pins
from .project import Project, choose_arena, generate_project


def describe(project: Project) -> dict:
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in project.pins.environ().items())
    return {
        "dir": str(project.dir),
        "board": project.board.id,
        "env": project.env,
        "image_hash": project.image_hash,
        "arena_size": project.arena_size,
        "ops": list(project.ops),
        "pins": dict(project.pins.items()),
        "build": f"{env} pio run -e {project.env} -d {shlex.quote(str(project.dir))}",
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tflm-hil firmware", description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    gen = sub.add_parser("generate", help="write a buildable PlatformIO project for a model")
    gen.add_argument("--model", required=True, help="the .tflite to put in the image")
    gen.add_argument("--board", required=True, help="catalog board id, e.g. nano33")
    gen.add_argument("--out", required=True, type=Path, help="directory to write (new or empty)")
    gen.add_argument("--arena", type=int, help="tensor arena bytes (default: measured + margin)")
    gen.add_argument(
        "--env",
        help="the PlatformIO env to build, e.g. nano33ble_mlperf (the MLPerf Tiny DUT "
        "firmware, docs/mlperf.md); default: the board's",
    )
    gen.add_argument(
        "--mlperf-model",
        metavar="ID",
        help="with the MLPerf env: the benchmark (ic01, kws01, vww01, ad01) the model answers "
        "as (default: a published model's, found by its hash)",
    )
    gen.add_argument("--json", action="store_true", help="print the summary as JSON")
    fetch = sub.add_parser("fetch", help="fetch the TFLM library's sources into the cache")
    fetch.add_argument("--ref", help=f"git ref to fetch (default: ${TFLM_REF_VAR}, else the pin)")
    fetch.add_argument(
        "--from",
        dest="source",
        help="repository URL or local git directory (default: [hil] tflm_repo of platformio.ini)",
    )
    args = parser.parse_args(argv)
    if args.action == "fetch":
        print(describe_library(fetch_library(args.ref, args.source)))
        return 0

    spec, kind = resolve_board(args.board)
    if kind is not BoardKind.REAL:
        what = "a simulated twin" if kind is BoardKind.SIM else "built by the harness for QEMU"
        raise ConfigError(f"{args.board} is {what}: it needs no PlatformIO project; pass {spec.id}")
    model = TfliteModel.load(args.model)
    arena = choose_arena(model, spec.ram_bytes, args.arena)
    pins = resolve_pins()
    project = generate_project(model, spec, args.out, arena, pins, args.env, args.mlperf_model)
    summary = describe(project)
    summary["warnings"] = compat_warnings(model, pins)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for key in ("dir", "board", "env", "image_hash", "arena_size"):
            print(f"{key:>10}: {summary[key]}")
        print(f"{'ops':>10}: {', '.join(summary['ops'])}")
        print(f"{'pins':>10}: {summary['pins']}")
        print(f"{'build':>10}: {summary['build']}")
        for warning in summary["warnings"]:
            print(f"   warning: {warning}")
    return 0

"""``tflm-hil firmware generate``: a complete, buildable project copy for a model and a board."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from ..boards.catalog import resolve_board
from ..errors import ConfigError
from ..model.tflite_info import TfliteModel
from .compat import compat_warnings
from .pins import resolve_pins
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
    gen.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)

    spec, simulated = resolve_board(args.board)
    if simulated:
        raise ConfigError(f"{args.board} is a simulated twin: it needs no firmware; pass {spec.id}")
    model = TfliteModel.load(args.model)
    arena = choose_arena(model, spec.ram_bytes, args.arena)
    pins = resolve_pins()
    project = generate_project(model, spec, args.out, arena, pins)
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

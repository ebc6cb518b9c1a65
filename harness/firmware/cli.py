"""``tflm-hil firmware generate``: a complete, buildable project copy for a model and a board;
``tflm-hil firmware fetch``: the TFLM library's sources into the cache, for the emulated board;
``tflm-hil firmware fetch-core``: the Arduino core's sources at a version, for the check;
``tflm-hil firmware check``: every file of the firmware compiled against that core."""

from __future__ import annotations

import argparse
import json
import shlex
from dataclasses import replace
from pathlib import Path

from ..boards.catalog import BoardKind, BoardSpec, resolve_board
from ..errors import ConfigError
from ..tflite.model import TfliteModel
from .arduino_core import describe as describe_core
from .arduino_core import fetch_core
from .check import CheckReport, check_firmware, example_model
from .compat import compat_warnings
from .library import describe as describe_library
from .library import fetch_library
from .pins import ARDUINO_CORE_VAR, TFLM_REF_VAR, check_pins, resolve_pins
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
    fetch_core_p = sub.add_parser("fetch-core", help="fetch the Arduino core's sources")
    fetch_core_p.add_argument(
        "--arduino-core", help=f"core version (default: ${ARDUINO_CORE_VAR}, else the pin)"
    )
    fetch_core_p.add_argument(
        "--from",
        dest="source",
        help="repository URL or local git directory (default: [hil] core_repo of platformio.ini)",
    )
    fetch_core_p.add_argument(
        "--api-from",
        dest="api_source",
        help="ArduinoCore-API's URL or local git directory (default: [hil] core_api_repo)",
    )
    check = sub.add_parser(
        "check", help="compile every file of the firmware against a real Arduino core"
    )
    check.add_argument("--board", required=True, help="catalog board id, e.g. nano33")
    check.add_argument("--arduino-core", help=f"core version (default: ${ARDUINO_CORE_VAR}/pin)")
    check.add_argument("--tflm-ref", help=f"TFLM library ref (default: ${TFLM_REF_VAR}/pin)")
    check.add_argument("--model", help="the .tflite to generate sources for (default: example)")
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.action == "fetch":
        print(describe_library(fetch_library(args.ref, args.source)))
        return 0
    if args.action == "fetch-core":
        print(describe_core(fetch_core(args.arduino_core, args.source, args.api_source)))
        return 0

    spec = _real_board(args.board)
    if args.action == "check":
        return _check(args, spec)
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


def _real_board(name: str) -> BoardSpec:
    spec, kind = resolve_board(name)
    if kind is not BoardKind.REAL:
        what = "a simulated twin" if kind is BoardKind.SIM else "built by the harness for QEMU"
        raise ConfigError(f"{name} is {what}: it needs no PlatformIO project; pass {spec.id}")
    return spec


def _check(args: argparse.Namespace, spec: BoardSpec) -> int:
    """Exit status 0 when every file compiled and ours gave no warning, 1 otherwise."""
    pins = resolve_pins()
    pins = check_pins(
        replace(
            pins,
            tflm_ref=args.tflm_ref or pins.tflm_ref,
            arduino_core=args.arduino_core or pins.arduino_core,
        )
    )
    model_path = Path(args.model) if args.model else example_model()
    if not model_path.is_file():
        raise ConfigError(f"no model at {model_path}: pass --model PATH.tflite")
    emit = (lambda line: None) if args.json else print
    report = check_firmware(spec, pins, TfliteModel.load(model_path), emit=emit)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(summarise(report))
    return 0 if report.ok else 1


def summarise(report: CheckReport) -> str:
    def counts(ours: bool) -> str:
        errors, warnings = report.count("error", ours), report.count("warning", ours)
        return f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}"

    library = (
        f"{report.library_files} files, {counts(False)} in third-party files"
        if report.library_compiled
        else f"{report.library_files} files, not compiled"
    )
    lines = [
        f"firmware check: {report.board} ({report.env}), ArduinoCore-mbed {report.core} "
        f"({report.core_arch}), TFLM library {report.tflm_ref[:12]}",
        f"  our files: {len(report.ours)} compiled, {counts(True)}",
        f"  TFLM library: {library}",
    ]
    lines += [f"  {d}" for d in report.our_diagnostics]
    if report.failed_files:
        n = len(report.failed_files)
        lines.append(f"  {n} file{'s' * (n != 1)} did not compile; first error:")
        lines.append(f"    {report.first_error()}")
    lines += [f"  {note}" for note in report.not_done]
    lines.append(f"  log: {report.log}")
    return "\n".join(lines)

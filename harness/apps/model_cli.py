"""tflm-hil model: the model maintenance loop, from collecting data to promotion and rollback.

    tflm-hil model collect    --output new_data.csv
    tflm-hil model preprocess --input new_data.csv --output processed_data.csv
    tflm-hil model train      --input processed_data.csv --output new_model.h5
    tflm-hil model convert    --input new_model.h5 --output model.tflite   (and register it)
    tflm-hil model promote    model.tflite            (validate on a board, gate, promote)
    tflm-hil model rollback                           (back to the last good model)
    tflm-hil model forward    --input windows.csv     (a twin sends them as a board would)

The steps live in harness/apps/pipeline/cli.py, the registry commands (register, validate,
promote, rollback, list, show, card, backup, restore) in harness/apps/registry/cli.py; this
module composes them, so neither imports the other. Exit status: 0 done (or up to date),
1 refused (validate, promote, rollback), 3 bad input or a failed step (the message names the
fix), 6 the rig failed (validate, promote, rollback: the model was not judged), 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .pipeline.cli import add_pipeline_commands, run_pipeline_step
from .registry.cli import add_registry_commands, run_registry_command


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="tflm-hil model", description=__doc__.splitlines()[0])
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_pipeline_commands(sub)
    top.set_defaults(pipeline_steps=frozenset(sub.choices))
    convert = sub.choices["convert"]  # a converted model joins the registry
    convert.add_argument("--no-register", action="store_true",
                         help="do not add it to the registry")
    convert.add_argument("--registry", type=Path,
                         help="registry folder [$TFLM_HIL_REGISTRY or .tflm-hil/registry]")
    add_registry_commands(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.command not in args.pipeline_steps:
        return run_registry_command(args)
    code = run_pipeline_step(args)
    if code == 0 and args.command == "convert" and not args.no_register:
        from .registry.store import Registry

        registry = Registry.open(args.registry)
        entry = registry.register_from_files(args.output)
        print(f"registered {entry.short} in {registry.root}")
    return code

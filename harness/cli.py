"""The ``tflm-hil`` command: each subcommand lives in its own module with its own ``main``."""

from __future__ import annotations

import importlib
import sys

from .errors import HilError

# name -> (module, one-line help); modules are imported only when their command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "sim": ("harness.sim.twin", "start a simulated board on a pseudo-terminal and print its port"),
    "firmware": ("harness.firmware.cli", "generate a buildable firmware project for a model"),
    "boards": ("harness.boards.cli", "list the board catalog and the boards attached now"),
    "model": (
        "harness.apps.model_cli", "the model loop: collect ... convert, promote, rollback"
    ),
    "monitor": ("harness.apps.monitor.cli", "watch the results store for regressions and alert"),
    "history": ("harness.results.history", "a model's figures over time and across boards"),
    "matrix": ("harness.apps.matrix.cli", "compatibility matrix: run a cell, report, gate, tox"),
    "mlperf": ("harness.mlperf.cli", "MLPerf Tiny datasets as test vectors (docs/mlperf.md)"),
    "lab": ("harness.lab.cli", "labgrid: a loopback lab of twins; flashing on an exporter host"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    return "usage: tflm-hil COMMAND [options]\n\ncommands:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"tflm-hil: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    try:
        return int(module.main(rest) or 0)
    except HilError as exc:
        print(f"tflm-hil {name}: [{exc.category}] {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())

"""``tflm-hil matrix``: run one cell, convert, report, gate, and keep tox.ini in step.

    tflm-hil matrix run --tflm-runtime 0.dev20241025232721 --converter 2.21.0 --model digits \\
        --json cell.json
    tflm-hil matrix run --board nano33 --tflm-ref REF --arduino-core 4.5.0 --model digits
    tflm-hil matrix run --board qemu:nano33 --tflm-ref lib2312 [--model digits --converter tf221]
    tflm-hil matrix fetch [--from URL_OR_GIT_DIR]
    tflm-hil matrix convert --converter tf221
    tflm-hil matrix report [--out reports/matrix.html] [RESULT.json|DIR ...] [--db DB]
    tflm-hil matrix gate [--strict] [--write-expected]
    tflm-hil matrix tox --check | --write
    tflm-hil matrix ci --check | --write
    tflm-hil matrix list
"""

from __future__ import annotations

import argparse
import re
import sys
from functools import partial
from pathlib import Path

from ...boards.catalog import QEMU_PREFIX, SIM_PREFIX, resolve_board
from ...errors import ConfigError
from ...firmware.library import describe as describe_library
from ...firmware.library import fetch_library, find_library
from ...paths import checkout_root
from ...results.store import default_db_path
from .axes import DEFAULT_AXES, Axes, Model, load_axes, pinned
from .cell import Places, hw_cell_base, run_hw_cell, run_sim_cell, sim_cell_base
from .converter import convert
from .emu_cell import emu_cell_base, run_emu_cell
from .expect import DEFAULT_EXPECTED, judge, load_expected, render_expected
from .parallel import Cell, default_jobs, run_cells
from .report import latest, previous_results, render
from .result import CellResult, read_results
from .storeio import record, results_from_store
from .toxgen import is_current, render_block, splice
from .workflow import WORKFLOW, render_workflow
from .workflow import is_current as workflow_is_current

EXPECTED_HEADER = """\
# Known outcomes of the compatibility matrix, per cell ("ROW COLUMN" as in the report's grid).
# The matrix gate (tflm-hil matrix gate) fails when a cell expected to `pass` does not, and
# reports cells that started passing or changed. Rewrite from the latest results with
#   tflm-hil matrix gate --write-expected
# and review the diff: each `why` says what was measured."""


def _default_dir(axes: Axes) -> Path:
    """The run's own files (results, artifacts, environments) live in the folder it runs in."""
    return Path.cwd() / ".tflm-hil" / "matrix"


def _result_path(base: Path, r: CellResult) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{r.kind}-{r.model}-{r.row}-{r.column}")
    return base / "results" / f"{name}.json"


def _models(axes: Axes, name: str, accept) -> list[Model]:
    """The simulated matrix's models (``all``) that ``accept`` takes, or the one named."""
    if name == "all":
        return [m for m in axes.models if m.simulated and accept(m)]
    return [axes.model(name)]


def _hw_cells(args: argparse.Namespace, axes: Axes, base: Path, places: Places) -> list[Cell]:
    missing = [
        option
        for option, given in (
            ("--board (a catalog id such as nano33)", not args.board.startswith(SIM_PREFIX)),
            ("--tflm-ref", args.tflm_ref),
            ("--arduino-core", args.arduino_core),
        )
        if not given
    ]
    if missing:
        raise ConfigError(
            "a hardware cell needs --board, --tflm-ref and --arduino-core; missing: "
            + ", ".join(missing)
            + " (a simulated cell takes --tflm-runtime and --converter instead)"
        )
    ref = axes.tflm_ref(args.tflm_ref)
    core = pinned(axes.hardware.arduino_cores, args.arduino_core, "core")
    names = axes.hardware.models if args.model == "all" else (args.model,)
    results: list[Cell] = []
    for model in (axes.model(n) for n in names):
        default = _result_path(base, hw_cell_base(model, args.board, ref, core))
        out = args.json if args.json and len(names) == 1 else default
        results.append(
            partial(
                run_hw_cell, axes, model, args.board, ref, core, out, places, timeout=args.timeout
            )
        )
    return results


def _emu_cells(args: argparse.Namespace, axes: Axes, base: Path, places: Places) -> list[Cell]:
    """``--board qemu:ID --tflm-ref REF``: every model x converter of the emulated axis (or the
    given --model and --converter) with the library at REF."""
    if not args.tflm_ref or args.arduino_core:
        raise ConfigError(
            f"an emulated cell ({args.board}) needs --tflm-ref (a library ref: an id of "
            f"{axes.path} or a commit) and takes no --arduino-core (the image has no Arduino core)"
        )
    board = resolve_board(args.board)[0].id
    ref = axes.tflm_ref(args.tflm_ref)
    emu = axes.emulated
    converters = [
        axes.converter(c) for c in ([args.converter] if args.converter else emu.converters)
    ]
    models = [axes.model(m) for m in (emu.models if args.model == "all" else [args.model])]
    pairs = [(m, c) for m in models for c in converters if m.converts_with(c)]
    if not pairs:
        raise ConfigError(
            f"no model of {args.model} goes through converter(s) "
            f"{', '.join(c.id for c in converters)}: a Keras model needs a TensorFlow converter, "
            "a .tflite the prebuilt one"
        )
    results: list[Cell] = []
    for model, converter in pairs:
        default = _result_path(base, emu_cell_base(model, converter, board, ref))
        out = args.json if args.json and len(pairs) == 1 else default
        results.append(
            partial(
                run_emu_cell,
                axes,
                model,
                converter,
                board,
                ref,
                out,
                places,
                python=args.python,
                timeout=args.timeout,
            )
        )
    return results


def _sim_cells(args: argparse.Namespace, axes: Axes, base: Path, places: Places) -> list[Cell]:
    if not (args.tflm_runtime and args.converter):
        raise ConfigError("a simulated cell needs --tflm-runtime and --converter")
    runtime = axes.runtime(args.tflm_runtime)
    converter = axes.converter(args.converter)
    models = _models(axes, args.model, lambda m: m.converts_with(converter))
    if not models:
        raise ConfigError(f"no model of {axes.path} goes through converter {converter.id}")
    results: list[Cell] = []
    for model in models:
        if not model.converts_with(converter):
            raise ConfigError(
                f"model {model.id} "
                + (
                    "has a Keras source: pick a TensorFlow converter"
                    if model.keras
                    else "is a prebuilt .tflite: use --converter prebuilt"
                )
            )
        default = _result_path(base, sim_cell_base(model, runtime, converter))
        out = args.json if args.json and len(models) == 1 else default
        results.append(
            partial(
                run_sim_cell,
                axes,
                model,
                runtime,
                converter,
                out,
                places,
                in_env=args.in_env,
                python=args.python,
                timeout=args.timeout,
            )
        )
    return results


def cmd_run(args: argparse.Namespace, axes: Axes) -> int:
    base = args.dir or _default_dir(axes)
    places = Places.under(base)
    boards = None
    if args.board.startswith(QEMU_PREFIX):
        cells = _emu_cells(args, axes, base, places)
    elif args.tflm_ref or args.arduino_core or not args.board.startswith(SIM_PREFIX):
        cells = _hw_cells(args, axes, base, places)
        boards = 1  # the cells of one board take turns on it (its lock)
    else:
        cells = _sim_cells(args, axes, base, places)

    def recorded(cell: Cell) -> Cell:
        def run() -> CellResult:
            result = cell()
            if args.db:
                record(args.db, result)
            return result

        return run

    jobs = args.jobs or default_jobs(len(cells), boards)
    if len(cells) > 1:
        print(f"matrix: {len(cells)} cells, {jobs} at a time", flush=True)
    run_cells([recorded(c) for c in cells], jobs, report=lambda line: print(line, flush=True))
    return 0


def cmd_fetch(args: argparse.Namespace, axes: Axes) -> int:
    """Fetches the library at every ref of the emulated axis that is not in the cache yet."""
    refs = axes.emulated.tflm_refs
    if not refs:
        raise ConfigError(f"{axes.path} lists no [emulated] tflm_refs to fetch")
    for ref in refs:
        have = find_library(ref.value)
        if have is not None and not args.force:
            print(f"{ref.id}: fetched already ({have.commit[:12]}, {have.date}, from {have.url})")
            continue
        print(f"{ref.id}: {describe_library(fetch_library(ref.value, args.source))}")
    return 0


def cmd_convert(args: argparse.Namespace, axes: Axes) -> int:
    base = args.dir or _default_dir(axes)
    converter = axes.converter(args.converter)
    models = _models(axes, args.model, lambda m: m.converts_with(converter))
    for model in models:
        art = convert(
            axes,
            model,
            converter,
            base / "artifacts",
            python=Path(sys.executable) if args.in_env else None,
            venv_root=base / "venvs",
            reuse=not args.force,
        )
        state = "ok" if art.verdict is None else f"{art.verdict.status}: {art.verdict.error[:200]}"
        print(f"convert {model.id} with {converter.id}: {state}")
    return 0  # the outcome is recorded for the cells; a failed conversion is not a dead run


def _gather(args: argparse.Namespace, axes: Axes) -> list[CellResult]:
    results: list[CellResult] = []
    sources = list(args.results)
    if args.dir or not (sources or args.db):
        results_dir = (args.dir or _default_dir(axes)) / "results"
        if results_dir.is_dir():
            sources.append(results_dir)
    results += read_results(sources)
    if args.db:
        results += results_from_store(args.db)
    return results


def _expected_path(args: argparse.Namespace) -> Path:
    """--expected, or the committed file. A --expected that does not exist is refused: read as
    no expectations, every cell would be new and the gate would pass."""
    if args.expected is None:
        return DEFAULT_EXPECTED
    if not args.expected.is_file() and not getattr(args, "write_expected", False):
        raise ConfigError(
            f"the expectations file {args.expected} does not exist: check --expected, or "
            f"write it from the results with tflm-hil matrix gate --write-expected "
            f"--expected {args.expected}"
        )
    return args.expected


def cmd_report(args: argparse.Namespace, axes: Axes) -> int:
    results = _gather(args, axes)
    if not results:
        raise ConfigError("no cell results found: run cells first (tox -m matrix-sim)")
    previous = previous_results(args.previous or args.out)
    expected_path = _expected_path(args)
    expected = load_expected(expected_path) if expected_path.is_file() else None
    page = render(results, axes=axes, previous=previous, expected=expected)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page, encoding="utf-8")
    print(f"matrix report: {args.out} ({len(results)} results)")
    return 0


def cmd_gate(args: argparse.Namespace, axes: Axes) -> int:
    results = latest(_gather(args, axes))
    expected_path = _expected_path(args)
    expected = load_expected(expected_path)
    if args.write_expected:
        if expected_path == DEFAULT_EXPECTED and checkout_root() is None:
            raise ConfigError(
                f"{expected_path} is part of the installed tflm-hil: write your expectations "
                "to a file of your own with --expected PATH"
            )
        expected_path.write_text(
            render_expected(results, expected, EXPECTED_HEADER), encoding="utf-8"
        )
        print(f"wrote {expected_path} from {len(results)} results")
        return 0
    report = judge(results, expected, strict=args.strict)
    print(report.summary())
    return report.exit_code


def _in_step(path: Path, current: bool, axes: Axes, command: str) -> int:
    """``--check`` of a file generated from the axes: 0 when it is current, else 1."""
    if current:
        print(f"{path} is in step with {axes.path}")
        return 0
    print(f"{path} is stale: run tflm-hil matrix {command} --write", file=sys.stderr)
    return 1


def cmd_tox(args: argparse.Namespace, axes: Axes) -> int:
    tox_ini = args.tox_ini or Path.cwd() / "tox.ini"
    if args.write:
        text = tox_ini.read_text(encoding="utf-8") if tox_ini.is_file() else ""
        tox_ini.write_text(splice(text, render_block(axes)), encoding="utf-8")
        print(f"wrote the matrix environments of {tox_ini}")
        return 0
    if args.check:
        return _in_step(tox_ini, tox_ini.is_file() and is_current(tox_ini, axes), axes, "tox")
    print(render_block(axes))
    return 0


def cmd_ci(args: argparse.Namespace, axes: Axes) -> int:
    path = args.workflow or Path.cwd() / WORKFLOW
    if args.write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_workflow(axes), encoding="utf-8")
        print(f"wrote {path}")
        return 0
    if args.check:
        return _in_step(path, workflow_is_current(path, axes), axes, "ci")
    print(render_workflow(axes))
    return 0


def cmd_list(args: argparse.Namespace, axes: Axes) -> int:
    for c in axes.sim_cells():
        print(f"sim/{c.model.id}/{c.runtime.id}/{c.converter.id}\ttox -e {c.tox_env}")
    for e in axes.emu_cells():
        print(f"emu/{e.model.id}/{e.key.replace(' ', '/')}\ttox -e {e.tox_env}")
    for h in axes.hw_cells():
        print(f"hw/{h.model.id}/{h.key.replace(' ', '/')}\ttox -e {h.tox_env}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tflm-hil matrix", description=__doc__.splitlines()[0])
    p.add_argument("--axes", type=Path, default=DEFAULT_AXES, help="the axes file")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--dir", type=Path, help="matrix work directory [.tflm-hil/matrix]")

    run = sub.add_parser("run", help="run one cell (or one per model) and write its JSON result")
    common(run)
    run.add_argument("--tflm-runtime", help="tflite-micro version or runtime id (simulated)")
    run.add_argument(
        "--converter", help="TensorFlow version or converter id (simulated; emulated: one only)"
    )
    run.add_argument(
        "--board",
        default="sim:nano33",
        help="qemu:<id> for an emulated cell, a catalog id for a hardware cell [sim:nano33]",
    )
    run.add_argument("--tflm-ref", help="TFLM Arduino library ref: an axes id or a commit")
    run.add_argument("--arduino-core", help="framework-arduino-mbed version (hardware)")
    run.add_argument("--model", default="all", help="model id, a .tflite path, or all [all]")
    run.add_argument("--json", type=Path, help="where to write the result (one model)")
    run.add_argument(
        "--in-env", action="store_true", help="this interpreter is the cell's environment (tox)"
    )
    run.add_argument("--python", type=Path, help="run the cell in this interpreter")
    run.add_argument("--timeout", type=float, help="seconds per step [axes file]")
    run.add_argument("--db", type=Path, help="also record the result in this results store")
    run.add_argument("--jobs", type=int, help="cells at a time [the CPUs; for a real board: 1]")

    conv = sub.add_parser("convert", help="convert the models with one converter")
    common(conv)
    conv.add_argument("--converter", required=True)
    conv.add_argument("--model", default="all")
    conv.add_argument(
        "--in-env",
        action="store_true",
        help="this interpreter has the converter's TensorFlow (tox)",
    )
    conv.add_argument("--force", action="store_true", help="convert even if an artifact exists")

    for name, text in (
        ("report", "fold cell results into one HTML page"),
        ("gate", "compare cell results with the expectations (expected.toml)"),
    ):
        sp = sub.add_parser(name, help=text)
        common(sp)
        sp.add_argument("results", nargs="*", type=Path, help="result files or directories")
        sp.add_argument(
            "--db",
            type=Path,
            nargs="?",
            const=Path("-"),
            help="read cell results from the results store [its default path]",
        )
        sp.add_argument("--expected", type=Path,
                        help="expectations [harness/apps/matrix/expected.toml]")
    rep = sub.choices["report"]
    rep.add_argument("--out", type=Path, default=Path("reports/matrix.html"))
    rep.add_argument(
        "--previous", type=Path, help="an earlier report to compare with [the --out file]"
    )
    gate = sub.choices["gate"]
    gate.add_argument("--strict", action="store_true", help="fail on any change")
    gate.add_argument(
        "--write-expected", action="store_true", help="rewrite the expectations from these results"
    )

    tox = sub.add_parser("tox", help="print, check or write tox.ini's matrix environments")
    tox.add_argument("--tox-ini", type=Path)
    mode = tox.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--write", action="store_true")

    ci = sub.add_parser("ci", help="print, check or write the CI workflow that fans cells out")
    ci.add_argument("--workflow", type=Path, help=f"the workflow file [{WORKFLOW}]")
    ci_mode = ci.add_mutually_exclusive_group()
    ci_mode.add_argument("--check", action="store_true")
    ci_mode.add_argument("--write", action="store_true")

    sub.add_parser("list", help="list the cells and their tox environments")

    fetch = sub.add_parser("fetch", help="fetch the TFLM library at every ref of the emulated axis")
    fetch.add_argument(
        "--from",
        dest="source",
        help="repository URL or local git directory (default: [hil] tflm_repo of platformio.ini)",
    )
    fetch.add_argument("--force", action="store_true", help="fetch again refs already fetched")
    return p


COMMANDS = {
    "run": cmd_run,
    "convert": cmd_convert,
    "report": cmd_report,
    "gate": cmd_gate,
    "tox": cmd_tox,
    "ci": cmd_ci,
    "list": cmd_list,
    "fetch": cmd_fetch,
}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    axes = load_axes(args.axes)
    if getattr(args, "db", None) == Path("-"):
        args.db = default_db_path(Path.cwd())
    return COMMANDS[args.command](args, axes)


if __name__ == "__main__":
    sys.exit(main())

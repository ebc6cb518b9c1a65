"""An emulated cell: the HIL suite on ``qemu:<board>`` with the TFLM library at one ref.

model x converter x library ref x emulated board:
  1. a provisional result is written (``timeout``, unfinished);
  2. the library must be fetched for the ref: if it is not, the cell is ``install`` (the
     version is not installed), its error the exact command that fetches it; nothing runs;
  3. the converter artifact is made or reused, as for a simulated cell (converter.py);
  4. the HIL suite runs with ``--board qemu:<board>`` and ``HIL_TFLM_REF`` = the ref: the
     emulated board's driver builds the firmware image against the library at that ref
     (harness/emu/image.py) and runs it on QEMU. A ref whose sources no longer compile
     against the backend is ``build``; outputs that differ from the TFLM host runtime's are
     ``degraded``, with the suite's figures (bit-exact counts, the largest error in steps,
     accuracy, emulated instructions per invoke, arena used).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ...boards.catalog import QEMU_PREFIX
from ...firmware.library import fetch_command, fetched_sources, find_library
from .axes import Axes, Converter, Model, Pinned
from .cell import TFLM_REF_VAR, Places, convert_summary, finish, keep_evidence, run_suite
from .classify import Verdict
from .converter import convert
from .result import CellResult, provisional, write_result

NOT_FETCHED = "not-fetched"


def emu_cell_base(model: Model, converter: Converter, board: str, ref: Pinned) -> CellResult:
    return CellResult(
        kind="emu",
        model=model.id,
        row=ref.id,
        column=f"{board} {converter.id}",
        axes={
            "board": QEMU_PREFIX + board,
            "tflm_ref": ref.id,
            "tflm_ref_sha": ref.value,
            "tflm_ref_date": ref.date,
            "converter": converter.id,
            "tensorflow": converter.tensorflow or "prebuilt",
            "per_channel_dense": str(converter.per_channel_dense).lower(),
        },
        status="timeout",
    )


def not_fetched(ref: Pinned) -> Verdict:
    """The cell's outcome when the library at ``ref`` is not in the cache: the command that
    fetches it, from where the other refs came if they all came from one place."""
    sources = fetched_sources()
    source = sources[0] if len(sources) == 1 else None
    command = fetch_command(ref.value, source, explicit=True)
    every = "tflm-hil matrix fetch" + (f" --from {source}" if source else "")
    hint = "" if source else " (add --from URL_OR_GIT_DIR to fetch from a mirror or a clone)"
    return Verdict(
        "install",
        "env",
        error=f"the TFLM library at {ref.id} ({ref.value}) is not fetched: run `{command}`"
        f"{hint}, or `{every}` for every ref of the emulated axis",
        category=NOT_FETCHED,
    )


def run_emu_cell(
    axes: Axes,
    model: Model,
    converter: Converter,
    board: str,
    ref: Pinned,
    out: Path,
    places: Places,
    *,
    python: Path | None = None,
    timeout: float | None = None,
) -> CellResult:
    """Runs one emulated cell and writes its result to ``out``; the cell's own failures are
    its outcome, never an exception. ``python`` runs the suite (default: this interpreter)."""
    result = emu_cell_base(model, converter, board, ref)
    write_result(provisional(result), out)
    work = places.work / result.cell_id.replace(" ", "-")
    work.mkdir(parents=True, exist_ok=True)
    result.logs["work"] = str(work)

    library = find_library(ref.value)
    if library is None:
        return finish(result, not_fetched(ref), out)
    result.details["library"] = {"commit": library.commit, "date": library.date, "url": library.url}

    artifact = convert(axes, model, converter, places.artifacts, venv_root=places.venvs)
    result.details["convert"] = convert_summary(artifact.info)
    result.logs["convert"] = str(artifact.dir / "convert.log")
    if artifact.verdict is not None:
        return finish(result, artifact.verdict, out)

    evidence = run_suite(
        python or Path(sys.executable),
        work,
        board=QEMU_PREFIX + board,
        model=artifact.model,
        vectors=artifact.vectors,
        reference=model.reference,
        timeout=timeout or axes.cell_timeout_s,
        env={TFLM_REF_VAR: ref.value},
    )
    keep_evidence(result, evidence, work)
    return finish(result, evidence.verdict, out)

"""The matrix as a GitHub Actions workflow that fans cells out across self-hosted runners.

Generated from the axes file (``tflm-hil matrix ci --write``; ``--check`` fails when it is
stale, and a unit test runs the check), as tox.ini's environments are. One job per group of
cells that shares an environment: a simulated runtime x converter (``--model all``), an
emulated library ref x board, a hardware library ref x Arduino core x board (on a runner
labelled with the board, docs/ci-runner.md). Each job uploads its cells' JSON results as an
artifact; the ``report`` job downloads them all and ``tflm-hil matrix report`` folds them into
one page, then ``tflm-hil matrix gate`` judges them against the expectations
(harness/apps/matrix/expected.toml).
"""

from __future__ import annotations

import json
from pathlib import Path

from .axes import Axes

WORKFLOW = Path(".github") / "workflows" / "matrix-fanout.yml"
RESULTS = ".tflm-hil/matrix"

_HEADER = """\
# GENERATED from harness/apps/matrix/axes.toml by `tflm-hil matrix ci --write`: do not edit
# (edit the axes file and write it again; a unit test fails when this file is stale).
# docs/matrix.md.
# The compatibility matrix fanned out: one job per group of cells, on any free self-hosted
# runner (hardware jobs: on the runner labelled with the board); the report job folds every
# job's results into one page and gates them on harness/apps/matrix/expected.toml.
name: matrix-fanout

on:
  workflow_dispatch:
  schedule:
    - cron: "41 3 * * 1"

jobs:"""

_SETUP = """\
      - uses: actions/checkout@v4
      - name: Set up (Debian packages, .venv)
        run: ./dev setup"""


def _include(rows: list[dict[str, str]]) -> str:
    # JSON is YAML: one cell group per line keeps the diff of a new axis value to one line
    return "\n".join(f"          - {json.dumps(r, sort_keys=True)}" for r in rows)


def _job(name: str, runs_on: str, rows: list[dict[str, str]], run: str, timeout: int) -> str:
    artifact = f"cells-{name}-" + "-".join(f"${{{{ matrix.{k} }}}}" for k in sorted(rows[0]))
    return f"""
  {name}:
    runs-on: {runs_on}
    timeout-minutes: {timeout}
    strategy:
      fail-fast: false  # every cell's outcome is a result, a failing one too
      matrix:
        include:
{_include(rows)}
    steps:
{_SETUP}
      - name: cells
        run: {run} --dir {RESULTS}
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: {artifact}
          path: {RESULTS}/results/
          if-no-files-found: ignore
"""


def render_workflow(axes: Axes) -> str:
    jobs: list[str] = []
    needs: list[str] = []
    sim = sorted({(c.runtime.id, c.converter.id) for c in axes.sim_cells()})
    if sim:
        rows = [{"runtime": r, "converter": c} for r, c in sim]
        run = (
            ".venv/bin/tflm-hil matrix run --tflm-runtime ${{ matrix.runtime }} "
            "--converter ${{ matrix.converter }} --model all"
        )
        jobs.append(_job("sim", "[self-hosted, linux]", rows, run, 120))
        needs.append("sim")
    emu = sorted({(c.tflm_ref.id, c.board) for c in axes.emu_cells()})
    if emu:
        rows = [{"ref": r, "board": b} for r, b in emu]
        run = (
            ".venv/bin/tflm-hil matrix fetch && .venv/bin/tflm-hil matrix run "
            "--board qemu:${{ matrix.board }} --tflm-ref ${{ matrix.ref }} --model all"
        )
        jobs.append(_job("emu", "[self-hosted, linux]", rows, run, 180))
        needs.append("emu")
    hw = sorted({(c.tflm_ref.id, c.arduino_core.id, c.board) for c in axes.hw_cells()})
    if hw:
        rows = [{"ref": r, "core": c, "board": b} for r, c, b in hw]
        run = (
            ".venv/bin/tflm-hil matrix run --board ${{ matrix.board }} --tflm-ref "
            "${{ matrix.ref }} --arduino-core ${{ matrix.core }} --model all"
        )
        jobs.append(_job("hw", "[self-hosted, '${{ matrix.board }}']", rows, run, 180))
        needs.append("hw")
    report = f"""
  report:
    needs: [{", ".join(needs)}]
    if: always()
    runs-on: ubuntu-latest
    container: python:3.11-bookworm
    steps:
      - uses: actions/checkout@v4
      - name: tflm-hil (folding results needs no TensorFlow)
        run: python -m pip install -e .
      - uses: actions/download-artifact@v4
        with:
          pattern: cells-*
          path: cells
      - name: One page from every job's cells
        run: tflm-hil matrix report cells --out reports/matrix.html
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: matrix-report
          path: reports/matrix.html
      - name: Gate on harness/apps/matrix/expected.toml
        run: tflm-hil matrix gate cells
"""
    return _HEADER + "".join(jobs) + report


def is_current(path: Path, axes: Axes) -> bool:
    return path.is_file() and path.read_text(encoding="utf-8") == render_workflow(axes)

"""The matrix scaled out: cells side by side on one host with N-of-M progress, the CI workflow
that fans cell groups out across runners (generated from the axes file, kept in step), and the
report folding every job's downloaded artifact into one page."""

from __future__ import annotations

import threading
import time

import yaml

from harness.apps.matrix.axes import load_axes
from harness.apps.matrix.cli import main as matrix_main
from harness.apps.matrix.parallel import default_jobs, run_cells
from harness.apps.matrix.result import write_result
from harness.apps.matrix.workflow import WORKFLOW, render_workflow

from .conftest import REPO
from .test_matrix_report import cell


def test_cells_run_side_by_side_up_to_jobs_with_n_of_m_progress():
    running, most, lock = [0], [0], threading.Lock()

    def make(i: int):
        def run():
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.2)
            with lock:
                running[0] -= 1
            return cell(f"rt{i}", "prebuilt", "pass")

        return run

    lines: list[str] = []
    results = run_cells([make(i) for i in range(5)], jobs=2, report=lines.append)
    assert [r.row for r in results] == [f"rt{i}" for i in range(5)]  # the cells' order
    assert most[0] == 2  # side by side, never more than asked
    assert [line.split()[0] for line in lines] == [f"[{n}/5]" for n in range(1, 6)]
    assert all(": PASS" in line for line in lines)


def test_jobs_default_to_cpus_or_boards_never_more_than_cells():
    assert default_jobs(3, boards=1) == 1
    assert default_jobs(1) == 1
    assert 1 <= default_jobs(100) <= 100
    assert default_jobs(0) == 1


def test_workflow_is_generated_from_the_axes_and_in_step():
    axes = load_axes()
    flow_path = REPO / WORKFLOW
    assert matrix_main(["ci", "--check", "--workflow", str(flow_path)]) == 0, (
        "run: tflm-hil matrix ci --write"
    )
    flow = yaml.safe_load(flow_path.read_text())
    jobs = flow["jobs"]
    sim = {(r["runtime"], r["converter"]) for r in jobs["sim"]["strategy"]["matrix"]["include"]}
    assert sim == {(c.runtime.id, c.converter.id) for c in axes.sim_cells()}
    hw = jobs["hw"]
    assert len(hw["strategy"]["matrix"]["include"]) == len(
        {(c.tflm_ref.id, c.arduino_core.id, c.board) for c in axes.hw_cells()}
    )
    assert "${{ matrix.board }}" in hw["runs-on"]  # on the runner that has the board
    report = jobs["report"]
    assert set(report["needs"]) == {"sim", "emu", "hw"} and report["if"] == "always()"
    runs = [s.get("run", "") for s in report["steps"]]
    assert "tflm-hil matrix report cells --out reports/matrix.html" in runs


def test_workflow_check_fails_when_the_axes_change(tmp_path):
    axes = load_axes()
    stale = tmp_path / "flow.yml"
    stale.write_text(render_workflow(axes).replace('"tflm2401"', '"tflm2400"'))
    assert matrix_main(["ci", "--check", "--workflow", str(stale)]) == 1


def test_report_folds_the_artifacts_of_every_job_into_one_page(tmp_path, capsys):
    # actions/download-artifact puts each job's artifact in a directory of its own
    write_result(
        cell("tflm2401", "prebuilt", "degraded"), tmp_path / "cells" / "cells-sim-a" / "a.json"
    )
    write_result(cell("tflm2610", "tf221", "pass"), tmp_path / "cells" / "cells-sim-b" / "b.json")
    out = tmp_path / "matrix.html"
    assert matrix_main(["report", str(tmp_path / "cells"), "--out", str(out)]) == 0
    assert "(2 results)" in capsys.readouterr().out
    page = out.read_text()
    assert "tflm2401" in page and "tflm2610" in page

"""`pytest --fixtures` in a project that names no model: it lists the plugin's fixtures, each
with its docstring, and needs no model (it runs no test)."""

from __future__ import annotations

import re
import subprocess
import sys

from .conftest import REPO


def test_fixtures_listing_works_without_a_model_and_documents_every_fixture(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--fixtures", str(REPO / "tests_hil"),
         "-c", str(tmp_path / "pytest.ini"), "-p", "no:cacheprovider"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    sections = re.split(r"^-+ fixtures defined from (\S+) -+$", out.stdout, flags=re.M)
    ours = {name: body for name, body in zip(sections[1::2], sections[2::2], strict=True)
            if name.startswith(("harness", "tests_hil", "conftest"))}
    assert "harness.plugin.fixtures" in ours, out.stdout[-2000:]
    listed = {m for body in ours.values() for m in re.findall(r"^(\w+)\b.* -- ", body, re.M)}
    for name in ("hil_config", "hil_model", "hil_vectors", "hil_gates", "board", "dut",
                 "validation", "device_latency", "pin_compat", "hil_record"):
        assert name in listed, name
    undocumented = [name for name, body in ours.items() if "no docstring available" in body]
    assert undocumented == [], undocumented

"""`tflm-hil --version`: the installed distribution's version, as pip reports it."""

from __future__ import annotations

from importlib.metadata import version

from harness.cli import main


def test_version_prints_the_installed_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"tflm-hil {version('tflm-hil')}"


def test_usage_names_the_version_option(capsys):
    assert main([]) == 2
    assert "--version" in capsys.readouterr().out

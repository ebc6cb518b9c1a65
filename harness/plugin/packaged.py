"""The packaged HIL suite in a user's project. ``pytest --model M`` (or a model named by the
ini's ``hil_model``) collects the suite that ships in the package, ``harness.suite``, beside
the project's own tests, when no test path is named on the command line: the same checks as
the repository's ``tests_hil``. Naming paths (``pytest tests/``) runs those alone; add the
suite with ``pytest --pyargs harness.suite tests``. The ini's ``hil_suite = false`` turns the
automatic collection off (the repository does: its ``tests_hil`` re-exports the suite).

pytest decides its rootdir and ini file before any plugin adds its options, so the value of
``--model PATH`` counts as a path there (pytest#8846): with no test path named, an ini file
above the model, not the project's, configures the run. The header says so and how to avoid
it (``--model=PATH``) when that changed anything."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SUITE = "harness.suite"  # found, not imported: the suite is a layer above the plugin
_added = pytest.StashKey[Path]()
_problem = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "hil_suite",
        "collect the packaged HIL suite (harness.suite) when a model is named and no test "
        "path is given [true]",
        type="bool",
        default=True,
    )


def suite_dir() -> Path:
    """The packaged suite's folder (site-packages/harness/suite, or the checkout's)."""
    spec = importlib.util.find_spec(SUITE)
    assert spec is not None and spec.submodule_search_locations, SUITE
    return Path(next(iter(spec.submodule_search_locations)))


def wants_suite(config: pytest.Config) -> bool:
    """A model is named, no test path is, and the ini does not turn the suite off."""
    if config.args_source is pytest.Config.ArgsSource.ARGS or not config.getini("hil_suite"):
        return False
    return bool(config.option.model or config.getini("hil_model"))


# the files pytest reads its configuration from, and the section that makes each one count
INI_FILES = {"pytest.ini": "", ".pytest.ini": "", "pyproject.toml": "[tool.pytest",
             "tox.ini": "[pytest]", "setup.cfg": "[tool:pytest]"}


def local_ini(folder: Path) -> Path | None:
    """The ini file pytest would read in ``folder`` (not looking further up)."""
    for name, section in INI_FILES.items():
        ini = folder / name
        if ini.is_file() and section in ini.read_text(encoding="utf-8", errors="replace"):
            return ini
    return None


def misconfigured(config: pytest.Config) -> str | None:
    """What pytest configured from the paths of options (``--model PATH``) rather than from
    the folder it runs in, if that changed anything: an ini file found from the model's
    folder, or this folder's left unread. None when the run is configured from here."""
    if config.args_source is pytest.Config.ArgsSource.ARGS:  # test paths: pytest's own rules
        return None
    here, used = config.invocation_params.dir, config.inipath
    local = local_ini(here)
    fix = ("give the paths with '=' (--model=PATH, --vectors=PATH, ...) to configure it from "
           "this folder (pytest#8846)")
    if used is None:
        if local is None:
            return None
        return (f"pytest did not read {local}: it looked for an ini file from the paths of the "
                f"options (--model PATH); {fix}")
    if used == local or (local is None and (used.parent == here or used.parent in here.parents)):
        return None
    return (f"pytest configured this run from {used}, found from the paths of the options "
            f"(--model PATH); {fix}")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if wants_suite(config):
        config.stash[_added] = suite_dir()
        config.args = [*config.args, str(config.stash[_added])]
    if (problem := misconfigured(config)) is not None:  # in the warnings summary, -q or not
        config.stash[_problem] = problem
        config.issue_config_time_warning(pytest.PytestConfigWarning(f"tflm-hil: {problem}"), 2)


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = []
    if _added in config.stash:
        lines.append(f"tflm-hil: the packaged HIL suite ({SUITE}, {config.stash[_added]})")
    if _problem in config.stash:
        lines.append(f"tflm-hil: WARNING: {config.stash[_problem]}")
    return lines

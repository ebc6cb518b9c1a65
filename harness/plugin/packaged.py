"""The packaged HIL suite in a user's project. ``pytest --model M`` (or a model named by the
ini's ``hil_model``) collects the suite that ships in the package, ``harness.suite``, beside
the project's own tests, when no test path is named on the command line: the same checks as
the repository's ``tests_hil``. Naming paths (``pytest tests/``) runs those alone; add the
suite with ``pytest --pyargs harness.suite tests``. The ini's ``hil_suite = false`` turns the
automatic collection off (the repository does: its ``tests_hil`` re-exports the suite)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SUITE = "harness.suite"  # found, not imported: the suite is a layer above the plugin
_added = pytest.StashKey[Path]()


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


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if wants_suite(config):
        config.stash[_added] = suite_dir()
        config.args = [*config.args, str(config.stash[_added])]


def pytest_report_header(config: pytest.Config) -> list[str]:
    if _added not in config.stash:
        return []
    return [f"tflm-hil: the packaged HIL suite ({SUITE}, {config.stash[_added]})"]

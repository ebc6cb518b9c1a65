"""Re-exports harness/suite/test_properties.py: pytest tests_hil runs the packaged suite."""

from harness.suite.test_properties import *  # noqa: F403

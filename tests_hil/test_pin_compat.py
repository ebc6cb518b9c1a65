"""Re-exports harness/suite/test_pin_compat.py: pytest tests_hil runs the packaged suite."""

from harness.suite.test_pin_compat import *  # noqa: F403

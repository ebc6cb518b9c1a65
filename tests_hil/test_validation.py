"""Re-exports harness/suite/test_validation.py: pytest tests_hil runs the packaged suite."""

from harness.suite.test_validation import *  # noqa: F403

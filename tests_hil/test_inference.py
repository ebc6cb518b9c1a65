"""Re-exports harness/suite/test_inference.py: pytest tests_hil runs the packaged suite."""

from harness.suite.test_inference import *  # noqa: F403

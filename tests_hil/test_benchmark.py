"""Re-exports harness/suite/test_benchmark.py: pytest tests_hil runs the packaged suite."""

from harness.suite.test_benchmark import *  # noqa: F403

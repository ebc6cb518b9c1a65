"""Re-exports harness/suite/test_handshake.py: pytest tests_hil runs the packaged suite."""

from harness.suite.test_handshake import *  # noqa: F403

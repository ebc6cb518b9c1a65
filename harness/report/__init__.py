"""Report content: plots and escaped HTML fragments for pytest-html, from the run's figures."""

"""The HIL suite: the checks every model gets on a device. pytest collects it with
``pytest --pyargs harness.suite`` (installed or in a checkout); the repository's ``tests_hil/``
re-exports it, so ``pytest tests_hil`` runs the same tests. Nothing imports this package."""

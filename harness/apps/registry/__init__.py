"""The model registry: content-addressed models, validation on a board, promotion gates,
rollback, model cards, and backup/restore as one verified archive."""

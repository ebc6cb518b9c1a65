"""The results store: every run, test outcome and figure, written as soon as it is known."""

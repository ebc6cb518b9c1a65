"""Benchmarks of the link: our protocol against its peers, side by side on the same twin."""

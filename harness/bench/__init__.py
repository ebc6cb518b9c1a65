"""Benchmarks: the link (our protocol against its peers, side by side on the same twin) and
the fidelity of the twin's latency estimate against published on-device figures."""

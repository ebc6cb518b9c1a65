"""The benchmark applications (``python -m harness.bench.<name>``): each measures the harness
itself side by side with a peer and prints its figures (``link``: our protocol against MLPerf
Tiny's; ``fidelity``: the twin's latency estimate against published on-device figures). They
sit in the top layer, beside ``harness.apps``: they use the device side and the model side,
and nothing imports them."""

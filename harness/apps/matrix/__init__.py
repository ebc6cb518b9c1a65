"""The compatibility matrix: axes as data, one isolated and classified outcome per cell,
expectations to gate on changes, and an HTML grid of the results (docs/matrix.md)."""

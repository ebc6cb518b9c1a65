"""The latency cost model: per-layer instructions of the board's library (counted on the
emulated board), times cycles per instruction per CPU (calibrated on published on-device
figures). The twin's latency comes from here; docs/latency.md explains it."""

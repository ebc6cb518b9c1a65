"""The simulated twin: the firmware core compiled for the host, TFLM host kernels behind it."""

"""tflm-hil: hardware-in-the-loop tests for TensorFlow Lite Micro models on Arduino boards."""

__version__ = "0.1.0"

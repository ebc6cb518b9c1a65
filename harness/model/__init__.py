"""Model artifacts: the .tflite under test, its vectors and its references."""

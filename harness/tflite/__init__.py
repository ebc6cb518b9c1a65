"""The model under test as files: the .tflite reader, quantisation, test vectors, the arena."""

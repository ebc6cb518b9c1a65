"""The model side: float references (Keras, float .tflite), conversion to int8, the cache."""

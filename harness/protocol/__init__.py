"""Host side of the tflm-hil device protocol (docs/protocol.md)."""

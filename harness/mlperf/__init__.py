"""MLPerf Tiny DUTs as tflm-hil boards (``--board=mlperf:PORT``), and the ``tflm-hil mlperf``
command (MLPerf Tiny datasets as our test vectors)."""

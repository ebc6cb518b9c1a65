"""The twin's device personalities, one module each: ours (hil), MLPerf Tiny's text protocol
(mlperf), the data forwarder (forwarder). Each drives its firmware module's C code through
ctypes; none imports the host or another personality."""

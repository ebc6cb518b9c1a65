"""The tflm-hil pytest plugin: hooks (options, failure classification, reports), fixtures,
the session configuration, the results recorder and the report state."""

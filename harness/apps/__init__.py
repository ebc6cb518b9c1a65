"""The applications over the plugin and the library: the model loop (pipeline, registry),
the monitor and the compatibility matrix."""

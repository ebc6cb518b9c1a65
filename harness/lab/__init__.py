"""Remote boards on labgrid: places as boards (``--board=labgrid:PLACE``), flashing through the
exporter, and a loopback lab (coordinator + exporter on this host) for tests and trials."""

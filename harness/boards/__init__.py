"""Boards as resources: the catalog (data), the attached ports, the locks, and the driver
interface every board kind implements (``driver.BoardDriver``; the kinds: ``harness.pio``,
``harness.sim``, ``harness.emu``)."""

"""The emulated board (``qemu:<id>``): the board's firmware image, built for its CPU with Debian's
Arm toolchain against the pinned TFLM library, run on QEMU with instruction counting
(docs/emulated.md)."""

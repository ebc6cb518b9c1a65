"""Real boards through PlatformIO: the rig, the image builder, the USB flasher, the driver."""

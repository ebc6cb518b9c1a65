"""PlatformIO pre-build script of the tflm-hil firmware; SCons runs it before anything compiles.

1. Stops a build whose version pins came out empty: platformio.ini reads them from
   HIL_TFLM_REF and HIL_ARDUINO_CORE, and PlatformIO turns an unset variable into "".
   A project copy has its pins written in (so plain `pio run` builds it); its image hash
   covers them, so a variable set to another value stops the build too (regenerate instead).
2. Leaves out the parts of the Arduino TFLM library this firmware never uses: its audio
   peripherals (which #error on any board but the Nano 33 BLE) and test_over_serial.
"""

import fnmatch
import os
import sys

PIN_OPTIONS = (("tflm_ref", "HIL_TFLM_REF"), ("arduino_core", "HIL_ARDUINO_CORE"))
UNUSED_LIBRARY_SOURCES = ("*/src/peripherals/*", "*/src/test_over_serial/*")
# micro_time.cpp takes its clock from here: the one peripherals file TFLM needs.
KEPT_LIBRARY_SOURCES = ("utility_arduino.cpp",)


def missing_pins(config):
    """Names of the pin variables whose values resolved to nothing."""
    return [var for option, var in PIN_OPTIONS if not (config.get("hil", option) or "").strip()]


def contradicted_pins(config, environ):
    """(variable, its value, the copy's pin) for each variable set to another value."""
    out = []
    for option, var in PIN_OPTIONS:
        wanted, pinned = (environ.get(var) or "").strip(), (config.get("hil", option) or "").strip()
        if wanted and pinned and wanted != pinned:
            out.append((var, wanted, pinned))
    return out


def keep_source(node):
    """Build middleware: the node to compile, or None to leave it out."""
    path = node.srcnode().get_path()
    if any(fnmatch.fnmatch(path, pattern) for pattern in UNUSED_LIBRARY_SOURCES):
        return node if node.name in KEPT_LIBRARY_SOURCES else None
    return node


def configure(env):
    missing = missing_pins(env.GetProjectConfig())
    if missing:
        sys.stderr.write(
            f"Error: tflm-hil version pins are unset: {', '.join(missing)}. Build through "
            "tflm-hil (it exports them), or export them yourself; the defaults are [hil] "
            "default_* in platformio.ini.\n"
        )
        env.Exit(1)
    for var, wanted, pinned in contradicted_pins(env.GetProjectConfig(), os.environ):
        sys.stderr.write(
            f"Error: {var}={wanted}, but this project copy is pinned to {pinned} (its image "
            f"hash covers the pin): regenerate it with {var}={wanted} tflm-hil firmware "
            "generate ..., or unset the variable.\n"
        )
        env.Exit(1)
    env.AddBuildMiddleware(keep_source)


if "Import" in globals():  # run by SCons, not imported by a test
    Import("env")  # noqa: F821 - SCons puts Import() and env in this script's globals
    configure(env)  # noqa: F821

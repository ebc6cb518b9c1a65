"""Failures, each classified: an infrastructure fault is never a pass nor a model failure.

Categories, the outcomes the report and the matrix give: ``build``, ``flash``, ``link``,
``timeout`` and ``device`` are infrastructure; ``config`` is bad input from the user;
``model`` is a model the device refused (an op or version the runtime rejects).
"""

from __future__ import annotations


class HilError(Exception):
    """Base of every tflm-hil failure; ``category`` classifies it in reports and exit codes."""

    category = "infra"


class ConfigError(HilError):
    """Bad input from the user: the message names the problem and the fix."""

    category = "config"


class BuildError(HilError):
    category = "build"


class FlashError(HilError):
    category = "flash"


class LinkError(HilError):
    """The byte link failed: port missing or vanished, serial I/O error, peer closed."""

    category = "link"


class DeviceTimeout(HilError):
    """The device did not answer within the bound; carries what was received so far."""

    category = "timeout"


class BoardBusy(HilError):
    """Another process held the board for longer than this one would wait."""

    category = "timeout"


class DeviceRebooted(HilError):
    category = "device"

    def __init__(self, old_boot_id: int, new_boot_id: int | None):
        new = "unknown" if new_boot_id is None else f"{new_boot_id:#010x}"
        super().__init__(
            f"the device rebooted (boot id {old_boot_id:#010x} -> {new}): "
            "a watchdog, brown-out or crash reset it; its state was lost"
        )
        self.old_boot_id = old_boot_id
        self.new_boot_id = new_boot_id


class DeviceErrorReply(HilError):
    """The device answered with a typed error frame."""

    category = "device"

    def __init__(self, code: int, name: str, detail: int, reason: str, request: str):
        super().__init__(
            f"device error {name} (code {code}) to {request}: {reason} [detail={detail}]"
        )
        self.code = code
        self.name = name
        self.detail = detail
        self.reason = reason


class ModelRejected(HilError):
    """The device could not initialise the model (unsupported op, op version, arena too small)."""

    category = "model"


# Exit status of a run whose failures include infrastructure faults: the model was not judged
# (pytest's own codes stop at 5). The plugin sets it; the matrix, registry and monitor read it.
EXIT_INFRA = 6

# Failures that leave the model unjudged: never a pass, never a model failure.
INFRA_CATEGORIES = frozenset({"infra", "build", "flash", "link", "timeout", "device"})

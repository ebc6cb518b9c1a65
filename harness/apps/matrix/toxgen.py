"""tox.ini's matrix environments, generated from the axes file.

The block between the BEGIN and END markers is ours; the rest of tox.ini is hand-written.
``tflm-hil matrix tox --write`` rewrites the block, ``--check`` fails when it is stale (a unit
test runs the check).
"""

from __future__ import annotations

from pathlib import Path

from .axes import Axes

BEGIN = "# ---- BEGIN matrix environments: generated from harness/apps/matrix/axes.toml by `tflm-hil matrix tox --write`; do not edit ----"  # noqa: E501
END = "# ---- END matrix environments ----"
RESULTS = "{toxinidir}/.tflm-hil/matrix"


def _factors(ids: list[str]) -> str:
    return "{" + ",".join(ids) + "}"


def render_block(axes: Axes) -> str:
    conv_ids = [c.id for c in axes.converters]
    rt_ids = [r.id for r in axes.runtimes]
    lines = [BEGIN, ""]

    lines += [
        f"[testenv:convert-{_factors(conv_ids)}]",
        "description = matrix: convert the models with one converter, in its own environment",
        "labels = matrix-sim",
        "deps =",
        f"    {axes.reference.requirement}",
    ]
    for c in axes.converters:
        if c.tensorflow:
            lines.append(f"    {c.id}: tensorflow-cpu=={c.tensorflow}")
        lines += [f"    {c.id}: {pin}" for pin in c.pins]
    lines.append("set_env =")
    lines += [f"    {c.id}: HIL_MATRIX_CONVERTER = {c.id}" for c in axes.converters]
    lines += [
        f"commands = tflm-hil matrix convert --in-env --converter {{env:HIL_MATRIX_CONVERTER}} "
        f"--dir {RESULTS}",
        "",
    ]

    lines += [
        f"[testenv:sim-{_factors(rt_ids)}-{_factors(conv_ids)}]",
        "description = matrix: the HIL suite on the twin with one tflite-micro runtime, on the "
        "models one converter made",
        "labels = matrix-sim",
        "depends = convert-*",
        "deps =",
        f"    tensorflow=={axes.reference_tensorflow}",
    ]
    for r in axes.runtimes:
        lines.append(f"    {r.id}: {r.requirement}")
        lines += [f"    {r.id}: {pin}" for pin in r.pins]
    lines.append("set_env =")
    lines += [f"    {r.id}: HIL_MATRIX_RUNTIME = {r.id}" for r in axes.runtimes]
    lines += [f"    {c.id}: HIL_MATRIX_CONVERTER = {c.id}" for c in axes.converters]
    lines += [
        "commands = tflm-hil matrix run --in-env --tflm-runtime {env:HIL_MATRIX_RUNTIME} "
        f"--converter {{env:HIL_MATRIX_CONVERTER}} --model all --dir {RESULTS}",
        "",
    ]

    hw = axes.hardware
    if hw.tflm_refs and hw.arduino_cores and hw.boards:
        refs = [t.id for t in hw.tflm_refs]
        cores = [a.id for a in hw.arduino_cores]
        lines += [
            f"[testenv:hw-{_factors(refs)}-{_factors(cores)}-{_factors(list(hw.boards))}]",
            "description = matrix: the HIL suite on a real board with one TFLM library ref and "
            "one Arduino core (PlatformIO reads HIL_TFLM_REF and HIL_ARDUINO_CORE)",
            "labels = matrix-hw",
            "extras = dev, pio, tf",
            "set_env =",
        ]
        lines += [f"    {t.id}: HIL_TFLM_REF = {t.value}" for t in hw.tflm_refs]
        lines += [f"    {a.id}: HIL_ARDUINO_CORE = {a.value}" for a in hw.arduino_cores]
        lines += [f"    {b}: HIL_MATRIX_BOARD = {b}" for b in hw.boards]
        lines += [
            "commands = tflm-hil matrix run --board {env:HIL_MATRIX_BOARD} "
            "--tflm-ref {env:HIL_TFLM_REF} --arduino-core {env:HIL_ARDUINO_CORE} --model all "
            f"--dir {RESULTS}",
            "",
        ]

    lines += _emulated(axes)
    lines += [
        "[testenv:matrix-report]",
        "description = matrix: fold the cell results into reports/matrix.html and gate them "
        "on harness/apps/matrix/expected.toml",
        "labels = matrix-sim, matrix-hw, matrix-emu",
        "depends = convert-*, sim-*, hw-*, emu-*",
        "commands =",
        f"    tflm-hil matrix report --dir {RESULTS} --out {{toxinidir}}/reports/matrix.html",
        f"    tflm-hil matrix gate --dir {RESULTS}",
        "",
        END,
    ]
    return "\n".join(lines)


def _emulated(axes: Axes) -> list[str]:
    """One environment per library ref and emulated board; it runs every model x converter of
    the emulated axis (the converter steps in the environment itself: it has the reference
    runtime and TensorFlow)."""
    emu = axes.emulated
    if not (emu.tflm_refs and emu.boards and emu.models):
        return []
    refs = [t.id for t in emu.tflm_refs]
    lines = [
        f"[testenv:emu-{_factors(refs)}-{_factors(list(emu.boards))}]",
        "description = matrix: the HIL suite on an emulated board (QEMU) with the TFLM library "
        "at one ref (fetched first: tflm-hil matrix fetch)",
        "labels = matrix-emu",
        "deps =",
        f"    {axes.reference.requirement}",
        f"    tensorflow-cpu=={axes.reference_tensorflow}",
        "set_env =",
    ]
    lines += [f"    {t.id}: HIL_TFLM_REF = {t.value}" for t in emu.tflm_refs]
    lines += [f"    {b}: HIL_MATRIX_BOARD = qemu:{b}" for b in emu.boards]
    lines += [
        "commands = tflm-hil matrix run --board {env:HIL_MATRIX_BOARD} "
        f"--tflm-ref {{env:HIL_TFLM_REF}} --model all --dir {RESULTS}",
        "",
    ]
    return lines


def splice(text: str, block: str) -> str:
    """tox.ini's text with its generated block replaced (or appended)."""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        return head + block + tail
    return text.rstrip("\n") + "\n\n" + block + "\n"


def is_current(tox_ini: Path, axes: Axes) -> bool:
    text = tox_ini.read_text(encoding="utf-8")
    return splice(text, render_block(axes)) == text

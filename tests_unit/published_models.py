"""Published TFLM models, taken at test time from the TFLM library's own repository: its
examples hold person detection (a MobileNet, 300 KB) and micro speech (keyword spotting,
18 KB) as C arrays. They are read from the fetched library's git history (``tflm-hil firmware
fetch``; the blobs come from the repository it was fetched from) and never stored here."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from harness.firmware.library import LibraryCheckout

SOURCES = {
    "person_detection": "examples/person_detection/person_detect_model_data.cpp",
    "micro_speech": "examples/micro_speech/micro_features_model.cpp",
}
_ARRAY = re.compile(r"unsigned char \w+\[\]\s*=\s*\{([^}]*)\}", re.S)


def published_model(checkout: LibraryCheckout, name: str, out_dir: Path) -> Path | None:
    """The model as a .tflite in ``out_dir``, or None when the repository cannot supply it."""
    run = subprocess.run(
        ["git", "show", f"{checkout.commit}:{SOURCES[name]}"],
        cwd=checkout.root, capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    m = _ARRAY.search(run.stdout) if run.returncode == 0 else None
    if m is None:
        return None
    path = out_dir / f"{name}.tflite"
    path.write_bytes(bytes(int(v, 16) for v in re.findall(r"0x([0-9a-fA-F]{2})", m.group(1))))
    return path

"""Published TFLM models, taken at test time from the TFLM library's own repository: its
examples hold person detection (a MobileNet, 300 KB) and micro speech (keyword spotting,
18 KB) as C arrays. They are read from the fetched library's git history (``tflm-hil firmware
fetch``; the blobs come from the repository it was fetched from) and never stored here."""

from __future__ import annotations

from pathlib import Path

from harness.bench.published import c_array_bytes, git_show
from harness.firmware.library import LibraryCheckout

SOURCES = {
    "person_detection": "examples/person_detection/person_detect_model_data.cpp",
    "micro_speech": "examples/micro_speech/micro_features_model.cpp",
}


def published_model(checkout: LibraryCheckout, name: str, out_dir: Path) -> Path | None:
    """The model as a .tflite in ``out_dir``, or None when the repository cannot supply it."""
    source = git_show(checkout.root, checkout.commit, SOURCES[name])
    data = c_array_bytes(source) if source is not None else None
    if data is None:
        return None
    path = out_dir / f"{name}.tflite"
    path.write_bytes(data)
    return path

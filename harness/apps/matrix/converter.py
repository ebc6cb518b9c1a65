"""The converter side of a cell: one artifact per model and converter, made once and reused.

An artifact directory holds ``model.tflite``, ``vectors.npz``, ``golden.npz`` and
``convert.json``: how the conversion ended (``status`` ok, or a cell outcome with its error)
and what it produced (op versions, which ops are per-channel, the versions involved).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from ...proc import run_child
from .axes import Axes, Converter, Model
from .child import read_report, with_stderr
from .classify import Verdict, classify_convert, classify_env_failure
from .venvs import EnvSpec, current_env_matches, ensure_env, harness_source


@dataclass(frozen=True)
class Artifact:
    dir: Path
    verdict: Verdict | None  # None: converted; else the cell's outcome
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> Path:
        return self.dir / "model.tflite"

    @property
    def vectors(self) -> Path | None:
        p = self.dir / "vectors.npz"
        return p if p.is_file() else None

    @property
    def golden(self) -> Path | None:
        p = self.dir / "golden.npz"
        return p if p.is_file() else None


def artifact_dir(root: Path, model: Model, converter: Converter) -> Path:
    return root / model.id / converter.id


def inputs_digest(model: Model, converter: Converter, reference_version: str) -> str:
    """What the artifact depends on: a change to any of them converts again."""
    h = hashlib.sha256()
    for p in (model.keras, model.calibration, model.tflite, model.vectors):
        h.update(p.read_bytes() if p is not None and p.is_file() else b"-")
    h.update(repr((converter, reference_version)).encode())
    h.update((Path(__file__).parent / "convert_step.py").read_bytes())
    return h.hexdigest()[:16]


def converter_requirements(axes: Axes, converter: Converter) -> list[str]:
    reqs = [axes.reference.requirement, *converter.pins]
    if converter.tensorflow:
        reqs.insert(0, f"tensorflow-cpu=={converter.tensorflow}")
    return reqs


def load_artifact(root: Path, model: Model, converter: Converter) -> Artifact | None:
    d = artifact_dir(root, model, converter)
    try:
        info = json.loads((d / "convert.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    verdict = None
    if info.get("status") != "ok":
        verdict = Verdict(
            str(info.get("status", "crash")),
            str(info.get("stage", "convert")),  # env: the converter's environment failed
            gate=str(info.get("gate", "")),
            error=str(info.get("error", "")),
            category=str(info.get("category", "")),
        )
    return Artifact(d, verdict, info)


def convert(
    axes: Axes,
    model: Model,
    converter: Converter,
    root: Path,
    *,
    python: Path | None = None,
    venv_root: Path | None = None,
    reuse: bool = True,
) -> Artifact:
    """Makes (or reuses) the artifact. ``python``: run in that interpreter (tox gives one);
    else the current one when it has the converter's versions, else a venv made for them."""
    d = artifact_dir(root, model, converter)
    d.mkdir(parents=True, exist_ok=True)
    # cells run in parallel (tox -p) may need one artifact: one converts, the others reuse it
    with FileLock(f"{d}.lock"):
        return _convert(axes, model, converter, root, d, python, venv_root, reuse)


def _convert(
    axes: Axes,
    model: Model,
    converter: Converter,
    root: Path,
    d: Path,
    python: Path | None,
    venv_root: Path | None,
    reuse: bool,
) -> Artifact:
    digest = inputs_digest(model, converter, axes.reference.version)
    existing = load_artifact(root, model, converter)
    if reuse and existing is not None and existing.info.get("inputs") == digest:
        return existing
    for stale in ("model.tflite", "vectors.npz", "golden.npz", "convert.json", "step.stderr"):
        (d / stale).unlink(missing_ok=True)
    info: dict[str, Any] = {
        "model": model.id,
        "converter": converter.id,
        "tensorflow": converter.tensorflow,
        "per_channel_dense": converter.per_channel_dense,
        "inputs": digest,
        "started": time.time(),
    }
    reqs = converter_requirements(axes, converter)
    if python is None:
        if current_env_matches([axes.reference.requirement]) and _has_tensorflow(converter):
            python = Path(sys.executable)
        else:
            env = ensure_env(
                EnvSpec(f"conv-{converter.id}", tuple(reqs), harness_source()),
                venv_root or root.parent / "venvs",
            )
            if env.python is None:
                return _finish(d, info, classify_env_failure(reqs, env.output))
            python = env.python
    cmd = [str(python), "-m", "harness.apps.matrix.convert_step", "--out", str(d)]
    cmd += ["--report", str(d / "step.json")]
    if model.keras is not None:
        cmd += ["--keras", str(model.keras), "--calibration", str(model.calibration)]
        if not converter.per_channel_dense:
            cmd.append("--no-per-channel-dense")
    else:
        cmd += ["--tflite", str(model.tflite)]
    if model.vectors is not None:
        cmd += ["--vectors", str(model.vectors)]
    env_vars = {**os.environ, "PYTHONFAULTHANDLER": "1"}
    run = run_child(
        cmd, log=d / "convert.log", timeout=axes.convert_timeout_s, env=env_vars
    )
    run = with_stderr(run, d / "step.json")
    report = read_report(d / "step.json")
    info.update({k: v for k, v in (report or {}).items() if k not in ("ok", "stage")})
    info["python"] = str(python)
    return _finish(d, info, classify_convert(run, report))


def _has_tensorflow(converter: Converter) -> bool:
    if converter.tensorflow is None:
        return True
    return current_env_matches([f"tensorflow-cpu=={converter.tensorflow}"]) or current_env_matches(
        [f"tensorflow=={converter.tensorflow}"]
    )


def _finish(d: Path, info: dict[str, Any], verdict: Verdict | None) -> Artifact:
    if verdict is None:
        info["status"] = "ok"
    else:
        info.update(
            status=verdict.status,
            stage=verdict.stage,
            gate=verdict.gate,
            error=verdict.error,
            category=verdict.category,
        )
    info["finished"] = time.time()
    (d / "convert.json").write_text(json.dumps(info, indent=2, default=str), encoding="utf-8")
    return Artifact(d, verdict, info)

"""Model cards and the changelog, written for every promoted version (Markdown).

A card says what the model is (data, preprocessing, training), how it did on the host and
on the device (figures marked *estimated* when they come from the twin's cost model, *emulated*
when QEMU counted them), its
sizes and versions, and what changed since the model it replaced.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ... import atomic
from ...metrics.regression import FigureChange
from ...provenance import Provenance
from .store import ModelEntry, Registry

if TYPE_CHECKING:
    from .validate import ValidationRun


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def _fmt(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _data_sha256(training: dict[str, Any]) -> str | None:
    """The training data's hash: the raw collected data's when recorded, else the processed."""
    data = training.get("data", {})
    return data.get("raw_sha256") or data.get("sha256")


def _differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    diff = [f"{k} {_fmt(old.get(k))} -> {_fmt(new.get(k))}"
            for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    return ", ".join(diff) if diff else "unchanged"


def what_changed(entry: ModelEntry, previous: ModelEntry | None,
                 changes: list[FigureChange]) -> list[str]:
    if previous is None:
        return ["first promoted model on this board"]
    out = []
    cur_t, old_t = entry.training, previous.training
    cur_data, old_data = _data_sha256(cur_t), _data_sha256(old_t)
    out.append("training data: " + ("unchanged" if cur_data == old_data else
                                    f"changed ({str(old_data)[:12]} -> {str(cur_data)[:12]})"))
    cur_p = entry.files.get("preprocess")
    old_p = previous.files.get("preprocess")
    same = (cur_p.sha256 if cur_p else None) == (old_p.sha256 if old_p else None)
    out.append("preprocessing: " + ("unchanged" if same else "changed"))
    out.append("training parameters: "
               + _differences(old_t.get("params", {}), cur_t.get("params", {})))
    out.append("versions: " + _differences(previous.versions, entry.versions))
    size_old = previous.files["model"].bytes
    size_new = entry.files["model"].bytes
    out.append(f"model size: {size_old} -> {size_new} bytes ({size_new - size_old:+d})")
    ops_old = set(previous.conversion.get("ops", {}))
    ops_new = set(entry.conversion.get("ops", {}))
    if ops_old != ops_new:
        out.append(f"ops: added {sorted(ops_new - ops_old)}, removed {sorted(ops_old - ops_new)}")
    out.extend(c.describe("the previous model") for c in changes if c.changed)
    unchanged = [c.name for c in changes if not c.changed]
    if unchanged:
        out.append(f"unchanged figures: {', '.join(unchanged)}")
    return out


def model_card(entry: ModelEntry, val: ValidationRun | None, previous: ModelEntry | None,
               changes: list[FigureChange], board: str, *, note: str = "") -> str:
    t, c = entry.training, entry.conversion
    lines = [f"# Model card: {entry.short}", ""]
    if note:
        lines += [f"> {note}", ""]
    lines += [
        f"- model sha256: `{entry.sha256}`",
        f"- board: {board}",
        f"- registered: {_when(entry.created)}; card written: {_when(time.time())}",
        f"- source: `{entry.source}`", "",
        "## Data", "",
    ]
    data = t.get("data", {})
    if data:
        lines += [f"- training data sha256: `{_data_sha256(t)}`",
                  f"- rows: {data.get('train')} train, {data.get('test')} held-out",
                  f"- classes: {', '.join(t.get('classes', []))}",
                  f"- input shape: {t.get('input_shape')}"]
    else:
        lines.append("- not recorded (registered without a pipeline stamp)")
    pre = entry.files.get("preprocess")
    lines += [f"- preprocessing record sha256: `{pre.sha256 if pre else 'none'}`", "",
              "## Training", ""]
    if t:
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in t.get("params", {}).items())
        lines += [f"- architecture: {t.get('architecture')}, seed {t.get('seed')}",
                  f"- parameters: {params}",
                  f"- float accuracy (Keras, held-out): {_fmt(t.get('float_accuracy'))}"]
    else:
        lines.append("- not recorded")
    lines += ["", "## Host metrics (TFLM host runtime)", ""]
    for k, v in c.get("host_metrics", {}).items():
        lines.append(f"- {k}: {_fmt(v)}")
    lines += ["", f"## Device metrics ({board})", ""]
    if val is not None:
        lines.append(f"- validation run {val.run_id} in `{val.db}`, exit status {val.exit_status}")
        for name, fig in sorted(val.figures.items()):
            label = "" if fig.provenance is Provenance.MEASURED else f" *({fig.provenance})*"
            lines.append(f"- {name}: {fig}{label}")
        for k, v in sorted(val.device.items()):
            lines.append(f"- {k}: {v}")
    else:
        lines.append("- no validation recorded")
    lines += ["", "## Sizes", "", f"- model: {entry.files['model'].bytes} bytes",
              f"- MACs: {c.get('macs', 'unknown')}",
              f"- ops: {', '.join(f'{k} v{v}' for k, v in c.get('ops', {}).items())}", "",
              "## Versions", ""]
    for k, v in sorted(entry.versions.items()):
        lines.append(f"- {k}: {v}")
    lines += ["", "## What changed", ""]
    lines += [f"- {line}" for line in what_changed(entry, previous, changes)]
    return "\n".join(lines) + "\n"


def write_card_and_changelog(registry: Registry, entry: ModelEntry, card: str,
                             previous: ModelEntry | None, changes: list[FigureChange],
                             board: str) -> None:
    atomic.write_text(registry.root / "cards" / f"{entry.sha256}.md", card)
    lines = [f"Replaces {previous.short}.", ""] if previous is not None else []
    lines += [f"- {line}" for line in what_changed(entry, previous, changes)]
    add_changelog(registry, f"{entry.short} promoted on {board}", lines)


def add_changelog(registry: Registry, title: str, lines: list[str]) -> None:
    """Prepends a section (newest first) to the registry's CHANGELOG.md."""
    log = registry.root / "CHANGELOG.md"
    old = log.read_text(encoding="utf-8") if log.is_file() else "# Changelog of promoted models\n"
    head, _, rest = old.partition("\n")
    section = [f"## {_when(time.time())}: {title}", "", *lines]
    atomic.write_text(log, head + "\n\n" + "\n".join(section) + "\n" + rest)


def card_for(registry: Registry, entry: ModelEntry, board: str) -> str:
    from .validate import ValidationRun

    run: dict[str, Any] | None = entry.last_validation(board)
    return model_card(entry, ValidationRun.from_dict(run) if run else None, None, [], board)

"""How close the twin's latency estimate comes to published on-device figures.

``python -m harness.bench.fidelity`` prints one JSON object: ``pairs``, one per published
model/board figure (``published_latency.toml``) with the twin's estimate, the emulated board's
count where there is one, the figure and its source, their ratio, and the leave-one-out
estimate (the CPI fitted without that pair); then the instruction model against the emulated
counts. ``fit`` prints the constants of ``harness/data/cost_model.toml`` fitted again;
``fetch NAME`` fetches a model repository. docs/latency.md says how to read and recalibrate.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import BuildError, HilError
from ..firmware.pins import resolve_pins
from ..latency_model.estimate import Estimate, estimate
from ..latency_model.fit import CpiRow, fit_cpi, fit_instructions, leave_one_out
from ..latency_model.layers import layers
from ..latency_model.table import CostTable, cost_table
from ..tflite.model import TfliteModel
from .published import Pair, fetch_source, load_pairs, model_sources, obtain_model, source_urls

BAND = (0.67, 1.5)  # the target for estimate / published
FITTED_ROLES = ("calibration", "overhead")


@dataclass
class Models:
    """The published models that could be obtained, and why the others could not."""

    paths: dict[str, Path]
    missing: dict[str, str]

    @classmethod
    def obtain(cls, out_dir: Path) -> Models:
        paths, missing = {}, {}
        for name, src in model_sources().items():
            got = obtain_model(src, out_dir)
            if isinstance(got, Path):
                paths[name] = got
            else:
                missing[name] = got
        return cls(paths, missing)


def _within(ratio: float | None) -> bool:
    return ratio is not None and BAND[0] <= ratio <= BAND[1]


def cpi_rows(pairs: list[Pair], estimates: dict[str, Estimate]) -> list[CpiRow]:
    return [CpiRow(p.id, estimates[p.id].groups(), p.cycles) for p in pairs]


def pair_report(
    pairs: list[Pair], models: Models, table: CostTable, emulated: dict[str, int]
) -> list[dict]:
    """One entry per pair: estimated, emulated, published, ratio, leave-one-out."""
    estimates = {
        p.id: estimate(TfliteModel.load(models.paths[p.model]), p.cpu, table=table)
        for p in pairs
        if p.model in models.paths
    }
    loo: dict[str, float | None] = {}
    for cpu in {p.cpu for p in pairs}:
        fitted = [p for p in pairs if p.cpu == cpu and p.role in FITTED_ROLES and p.id in estimates]
        loo.update(leave_one_out(cpi_rows(fitted, estimates)))
    out = []
    for p in pairs:
        entry: dict = {"id": p.id, "model": p.model, "board": p.board, "cpu": p.cpu,
                       "role": p.role, "kernels": p.kernels, "published_ms": p.ms,
                       "source": p.source}  # fmt: skip
        if p.id not in estimates:
            entry["skipped"] = models.missing[p.model]
            out.append(entry)
            continue
        est = estimates[p.id]

        def ms(cycles: float, clock_khz: float = p.mhz * 1e3) -> float:
            return round(cycles / clock_khz, 4)

        entry["estimated_ms"] = ms(est.cycles)
        band = est.cycles_band()
        if band is not None:
            entry["estimated_band_ms"] = [ms(band[0]), ms(band[1])]
        if p.model in emulated:  # instructions at the pair's clock, as if one took one cycle
            entry["emulated_ms"] = ms(emulated[p.model])
        entry["ratio"] = round(est.cycles / p.cycles, 3)
        if p.role in FITTED_ROLES:
            predicted = loo.get(p.id)
            entry["leave_one_out_ms"] = None if predicted is None else ms(predicted)
            entry["leave_one_out_ratio"] = (
                None if predicted is None else round(predicted / p.cycles, 3)
            )
        out.append(entry)
    return out


def summary(entries: list[dict]) -> dict:
    """Pairs whose estimate and leave-one-out estimate both lie in the band; the
    cross-checks (not fitted: their ratio is out of sample already) apart."""
    fitted = [e for e in entries if "ratio" in e and e["role"] in FITTED_ROLES]
    both = [e for e in fitted if _within(e["ratio"]) and _within(e["leave_one_out_ratio"])]
    loo = [e["leave_one_out_ratio"] for e in fitted if e["leave_one_out_ratio"] is not None]
    return {
        "band": list(BAND),
        "pairs_estimated": len(fitted),
        "pairs_within_band_leave_one_out_included": len(both),
        "within": [e["id"] for e in both],
        "without_leave_one_out": [e["id"] for e in fitted if e["leave_one_out_ratio"] is None],
        "leave_one_out_ratio_range": [min(loo), max(loo)] if loo else None,
        "skipped": [e["id"] for e in entries if "skipped" in e],
        "crosschecks": {e["id"]: e.get("ratio") for e in entries if e["role"] == "crosscheck"},
        "checks": {
            e["id"]: e.get("ratio", e.get("skipped")) for e in entries if e["role"] == "check"
        },
    }


def instruction_report(paths: dict[str, Path], table: CostTable) -> list[dict]:
    """Each model's instruction estimate against the emulated count, and its estimated cycles
    against the emulated count (the twin's latency / the emulated board's, at one clock); and
    the estimate of a fit made without the model's own layers (how the instruction model
    generalises)."""
    from .emulated_counts import emulated_counts  # QEMU and the toolchain: only when asked

    models = {name: TfliteModel.load(p) for name, p in paths.items()}
    counts = {name: emulated_counts(m) for name, m in models.items()}
    samples = {name: list(zip(layers(m), (c for _, c in counts[name].ops), strict=True))
               for name, m in models.items()}  # fmt: skip
    out = []
    for name, m in models.items():
        est = estimate(m, "cortex-m4f", table=table)
        emu = counts[name].total
        entry = {
            "model": name,
            "estimated_instructions": round(est.instructions),
            "emulated_instructions": emu,
            "ratio": round(est.instructions / emu, 3),
            "estimated_cycles": round(est.cycles),
            "latency_ratio": round(est.cycles / emu, 3),
        }
        held_out = fit_instructions([s for n, ss in samples.items() if n != name for s in ss])
        unseen = sorted({x.family for x, _ in samples[name]} - set(held_out))
        if unseen:  # no other model has such a layer: nothing to predict it from
            entry["leave_one_model_out_ratio"] = None
            entry["families_only_in_this_model"] = unseen
        else:
            loo = estimate(m, "cortex-m4f", table=replace(table, families=held_out))
            entry["leave_one_model_out_ratio"] = round(loo.instructions / emu, 3)
        out.append(entry)
    return out


def run_report(args: argparse.Namespace) -> dict:
    table = cost_table()
    with tempfile.TemporaryDirectory() as tmp:
        models = Models.obtain(Path(tmp))
        extra = {Path(p).stem: Path(p) for p in args.model}
        instructions = (
            [] if args.no_emulate else instruction_report({**models.paths, **extra}, table)
        )
        emulated = {e["model"]: e["emulated_instructions"] for e in instructions}
        entries = pair_report(load_pairs(), models, table, emulated)
    return {
        "estimated": "the twin's cost model (harness/data/cost_model.toml), at each pair's clock",
        "emulated": "instructions of the pinned library on QEMU (qemu:nano33), at each pair's "
        "clock as if one instruction took one cycle",
        "library": table.library,
        "pairs": entries,
        "summary": summary(entries),
        "instructions": instructions,
    }


FIT_COMMAND = (
    "python -m harness.bench.fidelity fit --model fixtures/models/*.tflite "
    "--model fixtures/digits/digits_int8.tflite"
)


def run_fit(args: argparse.Namespace) -> str:
    """The [instructions] and [cpus.*] tables of cost_model.toml fitted again, as TOML."""
    from .emulated_counts import emulated_counts

    table = cost_table()
    with tempfile.TemporaryDirectory() as tmp:
        models = Models.obtain(Path(tmp))
        sources = model_sources()
        fitted_pairs = [p for p in load_pairs() if p.role in FITTED_ROLES]
        needed = {p.model for p in fitted_pairs} | {
            n for n, s in sources.items() if s.source == "library"
        }
        missing = sorted(needed & set(models.missing))  # what the calibration rests on
        if missing:
            why = "; ".join(dict.fromkeys(models.missing[n] for n in missing))  # once each
            raise BuildError(f"fit needs the published models {', '.join(missing)}: {why}")
        # the instructions are fitted on the calibration's models and the given ones only: what
        # else is fetched (the MLPerf check's models above all) never moves the constants
        mine = {n: p for n, p in models.paths.items() if n in needed}
        paths = {**mine, **{Path(p).stem: Path(p) for p in args.model}}
        samples, invoke = [], []
        for path in paths.values():
            m = TfliteModel.load(path)
            counts = emulated_counts(m)
            samples += list(zip(layers(m), (c for _, c in counts.ops), strict=True))
            invoke.append((len(counts.ops), counts.invoke_only))
        per_op, base = _line([n for n, _ in invoke], [c for _, c in invoke])
        families = fit_instructions(samples)
        fitted = replace(table, invoke=base, invoke_per_op=per_op, families=families)
        lines = [
            "[instructions]",
            f'library = "{resolve_pins().tflm_ref}"',
            f'source = "{FIT_COMMAND}: emulated per-layer counts (qemu:nano33, PROFILE) of '
            f'{", ".join(sorted(paths))}"',
            f"invoke = {base:.4g}",
            f"invoke_per_op = {per_op:.4g}",
        ]
        for family, coef in families.items():
            lines += ["", f"[instructions.families.{family}]"]
            lines += [f"{k} = {v:.4g}" for k, v in coef.items()]
        pairs = fitted_pairs
        for cpu in sorted({p.cpu for p in pairs}):
            lines += ["", *_cpu_table(cpu, [p for p in pairs if p.cpu == cpu], models, fitted)]
    return "\n".join(lines)


def _cpu_table(cpu: str, pairs: list[Pair], models: Models, table: CostTable) -> list[str]:
    ests = {p.id: estimate(TfliteModel.load(models.paths[p.model]), cpu, table=table)
            for p in pairs}  # fmt: skip
    rows = cpi_rows(pairs, ests)
    ids = ", ".join(p.id for p in pairs)
    lines = [f"[cpus.{cpu}]"]
    lines += [f"{g} = {v:.4g}" for g, v in fit_cpi(rows).cpi.items()]
    errs = [r.cycles / v for r, v in zip(rows, leave_one_out(rows).values(), strict=True) if v]
    if len(errs) > 1:
        lines.append(f"band = [{min(errs):.3g}, {max(errs):.3g}]")
    lines.append(f"pairs = {json.dumps([p.id for p in pairs])}")
    lines.append(f'source = "{FIT_COMMAND}: published pairs {ids} '
                 '(harness/bench/published_latency.toml)"')  # fmt: skip
    return lines


def _line(x: list[int], y: list[int]) -> tuple[float, float]:
    """Slope and intercept of the least-squares line through (x, y)."""
    slope, intercept = np.polyfit(np.array(x, float), np.array(y, float), 1)
    return float(slope), float(intercept)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m harness.bench.fidelity", description=__doc__)
    ap.add_argument("command", nargs="?", default="report", choices=("report", "fit", "fetch"))
    ap.add_argument(
        "name", nargs="?", help="fetch: the source to fetch", choices=[*source_urls(), None]
    )
    ap.add_argument("--from", dest="origin", help="fetch: another URL or a local git repository")
    ap.add_argument(
        "--model",
        nargs="+",
        action="extend",
        default=[],
        help="another .tflite to count on the emulated board (repeatable)",
    )
    ap.add_argument("--no-emulate", action="store_true",
                    help="report: no emulated counts (no QEMU run)")  # fmt: skip
    args = ap.parse_args(argv)
    try:
        if args.command == "fetch":
            if args.name is None:
                ap.error(f"fetch needs a source: one of {', '.join(source_urls())}")
            print(f"fetched {args.name} into {fetch_source(args.name, args.origin)}")
        elif args.command == "fit":
            print(run_fit(args))
        else:
            print(json.dumps(run_report(args), indent=1))
    except HilError as exc:
        print(f"tflm-hil: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())

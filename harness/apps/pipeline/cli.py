"""The model loop's own steps, as sub-commands of ``tflm-hil model`` (harness/apps/model_cli.py
puts them beside the registry's): collect, preprocess, train, convert, forward.

    tflm-hil model collect    --output new_data.csv
    tflm-hil model preprocess --input new_data.csv --output processed_data.csv
    tflm-hil model train      --input processed_data.csv --output new_model.h5
    tflm-hil model convert    --input new_model.h5 --output model.tflite
    tflm-hil model forward    --input windows.csv     (a twin sends them as a board would)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .config import default_seed, section
from .forward import add_forward_arguments


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=default_seed(), help="seed [%(default)s]")
    p.add_argument("--force", action="store_true", help="redo even when up to date")


def add_pipeline_commands(sub: argparse._SubParsersAction) -> None:
    c, p, t, v = section("collect"), section("preprocess"), section("train"), section("convert")

    s = sub.add_parser("collect", help="gather labelled data into a CSV")
    s.add_argument("--output", type=Path, required=True, help="the CSV to write")
    s.add_argument("--source", default=c["source"],
                   help="digits (bundled example) | csv:PATH | serial:PORT [%(default)s]")
    s.add_argument("--limit", type=int, help="keep a stratified subset of this many rows")
    s.add_argument("--shape", help="csv: per-row shape, e.g. 8,8,1 or 32,3 (window,axes)")
    s.add_argument("--windows", type=int, help="serial: stop after this many windows")
    s.add_argument("--timeout", type=float, default=c["serial_timeout_s"],
                   help="serial: stop after this many seconds without a window [%(default)s]")
    s.add_argument("--baud", type=int, default=115200, help="serial: baud rate [%(default)s]")
    s.add_argument("--label", help="serial: tell the board what it records now; keep only that")
    _common(s)

    s = sub.add_parser("preprocess", help="split, fit and apply the recorded preprocessing")
    s.add_argument("--input", type=Path, required=True, help="the collected CSV")
    s.add_argument("--output", type=Path, required=True, help="the processed CSV to write")
    s.add_argument("--method", default=p["method"], help="minmax | standard | none [%(default)s]")
    s.add_argument("--per-feature", action="store_true", default=p["per_feature"],
                   help="fit one offset and scale per column")
    s.add_argument("--test-size", type=float, default=p["test_size"],
                   help="held-out share [%(default)s]")
    s.add_argument("--shape", help="per-row shape when the input has no stamp, e.g. 8,8,1")
    _common(s)

    s = sub.add_parser("train", help="train a Keras model (.h5 or .keras)")
    s.add_argument("--input", type=Path, required=True, help="the processed CSV")
    s.add_argument("--output", type=Path, required=True, help="new_model.h5 or .keras")
    s.add_argument("--architecture", default=t["architecture"],
                   help="auto | cnn2d | dense [%(default)s]")
    s.add_argument("--epochs", type=int, default=t["epochs"], help="[%(default)s]")
    s.add_argument("--batch-size", type=int, default=t["batch_size"], help="[%(default)s]")
    s.add_argument("--learning-rate", type=float, default=t["learning_rate"],
                   help="[%(default)s]")
    _common(s)

    s = sub.add_parser("convert", help="convert to .tflite (int8 or float) and register it")
    s.add_argument("--input", type=Path, required=True, help="the trained .h5 or .keras")
    s.add_argument("--output", type=Path, required=True, help="model.tflite")
    s.add_argument("--mode", default=v["mode"], help="int8 | float [%(default)s]")
    s.add_argument("--calibration-samples", type=int, default=v["calibration_samples"],
                   help="training rows used to calibrate int8 ranges [%(default)s]")
    s.add_argument("--data", type=Path, help="the processed CSV (default: the training data)")
    _common(s)

    s = sub.add_parser("forward", help="send a CSV's windows from a simulated data forwarder")
    add_forward_arguments(s)


def run_pipeline_step(args: argparse.Namespace) -> int:
    from .dataset import parse_shape

    if args.command == "forward":
        from .forward import run

        return run(args)
    if args.command == "collect":
        from .collect import CollectOptions, collect

        result = collect(CollectOptions(
            output=args.output, source=args.source, seed=args.seed, limit=args.limit,
            shape=parse_shape(args.shape), windows=args.windows, timeout=args.timeout,
            baud=args.baud, label=args.label, force=args.force))
    elif args.command == "preprocess":
        from .prepare import PreprocessOptions, preprocess

        result = preprocess(PreprocessOptions(
            input=args.input, output=args.output, seed=args.seed, method=args.method,
            per_feature=args.per_feature, test_size=args.test_size,
            shape=parse_shape(args.shape), force=args.force))
    elif args.command == "train":
        from .train import TrainOptions, train

        t = section("train")
        result = train(TrainOptions(
            input=args.input, output=args.output, seed=args.seed,
            architecture=args.architecture, epochs=args.epochs, batch_size=args.batch_size,
            learning_rate=args.learning_rate, dropout=float(t["dropout"]),
            dense_units=int(t["dense_units"]), force=args.force))
    elif args.command == "convert":
        from .conversion import ConvertOptions, convert

        result = convert(ConvertOptions(
            input=args.input, output=args.output, mode=args.mode, seed=args.seed,
            calibration_samples=args.calibration_samples, data=args.data, force=args.force))
    else:
        raise AssertionError(args.command)
    print(("up to date: " if result.skipped else "") + result.summary)
    return 0

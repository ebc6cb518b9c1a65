"""Fuzzing the device modules: libFuzzer targets built with clang under ASan and UBSan.

``python -m harness.firmware.fuzz`` builds the targets in ``firmware/fuzz`` (the protocol core,
the MLPerf Tiny module, the data forwarder) with Debian's clang, writes each a seed corpus of
valid inputs (frames made by the host codec, MLPerf commands, forwarder calls: generated here,
nothing third-party), replays the kept crashers (``firmware/fuzz/regressions/<target>``), then
fuzzes each target for ``--seconds`` (default 20: the short run of ``.ci/run``; ``--seconds
3600`` is the long one). A crash is copied into the regressions folder, named by its hash, so
that it is replayed by every later run and by ``tests_unit/test_fuzz.py`` once it is fixed;
the exit status is 1 when any target crashed.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import struct
import subprocess
import sys
from pathlib import Path

from filelock import FileLock

from ..errors import BuildError
from ..paths import cache_dir, firmware_dir, firmware_lib_dir
from ..protocol.constants import INPUT_FLAG_INVOKE, Msg
from ..protocol.framing import encode_frame
from .images import host_image

TARGETS = ("core", "mlperf", "forwarder")
# Each target links the libraries of the twin's personality of the same module (images.toml).
PERSONALITY = {"core": "hil", "mlperf": "mlperf", "forwarder": "forwarder"}
FLAGS = ["-g", "-O1", "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=undefined",
         "-Wall", "-Wextra", "-Werror"]
# fuzz_device.h: the first byte picks the input size; 2 picks 100 bytes, blocks of 16
SHAPE_100 = 2


def fuzz_dir() -> Path:
    return firmware_dir() / "fuzz"


def regressions_dir(target: str) -> Path:
    return fuzz_dir() / "regressions" / target


def lib_dirs(target: str) -> list[Path]:
    """The source folders of the libraries a target links."""
    return [firmware_lib_dir(lib) for lib in host_image(PERSONALITY[target]).libs]


def build(target: str, cc: str = "clang") -> Path:
    """The target's binary, built once per source hash into the user cache."""
    if shutil.which(cc) is None:
        raise BuildError(f"no {cc} to build the fuzz targets: install it (apt-get install clang)")
    dirs = lib_dirs(target)
    sources = [fuzz_dir() / f"fuzz_{target}.c", *sorted(p for d in dirs for p in d.glob("*.c"))]
    headers = [*fuzz_dir().glob("*.h"), *(p for d in dirs for p in d.glob("*.h"))]
    h = hashlib.sha256(" ".join([cc, *FLAGS]).encode())
    for path in [*sources, *sorted(headers)]:
        h.update(path.name.encode() + path.read_bytes())
    out = cache_dir() / "fuzz" / h.hexdigest()[:16] / target
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if not out.is_file():
            tmp = out.with_suffix(".tmp")
            includes = [f"-I{d}" for d in dirs]
            cmd = [cc, *FLAGS, *includes, *map(str, sources), "-o", str(tmp)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise BuildError(f"building fuzz target {target} failed:\n{proc.stderr[-3000:]}")
            tmp.replace(out)
    return out


def _set_input(vector: int, offset: int, data: bytes, invoke: bool) -> tuple[int, bytes]:
    flags = INPUT_FLAG_INVOKE if invoke else 0
    return Msg.SET_INPUT, struct.pack("<BBI", flags, vector, offset) + data


def seeds(target: str) -> dict[str, bytes]:
    """Valid inputs for a target, named: where the fuzzer starts from."""
    if target == "core":
        x = bytes(range(100))
        upload = [_set_input(7, o, x[o : o + 48], o + 48 >= 100) for o in (0, 48, 96)]
        requests = [
            (Msg.HELLO, struct.pack("<I", 0x11223344)),
            (Msg.ECHO, b"hello"),
            (Msg.STATS, b""),
            (Msg.PROFILE, b""),
            (Msg.INPUT_STATE, b""),
            (Msg.GET_OUTPUT, struct.pack("<IH", 0, 10)),
            (Msg.RESET, b""),
            *upload,
            (Msg.INVOKE, struct.pack("<HH", 3, 1)),
        ]
        out = {
            f"{i:02d}-{Msg(t).name.lower()}": bytes([SHAPE_100]) + encode_frame(t, i, p)
            for i, (t, p) in enumerate(requests)
        }
        session = b"".join(encode_frame(t, i, p) for i, (t, p) in enumerate(requests))
        out["session"] = bytes([SHAPE_100]) + session
        out["upload-out-of-order"] = bytes([SHAPE_100]) + b"".join(
            encode_frame(t, 20 + i, p) for i, (t, p) in enumerate(reversed(upload))
        )
        return out
    if target == "mlperf":
        hexline = " ".join(f"{b:02x}" for b in range(31))
        cmds = ["name%", "profile%", "help%", "db load 100%", f"db {hexline}%", "infer 1 0%",
                "results%", "infer 3%"]
        out = {f"{i:02d}-{c.split()[0].strip('%')}": bytes([SHAPE_100]) + c.encode()
               for i, c in enumerate(cmds)}
        out["session"] = bytes([SHAPE_100]) + "".join(
            ["db load 100%", *[f"db {hexline}%"] * 4, "infer 2 1%", "results%"]
        ).encode()
        return out
    if target == "forwarder":
        config = bytes([3, 2, 10, 3, 8]) + b"ax,ay,az"
        sample = bytes([1, 3]) + struct.pack(">fff", 0.5, -1.25, 9.81)
        window = bytes([0, 4]) + b"walk" + sample * 2 + bytes([2])
        return {
            "window": config + window,
            "abort": config + bytes([0, 4]) + b"idle" + sample + bytes([3, 4]),
            "stream": config + window * 3 + bytes([5, 4]),
        }
    raise ValueError(f"unknown fuzz target {target!r}: one of {TARGETS}")


def write_seeds(target: str, corpus: Path) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    for name, data in seeds(target).items():
        (corpus / f"seed-{name}").write_bytes(data)


def replay(binary: Path, inputs: list[Path]) -> subprocess.CompletedProcess[str]:
    """Runs each input through the target once (libFuzzer's file mode)."""
    return subprocess.run([str(binary), *map(str, inputs)], capture_output=True, text=True)


def fuzz(binary: Path, corpus: Path, artifacts: Path, seconds: int) -> subprocess.CompletedProcess:
    shutil.rmtree(artifacts, ignore_errors=True)  # only this run's crashes are kept
    artifacts.mkdir(parents=True)
    cmd = [str(binary), f"-max_total_time={seconds}", f"-artifact_prefix={artifacts}/",
           "-print_final_stats=1", str(corpus)]
    return subprocess.run(cmd, capture_output=True, text=True)


def keep_crashes(target: str, artifacts: Path) -> list[Path]:
    kept = []
    for crash in sorted(artifacts.glob("crash-*")) + sorted(artifacts.glob("timeout-*")):
        dest = regressions_dir(target) / crash.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(crash, dest)
        kept.append(dest)
    return kept


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m harness.firmware.fuzz", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--target", action="append", choices=TARGETS, help="default: all")
    ap.add_argument("--seconds", type=int, default=20, help="per target (default 20)")
    ap.add_argument("--workdir", type=Path, help="corpora and crashes (default: user cache)")
    args = ap.parse_args(argv)
    work = args.workdir or cache_dir() / "fuzz" / "work"
    failed = False
    for target in args.target or TARGETS:
        try:
            binary = build(target)
        except BuildError as exc:
            print(f"fuzz {target}: {exc}", file=sys.stderr)
            return 2
        corpus, artifacts = work / target / "corpus", work / target / "artifacts"
        write_seeds(target, corpus)
        kept = sorted(regressions_dir(target).glob("*"))
        rerun = replay(binary, [*kept, *sorted(corpus.glob("seed-*"))])
        if rerun.returncode != 0:
            failed = True
            print(f"fuzz {target}: a kept input fails again:\n{rerun.stderr[-2000:]}")
            continue
        run = fuzz(binary, corpus, artifacts, args.seconds)
        runs = next((ln for ln in run.stderr.splitlines() if "number_of_executed_units" in ln), "")
        print(f"fuzz {target}: {args.seconds}s, {runs.split(':')[-1].strip() or '?'} inputs, "
              f"exit {run.returncode}")
        if run.returncode != 0:
            failed = True
            for path in keep_crashes(target, artifacts):
                print(f"fuzz {target}: crash kept as {path} (a regression test from now on)")
            print(run.stderr[-3000:])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

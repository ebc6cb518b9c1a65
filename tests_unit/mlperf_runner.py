"""The MLPerf Tiny host runner's documented behaviour, reimplemented for our tests.

No runner code: this follows what mlcommons/tiny's benchmark/runner does on the wire and in
its scoring, as /work notes and docs/mlperf.md describe it (port opened at the benchmark's
baud with pyserial, 2 s wait, ``name%`` and ``profile%``, port closed and opened again; each
command's reply read line by line, ``\\r`` and NUL dropped, until a line *containing*
``m-ready``, 5 s per line, 30 s for ``infer``; a sample as ``db load N`` then ``db <hex>``
lines of 31 bytes in lowercase hex, replies not checked; ``infer N W`` always with W;
performance: 5 loops of download + ``infer N W`` on the first window, throughput N / (T1 - T0)
from the DUT's m-lap-us; accuracy: every window of every file, ``infer 1 0``, results
normalised to sum 1 unless single, averaged per file, Top-1 by argmax or, for one score, the
best (precision + recall) / 2 over 100 thresholds, AUC with scikit-learn).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import numpy as np
import serial

from harness.protocol.mlperf_benchmarks import Sample

LINE_TIMEOUT_S = 5.0
INFER_TIMEOUT_S = 30.0
HEX_BYTES = 31
# the test scripts (tests_performance.yaml): model id -> (N, W)
PERFORMANCE = {"ad01": (1500, 10), "ic01": (20, 5), "kws01": (70, 10), "vww01": (20, 5)}
_RESULTS = re.compile(r"^m-results-\[([^]]+)\]$")
_LAP = re.compile(r"^m-lap-us-([0-9]+)$")
_MODEL = re.compile(r"^m-model-\[([^]]+)]$")
_NAME = re.compile(r"^m-name-dut-\[([^]]+)]$")


class NoResponse(RuntimeError):
    """The runner's "No response to command X"."""


@dataclass
class InferReply:
    results: list[float]
    laps: list[int]
    lines: list[str]

    @property
    def elapsed_us(self) -> int:
        return self.laps[1] - self.laps[0]


@dataclass
class RunnerDut:
    """The runner's DUT object: a pyserial port, one command in flight."""

    port: str
    baud: int = 115200
    boot_wait: float = 2.0  # the runner sleeps 2 s after opening, before `name`
    wire: list[str] = field(default_factory=list)  # what was sent and received, in order

    def __post_init__(self) -> None:
        self._link = serial.Serial(self.port, self.baud, timeout=0.1)
        self._buf = ""

    def reopen(self) -> None:
        """Closes and opens the port (pyserial's open discards what the port held)."""
        self._link.close()
        self._link.open()
        self._buf = ""

    def close(self) -> None:
        self._link.close()

    def command(self, text: str, timeout: float = LINE_TIMEOUT_S) -> list[str]:
        self._link.write((text + "%").encode())
        self.wire.append("> " + text)
        lines: list[str] = []
        while True:
            line = self._readline(timeout, text)
            self.wire.append("< " + line)
            lines.append(line)
            if "m-ready" in line:
                return lines

    def _readline(self, timeout: float, command: str) -> str:
        deadline = time.monotonic() + timeout
        while "\n" not in self._buf:
            if time.monotonic() > deadline:
                raise NoResponse(f"No response to command {command}")
            chunk = self._link.read(max(1, self._link.in_waiting)).decode(errors="replace")
            self._buf += chunk.replace("\r", "").replace("\0", "")
            if chunk:
                deadline = time.monotonic() + timeout
        line, self._buf = self._buf.split("\n", 1)
        return line

    def _query(self, command: str, pattern: re.Pattern[str]) -> str:
        """A query retried up to 3 times until a reply line matches (a boot banner still in
        the port answers the first one)."""
        for _ in range(3):
            found = [m.group(1) for ln in self.command(command) if (m := pattern.match(ln))]
            if found:
                return found[0]
        return ""

    def handshake(self) -> str:
        """init_dut: wait, name, profile; the model id; then the port is closed and reopened."""
        time.sleep(self.boot_wait)
        self._query("name", _NAME)
        model = self._query("profile", _MODEL)
        self.reopen()
        return model

    def load(self, data: bytes) -> None:
        self.command(f"db load {len(data)}")
        for i in range(0, len(data), HEX_BYTES):
            self.command("db " + data[i : i + HEX_BYTES].hex())

    def infer(self, n: int, w: int) -> InferReply:
        lines = self.command(f"infer {n} {w}", timeout=INFER_TIMEOUT_S)
        results: list[float] = []
        laps = []
        for ln in lines:
            if m := _RESULTS.match(ln):
                results = [float(v) for v in m.group(1).split(",") if v.strip()]
            elif m := _LAP.match(ln):
                laps.append(int(m.group(1)))
        return InferReply(results, laps[:2], lines)


def performance(dut: RunnerDut, model_id: str, sample: Sample) -> tuple[float, list[float]]:
    """The performance script: 5 x (download the first window, infer N W); the median
    throughput and each loop's, from the DUT's own timestamps."""
    n, w = PERFORMANCE[model_id]
    throughputs = []
    for _ in range(5):
        dut.load(sample.windows[0])
        reply = dut.infer(n, w)
        if len(reply.laps) < 2:
            raise AssertionError(f"Incomplete time data: {reply.lines}")
        throughputs.append(n / (reply.elapsed_us / 1e6))
    return float(np.median(throughputs)), throughputs


def accuracy(dut: RunnerDut, samples: list[Sample]) -> tuple[float, float, np.ndarray]:
    """The accuracy script and its scoring: (Top-1 %, AUC, per-file averaged predictions)."""
    from sklearn.metrics import roc_auc_score

    per_file = []
    for sample in samples:
        rows = []
        for window in sample.windows:
            dut.load(window)
            res = dut.infer(1, 0).results
            if not res:
                raise KeyError("results")
            rows.append(res if len(res) == 1 else [v / sum(res) for v in res])
        per_file.append(np.mean(rows, axis=0))
    y_pred, y_true = np.array(per_file), np.array([s.label for s in samples])
    top1 = top1_percent(y_pred, y_true)
    if y_pred.shape[1] == 1:
        auc = roc_auc_score(y_true, y_pred[:, 0])
    elif y_pred.shape[1] == 2:
        auc = roc_auc_score(y_true, y_pred[:, 1])
    else:
        auc = roc_auc_score(y_true, y_pred, multi_class="ovr")
    return top1, float(auc), y_pred


def top1_percent(y_pred: np.ndarray, y_true: np.ndarray) -> float:
    if y_pred.shape[1] > 1:
        return float(100 * np.mean(np.argmax(y_pred, axis=1) == y_true))
    # one score per file: the best of 100 thresholds between its min and max
    score = y_pred[:, 0]
    best = 0.0
    for k in range(100):
        threshold = score.min() + k / 100 * (score.max() - score.min())
        flagged = score > threshold
        tp = np.sum(flagged & (y_true == 1))
        fp = np.sum(flagged & (y_true == 0))
        fn = np.sum(~flagged & (y_true == 1))
        precision = tp / (tp + fp + 1e-8)
        recall = tp / (tp + fn + 1e-8)
        best = max(best, 100 * (precision + recall) / 2)
    return float(best)

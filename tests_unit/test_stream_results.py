"""StreamedResults: a stream's answers kept as arrays, read back as Results."""

from __future__ import annotations

from harness.dut import StreamedResults
from harness.protocol.messages import Result


def test_results_are_kept_as_arrays_and_read_back_whole():
    res = StreamedResults(3, 4)
    for i in range(3):
        res.put(i, Result(0xABCD0000 + i, 1, (1000 * (i + 1),), 4, bytes([i, 2 * i, 3, 250])))
    assert len(res) == 3
    assert res[1] == Result(0xABCD0001, 1, (2000,), 4, bytes([1, 2, 3, 250]))
    assert [r.output for r in res[0:3:2]] == [bytes([0, 0, 3, 250]), bytes([2, 4, 3, 250])]
    # what a vector costs: its output bytes, a boot id and a cycle count; nothing per object
    assert res.outputs.nbytes + res.boot_ids.nbytes + res.cycles.nbytes == 3 * (4 + 4 + 4)

"""The device describes the image it runs; the harness refuses to test anything else."""

from __future__ import annotations

import pytest

from harness.protocol.constants import PROTO_VERSION

pytestmark = pytest.mark.hil


def test_device_runs_the_model_under_test(dut, hil_model, board):
    if board.describes_itself:  # an MLPerf Tiny DUT speaks MLPerf's protocol, not ours
        assert dut.info.proto_version == PROTO_VERSION
    assert dut.info.model_hash == hil_model.sha256
    assert dut.info.image_hash == dut.image.image_hash
    assert dut.info.board == dut.image.board.id
    assert dut.info.model_ready, dut.info.model_error


def test_device_tensors_match_the_model(dut, hil_model):
    for seen, want in [
        *zip(dut.info.inputs, hil_model.inputs, strict=True),
        *zip(dut.info.outputs, hil_model.outputs, strict=True),
    ]:
        assert seen.shape == want.shape
        assert seen.dtype == want.dtype
        assert seen.nbytes == want.nbytes
        assert seen.zero_point == want.zero_point
        assert seen.scale == pytest.approx(want.scale, rel=1e-6)
    assert len(dut.info.inputs) == len(hil_model.inputs)
    assert len(dut.info.outputs) == len(hil_model.outputs)


def test_arena_used_is_reported_and_fits(described_dut):
    dut = described_dut
    info = dut.info
    assert 0 < info.arena_used <= info.arena_size
    assert info.arena_size + dut.image.board.footprint_ram_bytes <= dut.image.board.ram_bytes


def test_figures_carry_the_boards_provenance(dut, board):
    """A twin's clock is a cost model, QEMU's counts instructions: neither may pass for a
    measurement. The handshake, the image and the driver must say the same."""
    assert dut.info.simulated == board.simulated
    assert dut.info.provenance == board.provenance
    assert dut.image.provenance == board.provenance
    assert dut.info.board == board.spec.id

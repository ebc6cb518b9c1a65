"""Flashing through a lab's exporter host: what is copied there, the command run there, and a
failure of either reported as a flash failure naming the host (an SSH double stands in for
labgrid's sshmanager: no exporter host here)."""

from __future__ import annotations

import shlex
import tarfile
from pathlib import Path

import pytest

from harness.boards.catalog import load_catalog
from harness.boards.driver import Image
from harness.errors import FlashError
from harness.lab.flash import MODEL_FILE, flash_on_exporter
from harness.provenance import Provenance


def _image(tmp: Path, digits_model) -> Image:
    project = tmp / "project"
    (project / ".pio" / "build" / "nano33ble").mkdir(parents=True)
    (project / ".pio" / "libdeps" / "nano33ble" / "tflm").mkdir(parents=True)
    (project / "platformio.ini").write_text("[env:nano33ble]\n")
    elf = project / ".pio" / "build" / "nano33ble" / "firmware.elf"
    elf.write_bytes(b"\x7fELF")
    (project / ".pio" / "libdeps" / "nano33ble" / "tflm" / "big.c").write_text("/* lib */")
    return Image(
        board=load_catalog()["nano33"],
        model=digits_model,
        image_hash="ab" * 32,
        arena_size=7408,
        flash_bytes=1,
        ram_bytes=1,
        provenance=Provenance.MEASURED,
        path=elf,
        extra={"project": str(project), "pins": {"tflm_ref": "7948b85e"}},
    )


class FakeSsh:
    def __init__(self, rc: int = 0, fail_copy: bool = False):
        self.rc, self.fail_copy = rc, fail_copy
        self.copied: dict[str, list[str]] = {}
        self.commands: list[tuple[str, str]] = []

    def put_file(self, host: str, local_file: str, remote_file: str) -> None:
        if self.fail_copy:
            raise RuntimeError("Permission denied (publickey)")
        with tarfile.open(local_file) as tar:
            self.copied[remote_file] = tar.getnames()

    def run(self, host: str, command: str) -> tuple[list[str], list[str], int]:
        self.commands.append((host, command))
        return ["uploading"], ["bossac: no device found"] if self.rc else [], self.rc


def test_the_built_project_and_model_go_to_the_exporter_and_flash_there(tmp_path, digits_model):
    ssh = FakeSsh()
    flash_on_exporter(
        "lab-host",
        "/dev/ttyACM0",
        _image(tmp_path, digits_model),
        remote=ssh,
        progress=lambda line: None,
    )
    [(remote, names)] = ssh.copied.items()
    assert "project/.pio/build/nano33ble/firmware.elf" in names and MODEL_FILE in names
    assert not any("libdeps" in n for n in names)  # the fetched library stays behind
    [(host, command)] = ssh.commands
    argv = shlex.split(command)
    assert host == "lab-host"
    assert argv[:3] == ["tflm-hil", "lab", "flash"] and argv[-1] == remote
    assert argv[argv.index("--port") + 1] == "/dev/ttyACM0"
    assert argv[argv.index("--image-hash") + 1] == "ab" * 32


def test_a_failed_upload_or_copy_is_a_flash_failure_naming_the_host(tmp_path, digits_model):
    image = _image(tmp_path, digits_model)
    with pytest.raises(
        FlashError,
        match=r"on exporter host lab-host failed \(exit 1\)"
        r"[\s\S]*bossac: no device found",
    ):
        flash_on_exporter(
            "lab-host", "/dev/ttyACM0", image, remote=FakeSsh(rc=1), progress=lambda line: None
        )
    with pytest.raises(FlashError, match="cannot reach exporter host lab-host over SSH"):
        flash_on_exporter(
            "lab-host",
            "/dev/ttyACM0",
            image,
            remote=FakeSsh(fail_copy=True),
            progress=lambda line: None,
        )

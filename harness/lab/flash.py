"""Flashing a board on a lab's exporter host.

labgrid runs every flashing tool on the exporter host over SSH (its drivers call the tool
through ``ssh <exporter> --`` after copying the image with rsync), and it has no driver for
the Arduino boards' bootloaders (bossac's SAM-BA, picotool). So the harness does what its
``FlashScriptDriver`` does, over the same SSH connection (labgrid's ``sshmanager``: the
client's ~/.ssh/config, a ControlMaster): it copies the PlatformIO project it built (the
firmware and the model inside) to the exporter host and runs ``tflm-hil lab flash`` there,
which uploads it with the same code as a local board (the 1200-baud touch, PlatformIO's
upload without a rebuild, the board found again by its serial number, its image hash read
back). The exporter host needs tflm-hil with the ``pio`` extra (docs/lab.md).
"""

from __future__ import annotations

import json
import shlex
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ..boards.driver import DriverOptions, Image
from ..errors import FlashError
from ..paths import cache_dir
from ..provenance import Provenance
from ..tflite.model import TfliteModel

MODEL_FILE = "tflm-hil-model.tflite"
FLASH_TIMEOUT_S = 600.0


class Remote(Protocol):
    """The two things flashing needs of an SSH connection (labgrid's sshmanager has both)."""

    def put_file(self, host: str, local_file: str, remote_file: str) -> None: ...

    def run(self, host: str, command: str) -> tuple[list[str], list[str], int]: ...


class LabgridSsh:
    def put_file(self, host: str, local_file: str, remote_file: str) -> None:
        from labgrid.util.ssh import sshmanager

        sshmanager.put_file(host, local_file, remote_file)

    def run(self, host: str, command: str) -> tuple[list[str], list[str], int]:
        from labgrid.util.ssh import sshmanager

        return sshmanager.get(host).run(command)


def pack_project(image: Image, dest: Path) -> Path:
    """The built project (sources, platformio.ini, .pio/build) and the model, as one archive;
    the fetched libraries (.pio/libdeps) stay behind: the upload does not need them."""
    project = Path(image.extra["project"])
    archive = dest / f"tflm-hil-{image.image_hash[:16]}.tar.gz"
    model = dest / MODEL_FILE
    model.write_bytes(image.model.data)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(
            project, arcname="project", filter=lambda m: None if "/.pio/libdeps" in m.name else m
        )
        tar.add(model, arcname=MODEL_FILE)
    return archive


def remote_command(image: Image, port: str, archive: str) -> list[str]:
    return [
        "tflm-hil",
        "lab",
        "flash",
        "--board",
        image.board.id,
        "--port",
        port,
        "--image-hash",
        image.image_hash,
        "--pins",
        json.dumps(image.extra["pins"]),
        archive,
    ]


def flash_on_exporter(
    host: str,
    port: str,
    image: Image,
    *,
    remote: Remote | None = None,
    progress: Callable[[str], None] = print,
) -> None:
    """Uploads ``image`` to the board whose tty is ``port`` on exporter ``host``."""
    if image.path is None or "project" not in image.extra:
        raise FlashError(f"no firmware was built for {image.board.id}: cannot flash it")
    remote = remote or LabgridSsh()
    with tempfile.TemporaryDirectory(prefix="tflm-hil-lab-") as tmp:
        archive = pack_project(image, Path(tmp))
        target = f"/tmp/{archive.name}"
        progress(f"[flash {image.board.id}] copying the firmware to {host}")
        try:
            remote.put_file(host, str(archive), target)
            command = shlex.join(remote_command(image, port, target))
            progress(f"[flash {image.board.id}] on {host}: {command}")
            out, err, rc = remote.run(host, command)
        except Exception as exc:  # labgrid's ExecutionError, a failed rsync, ssh refusing
            raise FlashError(
                f"cannot reach exporter host {host} over SSH to flash ({exc}): the client needs "
                "key login there (docs/lab.md, 'Flashing on the exporter host')"
            ) from exc
    if rc != 0:
        tail = "\n".join([*out, *err][-15:])
        raise FlashError(f"flashing on exporter host {host} failed (exit {rc}):\n{tail}")


def flash_here(
    board_id: str,
    port: str,
    image_hash: str,
    pins: dict[str, Any],
    archive: Path,
    progress: Callable[[str], None] = print,
) -> None:
    """``tflm-hil lab flash`` on the exporter host: unpacks the project and uploads it to the
    board on ``port`` through the local-board driver (reflash forced, image hash checked)."""
    from ..boards.catalog import resolve_board
    from ..firmware.pins import Pins
    from ..pio.cmd import firmware_elf
    from ..pio.driver import PioDriver

    spec, _ = resolve_board(board_id)
    where = cache_dir() / "lab-flash" / image_hash[:16]
    where.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(where, filter="data")
    project = where / "project"
    elf = firmware_elf(project, spec.platformio.env)
    image = Image(
        board=spec,
        model=TfliteModel.load(where / MODEL_FILE),
        image_hash=image_hash,
        # the sizes stay with the client that built it: only the upload happens here
        arena_size=0,
        flash_bytes=0,
        ram_bytes=0,
        provenance=Provenance.MEASURED,
        path=elf,
        extra={"project": str(project), "pins": dict(Pins(**pins).items())},
    )
    driver = PioDriver(spec, DriverOptions(port=port, reflash=True), progress=progress)
    try:
        driver.flash(image)
    finally:
        driver.close()

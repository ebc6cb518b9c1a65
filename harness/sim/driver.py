"""The simulated twin as a board driver: 'build' plans the image, 'flash' starts the twin."""

from __future__ import annotations

from .. import runlog
from ..boards.driver import BoardDriver, Device, Image
from ..provenance import Provenance
from ..tflite.model import TfliteModel
from .build import build_host_library
from .corelib import CoreLibrary
from .image import plan_image
from .launcher import TwinProcess, start_twin


class SimDriver(BoardDriver):
    simulated = True
    provenance = Provenance.ESTIMATED
    pinned_library = False  # its kernels are the tflite-micro wheel's, not the pinned library's

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.twin: TwinProcess | None = None

    def build(self, model: TfliteModel) -> Image:
        lib = CoreLibrary(build_host_library())
        plan = plan_image(self.spec, model, self.options.arena, lib.core_size)
        return Image(
            board=self.spec,
            model=model,
            image_hash=plan.image_hash,
            arena_size=plan.arena_size,
            flash_bytes=plan.flash_used,
            ram_bytes=plan.ram_used,
            provenance=Provenance.ESTIMATED,
            extra={"cycles_per_invoke_estimated": plan.cycles_per_invoke},
        )

    def flash(self, image: Image) -> Device:
        self.close()
        log = None
        if self.options.log_dir:
            log = runlog.log_path(self.options.log_dir, f"twin-{self.spec.id}")
        model_path = self._model_file(image)
        self.twin = start_twin(
            self.spec.id,
            model_path,
            arena=image.arena_size,
            baud=self.options.baud,
            log_path=log,
        )
        rate = self.options.baud / 10 if self.options.baud else self.spec.link.bytes_per_s
        return Device(port=self.twin.port, byte_rate=rate, image=image)

    def _model_file(self, image: Image):
        if image.model.source and not image.model.source.startswith("<"):
            return image.model.source
        from ..paths import cache_dir

        path = cache_dir() / "models" / f"{image.model.sha256}.tflite"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image.model.data)
        return str(path)

    def reboot(self, device: Device) -> bool:
        if self.twin is None:
            return False
        self.twin.reboot()  # SIGUSR1: the twin resets as the board's reset line would
        return True

    def release(self) -> None:
        if self.twin:
            self.twin.stop()
            self.twin = None

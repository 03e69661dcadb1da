"""The videoInference settings as command-line options, shared by ``generate`` and ``submit``.

Both commands take every setting as an option and build the raw task an API client would
send; the task parser then validates it exactly as the server would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cinefuse.cli.common import CommandFailed

if TYPE_CHECKING:
    from rich.progress import Progress

DEFAULT_MODEL = "pixverse:1@3"
#: ``--image`` prefixes naming a frame position, and the value each puts on the wire.
FRAME_PREFIXES: dict[str, str | int] = {"first": "first", "last": "last", "0": 0, "-1": -1}
EXTENSIONS = {"MP4": ".mp4", "WEBM": ".webm", "MOV": ".mov"}

PromptArg = Annotated[str, typer.Argument(help="positivePrompt: what to show", show_default=False)]
ModelOpt = Annotated[str, typer.Option("--model", "-m", help="model id: pixverse:1@3, cinefuse:preview@1, ...")]
NegativeOpt = Annotated[str | None, typer.Option("--negative", help="negativePrompt: what to avoid")]
ResolutionOpt = Annotated[
    str | None, typer.Option("--resolution", "-r", help="360p|540p|720p|1080p (720p when no size is given)")
]
WidthOpt = Annotated[int | None, typer.Option(help="width, with --height: a pair of the size table")]
HeightOpt = Annotated[int | None, typer.Option(help="height, with --width")]
DurationOpt = Annotated[float | None, typer.Option("--duration", "-d", help="seconds (pixverse:1@3: 5 or 8)")]
FpsOpt = Annotated[int | None, typer.Option(help="frames per second: 16 or 24")]
SeedOpt = Annotated[int | None, typer.Option(help="seed 0..2147483647 (random when absent); result i uses seed+i")]
ResultsOpt = Annotated[int | None, typer.Option("--results", "-n", help="numberResults: 1..4")]
FormatOpt = Annotated[str | None, typer.Option("--format", help="outputFormat: MP4|WEBM|MOV")]
QualityOpt = Annotated[int | None, typer.Option(help="outputQuality: 20..99")]
CameraOpt = Annotated[str | None, typer.Option(help="cameraMovement, e.g. zoom_in, pan_left, whip_pan")]
StyleOpt = Annotated[str | None, typer.Option(help="style: anime|3d_animation|clay|comic|cyberpunk")]
EffectOpt = Annotated[str | None, typer.Option(help="effect, e.g. 'boom drop'")]
MotionOpt = Annotated[str | None, typer.Option("--motion", help="motionMode: normal|fast")]
SafetyOpt = Annotated[str | None, typer.Option("--safety", help="safety.mode: none|fast|full")]
CheckInputsOpt = Annotated[bool, typer.Option("--check-inputs", help="safety.checkInputs: check input images")]
TolerantOpt = Annotated[bool, typer.Option("--tolerant", help="safety.tolerance: a more permissive threshold")]
TtlOpt = Annotated[int | None, typer.Option(help="ttl: seconds the result stays downloadable")]
CostOpt = Annotated[bool, typer.Option("--include-cost", help="includeCost: report each result's cost")]
ImageOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--image",
        "-i",
        metavar="[POSITION=]IMAGE",
        help="frame image (repeat for first and last); POSITION is first, last, 0 or -1, e.g. --image last=end.png",
    ),
]
ReferenceOpt = Annotated[
    list[str] | None, typer.Option("--reference", metavar="IMAGE", help="reference image for fusion (up to 3)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the API request (a JSON array) and exit")]
OutputOpt = Annotated[
    Path | None,
    typer.Option("-o", "--output", help="output file; numbered (out-1.mp4, ...) for several results [out.<format>]"),
]


@dataclass
class VideoOptions:
    """The command line's videoInference settings; ``None``/empty means "not given" (the
    field is left out of the task, so the server's default applies)."""

    prompt: str
    model: str = DEFAULT_MODEL
    negative: str | None = None
    resolution: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    fps: int | None = None
    seed: int | None = None
    results: int | None = None
    fmt: str | None = None
    quality: int | None = None
    camera: str | None = None
    style: str | None = None
    effect: str | None = None
    motion: str | None = None
    safety: str | None = None
    check_inputs: bool = False
    tolerant: bool = False
    ttl: int | None = None
    include_cost: bool = False
    webhook_url: str | None = None
    upload_endpoint: str | None = None
    images: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)

    @property
    def output_format(self) -> str:
        return (self.fmt or "MP4").upper()

    @property
    def number_results(self) -> int:
        return self.results or 1

    def task(self, image: Callable[[str, str], str]) -> dict[str, Any]:
        """The raw videoInference task (a new taskUUID). ``image(value, parameter)`` turns an
        ``--image``/``--reference`` value into the string the task carries."""
        import uuid

        task: dict[str, Any] = {
            "taskType": "videoInference",
            "taskUUID": str(uuid.uuid4()),
            "model": self.model,
            "positivePrompt": self.prompt,
        }
        optional: dict[str, Any] = {
            "negativePrompt": self.negative,
            "resolution": self.resolution,
            "width": self.width,
            "height": self.height,
            "duration": None if self.duration is None else _number(self.duration),
            "fps": self.fps,
            "seed": self.seed,
            "numberResults": self.results,
            "outputFormat": self.fmt.upper() if self.fmt else None,
            "outputQuality": self.quality,
            "webhookURL": self.webhook_url,
            "uploadEndpoint": self.upload_endpoint,
            "ttl": self.ttl,
            "includeCost": True if self.include_cost else None,
        }
        task.update({k: v for k, v in optional.items() if v is not None})
        safety = {"mode": self.safety, "checkInputs": self.check_inputs or None, "tolerance": self.tolerant or None}
        if any(v is not None for v in safety.values()):
            task["safety"] = {k: v for k, v in safety.items() if v is not None}
        inputs: dict[str, list[Any]] = {}
        if self.images:
            inputs["frameImages"] = [
                _frame_item(spec, f"inputs.frameImages[{i}]", image) for i, spec in enumerate(self.images)
            ]
        if self.references:
            inputs["referenceImages"] = [
                image(value, f"inputs.referenceImages[{i}]") for i, value in enumerate(self.references)
            ]
        if inputs:
            task["inputs"] = inputs
        provider = {
            "cameraMovement": self.camera,
            "effect": self.effect,
            "style": self.style,
            "motionMode": self.motion,
        }
        if any(v is not None for v in provider.values()):
            task["providerSettings"] = {"pixverse": {k: v for k, v in provider.items() if v is not None}}
        return task


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _frame_item(spec: str, parameter: str, image: Callable[[str, str], str]) -> Any:
    """``[POSITION=]IMAGE`` -> a frameImages item: the image, or ``{"image", "frame"}``."""
    prefix, sep, rest = spec.partition("=")
    if sep and prefix in FRAME_PREFIXES:
        return {"image": image(rest, f"{parameter}.image"), "frame": FRAME_PREFIXES[prefix]}
    return image(spec, parameter)


def data_uri(path: Path) -> str:
    """A local image file as a data URI (its type read from its first bytes)."""
    import base64

    from cinefuse.media.images import sniff_image_format

    data = path.read_bytes()
    kind = (sniff_image_format(data) or "png").lower()
    return f"data:image/{kind};base64,{base64.b64encode(data).decode()}"


def local_file(value: str, parameter: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_file():
        raise CommandFailed("invalidImage", f"no such image file: {value}", parameter, exit_code=2)
    return path


def output_paths(output: Path | None, fmt: str, count: int) -> list[Path]:
    """Where results go: ``output`` (default ``out.<format>``) for one, numbered for several."""
    base = output or Path("out" + EXTENSIONS.get(fmt, ".mp4"))
    if count == 1:
        return [base]
    return [base.with_name(f"{base.stem}-{i}{base.suffix}") for i in range(1, count + 1)]


def print_request(task: dict[str, Any]) -> None:
    import json

    typer.echo(json.dumps([task], indent=2, ensure_ascii=False))


def progress_display() -> Progress:
    """A rich progress display on stderr (stdout stays clean for --json and --no-wait)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )

"""The ``cinefuse`` command: serve, worker, generate, keys, doctor."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cinefuse.settings import Settings

if TYPE_CHECKING:
    from cinefuse.media.frames import Frame

app = typer.Typer(add_completion=False, no_args_is_help=True, help="cinefuse: self-hosted video generation server")


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request with its full URL at INFO: presigned upload URLs and webhook
    # tokens are credentials, and the deliverer logs what matters without them.
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _settings(**overrides: object) -> Settings:
    """Environment settings, with the command line's options (those given) on top."""
    values = {k: v for k, v in overrides.items() if v is not None}
    return Settings.model_validate({**Settings().model_dump(), **values})


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
) -> None:
    """Start the API with its embedded workers (embedded profile)."""
    import uvicorn

    from cinefuse.api.ws_transport import BoundedWebSocketProtocol
    from cinefuse.app import create_app
    from cinefuse.keys import configured_keys

    _configure_logging()
    settings = _settings(host=host, port=port)
    keys, created = configured_keys(settings)
    application = create_app(settings)
    typer.echo(
        f"cinefuse listening on {settings.base_url}  (REST: POST {settings.base_url}/v1, "
        f"WebSocket: {settings.base_url.replace('http', 'ws', 1)}/v1)"
    )
    if not settings.api_keys:
        note = "created and stored in" if created else "from"
        typer.echo(f"API key ({note} {settings.data_dir / 'api_key'}): {keys[0]}")
    sys.stdout.flush()
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
        ws_max_size=settings.max_body_bytes,
        ws=BoundedWebSocketProtocol,
    )


@app.command()
def worker(
    workers: Annotated[int, typer.Option(help="Worker threads in this process")] = 1,
) -> None:
    """Run workers without the API, against the configured job store."""
    from cinefuse.services import build_services

    _configure_logging()
    settings = Settings()
    services = build_services(settings)
    services.add(services.worker_pool(workers))
    services.add(services.sweeper())
    if settings.deliverer:
        services.add(services.deliverer())
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    services.start()
    typer.echo(f"cinefuse worker {services.runner.owner} running {workers} thread(s)")
    sys.stdout.flush()
    stop.wait()
    services.stop()


@app.command()
def generate(
    prompt: Annotated[str, typer.Argument(help="Text prompt")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output file")] = Path("out.mp4"),
    image: Annotated[list[Path] | None, typer.Option("--image", help="First (then last) frame image")] = None,
    reference: Annotated[list[Path] | None, typer.Option("--reference", help="Reference image (fusion)")] = None,
    camera: Annotated[str | None, typer.Option(help="cameraMovement")] = None,
    style: Annotated[str | None, typer.Option(help="style")] = None,
    effect: Annotated[str | None, typer.Option(help="effect")] = None,
    motion: Annotated[str, typer.Option(help="motionMode: normal|fast")] = "normal",
    resolution: Annotated[str, typer.Option(help="360p|540p|720p|1080p")] = "720p",
    duration: Annotated[int, typer.Option(help="5 or 8 seconds")] = 5,
    fps: Annotated[int, typer.Option(help="16 or 24")] = 16,
    seed: Annotated[int, typer.Option(help="Seed")] = 42,
    negative: Annotated[str | None, typer.Option(help="negativePrompt")] = None,
    fmt: Annotated[str, typer.Option("--format", help="MP4|WEBM|MOV")] = "MP4",
    quality: Annotated[int, typer.Option(help="outputQuality 20..99")] = 95,
) -> None:
    """Render one clip on this machine, without a server, validated like an API task."""
    import base64
    import uuid

    from rich.progress import Progress

    from cinefuse.engine.inputs import TaskImages
    from cinefuse.engine.requests import generation_request
    from cinefuse.errors import CinefuseError
    from cinefuse.generation.registry import EngineUnavailable, engine_provider
    from cinefuse.media.images import decode_base64_image, load_image
    from cinefuse.media.video import encode_frames
    from cinefuse.schemas.parser import parse_task
    from cinefuse.schemas.tasks import ImageInput, VideoInferenceTask

    raw: dict[str, object] = {
        "taskType": "videoInference",
        "taskUUID": str(uuid.uuid4()),
        "model": "pixverse:1@3",
        "positivePrompt": prompt,
        "duration": duration,
        "fps": fps,
        "seed": seed,
        "outputFormat": fmt.upper(),
        "outputQuality": quality,
        "resolution": resolution,
    }
    if negative:
        raw["negativePrompt"] = negative
    pixverse = {
        k: v for k, v in {"cameraMovement": camera, "style": style, "effect": effect, "motionMode": motion}.items() if v
    }
    raw["providerSettings"] = {"pixverse": pixverse}
    inputs: dict[str, list[str]] = {}
    if image:
        inputs["frameImages"] = [base64.b64encode(p.read_bytes()).decode() for p in image]
    if reference:
        inputs["referenceImages"] = [base64.b64encode(p.read_bytes()).decode() for p in reference]
    if inputs:
        raw["inputs"] = inputs

    def decode(given: ImageInput) -> Frame:
        return load_image(decode_base64_image(given.value, given.parameter), given.parameter)

    try:
        task = parse_task(raw)
        assert isinstance(task, VideoInferenceTask)  # the raw task above is a videoInference
        request = generation_request(task, TaskImages.of(task, decode), task.result_seed(0))
        engine = engine_provider(Settings())(task.model)
    except CinefuseError as error:
        typer.echo(f"error: {error.code}: {error.message}" + (f" ({error.parameter})" if error.parameter else ""))
        raise typer.Exit(2) from None
    except EngineUnavailable as error:
        typer.echo(f"error: {error}")
        raise typer.Exit(2) from None
    started = time.perf_counter()
    with Progress() as progress:
        label = f"{engine.name}: {request.width}x{request.height}, {request.num_frames} frames"
        bar = progress.add_task(label, total=request.num_frames)
        result = encode_frames(
            engine.generate(request, lambda step, total: progress.update(bar, completed=step)),
            output,
            fmt=task.output_format,
            width=request.width,
            height=request.height,
            fps=task.fps,
            quality=task.output_quality,
        )
    typer.echo(
        f"wrote {output} ({result.size_bytes} bytes, {result.frames} frames) in {time.perf_counter() - started:.2f} s"
    )


@app.command()
def keys() -> None:
    """Print the API key(s) this data dir uses (creating one if none is configured)."""
    from cinefuse.keys import configured_keys

    for key in configured_keys(Settings())[0]:
        typer.echo(key)


@app.command()
def doctor() -> None:
    """Report which engines, codecs, database and services are usable here."""
    from cinefuse.doctor import report

    for name, ok, detail in report(Settings()):
        typer.echo(f"[{'ok' if ok else '--'}] {name}: {detail}")


def main() -> None:
    app()

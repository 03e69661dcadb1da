"""``generate``: render on this machine, without a server."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from cinefuse.cli.common import CommandFailed, reporting
from cinefuse.cli.options import (
    DEFAULT_MODEL,
    CameraOpt,
    CheckInputsOpt,
    CostOpt,
    DurationOpt,
    EffectOpt,
    FormatOpt,
    FpsOpt,
    HeightOpt,
    ImageOpt,
    JsonOpt,
    ModelOpt,
    MotionOpt,
    NegativeOpt,
    OutputOpt,
    PromptArg,
    QualityOpt,
    ReferenceOpt,
    ResolutionOpt,
    ResultsOpt,
    SafetyOpt,
    SeedOpt,
    StyleOpt,
    TolerantOpt,
    TtlOpt,
    VideoOptions,
    WidthOpt,
    data_uri,
    local_file,
    output_paths,
    print_request,
    progress_display,
)
from cinefuse.settings import Settings

if TYPE_CHECKING:
    from cinefuse.engine.inputs import TaskImages
    from cinefuse.generation.base import Engine
    from cinefuse.media.frames import Frame
    from cinefuse.safety.guard import ContentGuard
    from cinefuse.schemas.tasks import VideoInferenceTask


def generate(
    prompt: PromptArg,
    output: OutputOpt = None,
    model: ModelOpt = DEFAULT_MODEL,
    image: ImageOpt = None,
    reference: ReferenceOpt = None,
    negative: NegativeOpt = None,
    resolution: ResolutionOpt = None,
    width: WidthOpt = None,
    height: HeightOpt = None,
    duration: DurationOpt = None,
    fps: FpsOpt = None,
    seed: SeedOpt = None,
    results: ResultsOpt = None,
    fmt: FormatOpt = None,
    quality: QualityOpt = None,
    camera: CameraOpt = None,
    style: StyleOpt = None,
    effect: EffectOpt = None,
    motion: MotionOpt = None,
    safety: SafetyOpt = None,
    check_inputs: CheckInputsOpt = False,
    tolerant: TolerantOpt = False,
    ttl: TtlOpt = None,
    include_cost: CostOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Render on this machine, without a server, validated exactly like an API task.

    Images are local files. --json prints the API request this corresponds to (images inline as data URIs)
    and exits without rendering.

    Exit status: 0 every result written; 2 the task was refused; 1 anything else (a result flagged, no engine).
    """
    options = VideoOptions(
        prompt=prompt, model=model, negative=negative, resolution=resolution, width=width, height=height,
        duration=duration, fps=fps, seed=seed, results=results, fmt=fmt, quality=quality, camera=camera,
        style=style, effect=effect, motion=motion, safety=safety, check_inputs=check_inputs, tolerant=tolerant,
        ttl=ttl, include_cost=include_cost, images=list(image or []), references=list(reference or []),
    )  # fmt: skip
    with reporting():
        raw = options.task(lambda value, parameter: data_uri(local_file(value, parameter)))
        _render(raw, output, as_json=as_json)


def _render(raw: dict[str, Any], output: Path | None, *, as_json: bool) -> None:
    """Validate ``raw`` as the server would, then render every result to its file."""
    from cinefuse.engine.inputs import TaskImages
    from cinefuse.engine.runner import cost_of
    from cinefuse.errors import ContentFlagged
    from cinefuse.generation.registry import EngineUnavailable, engine_provider
    from cinefuse.media.images import classify_image_reference, decode_base64_image, load_image
    from cinefuse.schemas.parser import parse_task
    from cinefuse.schemas.tasks import ImageInput, VideoInferenceTask

    task = parse_task(raw)
    assert isinstance(task, VideoInferenceTask)  # the raw task is a videoInference
    if as_json:
        print_request(raw)
        return
    settings = Settings()
    try:
        engine = engine_provider(settings)(task.model)
    except EngineUnavailable as error:
        raise CommandFailed("engineUnavailable", str(error)) from None

    def decode(given: ImageInput) -> Frame:
        reference = classify_image_reference(given.value, given.parameter)
        return load_image(decode_base64_image(reference.value, given.parameter), given.parameter)

    images = TaskImages.of(task, decode)
    guard = _safety_guard(task, images, settings)
    paths = output_paths(output, task.output_format, task.number_results)
    failures: list[CommandFailed] = []
    for index, path in enumerate(paths):
        try:
            _render_one(task, images, index, path, engine, guard, settings)
        except ContentFlagged as error:
            failures.append(CommandFailed(error.code, error.message, error.parameter))
    if task.include_cost:
        typer.echo(f"cost: {cost_of(task, settings.prices) * task.number_results:.4f} USD")
    for failure in failures:
        typer.echo(failure.line(), err=True)
    if failures:
        raise typer.Exit(1)


def _safety_guard(task: VideoInferenceTask, images: TaskImages, settings: Settings) -> ContentGuard | None:
    """The content safety guard when the task asks for a check, after its pre-check (the
    prompt and the input images); raises ``ContentFlagged`` or ``SafetyUnavailable``."""
    if task.safety_mode == "none" and not task.safety_check_inputs:
        return None
    from cinefuse.safety.guard import ContentGuard

    guard = ContentGuard.from_settings(settings)
    guard.check_request(
        mode=task.safety_mode,
        check_inputs=task.safety_check_inputs,
        tolerance=task.safety_tolerance,
        prompt=task.positive_prompt,
        images=images.by_parameter,
    )
    return guard


def _render_one(
    task: VideoInferenceTask,
    images: TaskImages,
    index: int,
    path: Path,
    engine: Engine,
    guard: ContentGuard | None,
    settings: Settings,
) -> None:
    from cinefuse.engine.requests import generation_request
    from cinefuse.engine.runner import progress_percent
    from cinefuse.media.video import encode_frames

    seed = task.result_seed(index)
    request = generation_request(task, images, seed, settings.sound)
    started = time.perf_counter()
    with progress_display() as progress:
        label = f"{engine.name} {request.width}x{request.height}, {request.num_frames} frames"
        # In percent, as the API's ``progress``: the engine's steps count in its own units
        # (the neural engines' are denoising steps and decoded chunks, not frames), and
        # 100 is the file written.
        bar = progress.add_task(label, total=100)

        def on_step(step: int, total: int) -> None:
            progress.update(bar, completed=progress_percent(step, total))

        frames: Iterable[Frame] = engine.generate(request, on_step)
        if guard is not None and task.safety_mode != "none":
            frames = guard.inspector(task.safety_mode, task.num_frames, task.safety_tolerance).wrap(frames)
        result = encode_frames(
            frames,
            path,
            fmt=task.output_format,
            width=request.width,
            height=request.height,
            fps=task.fps,
            quality=task.output_quality,
            x264_preset=settings.x264_preset,
            soundtrack=request.soundtrack,
        )
        progress.update(bar, completed=100)
    elapsed = time.perf_counter() - started
    typer.echo(f"wrote {path} ({result.size_bytes} bytes, {result.frames} frames, seed {seed}) in {elapsed:.2f} s")

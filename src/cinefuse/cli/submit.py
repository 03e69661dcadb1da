"""``submit``: send a task to a running server, wait, and download the results."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

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
    output_paths,
    print_request,
    progress_display,
)
from cinefuse.settings import Settings

DEFAULT_URL = "http://127.0.0.1:8000"
POLL_INTERVAL_S = 0.5
HTTP_TIMEOUT_S = 120.0
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def submit(
    prompt: PromptArg,
    url: Annotated[str, typer.Option(help="the server, local or remote")] = DEFAULT_URL,
    api_key: Annotated[
        str | None,
        typer.Option(envvar="CINEFUSE_API_KEY", help="API key (default for a local server: the key its data dir uses)"),
    ] = None,
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
    webhook_url: Annotated[str | None, typer.Option("--webhook-url", help="webhookURL")] = None,
    upload_endpoint: Annotated[str | None, typer.Option("--upload-endpoint", help="uploadEndpoint")] = None,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="print the taskUUID once accepted and exit")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the results")] = 3600.0,
    as_json: JsonOpt = False,
) -> None:
    """Send a videoInference task to a running server, wait, and download every result.

    Images are local files (uploaded with imageUpload first), http(s) URLs or imageUUIDs of earlier uploads.
    Prints where it wrote each result (with --no-wait: only the taskUUID, once the server accepted the task).

    Exit status: 0 every result downloaded; 2 the server refused the task; 1 anything else (a failed result,
    the network, a timeout).
    """
    options = VideoOptions(
        prompt=prompt, model=model, negative=negative, resolution=resolution, width=width, height=height,
        duration=duration, fps=fps, seed=seed, results=results, fmt=fmt, quality=quality, camera=camera,
        style=style, effect=effect, motion=motion, safety=safety, check_inputs=check_inputs, tolerant=tolerant,
        ttl=ttl, include_cost=include_cost, images=list(image or []), references=list(reference or []),
        webhook_url=webhook_url, upload_endpoint=upload_endpoint,
    )  # fmt: skip
    with reporting():
        if as_json:
            raw = options.task(_inline_or_given)
            _prevalidate(raw)
            print_request(raw)
            return
        client = TaskClient(url, _api_key(api_key, url))
        try:
            _submit(client, options, output, no_wait=no_wait, timeout=timeout)
        finally:
            client.close()


#: What a local file is, in the task, until it is uploaded: a well-formed image UUID.
UPLOAD_PLACEHOLDER = "00000000-0000-4000-8000-000000000000"


def _inline_or_given(value: str, parameter: str) -> str:
    """``--json``: a local file inline as a data URI; anything else (URL, imageUUID) as given."""
    path = Path(value).expanduser()
    return data_uri(path) if path.is_file() else _given_image(value, parameter)


def _given_image(value: str, parameter: str) -> str:
    """An image that is not a local file must be one the server can take: a URL, an
    imageUUID or inline data."""
    from cinefuse.errors import InvalidImage
    from cinefuse.media.images import classify_image_reference

    try:
        classify_image_reference(value, parameter)
    except InvalidImage:
        raise CommandFailed(
            "invalidImage", f"not a file, an http(s) URL or an imageUUID: {value}", parameter, exit_code=2
        ) from None
    return value


def _prevalidate(raw: dict[str, Any]) -> None:
    """Validate with this machine's copy of the contract when it knows the model (a newer
    server may know models this one does not: then the server decides)."""
    from cinefuse.models.registry import get_model
    from cinefuse.schemas.parser import parse_task

    if get_model(str(raw.get("model"))) is not None:
        parse_task(raw)


def _api_key(given: str | None, url: str) -> str:
    """``--api-key``/``CINEFUSE_API_KEY``; for a server on this machine, the key its data dir
    (or ``CINEFUSE_API_KEYS``) uses. A local key is never sent to another host."""
    from urllib.parse import urlsplit

    from cinefuse.keys import KEY_FILE

    if given and given.strip():
        return given.strip()
    if (urlsplit(url).hostname or "") in _LOOPBACK_HOSTS:
        settings = Settings()
        if settings.api_keys:
            keys = [k.strip() for k in settings.api_keys.split(",") if k.strip()]
            if keys:
                return keys[0]
        key_file = settings.data_dir / KEY_FILE
        if key_file.is_file() and key_file.read_text().strip():
            return key_file.read_text().strip()
    raise CommandFailed("missingApiKey", "give --api-key or set CINEFUSE_API_KEY", exit_code=2)


class TaskClient:
    """``POST /v1`` of one server, authenticated with a Bearer key; one task per request."""

    def __init__(self, url: str, api_key: str, timeout: float = HTTP_TIMEOUT_S) -> None:
        import httpx

        base = url.rstrip("/")
        self.endpoint = base if base.endswith("/v1") else base + "/v1"
        self.http = httpx.Client(headers={"Authorization": f"Bearer {api_key}"}, timeout=timeout)
        #: Result downloads carry no key: a presigned S3 URL refuses a second credential.
        self.downloads = httpx.Client(timeout=timeout, follow_redirects=True)

    def close(self) -> None:
        self.http.close()
        self.downloads.close()

    def send(self, task: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(data, errors) of the reply to ``[task]``; raises ``CommandFailed`` for a reply that
        is not the API's JSON envelope."""
        reply = self.http.post(self.endpoint, json=[task])
        try:
            body = reply.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise CommandFailed("httpError", f"HTTP {reply.status_code} from {self.endpoint}: {reply.text[:200]}")
        return list(body.get("data") or []), list(body.get("errors") or [])

    def run(self, task: dict[str, Any]) -> list[dict[str, Any]]:
        """The data items of ``[task]``; a refused task raises ``CommandFailed`` with the
        server's first error (exit 2)."""
        data, errors = self.send(task)
        if errors:
            for extra in errors[1:]:
                typer.echo(CommandFailed.from_wire(extra, 2).line(), err=True)
            raise CommandFailed.from_wire(errors[0], 2)
        return data

    def upload(self, path: Path) -> str:
        """Upload a local image (imageUpload); its imageUUID."""
        import uuid

        task = {"taskType": "imageUpload", "taskUUID": str(uuid.uuid4()), "image": data_uri(path)}
        items = self.run(task)
        if not items or not items[0].get("imageUUID"):
            raise CommandFailed("httpError", f"imageUpload of {path} answered without an imageUUID: {items}")
        return str(items[0]["imageUUID"])

    def download(self, url: str, path: Path) -> int:
        """Fetch ``url`` into ``path`` (streamed); the byte count."""
        size = 0
        with self.downloads.stream("GET", url) as reply:
            if reply.status_code != 200:
                raise CommandFailed("downloadFailed", f"HTTP {reply.status_code} for {url.split('?')[0]}")
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as out:
                for chunk in reply.iter_bytes():
                    out.write(chunk)
                    size += len(chunk)
        return size


def _submit(client: TaskClient, options: VideoOptions, output: Path | None, *, no_wait: bool, timeout: float) -> None:
    """Upload local images, submit, then (unless ``no_wait``) wait and download."""
    uploads: dict[str, Path] = {}

    def placeholder(value: str, parameter: str) -> str:
        path = Path(value).expanduser()
        if path.is_file():
            uploads[parameter] = path
            # An image UUID's form stands in for the local file (the task is validated before
            # uploading); the imageUUID replaces it once uploaded.
            return UPLOAD_PLACEHOLDER
        return _given_image(value, parameter)

    raw = options.task(placeholder)
    if uploads:
        _prevalidate(raw)  # before uploading anything for a task that would be refused
        uuids = {parameter: client.upload(path) for parameter, path in uploads.items()}
        _replace_images(raw, uuids)
    client.run(raw)
    task_uuid = str(raw["taskUUID"])
    if no_wait:
        typer.echo(task_uuid)
        return
    typer.echo(f"submitted {task_uuid}", err=True)
    done, failed = _wait(client, task_uuid, options.number_results, timeout)
    paths = output_paths(output, options.output_format, len(done)) if done else []
    for item, path in zip(done, paths, strict=True):
        if not item.get("videoURL"):
            failed.append({"code": "mediaExpired", "message": "the result has no videoURL (its ttl passed)"})
            continue
        size = client.download(str(item["videoURL"]), path)
        cost = f", cost {item['cost']} USD" if "cost" in item else ""
        typer.echo(f"wrote {path} ({size} bytes, seed {item.get('seed')}{cost})")
    for item in failed:
        typer.echo(CommandFailed.from_wire(item, 1).line(), err=True)
    if failed:
        raise typer.Exit(1)


def _replace_images(raw: dict[str, Any], uuids: dict[str, str]) -> None:
    """Put each uploaded image's UUID where its file was (by parameter path)."""
    for i, item in enumerate(raw.get("inputs", {}).get("frameImages", [])):
        parameter = f"inputs.frameImages[{i}]"
        if isinstance(item, dict) and f"{parameter}.image" in uuids:
            item["image"] = uuids[f"{parameter}.image"]
        elif parameter in uuids:
            raw["inputs"]["frameImages"][i] = uuids[parameter]
    for i, _ in enumerate(raw.get("inputs", {}).get("referenceImages", [])):
        parameter = f"inputs.referenceImages[{i}]"
        if parameter in uuids:
            raw["inputs"]["referenceImages"][i] = uuids[parameter]


def _wait(
    client: TaskClient, task_uuid: str, expected: int, timeout: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Poll getResponse until no result is processing: (successes, failed results), each in
    order. The progress bar is the results' ``progress`` summed."""
    deadline = time.monotonic() + timeout
    with progress_display() as progress:
        bar = progress.add_task(f"{task_uuid[:8]}: {expected} result(s)", total=100 * expected)
        while True:
            data, errors = client.send({"taskType": "getResponse", "taskUUID": task_uuid})
            request_errors = [e for e in errors if e.get("status") != "error"]
            if request_errors:
                raise CommandFailed.from_wire(request_errors[0], 1)
            items = data + errors
            finished = sum(100 if item.get("status") != "processing" else 0 for item in items)
            running = sum(int(item.get("progress") or 0) for item in items if item.get("status") == "processing")
            progress.update(bar, completed=finished + running)
            if len(items) >= expected and all(item.get("status") != "processing" for item in items):
                return [item for item in data if item.get("status") == "success"], errors
            if time.monotonic() > deadline:
                raise CommandFailed("timeout", f"task {task_uuid} still processing after {timeout:.0f} s")
            time.sleep(POLL_INTERVAL_S)

"""`fluxserve generate "a red bicycle" --model flux-dev --size 1024x768 --seed 7 -o out.png`:
one request through the SDK, against a local or remote server, with a progress bar."""

from __future__ import annotations

import base64
import json
import mimetypes
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from fluxserve.cli.common import fail
from fluxserve.client import (
    APIError,
    AuthenticationError,
    BadRequestError,
    Client,
    InsufficientBalanceError,
    ModerationError,
    RateLimitError,
    RequestFailed,
    Result,
    Status,
)
from fluxserve.client.errors import is_moderation

# The body field each kind of route names its step count with.
STEP_FIELDS = ("num_inference_steps", "steps", "num_steps")


def _size(value: str) -> tuple[int, int]:
    try:
        width, height = (int(side) for side in value.lower().split("x"))
    except ValueError:
        raise fail(f"--size must look like 1024x768, not {value!r}") from None
    return width, height


def _image_value(value: str) -> str:
    """A URL as given; a local file as a data: URL (the API fetches both)."""
    path = Path(value)
    if "://" in value or value.startswith("data:") or not path.is_file():
        return value
    kind = mimetypes.guess_type(path.name)[0] or "image/png"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def _extra(pairs: list[str]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise fail(f"--param takes name=value, not {pair!r}")
        try:
            extra[name] = json.loads(raw)
        except json.JSONDecodeError:
            extra[name] = raw
    return extra


def build_params(
    fields: set[str] | None,
    *,
    size: tuple[int, int] | None,
    steps: int | None,
    model: str,
) -> dict[str, Any]:
    """Size and steps under the names the model's route uses (read from the server's
    /openapi.json; a server without one gets the FLUX.1 names, `image_size` and
    `num_inference_steps`)."""
    params: dict[str, Any] = {}
    known = fields if fields is not None else {"image_size", "num_inference_steps"}
    if size is not None:
        if {"width", "height"} <= known:
            params["width"], params["height"] = size
        elif "image_size" in known:
            params["image_size"] = f"{size[0]}x{size[1]}"
        else:
            raise fail(f"{model} takes no --size (see its fields in /docs; use --param)")
    if steps is not None:
        name = next((f for f in STEP_FIELDS if f in known), None)
        if name is None:
            raise fail(f"{model} takes no step count")
        params[name] = steps
    return params


class _Bar:
    """Queue position while queued (when the server says it), then denoising steps."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID = progress.add_task("submitting", total=None)

    def __call__(self, status: Status) -> None:
        if status.status == "QUEUED":
            where = f" (position {status.queue_position})" if status.queue_position else ""
            self.progress.update(self.task, description=f"queued{where}", total=None)
        elif status.progress is not None:
            step, total = status.progress.step, status.progress.total
            self.progress.update(
                self.task, description=f"step {step}/{total}", completed=step, total=total
            )
        elif status.status == "PROCESSING":
            self.progress.update(self.task, description="processing")


def _explain(exc: Exception, url: str) -> str:
    if isinstance(exc, AuthenticationError):
        return f"the server refused the API key ({exc.status_code}): {exc.message}"
    if isinstance(exc, InsufficientBalanceError):
        return f"insufficient balance (402): {exc.message}. Top up the key's wallet."
    if isinstance(exc, RateLimitError):
        wait = f"; retry after {exc.retry_after_s:.0f} s" if exc.retry_after_s else ""
        return f"rate limited (429) after several retries{wait}"
    if isinstance(exc, ModerationError) or (
        isinstance(exc, BadRequestError) and is_moderation(exc.message)
    ):
        text = exc.error if isinstance(exc, ModerationError) else exc.message
        return f"refused by content moderation (not charged): {text}"
    if isinstance(exc, RequestFailed):
        return f"the request ended {exc.status} (not charged): {exc.error}"
    if isinstance(exc, APIError):
        return f"the server answered {exc.status_code}: {exc.message}"
    return f"cannot reach {url}: {exc}"


def _save(result: Result, output: Path) -> list[Path]:
    saved = []
    for index, image in enumerate(result.images):
        target = output if index == 0 else output.with_stem(f"{output.stem}-{index}")
        saved.append(image.save(target))
    return saved


def generate(
    prompt: Annotated[str, typer.Argument(help="What to draw.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model id or route path.")] = (
        "flux-dev"
    ),
    size: Annotated[str | None, typer.Option("--size", help="WIDTHxHEIGHT, e.g. 1024x768.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the first image.")] = None,
    steps: Annotated[int | None, typer.Option("--steps", help="Denoising steps.")] = None,
    image: Annotated[
        str | None, typer.Option("--image", help="Input image: a URL or a local file.")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Any body field: name=value (JSON).")
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to save.")] = Path(
        "out.png"
    ),
    url: Annotated[
        str, typer.Option("--url", envvar="FLUXSERVE_URL", help="Server base URL.")
    ] = "http://127.0.0.1:8000",
    key: Annotated[
        str | None, typer.Option("--key", envvar="FLUXSERVE_API_KEY", help="API key.")
    ] = None,
) -> None:
    """Generate an image through the API (a local or remote server) and save it."""
    if not key:
        raise fail("an API key is needed: --key or FLUXSERVE_API_KEY")
    console = Console(stderr=True)
    params: dict[str, Any] = {"prompt": prompt, **_extra(param or [])}
    if seed is not None:
        params["seed"] = seed
    if image is not None:
        params["image_url"] = _image_value(image)
    with Client(key, url) as client:
        try:
            fields = client.body_fields(model, params)
            sized = _size(size) if size else None
            params.update(build_params(fields, size=sized, steps=steps, model=model))
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as progress:
                result = client.run(model, on_progress=_Bar(progress), **params)
            saved = _save(result, output)
        except (APIError, RequestFailed, httpx.HTTPError) as exc:
            raise fail(_explain(exc, url)) from None
        except ValueError as exc:
            raise fail(str(exc)) from None
    for path in saved:
        console.print(f"saved {path}" + (f" (seed {seed})" if seed is not None else ""))
    if result.request_id:
        console.print(f"request {result.request_id}")

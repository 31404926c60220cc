"""The HTTP layer of `nnlm serve`: the page, the JSON API it uses, and the runs' pictures.

Every answer but the page and the PNGs is JSON; every error is {"error": "one line"} with a
4xx status (a 500 only for a bug, without its traceback). Endpoints are async and cheap: the
model work runs on each run's worker thread (runs.py), the pictures in Starlette's threadpool.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import math
import secrets
import threading
from importlib import resources
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..errors import NnlmError, SettingError
from ..inference.sample import MAX_SEED, SampleRequest
from ..run import rundir
from ..tools.plot import RUN_PICTURES, run_picture
from .runs import ServedRun, load_runs

MAX_BODY = 64 * 1024  # bytes of a request body
MAX_N = 1000  # samples per request
MAX_LEN = 1000  # tokens of a sample (max_len, min_len, and characters of the prefix)
MAX_TEXT = 10_000  # characters of a text to score
MAX_TEMPERATURE = 100.0
MAX_PATTERN = 1000  # characters of a pattern, of contains and of suffix
MAX_EXCLUDED = 10_000  # items of a request's exclude list
MAX_CHARS = 10_000  # min_chars, max_chars
MAX_TRIES = 100_000  # samples --exact may draw for one request
PICTURE_FILES = {f"{name}.png": name for name in RUN_PICTURES}  # the only files ever served
PAGE_HEADERS = {  # the page is self-contained: it may load nothing from anywhere else
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src "
    "'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache",
}
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}

log = logging.getLogger("nnlm.serve")


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class SafeJSONResponse(JSONResponse):
    """JSON with -inf/nan (a zero-probability token, a diverged run's loss) as null, which
    the browser's JSON.parse can read."""

    def render(self, content) -> bytes:
        """The JSON bytes of `content`, non-finite floats as null."""
        return super().render(finite(content))


def finite(obj):
    """`obj` (JSON-like: dicts, lists, numbers, strings) with every non-finite float as None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj


def error(status: int, message: str) -> Response:
    """The JSON error {"error": message on one line} with HTTP status `status`."""
    return SafeJSONResponse({"error": " ".join(str(message).split())}, status_code=status)


def create_app(run_dirs, *, device: str = "cpu", allowed_hosts: set[str] | None = None) -> Starlette:
    """The server's app for `run_dirs`, each loaded once now (NnlmError for a bad one).
    allowed_hosts: the Host header values accepted (DNS rebinding), None: any."""
    return build_app(load_runs(list(run_dirs), device), allowed_hosts)


def build_app(runs: dict[str, ServedRun], allowed_hosts: set[str] | None = None) -> Starlette:
    """The Starlette app serving the loaded `runs` (create_app's, after loading): the page, the JSON
    API and the pictures; `allowed_hosts` as for create_app."""
    page = resources.files("nnlm.serve").joinpath("page.html").read_text(encoding="utf-8")
    cards = [dict(run.card, plots={name: f"/api/runs/{quote(run.name, safe='')}/plot/{file}"
                                   for file, name in PICTURE_FILES.items()}) for run in runs.values()]

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers=PAGE_HEADERS)

    @api
    async def list_runs(request: Request) -> Response:
        return SafeJSONResponse({"runs": cards})

    @api
    async def sample(request: Request) -> Response:
        body = await read_body(request)
        run = find_run(runs, body, SAMPLE_FIELDS)
        # checking compiles the request's constraints: off the event loop
        job = await run_in_threadpool(run.sample_job, sample_request(body), SAMPLE_LIMITS)
        samples = await asyncio.wrap_future(run.submit(job))
        return SafeJSONResponse({"run": run.name, "seed": job.request.seed, "samples": samples,
                                 "tries": job.tries})

    @api
    async def score(request: Request) -> Response:
        body = await read_body(request)
        run = find_run(runs, body, SCORE_FIELDS)
        text = string(body, "text", None, MAX_TEXT)
        label = string(body, "label", "", MAX_LEN) or None
        result = await asyncio.wrap_future(run.submit(run.score_job(text, label)))
        return SafeJSONResponse({"run": run.name, "text": text, **result})

    @api
    async def plot(request: Request) -> Response:
        run = runs.get(request.path_params["name"])
        name = PICTURE_FILES.get(request.path_params["picture"])
        if run is None or name is None:
            raise ApiError(404, "not found: the pictures are /api/runs/<run>/plot/"
                           + " or ".join(PICTURE_FILES))
        try:
            png = await run_in_threadpool(picture, run, name)
        except NnlmError as e:  # no matplotlib, no metrics.jsonl, a word run's data gone
            raise ApiError(404, f"{run.name}: no {name} picture: {e}") from None
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-cache"})

    routes = [Route("/", index), Route("/api/runs", list_runs),
              Route("/api/sample", sample, methods=["POST"]), Route("/api/score", score, methods=["POST"]),
              Route("/api/runs/{name}/plot/{picture}", plot)]
    middleware = [Middleware(HostCheck, allowed=allowed_hosts)] if allowed_hosts else []
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        for run in runs.values():  # the workers finish what is queued, then end
            run.close()

    app = Starlette(routes=routes, middleware=middleware, exception_handlers={HTTPException: http_error},
                    lifespan=lifespan)
    app.state.runs = runs
    return app


async def http_error(request: Request, exc: HTTPException) -> Response:
    """Starlette's own 404 (no such path) and 405 (wrong method), as JSON."""
    if exc.status_code in (404, 405):
        return error(exc.status_code, f"{exc.detail}: {request.method} {request.url.path} (the API: GET "
                     "/api/runs, POST /api/sample, POST /api/score, GET /api/runs/<run>/plot/<picture>.png)")
    return error(exc.status_code, exc.detail)


def api(endpoint):
    """Whatever goes wrong becomes a JSON error: a bad request a 4xx, a bug a 500 whose
    traceback goes to the server's log, not to the client."""
    @functools.wraps(endpoint)
    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ApiError as e:
            return error(e.status, e.message)
        except SettingError as e:  # named by the request's fields
            return error(400, e.named(field_name))
        except NnlmError as e:
            return error(400, str(e))
        except Exception:
            log.exception("nnlm serve: %s %s failed", request.method, request.url.path)
            return error(500, "internal error (the server's log has the details)")
    return wrapped


# -- pictures ----------------------------------------------------------------------------

_drawing = threading.Lock()  # pyplot keeps global state: one figure at a time


def picture(run: ServedRun, name: str) -> bytes:
    """The run's own PNG where it has one, else drawn in memory (once; the loaded model
    does not change). Only fixed names are ever read: PICTURE_FILES."""
    path = rundir.picture_path(run.lm.spec.run_dir, name)
    if path.is_file() and not path.is_symlink():  # a link could point anywhere: draw instead
        return path.read_bytes()
    with _drawing:
        if name not in run.pictures:
            run.pictures[name] = run_picture(run.lm, name)
    return run.pictures[name]


# -- reading and checking requests -------------------------------------------------------

SAMPLE_FIELDS = ("run", "n", "temperature", "top_k", "top_p", "prefix", "min_len", "max_len",
                 "new_only", "seed", "regex", "contains", "suffix", "min_chars", "max_chars", "exclude",
                 "exact", "tries", "label")
SCORE_FIELDS = ("run", "text", "label")


async def read_body(request: Request) -> dict:
    """The request's JSON object, read no further than MAX_BODY bytes whatever the
    Content-Length says."""
    length = request.headers.get("content-length")
    if length is not None and not length.isdigit():
        raise ApiError(400, "bad Content-Length")
    if length is not None and int(length) > MAX_BODY:
        raise ApiError(413, f"the body must be at most {MAX_BODY} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, f"the body must be at most {MAX_BODY} bytes")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks), parse_constant=no_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise ApiError(400, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


def no_constant(name: str):
    """json.loads's parse_constant: NaN and Infinity are not JSON, so refuse them."""
    raise ValueError(f"{name} is not JSON")  # json.loads would take NaN and Infinity


def find_run(runs: dict[str, ServedRun], body: dict, fields: tuple[str, ...]) -> ServedRun:
    """The run a request's body names; ApiError for a field not in `fields` (400) or an unknown run
    (404)."""
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise ApiError(400, f"unknown field {unknown[0]!r} (the fields are {', '.join(fields)})")
    name = string(body, "run", None, 1000)
    if name not in runs:
        raise ApiError(404, f"unknown run {name!r} (serving {', '.join(runs)})")
    return runs[name]


# the server's own bounds on what a request may ask (SampleRequest.checked checks them)
SAMPLE_LIMITS = {"num": MAX_N, "temperature": MAX_TEMPERATURE, "top_k": 10**9, "min_len": MAX_LEN,
                 "max_len": MAX_LEN, "seed": MAX_SEED, "min_chars": MAX_CHARS, "max_chars": MAX_CHARS,
                 "tries": MAX_TRIES}
FIELDS = {"num": "n"}  # a request's field, where its name is not the SampleRequest's


def field_name(setting) -> str:
    """How a sample request names a setting in errors: by its JSON field."""
    return FIELDS.get(setting.name, setting.name)


def sample_request(body: dict) -> SampleRequest:
    """The sampling request of a body whose fields are of the right JSON types (the values are
    checked by SampleRequest.checked); a random seed where the request gives none, so that the
    answer can say it and the samples can be drawn again."""
    seed = body.get("seed")
    return SampleRequest(num=integer(body, "n", 5), temperature=number(body, "temperature", 1.0),
                         top_k=integer(body, "top_k", 0), top_p=number(body, "top_p", 1.0),
                         prefix=string(body, "prefix", "", MAX_LEN), min_len=integer(body, "min_len", 0),
                         max_len=integer(body, "max_len", 0), new_only=boolean(body, "new_only", False),
                         seed=secrets.randbelow(MAX_SEED) if seed is None else integer(body, "seed", None),
                         regex=string(body, "regex", "", MAX_PATTERN),
                         contains=string(body, "contains", "", MAX_PATTERN),
                         suffix=string(body, "suffix", "", MAX_PATTERN),
                         min_chars=integer(body, "min_chars", 0), max_chars=integer(body, "max_chars", 0),
                         exact=boolean(body, "exact", False), tries=integer(body, "tries", 0),
                         exclude_items=tuple(strings(body, "exclude", MAX_EXCLUDED, MAX_LEN)),
                         label=string(body, "label", "", MAX_LEN))


def json_type(value) -> str:
    """What a JSON value is, in words ("a string", "null"...), for errors."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "an object"}.get(type(value), type(value).__name__)


def field(body: dict, key: str, default, ok: bool, what: str):
    """body[key] (default where absent), checked by `ok` (is it `what`)."""
    if key not in body:
        if default is None:
            raise ApiError(400, f"{key} is missing")
        return default
    if not ok:
        raise ApiError(400, f"{key} must be {what}, got {json_type(body[key])}")
    return body[key]


def integer(body: dict, key: str, default) -> int:
    """body[key], an integer (not a boolean), or `default` where absent; ApiError otherwise."""
    value = body.get(key)
    return field(body, key, default, isinstance(value, int) and not isinstance(value, bool), "an integer")


def number(body: dict, key: str, default) -> float:
    """body[key], a number (not a boolean) as a float, or `default` where absent; ApiError otherwise."""
    value = body.get(key)
    return float(field(body, key, default, isinstance(value, (int, float)) and not isinstance(value, bool),
                       "a number"))


def string(body: dict, key: str, default, max_chars: int) -> str:
    """body[key], a string of at most max_chars characters, or `default` where absent; ApiError otherwise."""
    value = field(body, key, default, isinstance(body.get(key), str), "a string")
    if len(value) > max_chars:
        raise ApiError(400, f"{key} must be at most {max_chars} characters, got {len(value)}")
    return value


def strings(body: dict, key: str, max_items: int, max_chars: int) -> list[str]:
    """body[key], an array of at most max_items strings of at most max_chars characters each, or []
    where absent; ApiError otherwise."""
    given = body.get(key)
    value = field(body, key, [], isinstance(given, list) and all(isinstance(x, str) for x in given),
                  "an array of strings")
    if len(value) > max_items:
        raise ApiError(400, f"{key} must hold at most {max_items} strings, got {len(value)}")
    for item in value:
        if len(item) > max_chars:
            raise ApiError(400, f"{key}: each string must be at most {max_chars} characters, got {len(item)}")
    return value


def boolean(body: dict, key: str, default: bool) -> bool:
    """body[key], true or false, or `default` where absent; ApiError otherwise."""
    return field(body, key, default, isinstance(body.get(key), bool), "true or false")


class HostCheck:
    """Refuses requests whose Host is not one the server was started for: a page elsewhere
    cannot reach a loopback server through a DNS name it rebinds to 127.0.0.1."""

    def __init__(self, app, allowed: set[str]):
        self.app, self.allowed = app, {h.lower() for h in allowed}

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
            host = host[:host.find("]") + 1] if host.startswith("[") else host.split(":")[0]
            if host not in self.allowed:
                await error(400, f"unexpected Host header {host!r}")(scope, receive, send)
                return
        await self.app(scope, receive, send)

"""Sandbox: a remote job API played by this site, for the demo and the tests.

It is stateless, so any number of web processes can answer for it: a job id
is a token signed with SECRET_KEY that carries the job's name, creation time,
duration, outcome and format; a job's status is worked out from the time
elapsed since then. Every endpoint wants ``Authorization: Bearer
<SANDBOX_TOKEN>``.

    GET  /sandbox/                      this list, as JSON
    POST /sandbox/jobs/                 start a job -> 201 {id, name, status, progress, status_url}
    GET  /sandbox/jobs/<id>/            its status; ?format=xml (or json) overrides its format
    POST /sandbox/jobs/<id>/cancel/     acknowledge a cancel -> {id, status: "cancelled"}

A job created with ``"format": "xml"`` answers every request about it (the
creation included) in XML, ``<job><id>…</id><status>…</status>…</job>``, so
an action with "convert XML response to JSON" reads ``job.id`` and
``job.status``. Callbacks and errors (400, 401, 404, 405) are always JSON;
errors read ``{"detail": …}``, and a 400 adds ``"errors": {field: fault}``.
"""

import hashlib
import hmac
import json
import logging
import math
import secrets
import struct
import threading
import time
import urllib.request
import zlib
from datetime import datetime, timezone
from functools import wraps
from http.client import HTTPException
from urllib.parse import urlsplit

import xmltodict
from django.core import signing
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger(__name__)

SANDBOX_TOKEN = "sandbox-demo-token"
# Named after the sandbox's first home: a new salt would orphan the ids of jobs already started.
SALT = "integrations_site.sandbox.job"
OUTCOMES = ("successful", "failed")
FORMATS = ("json", "xml")
MAX_SECONDS = 3600
MAX_NAME_LENGTH = 200
QUEUED_SHARE = 0.1  # a job is "queued" for the first tenth of its time
CALLBACK_TIMEOUT = 5


def now():
    """The sandbox's clock (tests replace it)."""
    return time.time()


# --- Jobs -------------------------------------------------------------------


class InvalidJob(Exception):
    """The fields of a new job do not fit; ``errors`` maps each field to its fault."""

    def __init__(self, errors):
        self.errors = errors
        super().__init__(" ".join(f"{field}: {message}" for field, message in errors.items()))


def new_job(data):
    """(job, callback_url) from a creation request's JSON, or InvalidJob naming each bad field."""
    if not isinstance(data, dict):
        raise InvalidJob({"body": "Send a JSON object, e.g. {\"name\": \"demo\", \"seconds\": 5}."})
    errors = {}

    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "Required: a non-empty string."
    elif len(name) > MAX_NAME_LENGTH:
        errors["name"] = f"At most {MAX_NAME_LENGTH} characters."

    # Text is accepted too: run variables typed in a form arrive as text ("5").
    seconds = data.get("seconds", 5)
    try:
        if isinstance(seconds, bool):
            raise ValueError
        seconds = float(seconds)
        if not (math.isfinite(seconds) and 0 <= seconds <= MAX_SECONDS):
            raise ValueError
    except (TypeError, ValueError):
        given = json.dumps(data.get("seconds"))
        errors["seconds"] = f"Must be a number of seconds from 0 to {MAX_SECONDS}, not {given}."

    outcome = data.get("outcome", "successful")
    if outcome not in OUTCOMES:
        errors["outcome"] = f"Must be one of {', '.join(OUTCOMES)}, not {json.dumps(outcome)}."

    fmt = data.get("format", "json")
    if fmt not in FORMATS:
        errors["format"] = f"Must be one of {', '.join(FORMATS)}, not {json.dumps(fmt)}."

    callback_url = data.get("callback_url") or ""
    if callback_url:
        parts = urlsplit(callback_url) if isinstance(callback_url, str) else None
        if not parts or parts.scheme not in ("http", "https") or not parts.netloc:
            errors["callback_url"] = f"Must be an absolute http(s) URL, not {json.dumps(callback_url)}."

    if errors:
        raise InvalidJob(errors)
    job = {
        "name": name.strip(),
        "seconds": seconds,
        "outcome": outcome,
        "format": fmt,
        "created": now(),
        "nonce": secrets.token_hex(4),
    }
    return job, callback_url


def sign_job(job):
    """The job's id: the job itself, signed."""
    return signing.dumps(job, salt=SALT)


def load_job(token):
    """The job a signed id stands for, or None when the id was not made here."""
    try:
        return signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None


def job_state(job, at):
    """(status, progress) of ``job`` at time ``at``."""
    elapsed = at - job["created"]
    seconds = job["seconds"]
    if elapsed >= seconds:
        return job["outcome"], 100
    if elapsed < seconds * QUEUED_SHARE:
        return "queued", 0
    return "running", int(100 * elapsed / seconds)


def describe(token, job, status, progress):
    """What the remote API says about a job in a given state."""
    body = {"id": token, "name": job["name"], "status": status, "progress": progress}
    if status == "successful":
        finished_at = datetime.fromtimestamp(job["created"] + job["seconds"], tz=timezone.utc)
        body["result"] = {"message": f"Job {job['name']!r} finished.", "finished_at": finished_at.isoformat()}
    elif status == "failed":
        body["error"] = f"Job {job['name']!r} failed, as it was asked to at creation."
    return body


# --- Callbacks --------------------------------------------------------------


def post_callback(url, body):
    """POST ``body`` as JSON to ``url``; a failure is logged, never raised (the job goes on)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "integrations-sandbox"},
        method="POST",
    )
    # No proxy: the callback normally goes back to this very site.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=CALLBACK_TIMEOUT) as response:
            response.read()
    except (OSError, HTTPException) as exc:
        logger.warning("Sandbox callback to %s failed: %s", url, exc)


def send_callbacks(token, job, url):
    """Play the remote service calling back: once halfway, once when done."""
    halfway = job["seconds"] / 2
    time.sleep(halfway)
    post_callback(url, describe(token, job, "running", 50))
    time.sleep(job["seconds"] - halfway)
    post_callback(url, describe(token, job, job["outcome"], 100))


# --- Views ------------------------------------------------------------------


def error(status, detail, **extra):
    return JsonResponse({"detail": detail, **extra}, status=status)


def authorized(request):
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), SANDBOX_TOKEN.encode())


def endpoint(method):
    """A sandbox view: CSRF-exempt, one HTTP method, bearer token required."""

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method != method:
                response = error(405, f"Use {method}.")
                response["Allow"] = method
                return response
            if not authorized(request):
                response = error(
                    401, "Send the header 'Authorization: Bearer <token>' with the sandbox token (SANDBOX_TOKEN)."
                )
                response["WWW-Authenticate"] = 'Bearer realm="sandbox"'
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def render(body, fmt, status=200):
    if fmt == "xml":
        xml = xmltodict.unparse({"job": body}, pretty=True)
        return HttpResponse(xml, status=status, content_type="application/xml")
    return JsonResponse(body, status=status)


def job_or_404(view):
    """Pass the job named by the URL's id to ``view``, or answer 404."""

    @wraps(view)
    def wrapper(request, token):
        job = load_job(token)
        if job is None:
            return error(404, "No such job: the id is unknown or has been altered.")
        return view(request, token, job)

    return wrapper


@endpoint("GET")
def index(request):
    """What the sandbox offers."""
    return JsonResponse(
        {
            "description": "A remote job API played by this site.",
            "authentication": "Every endpoint wants the header 'Authorization: Bearer <token>'.",
            "endpoints": {
                "POST jobs/": "Start a job: {name, seconds (0-3600, default 5), "
                "outcome (successful|failed), callback_url, format (json|xml)}.",
                "GET jobs/<id>/": "Its status: queued, running, then successful or failed; ?format=xml or json.",
                "POST jobs/<id>/cancel/": "Acknowledge a cancel.",
                "GET jobs/<id>/report/": "A finished job's report, a PNG image (409 until the job has finished).",
                "POST uploads/": "Receive files as multipart/form-data: their names, sizes and SHA-256 digests.",
            },
        }
    )


@endpoint("POST")
def create_job(request):
    """Start a job; with a callback_url, call it back halfway and when done."""
    try:
        data = json.loads(request.body)
    except ValueError as exc:
        return error(400, f"The body is not valid JSON: {exc}.", errors={"body": str(exc)})
    try:
        job, callback_url = new_job(data)
    except InvalidJob as exc:
        return error(400, f"Invalid job: {exc}", errors=exc.errors)
    token = sign_job(job)
    body = describe(token, job, "queued", 0)
    body["status_url"] = request.build_absolute_uri(reverse("sandbox:job", args=[token]))
    if callback_url:
        threading.Thread(target=send_callbacks, args=(token, job, callback_url), daemon=True).start()
    return render(body, job["format"], status=201)


@endpoint("GET")
@job_or_404
def job_status(request, token, job):
    """A job's status, worked out from the time elapsed since it was created."""
    fmt = request.GET.get("format", job["format"])
    if fmt not in FORMATS:
        message = f"Must be one of {', '.join(FORMATS)}, not {fmt!r}."
        return error(400, f"Invalid format: {message}", errors={"format": message})
    status, progress = job_state(job, now())
    return render(describe(token, job, status, progress), fmt)


@endpoint("POST")
@job_or_404
def cancel_job(request, token, job):
    """Acknowledge a cancel; nothing is stored, so polling the job afterwards goes on as before."""
    return render({"id": token, "status": "cancelled"}, job["format"])



def report_png(token, job):
    """A small PNG image that is the job's report: the same job always gives the same bytes."""
    width, height = 64, 16
    seed = hashlib.sha256(token.encode()).digest()
    rows = b"".join(b"\x00" + bytes(seed[(x + y) % len(seed)] for x in range(width * 3)) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@endpoint("GET")
@job_or_404
def job_report(request, token, job):
    """The report of a finished job, as a file to download."""
    status, _ = job_state(job, now())
    if status not in OUTCOMES:
        return error(409, f"The job is {status}: its report exists once it has finished.")
    response = HttpResponse(report_png(token, job), content_type="image/png")
    response["Content-Disposition"] = 'attachment; filename="report.png"'
    return response


@endpoint("POST")
def receive_upload(request):
    """Files posted as multipart/form-data: each one's field, name, size and SHA-256, and the other fields."""
    if not request.content_type.startswith("multipart/form-data"):
        return error(415, "Send the files as multipart/form-data.")
    files = [
        {"field": field, "name": upload.name, "size": upload.size, "content_type": upload.content_type,
         "sha256": hashlib.sha256(b"".join(upload.chunks())).hexdigest()}
        for field, uploads in request.FILES.lists() for upload in uploads
    ]
    if not files:
        return error(400, "No file was sent.", errors={"files": "Send at least one file."})
    return JsonResponse({"status": "received", "files": files, "fields": dict(request.POST.items())}, status=201)

"""A small threaded HTTP server for scripted sequences ("pending, pending, done").

    with ScriptedServer() as server:
        server.script("/jobs/1", [reply(json={"status": "pending"}), reply(json={"status": "done"})])
        ... server.url("/jobs/1") ...
        server.requests  # every request received, in order

The last reply of a script repeats. A reply may delay, stream a huge body,
or be a function of the request.
"""

import json as jsonlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    stream_bytes: int = 0  # send this many bytes of filler, in chunks, instead of body


def reply(status=200, json=None, text=None, headers=None, delay=0.0, stream_bytes=0, content_type=None):
    headers = dict(headers or {})
    if json is not None:
        body = jsonlib.dumps(json).encode()
        headers.setdefault("Content-Type", "application/json")
    else:
        body = (text or "").encode()
        headers.setdefault("Content-Type", content_type or "text/plain")
    return Reply(status=status, body=body, headers=headers, delay=delay, stream_bytes=stream_bytes)


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: dict
    body: bytes
    at: float

    def json(self):
        return jsonlib.loads(self.body)


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops connections that arrive together (a batch of first
    # requests), which the client then sees as connect timeouts.
    request_queue_size = 128


class ScriptedServer:
    def __init__(self, ssl_context=None):
        """``ssl_context``: a server-side ssl.SSLContext to speak HTTPS."""
        self.scripts = {}
        self.requests = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.server = _Server(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.scheme = "http"
        if ssl_context is not None:
            # The handshake happens in the handler's thread, so a refused client cannot stall the server.
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True,
                                                         do_handshake_on_connect=False)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def base_url(self):
        host, port = self.server.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    def url(self, path=""):
        return self.base_url + path

    def script(self, path, replies):
        """Answer requests to ``path`` with ``replies`` in turn; the last one repeats."""
        with self.lock:
            self.scripts[path] = list(replies) if isinstance(replies, (list, tuple)) else [replies]

    def requests_to(self, path):
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, count, path=None, timeout=10):
        """Block until ``count`` requests (to ``path``) have arrived; return them."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                matching = [r for r in self.requests if path is None or r.path == path]
                if len(matching) >= count:
                    return matching
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"Only {len(matching)} of {count} requests arrived within {timeout} s.")
                self.arrived.wait(remaining)

    def _next_reply(self, request):
        with self.lock:
            script = self.scripts.get(request.path)
            if not script:
                return reply(404, json={"detail": f"nothing scripted for {request.path}"})
            item = script.pop(0) if len(script) > 1 else script[0]
        return item(request) if callable(item) else item

    def _handler_class(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body are written separately: without TCP_NODELAY, Nagle and the
            # client's delayed ACK hold every answer back ~40 ms.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Received(self.command, parts.path, parts.query, dict(self.headers), body, time.monotonic())
                answer = server._next_reply(request)
                with server.arrived:
                    server.requests.append(request)
                    server.arrived.notify_all()
                if answer.delay:
                    time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if answer.stream_bytes:
                    self.send_header("Content-Length", str(answer.stream_bytes))
                    self.end_headers()
                    chunk = b"x" * 65536
                    sent = 0
                    try:
                        while sent < answer.stream_bytes:
                            piece = chunk[: answer.stream_bytes - sent]
                            self.wfile.write(piece)
                            sent += len(piece)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    return
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                try:
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        return Handler

"""A small HTTPS proxy for tests: it tunnels CONNECT requests and counts every connection.

    with TunnelProxy(hosts={"jobs.example.invalid": server_port}) as proxy:
        ... proxy.url ...
        proxy.connections  # TCP connections accepted
        proxy.requests     # request lines received: ["CONNECT jobs.example.invalid:443 HTTP/1.1"]

Names in ``hosts`` are resolved by the proxy alone (to a port on 127.0.0.1), as
a corporate proxy resolves names the worker cannot. It tunnels to nothing
but 127.0.0.1.
"""

import select
import socket
import socketserver
import threading


class TunnelProxy:
    def __init__(self, hosts=None):
        self.hosts = dict(hosts or {})
        self.connections = 0
        self.requests = []
        self.lock = threading.Lock()
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self):
        host, port = self.server.server_address
        return f"http://{host}:{port}"

    def _upstream(self, target):
        host, _, port = target.rpartition(":")
        if host in self.hosts:
            return ("127.0.0.1", self.hosts[host])
        if host == "127.0.0.1":
            return (host, int(port))
        return None

    def _handler_class(self):
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                with proxy.lock:
                    proxy.connections += 1
                line = self.rfile.readline(65537).decode("latin-1").strip()
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # the request's headers
                with proxy.lock:
                    proxy.requests.append(line)
                method, target = (line.split() + ["", ""])[:2]
                address = proxy._upstream(target) if method == "CONNECT" else None
                if address is None:
                    self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    return
                try:
                    upstream = socket.create_connection(address, timeout=5)
                except OSError:
                    self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    return
                with upstream:
                    self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    _relay(self.connection, upstream)

        return Handler


def _relay(one, other):
    """Copy bytes both ways until either side closes (or 5 s of silence)."""
    while True:
        readable, _, _ = select.select([one, other], [], [], 5)
        if not readable:
            return
        for sock in readable:
            data = sock.recv(65536)
            if not data:
                return
            (other if sock is one else one).sendall(data)

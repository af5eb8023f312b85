"""A fast local service for the benchmark: answers every poll at once and logs it.

GET /poll/<run>?attempt=N answers {"status": "pending"}, or {"status": "done"}
once the file named by --done-flag exists. Each request is logged as
"run attempt epoch-seconds answer" to --log, written out on SIGTERM.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PENDING = json.dumps({"status": "pending"}).encode()
DONE = json.dumps({"status": "done"}).encode()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", required=True)
    parser.add_argument("--done-flag", required=True)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    lines = []
    done = threading.Event()

    def watch():
        while not os.path.exists(args.done_flag):
            time.sleep(0.01)
        done.set()

    threading.Thread(target=watch, daemon=True).start()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body are written separately: without TCP_NODELAY, Nagle and the
        # client's delayed ACK hold every answer back ~40 ms.
        disable_nagle_algorithm = True

        def log_message(self, *a):
            pass

        def do_GET(self):
            path, _, query = self.path.partition("?")
            is_done = done.is_set()
            body = DONE if is_done else PENDING
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            lines.append(f"{path.rsplit('/', 1)[-1]} {query.partition('=')[2]} {time.time():.6f} {'done' if is_done else 'pending'}\n")

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.request_queue_size = 1024

    def stop(signum, frame):
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    with open(args.port_file, "w") as file:
        file.write(str(server.server_address[1]))
    server.serve_forever()
    with open(args.log, "w") as file:
        file.writelines(lines)
    sys.exit(0)


if __name__ == "__main__":
    main()

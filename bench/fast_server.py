"""A local service for the benchmark: answers polls and logs each one.

GET /poll/<run>?attempt=N answers {"status": "pending"} at once, or
{"status": "done"} once the file named by --done-flag exists; /slow/<run>
answers the same after --slow-seconds; /hang/<run> never answers (the client
gives up at its read timeout); /end/<run> answers at once, "done" from attempt
--end-at on (so those runs end by themselves, in the measurement window); POST
/hook/... (webhook deliveries) answers {} at once and is only counted. Each
request is logged as "run attempt
epoch-seconds answer kind" to --log, written out on SIGTERM.

It shares the machine's cores with the cluster it serves, so it is a bare
asyncio protocol (keep-alive HTTP/1.1, requests without bodies) rather than
http.server, whose thread and parsing per request cost several times more.
"""

import argparse
import asyncio
import json
import os
import signal
import time

PENDING = json.dumps({"status": "pending"}).encode()
DONE = json.dumps({"status": "done"}).encode()


def response(body):
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


HOOK_TAKEN = response(b"{}")
ANSWERS = {False: (response(PENDING), "pending"), True: (response(DONE), "done")}


class Service(asyncio.Protocol):
    def __init__(self, state):
        self.state = state
        self.buffer = b""

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.buffer += data
        while True:
            head, separator, rest = self.buffer.partition(b"\r\n\r\n")
            if not separator:
                return
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(rest) < length:
                return
            self.buffer = rest[length:]
            target = head.split(b" ", 2)[1].decode()
            path, _, query = target.partition("?")
            kind = path.split("/")[1]
            if kind == "hook":  # a webhook delivery (the burst's subscription): taken, not logged
                self.state["hooks"] += 1
                self.transport.write(HOOK_TAKEN)
                continue
            done = self.state["done"]
            if kind == "end":
                attempt = query.partition("=")[2]
                done = done or (attempt.isdigit() and int(attempt) >= self.state["end_at"])
            payload, word = ANSWERS[done]
            if kind in ("poll", "end"):
                self.transport.write(payload)
            elif kind == "slow":
                asyncio.get_running_loop().call_later(self.state["slow_seconds"], self._answer_late, payload)
            # "hang": no answer, ever.
            self.state["lines"].append(
                f"{path.rsplit('/', 1)[-1]} {query.partition('=')[2]} {time.time():.6f} {word} {kind}\n"
            )

    def _answer_late(self, payload):
        if not self.transport.is_closing():
            self.transport.write(payload)


async def serve(args):
    state = {"done": False, "lines": [], "slow_seconds": args.slow_seconds, "hooks": 0, "end_at": args.end_at}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Service(state), "127.0.0.1", args.port, backlog=1024)
    stopped = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stopped.set)
    with open(args.port_file, "w") as file:
        file.write(str(server.sockets[0].getsockname()[1]))
    while not stopped.is_set():
        if not state["done"] and os.path.exists(args.done_flag):
            state["done"] = True
        try:
            await asyncio.wait_for(stopped.wait(), 0.01)
        except asyncio.TimeoutError:
            pass
    server.close()
    with open(args.log, "w") as file:
        file.writelines(state["lines"])
    if args.hooks_file:
        with open(args.hooks_file, "w") as file:
            file.write(str(state["hooks"]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log", required=True)
    parser.add_argument("--done-flag", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--slow-seconds", type=float, default=2.0)
    parser.add_argument("--hooks-file", default="", help="where to write how many webhook POSTs came (/hook/)")
    parser.add_argument("--end-at", type=int, default=3, help="the attempt from which /end/<run> answers done")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()

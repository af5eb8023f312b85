"""Tiny helpers that read settings from the environment."""

import os


def envbool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def envint(name, default):
    value = os.environ.get(name)
    return int(value) if value else default


def envfloat(name, default):
    value = os.environ.get(name)
    return float(value) if value else default


def envlist(name, default=()):
    value = os.environ.get(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def listening_url(address, default="http://127.0.0.1:8000"):
    """The URL at which a server listening on ``address`` is reached from this machine.

    ``address`` is what run.sh and serve.sh read from ADDRESS: ``host:port``,
    a port alone, or a socket (``unix:...``, ``fd://N``: no URL, so ``default``).
    A wildcard host (0.0.0.0, ::) is reached at 127.0.0.1.
    """
    address = (address or "").strip()
    if not address or address.startswith(("unix:", "fd://")):
        return default
    host, colon, port = address.rpartition(":")
    if not colon:
        host, port = "", address
    if not port.isdigit():
        return default
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"

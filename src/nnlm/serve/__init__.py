"""`nnlm serve`: one local web page and JSON API over trained runs (pip install 'nnlm[serve]').

Starlette and uvicorn are an optional extra: this module imports neither until `serve` runs,
so `nnlm` without them still imports, and the command says what to install.
"""

from __future__ import annotations

import contextlib
import importlib.util
import ipaddress
import os
import socket

from ..errors import NnlmError

NEEDS = ("starlette", "uvicorn")


def missing_dependencies() -> list[str]:
    """The packages `nnlm serve` needs that are not installed."""
    return [name for name in NEEDS if importlib.util.find_spec(name) is None]


def serve(run_dirs: list[str], host: str = "127.0.0.1", port: int = 8000) -> int:
    """Load the runs, listen on host:port and serve until Ctrl-C. Bad runs and a port that
    cannot be had are NnlmErrors before anything is served."""
    if missing_dependencies():
        raise NnlmError("nnlm serve needs: pip install 'nnlm[serve]'")
    import torch
    import uvicorn

    from .app import LOOPBACK, create_app

    # requests are many and small: one thread per op, so the event loop and each run's worker
    # share the cores instead of every op fanning out over all of them (on 2 cores, measured with
    # benchmarks/serve_load.py: 1 thread ~465 sample requests/s, 2 threads ~370)
    torch.set_num_threads(1)
    app = create_app(run_dirs, allowed_hosts=LOOPBACK | {host} if is_loopback(host) else None)
    sock = listen(host, port)
    url_host = f"[{host}]" if ":" in host else host
    print(f"nnlm serve: {', '.join(r.name for r in app.state.runs.values())} at "
          f"http://{url_host}:{sock.getsockname()[1]}/ (Ctrl-C to stop)", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn shuts down cleanly, then re-raises Ctrl-C
        uvicorn.Server(config).run(sockets=[sock])
    print("nnlm serve: stopped", flush=True)
    return 0


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine only (localhost, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one), or a one-line NnlmError."""
    if not 0 <= port <= 65535:
        raise NnlmError.about("port", "--port", f"must be from 0 to 65535, got {port}")
    sock = None
    try:
        address_family, socket_type, proto, _, address = socket.getaddrinfo(host, port,
                                                                           type=socket.SOCK_STREAM)[0]
        sock = socket.socket(address_family, socket_type, proto)
        if os.name != "nt":  # on Windows it would let another process take the port too
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:  # socket.gaierror too: an unknown host name
        if sock is not None:
            sock.close()
        raise NnlmError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.set_inheritable(True)
    return sock


__all__ = ["missing_dependencies", "serve"]

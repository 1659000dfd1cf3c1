"""``convlens serve``: start uvicorn (see app/server.py) with the settings' host, port and workers."""
from __future__ import annotations

import argparse
import os

from app.server import run
from app.settings import get_settings


def main(argv: list[str] | None = None) -> None:
    s = get_settings()
    parser = argparse.ArgumentParser(prog="convlens", description="convlens: see and measure convolutions")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the web app and API")
    serve.add_argument("--host", default=s.host, help="address to bind (default %(default)s)")
    serve.add_argument("--port", type=int, default=s.port, help="port (default %(default)s)")
    serve.add_argument("--workers", type=int, default=s.workers, help="uvicorn worker processes")
    args = parser.parse_args(argv)
    # Workers are separate processes that read settings from the environment: pass the choice on,
    # so each one shares the cores out correctly (see Settings.compute_threads).
    os.environ["CONVLENS_WORKERS"] = str(args.workers)
    print(f"convlens on http://{args.host}:{args.port}/  (API docs at /docs)", flush=True)
    run(args.host, args.port, args.workers)


if __name__ == "__main__":
    main()

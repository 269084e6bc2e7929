"""`dashboard`: serve the Dash app over a store (127.0.0.1:8050 unless told otherwise)."""

from __future__ import annotations

import argparse
from pathlib import Path

from store.db import DEFAULT_STORE


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="dashboard", description="Serve the nilm-edge dashboard.")
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE, help="DuckDB store file")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8050)
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    from dashboard.app import create_app

    app = create_app(args.store)
    print(f"nilm-edge dashboard on http://{args.host}:{args.port}/ (store {args.store})")
    app.run(host=args.host, port=args.port, debug=args.debug)


if __name__ == "__main__":
    main()

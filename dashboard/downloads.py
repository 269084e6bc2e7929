"""The variant page's file downloads: only files the store references, inside its artifacts."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import flask

from store.db import StoreError


def register_downloads(server: flask.Flask) -> None:
    from dashboard import queries

    @server.route("/download/<kind>/<path:variant_id>")
    def download(kind: str, variant_id: str):
        try:
            found = queries.download_path(
                Path(server.config["NILM_STORE"]), variant_id, kind.removeprefix(".")
            )
        except StoreError:
            found = None
        if found is None:
            flask.abort(404)
        path, sha = found
        resp = flask.send_file(path, as_attachment=True, download_name=path.name)
        if sha:
            resp.headers["X-Content-SHA256"] = sha
        return resp


def download_href(variant_id: str, kind: str) -> str:
    return f"/download/{kind}/{urllib.parse.quote(variant_id)}"

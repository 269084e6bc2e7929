"""A path that climbs out of the component suites answers 404, never 500."""

from __future__ import annotations

import pytest

from .cli_support import tiny_store

CLIMBS = [
    "/_dash-component-suites/../../../etc/passwd",
    "/_dash-component-suites/dash/../../../../etc/passwd",
    "/_dash-component-suites/dash/deps/../../../x.js",
    "/_dash-component-suites/dash/..",
]


@pytest.mark.parametrize("path", CLIMBS)
def test_a_traversal_path_answers_404(tmp_path, path):
    from dashboard.app import create_app

    app = create_app(tiny_store(tmp_path / "nilm.duckdb"))
    # PATH_INFO exactly as a raw request line gives it (no client-side normalisation)
    res = app.server.test_client().get(path, environ_overrides={"PATH_INFO": path})
    assert res.status_code == 404

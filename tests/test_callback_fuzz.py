"""Every Dash callback the app lists in /_dash-dependencies, driven with wrong types, unknown
ids, empty lists and huge numbers: never an HTTP 5xx, and (what the fuzz is really for) never an
error the callbacks did not expect: inputs are validated where they enter, the app-wide guard
that turns a failure into a logged empty update is the last resort and must stay unused here."""

import json
import logging

import pytest

from .handmade_store import build

ODD_VALUES = [
    None,
    "",
    "zzz",
    "../../../etc/passwd",
    "kettle'; DROP TABLE variants; --",
    0,
    -1,
    3.5,
    10**30,
    -1e308,
    1e308,
    True,
    [],
    ["zzz"],
    [None, 1, {"a": 1}],
    list(range(200)),
    {},
    {"xaxis.range": ["zzz", 5]},
    {"xaxis.range[0]": 1, "xaxis.range[1]": None},
    {"points": [{"customdata": [None]}]},
    "x" * 5000,
]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from dashboard.app import create_app

    app = create_app(build(tmp_path_factory.mktemp("fuzz") / "nilm.duckdb"))
    c = app.server.test_client()
    assert c.get("/").status_code == 200  # the app sets its callbacks up on the first request
    return c


def _concrete(cid: str):
    """A component id as the page would send it: pattern ids (JSON) with a made-up name."""
    if not cid.startswith("{"):
        return cid
    spec = json.loads(cid)
    return {k: ("fuzz" if isinstance(v, list) else v) for k, v in spec.items()}


def _outputs(output: str):
    parts = output.strip(".").split("...") if output.startswith("..") else [output]
    specs = []
    for part in parts:
        cid, prop = part.rsplit(".", 1)
        specs.append({"id": _concrete(cid), "property": prop})
    return specs if output.startswith("..") else specs[0]


def _body(dep: dict, values: list, changed: int = 0) -> dict:
    inputs = [
        {"id": _concrete(i["id"]), "property": i["property"], "value": v}
        for i, v in zip(dep["inputs"], values[: len(dep["inputs"])], strict=True)
    ]
    state = [
        {"id": _concrete(s["id"]), "property": s["property"], "value": v}
        for s, v in zip(dep["state"], values[len(dep["inputs"]) :], strict=True)
    ]
    first = inputs[changed] if inputs else None
    return {
        "output": dep["output"],
        "outputs": _outputs(dep["output"]),
        "inputs": inputs,
        "state": state,
        "changedPropIds": [
            f"{json.dumps(first['id']) if isinstance(first['id'], dict) else first['id']}.{first['property']}"
        ]
        if first
        else [],
    }


def _requests(deps: list[dict]):
    """Per server callback: each argument in turn set to each odd value (the others None), then
    every argument odd at once."""
    for dep in deps:
        n = len(dep["inputs"]) + len(dep["state"])
        for k in range(n):
            for v in ODD_VALUES:
                values = [None] * n
                values[k] = v
                yield dep, _body(dep, values, changed=min(k, len(dep["inputs"]) - 1))
        for v in ODD_VALUES:
            yield dep, _body(dep, [v] * n)


def test_every_callback_survives_odd_inputs(client, caplog):
    deps = client.get("/_dash-dependencies").get_json()
    server = [d for d in deps if not d.get("clientside_function")]
    assert len(server) >= 12
    statuses, sent = {}, 0
    with caplog.at_level(logging.WARNING, logger="dashboard.callbacks"):
        for dep, body in _requests(server):
            r = client.post("/_dash-update-component", json=body)
            sent += 1
            statuses.setdefault(r.status_code, []).append(dep["output"])
            assert r.status_code < 500, (dep["output"], body, r.get_data(as_text=True)[:500])
    assert sent >= 800, sent
    failed = [rec.getMessage() for rec in caplog.records if "callback failed" in rec.getMessage()]
    unexpected = [
        (rec.exc_info[1].__class__.__name__, str(rec.exc_info[1])[:200])
        for rec in caplog.records
        if rec.exc_info
    ]
    assert not failed, unexpected[:10]
    assert set(statuses) <= {200, 204, 400}, {k: len(v) for k, v in statuses.items()}
    # 400 only where no page could have sent the request: an address that is not one
    by_address = {
        d["output"]
        for d in server
        if any(i["id"] == "url" and i["property"] == "pathname" for i in d["inputs"])
    }
    assert all("_pages_content" in o or o in by_address for o in statuses.get(400, [])), (
        set(statuses[400]) - by_address
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"output": "no-such.children", "inputs": [], "state": []},
        {"output": "var-body.children", "outputs": {"id": "var-body", "property": "children"}},
        {"output": "var-body.children", "inputs": "zzz", "state": 5},
        [],
    ],
)
def test_malformed_callback_requests_are_refused_with_400(client, body):
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code == 400, r.get_data(as_text=True)[:300]


def test_a_logged_failure_becomes_an_empty_update_with_a_notice(client, caplog, monkeypatch):
    """The last resort: a callback that fails anyway answers 200 with only the notice, and the
    error is in the log with its traceback."""
    import sys

    import dash

    def broken(*a, **k):
        raise RuntimeError("boom")

    page = next(p for p in dash.page_registry.values() if p["name"] == "Variant")
    monkeypatch.setattr(sys.modules[page["module"]], "section", broken)
    body = {
        "output": "var-body.children",
        "outputs": {"id": "var-body", "property": "children"},
        "inputs": [{"id": "var-id", "property": "value", "value": "fuzz.guard.check"}],
        "state": [],
        "changedPropIds": ["var-id.value"],
    }
    with caplog.at_level(logging.ERROR, logger="dashboard.callbacks"):
        r = client.post("/_dash-update-component", json=body)
    assert r.status_code == 200
    answer = r.get_json()
    assert "var-body" not in answer["response"] and "callback-notice" in answer["sideUpdate"]
    assert any(rec.exc_info and "boom" in str(rec.exc_info[1]) for rec in caplog.records)


@pytest.mark.parametrize(
    "path",
    [
        "/_dash-component-suites/../../../etc/passwd",
        "/_dash-component-suites/dash/..%2F..%2F..%2Fetc%2Fpasswd",
        "/_dash-component-suites/nope/x.js",
    ],
)
def test_paths_outside_the_component_suites_answer_404(client, path):
    assert client.get(path).status_code == 404

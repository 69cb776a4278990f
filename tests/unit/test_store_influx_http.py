"""Translation of InfluxDB HTTP answers into store errors (network replaced, no server).

v1 requests go through an injected ``httpx.MockTransport``; the v2 write path (influxdb-client,
urllib3) is pointed at a small local HTTP server that records what it receives.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from hub.adapters.store.base import StoreError, StoreRejected, StoreUnavailable
from hub.adapters.store.influx_http import InfluxHttp, InfluxTarget
from hub.adapters.store.influx_server import free_port

Handler = Callable[[httpx.Request], httpx.Response]


def v1(handler: Handler, **target: object) -> InfluxHttp:
    options: dict[str, object] = {"url": "http://influx.test:8086", "database": "hub"}
    options.update(target)
    return InfluxHttp(InfluxTarget(**options), transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


def test_v1_write_request() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    v1(handler, retention_policy="ninety_days", token="u:p").write("m,t=1 v=1 1000")
    (request,) = seen
    assert request.url.path == "/write"
    assert dict(request.url.params) == {"db": "hub", "precision": "ms", "rp": "ninety_days"}
    assert request.headers["Authorization"] == "Token u:p"
    assert request.content == b"m,t=1 v=1 1000"


@pytest.mark.parametrize(
    ("status", "body", "error", "match"),
    [
        (400, {"error": "unable to parse 'x': invalid field format"}, StoreRejected, "parse"),
        (400, {"error": "partial write: field type conflict"}, StoreRejected, "conflict"),
        (413, {"error": "Request Entity Too Large"}, StoreRejected, "413"),
        (404, {"error": 'database not found: "hub"'}, StoreUnavailable, "exist"),
        (401, {"error": "authorization failed"}, StoreUnavailable, "credentials"),
        (403, {"error": "forbidden"}, StoreUnavailable, "credentials"),
        (429, {"error": "slow down"}, StoreUnavailable, "429"),
        (500, {"error": "engine: cache maximum memory size exceeded"}, StoreUnavailable, "cache"),
        (503, "Service Unavailable", StoreUnavailable, "503"),
        (418, "teapot", StoreError, "418"),
    ],
)
def test_v1_write_errors(status: int, body: object, error: type[StoreError], match: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    with pytest.raises(error, match=match) as caught:
        v1(handler).write("m v=1 1")
    assert type(caught.value) is error


def test_points_beyond_the_retention_policy_are_not_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"error": "partial write: points beyond retention policy dropped=2"}
        )

    v1(handler).write("m v=1 1")


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("eof")],
)
def test_network_failures_are_retryable(failure: httpx.HTTPError) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise failure

    http = v1(handler)
    for call in (lambda: http.write("m v=1 1"), lambda: http.query("SELECT 1"), http.ping):
        with pytest.raises(StoreUnavailable, match="unreachable"):
            call()


def test_query_results() -> None:
    answer = {
        "results": [
            {
                "statement_id": 0,
                "series": [
                    {
                        "name": "glucose",
                        "tags": {"metric": "glucose"},
                        "columns": ["time", "value"],
                        "values": [[1000, 5.5]],
                    }
                ],
            }
        ]
    }
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answer)

    (series,) = v1(handler).query('SELECT "value" FROM "glucose"')
    assert series.rows() == [{"time": 1000, "value": 5.5}]
    assert series.tags == {"metric": "glucose"}
    form = parse_qs(seen[0].content.decode())
    assert form == {"q": ['SELECT "value" FROM "glucose"'], "db": ["hub"], "epoch": ["ms"]}


@pytest.mark.parametrize(
    ("answer", "error", "match"),
    [
        (
            {"results": [{"statement_id": 0, "error": "database not found: hub"}]},
            StoreUnavailable,
            "not found",
        ),
        (
            {"results": [{"statement_id": 0, "error": "retention policy not found: x"}]},
            StoreUnavailable,
            "not found",
        ),
        ({"error": "error parsing query: found FORM"}, StoreError, "refused the query"),
        (
            {"results": [{"statement_id": 0, "partial": True, "series": []}]},
            StoreError,
            "max-row-limit",
        ),
        (
            {
                "results": [
                    {"series": [{"name": "m", "columns": ["time"], "values": [], "partial": True}]}
                ]
            },
            StoreError,
            "max-row-limit",
        ),
    ],
)
def test_query_errors(answer: object, error: type[StoreError], match: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answer)

    with pytest.raises(error, match=match) as caught:
        v1(handler).query("SELECT 1")
    assert type(caught.value) is error


# -- v2 writes through influxdb-client -------------------------------------------------------


class _Recorder(BaseHTTPRequestHandler):
    requests: list[tuple[str, dict[str, str], bytes]] = []
    reply: tuple[int, bytes] = (204, b"")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.requests.append((self.path, dict(self.headers), body))
        status, payload = self.reply
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, type[_Recorder]]]:
    handler = type("Handler", (_Recorder,), {"requests": [], "reply": (204, b"")})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def v2(url: str) -> InfluxHttp:
    return InfluxHttp(
        InfluxTarget(
            url=url,
            api="v2",
            database="hub",
            bucket="readings",
            org="acme",
            token="tok",
            timeout_s=5,
        )
    )


def test_v2_write_is_synchronous_line_protocol(recorder: tuple[str, type[_Recorder]]) -> None:
    url, handler = recorder
    http = v2(url)
    http.write("m,t=1 v=1 1000\nm,t=2 v=2 2000")
    http.close()
    ((path, headers, body),) = handler.requests
    split = urlsplit(path)
    assert split.path == "/api/v2/write"
    assert parse_qs(split.query) == {"org": ["acme"], "bucket": ["readings"], "precision": ["ms"]}
    assert headers["Authorization"] == "Token tok"
    assert body == b"m,t=1 v=1 1000\nm,t=2 v=2 2000"


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, StoreRejected), (422, StoreRejected), (401, StoreUnavailable), (503, StoreUnavailable)],
)
def test_v2_write_errors(
    recorder: tuple[str, type[_Recorder]], status: int, error: type[StoreError]
) -> None:
    url, handler = recorder
    handler.reply = (status, json.dumps({"code": "invalid", "message": "no good"}).encode())
    http = v2(url)
    with pytest.raises(error, match="no good") as caught:
        http.write("m v=1 1")
    assert type(caught.value) is error
    assert len(handler.requests) == 1  # the client does not retry behind our back
    http.close()


def test_v2_write_to_nothing_is_retryable() -> None:
    http = v2(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StoreUnavailable, match="unreachable"):
        http.write("m v=1 1")
    http.close()

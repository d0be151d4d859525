"""Pieces the Teams tests share: the fake Bot Framework connector's server, and the fake key server's
JSON answers. Each test file keeps its own recording of what the connector received (what it asserts on
differs); serving it on 127.0.0.1 at the connector's paths is the same everywhere."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler
from typing import Protocol, TypeVar

from aiohttp import web
from aiohttp.test_utils import TestServer


class Receiver(Protocol):
    url: str
    receive: Callable[[web.Request], Awaitable[web.Response]]


R = TypeVar("R", bound=Receiver)


@asynccontextmanager
async def serving(fake: R) -> AsyncIterator[R]:
    """`fake.receive` answers the connector's paths on 127.0.0.1 (a new conversation, posts, replies to an
    activity, and updates of one); `fake.url` is set to the server's address while it runs."""
    app = web.Application()
    app.router.add_post("/v3/conversations", fake.receive)  # a new conversation (a personal chat opened)
    app.router.add_post("/v3/conversations/{conversation}/activities", fake.receive)
    app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", fake.receive)
    app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", fake.receive)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("/"))
    try:
        yield fake
    finally:
        await server.close()


def send_json(handler: BaseHTTPRequestHandler, body: object) -> None:
    """Answer a fake key server's GET with `body` as JSON."""
    data = json.dumps(body).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)

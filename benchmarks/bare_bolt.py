"""A bare bolt AsyncApp on aiohttp whose only listener acknowledges: the yardstick for bench_slack.

Run by the benchmark as `python -m benchmarks.bare_bolt PORT API_URL`; bolt checks the signature itself
and calls auth.test (on the fake Slack) for its first request, as an app with a token does.
"""

from __future__ import annotations

import sys
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from tests.fake_slack import BOT_TOKEN, SIGNING_SECRET


def build(api_url: str) -> web.Application:
    bolt = AsyncApp(client=AsyncWebClient(token=BOT_TOKEN, base_url=api_url), signing_secret=SIGNING_SECRET,
                    process_before_response=True)

    @bolt.event("app_mention")
    async def acknowledge(ack: Any) -> None:
        await ack()

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/slack/events", events)
    app.router.add_get("/healthz", healthz)
    return app


if __name__ == "__main__":
    web.run_app(build(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)

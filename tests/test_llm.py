"""Optional rewording: the real openai client against a fake OpenAI server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from bot.app import Core, build_core
from handlers.address import Address
from handlers.faq import is_faithful
from handlers.messages import Inbound
from tests.helpers import settings_for


@dataclass
class FakeOpenAI:
    reply: str = ""
    status: int = 200
    calls: list[dict[str, object]] = field(default_factory=list)

    async def completions(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls.append({"auth": request.headers.get("Authorization"), **body})
        if self.status != 200:
            return web.json_response({"error": {"message": "boom", "type": "server_error"}}, status=self.status)
        return web.json_response({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": self.reply}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })


@pytest.fixture
async def fake_openai() -> AsyncIterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.completions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"http://127.0.0.1:{port}/v1"
    await runner.cleanup()


@pytest.fixture
def core_with_llm(tmp_path: Path, fake_openai: tuple[FakeOpenAI, str]) -> Core:
    _, url = fake_openai
    core = build_core(settings_for(tmp_path, OPENAI_API_KEY="sk-test", OPENAI_BASE_URL=url))
    yield core
    core.close()


QUESTION = "地域DX推進ラボとは何ですか"
HERE = Address("web", "c1", "u1")


async def test_faithful_rewording_is_used_with_the_entry_sources(core_with_llm: Core,
                                                                  fake_openai: tuple[FakeOpenAI, str]) -> None:
    fake, _ = fake_openai
    fake.reply = "地域DX推進ラボは、地域のDXの取組を国が選んで支える仕組みです。"
    reply = await core_with_llm.dispatcher.message(Inbound(HERE, QUESTION))
    assert reply.answer is not None and reply.answer.answered
    assert reply.text.startswith(fake.reply)
    assert reply.source and "出典" in reply.source
    call = fake.calls[0]
    assert call["auth"] == "Bearer sk-test" and call["temperature"] == 0
    assert QUESTION in json.dumps(call["messages"], ensure_ascii=False)


async def test_invented_numbers_or_server_errors_keep_the_reviewed_answer(
        core_with_llm: Core, fake_openai: tuple[FakeOpenAI, str]) -> None:
    fake, _ = fake_openai
    reviewed = core_with_llm.faq.ask(QUESTION).answer
    fake.reply = "2031年までに999地域を選ぶ制度です。"
    assert (await core_with_llm.dispatcher.message(Inbound(HERE, QUESTION))).text == reviewed
    fake.status = 500
    assert (await core_with_llm.dispatcher.message(Inbound(HERE, QUESTION))).text == reviewed


async def test_declined_questions_never_reach_the_model(core_with_llm: Core,
                                                        fake_openai: tuple[FakeOpenAI, str]) -> None:
    fake, _ = fake_openai
    reply = await core_with_llm.dispatcher.message(Inbound(HERE, "今日の天気はどうですか"))
    assert reply.answer is not None and reply.answer.answered is False and not fake.calls


def test_faithfulness_guard() -> None:
    assert is_faithful("第三弾は2024年9月27日に5地域。", "2024年9月27日の第三弾で5地域が選ばれました。")
    assert not is_faithful("第三弾は5地域。", "第三弾は6地域。")
    assert not is_faithful("短い回答。", "")

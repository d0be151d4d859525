"""Teams through the real CloudAdapter: activities in over HTTP, replies out to a fake Bot Framework connector."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from botbuilder.schema import ConversationReference
from botframework.connector.auth import MicrosoftAppCredentials
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import select, text

from bot.app import Core, build_core
from bot.channels.teams import TeamsChannel
from bot.channels.teams_sender import build_teams_sender
from bot.config import Settings
from bot.db.models import ConsultCase, Feedback, HandoffRequest, QuestionLog
from bot.inbox import InboxWorker
from bot.outbound import outbox_worker
from handlers.address import Address
from handlers.i18n import t
from knowledge.live import LiveKnowledge
from tests.conftest import settled
from tests.fake_teams import send_json, serving

BOT_ID, BOT_NAME = "28:dxlab-bot", "地域DX推進ラボ"
USER_ID = "29:user-1"
AAD_ID = "00000000-0000-0000-0000-000000000001"  # the directory's identity of the user
PERSONAL = "a:personal-chat-1"
CHANNEL_THREAD = "19:general@thread.tacv2;messageid=1700000000000"
APP_ID = "8f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@dataclass
class Posted:
    conversation: str
    reply_to: str | None
    authorization: str | None
    activity: dict


@dataclass
class FakeConnector:
    """The Bot Framework connector replies go to: records each activity the bot sends."""

    url: str = ""
    posted: list[Posted] = field(default_factory=list)

    async def receive(self, request: web.Request) -> web.Response:
        self.posted.append(Posted(request.match_info["conversation"], request.match_info.get("activity"),
                                  request.headers.get("Authorization"), await request.json()))
        return web.json_response({"id": f"sent-{len(self.posted)}"})

    @property
    def messages(self) -> list[dict]:
        return [p.activity for p in self.posted if p.activity["type"] == "message"]


@dataclass
class Harness:
    core: Core
    client: TestClient
    connector: FakeConnector

    async def post(self, body: object, headers: dict[str, str] | None = None) -> web.Response:
        """Post an activity and wait until what it caused has been answered and sent (inbox, then outbox)."""
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        response = await self.client.post("/api/messages", data=data,
                                          headers={"Content-Type": "application/json", **(headers or {})})
        await settled(self.core)
        return response


StartTeams = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    async with serving(FakeConnector()) as fake:
        yield fake


@pytest.fixture
async def start_teams(make_settings: Callable[..., Settings], bundled_knowledge: LiveKnowledge,
                      connector: FakeConnector) -> AsyncIterator[StartTeams]:
    """Start the Teams endpoint (a real CloudAdapter) on 127.0.0.1 with its own SQLite database."""
    opened: list[tuple[Core, TeamsChannel, TestClient]] = []

    async def start(env: dict[str, str] | None = None, anonymous_allowed: bool = True,
                    auth_overrides: dict[str, str] | None = None) -> Harness:
        settings = make_settings(**(env or {}))
        core = build_core(settings, bundled_knowledge)
        inbox = InboxWorker(core.db, {})
        channel = TeamsChannel(settings, core.db, core.dispatcher, inbox.wake, anonymous_allowed,
                               auth_overrides=auth_overrides)
        inbox.processors["teams"] = channel.process
        outbox = outbox_worker(core.db, {"teams": build_teams_sender(settings, core.db, auth_overrides)}, settings)
        core.dispatcher.on_enqueued(outbox.wake)
        inbox.start()
        sending = asyncio.create_task(outbox.run_forever(poll_s=0.2))
        app = web.Application()
        app.router.add_post("/api/messages", channel.handle)
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        opened.append((core, channel, client, inbox, outbox, sending))
        return Harness(core, client, connector)

    yield start
    for core, channel, client, inbox, outbox, sending in opened:
        await client.close()
        await inbox.close()
        outbox.stop()
        await sending
        await channel.close()
        core.close()


def activity(service_url: str, text: str | None = None, *, kind: str = "message", conversation: str = PERSONAL,
             conversation_type: str = "personal", activity_id: str = "msg-1", **extra: object) -> dict:
    body = {
        "type": kind, "id": activity_id, "channelId": "msteams", "serviceUrl": service_url, "locale": "ja-JP",
        "from": {"id": USER_ID, "name": "利用者", "aadObjectId": AAD_ID},
        "recipient": {"id": BOT_ID, "name": BOT_NAME},
        "conversation": {"id": conversation, "conversationType": conversation_type, "tenantId": "tenant-1"},
        **extra,
    }
    if text is not None:
        body["text"] = text
    return body


def card(message: dict) -> dict:
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    return attachment["content"]


def block_texts(content: dict) -> list[str]:
    return [b["text"] for b in content["body"] if b["type"] == "TextBlock"]


def submit_data(content: dict) -> list[dict]:
    nested = [a for b in content["body"] if b["type"] == "ActionSet" for a in b["actions"]]
    return [a["data"] for a in [*content["actions"], *nested]]


def question_with_suggestions(core: Core) -> str:
    """A question answered from an entry, with "もしかして" suggestions: found, as the content keeps changing."""
    candidates = ["補助金はもらえますか", "支援", "マーク", "応募", "セレクション", "メンター", "費用", "ラボ"]
    for question in [*candidates, *(q for e in core.knowledge.engine.kb.entries for q in e.questions)]:
        result = core.faq.ask(question)
        if result.answered and result.entry_id and result.suggestions:
            return question
    pytest.fail("no question gets suggestions from this knowledge base")


ASKED = itertools.count(1)


async def ask(h: Harness, question: str) -> dict:
    # Each message its own activity id, as Teams gives: the inbox drops a repeated one as a retry.
    response = await h.post(activity(h.connector.url, question, activity_id=f"msg-{next(ASKED)}"))
    assert response.status == 201, await response.text()
    return h.connector.messages[-1]


async def test_personal_message_gets_adaptive_card_with_answer_source_and_buttons(start_teams: StartTeams) -> None:
    h = await start_teams()
    question = question_with_suggestions(h.core)
    expected = h.core.faq.ask(question)
    message = await ask(h, question)

    content = card(message)
    texts = block_texts(content)
    assert "\n".join(texts).startswith(expected.answer.split("\n")[0])
    assert any(line in texts for line in expected.source_line.splitlines())
    assert t("faq.suggest_intro") in texts
    titles = [a["title"] for a in content["actions"]]
    assert titles == [t("button.feedback_up"), t("button.feedback_down"), t("button.handoff")]
    assert all(a["type"] == "Action.Submit" for a in content["actions"])
    assert {"action": "ask", "value": expected.suggestions[0]} in submit_data(content)
    assert message["summary"].startswith(expected.answer.split("\n")[0])  # plain-text fallback
    assert content["fallbackText"] == message["summary"]
    # Sent into the user's conversation through the outbox, without a token (no app id: emulator mode).
    reply = h.connector.posted[-1]
    assert (reply.conversation, reply.authorization) == (PERSONAL, None)


async def test_typing_indicator_is_sent_before_the_answer(start_teams: StartTeams) -> None:
    h = await start_teams()
    await ask(h, "選定されるとどんな支援がありますか")
    assert [p.activity["type"] for p in h.connector.posted] == ["typing", "message"]


async def test_channel_mention_is_answered_in_the_thread_without_the_mention(start_teams: StartTeams) -> None:
    h = await start_teams()
    question = f"{BOT_NAME}とは何ですか"  # the bot's own name inside the question must survive
    mention = {"type": "mention", "text": f"<at>{BOT_NAME}</at>", "mentioned": {"id": BOT_ID, "name": BOT_NAME}}
    body = activity(h.connector.url, f"<at>{BOT_NAME}</at> {question}", conversation=CHANNEL_THREAD,
                    conversation_type="channel", entities=[mention])
    assert (await h.post(body)).status == 201

    expected = h.core.faq.ask(question)
    assert block_texts(card(h.connector.messages[-1]))[0] == expected.answer.split("\n")[0]
    assert h.connector.posted[-1].conversation == CHANNEL_THREAD
    with h.core.db.session() as s:
        assert s.scalars(select(QuestionLog.question)).all() == [question]


async def test_channel_message_without_mention_is_ignored(start_teams: StartTeams) -> None:
    h = await start_teams()
    body = activity(h.connector.url, "応募資格は?", conversation=CHANNEL_THREAD, conversation_type="channel")
    assert (await h.post(body)).status == 201
    assert h.connector.posted == []


async def test_commands_from_the_teams_command_menu(start_teams: StartTeams) -> None:
    h = await start_teams()
    await ask(h, "ask 応募資格は?")
    with h.core.db.session() as s:
        assert s.scalars(select(QuestionLog.question)).all() == ["応募資格は?"]
    assert t("help.title") in (await ask(h, "help"))["text"]


def _press(h: Harness, data: dict, activity_id: str = "press-1") -> dict:
    return activity(h.connector.url, kind="message", activity_id=activity_id, value=data, replyToId="sent-2")


async def test_feedback_button_stores_feedback(start_teams: StartTeams) -> None:
    h = await start_teams()
    thumbs_up = submit_data(card(await ask(h, question_with_suggestions(h.core))))[0]
    assert thumbs_up["action"] == "feedback_up"

    assert (await h.post(_press(h, thumbs_up))).status == 201
    assert h.connector.messages[-1]["text"] == t("feedback.thanks")
    with h.core.db.session() as s:
        rows = [(f.question_log_id, f.user_ref, f.value) for f in s.scalars(select(Feedback))]
    assert rows == [(int(thumbs_up["value"]), AAD_ID, 1)]


async def test_handoff_button_creates_request_and_confirms(start_teams: StartTeams) -> None:
    h = await start_teams()
    question = question_with_suggestions(h.core)
    handoff = submit_data(card(await ask(h, question)))[2]
    assert handoff["action"] == "handoff"

    assert (await h.post(_press(h, handoff))).status == 201
    with h.core.db.session() as s:
        (request,) = s.scalars(select(HandoffRequest)).all()
        (case,) = s.scalars(select(ConsultCase)).all()
    assert (request.channel, request.user_ref, request.conversation_ref) == ("teams", AAD_ID, f"teams:{PERSONAL}")
    assert request.question == question == case.text
    assert f"DX-{case.year}-{case.seq:04d}" in json.dumps(h.connector.messages[-1], ensure_ascii=False)


async def test_suggestion_button_answers_the_suggested_entry(start_teams: StartTeams) -> None:
    h = await start_teams()
    suggestion = submit_data(card(await ask(h, question_with_suggestions(h.core))))[3]
    assert suggestion["action"] == "ask"

    assert (await h.post(_press(h, suggestion))).status == 201
    expected = h.core.faq.answer_entry(suggestion["value"])
    assert block_texts(card(h.connector.messages[-1]))[0] == expected.answer.split("\n")[0]


async def test_welcome_once_on_install(start_teams: StartTeams) -> None:
    h = await start_teams()
    added = activity(h.connector.url, kind="conversationUpdate",
                     membersAdded=[{"id": BOT_ID, "name": BOT_NAME}])
    installed = activity(h.connector.url, kind="installationUpdate", action="add", activity_id="install-1")
    assert (await h.post(added)).status == 201
    assert (await h.post(installed)).status == 201  # Teams announces one install both ways
    assert [m["text"] for m in h.connector.messages] == [t("welcome.text")]


async def test_no_welcome_when_someone_else_joins(start_teams: StartTeams) -> None:
    h = await start_teams()
    joined = activity(h.connector.url, kind="conversationUpdate", membersAdded=[{"id": "29:newcomer"}])
    assert (await h.post(joined)).status == 201
    assert h.connector.posted == []


def _stored_reference(h: Harness, conversation: str) -> str | None:
    with h.core.units() as uow:
        return uow.conversations.reference(Address("teams", conversation))


async def test_conversation_reference_is_stored(start_teams: StartTeams) -> None:
    h = await start_teams()
    await ask(h, "応募資格は?")
    stored = _stored_reference(h, PERSONAL)
    assert stored is not None
    reference = ConversationReference().deserialize(json.loads(stored))
    assert (reference.conversation.id, reference.service_url, reference.user.id, reference.bot.id) == (
        PERSONAL, h.connector.url, USER_ID, BOT_ID)


async def test_too_long_message_gets_polite_reply(start_teams: StartTeams) -> None:
    h = await start_teams()
    limit = h.core.settings.max_question_chars
    message = await ask(h, "あ" * 60_000)
    assert message["text"] == t("faq.too_long", limit=limit, length=60_000)


async def test_failure_in_a_turn_tells_the_user_and_hides_the_traceback(start_teams: StartTeams) -> None:
    h = await start_teams()
    with h.core.db.engine.begin() as conn:
        conn.execute(text("ALTER TABLE question_log RENAME TO question_log_gone"))
    response = await h.post(activity(h.connector.url, "応募資格は?"))
    assert response.status == 201
    assert "Traceback" not in await response.text()
    assert h.connector.messages[-1]["text"] == t("error.generic")


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b""], ids=["broken", "not-utf8", "empty"])
async def test_malformed_body_is_400(start_teams: StartTeams, body: bytes) -> None:
    h = await start_teams()
    response = await h.post(body)
    assert response.status == 400
    assert "Traceback" not in await response.text()


@pytest.mark.parametrize("body", [
    [], "message", {"hello": "world"}, {"type": "message"},
    {"type": "message", "serviceUrl": "http://127.0.0.1:1/", "conversation": {"id": "c"}, "from": {"id": "u"},
     "recipient": {"id": "b"}, "timestamp": "not a date"},
], ids=["list", "string", "object", "no-addresses", "bad-field"])
async def test_json_that_is_not_an_activity_is_400(start_teams: StartTeams, body: object) -> None:
    h = await start_teams()
    response = await h.post(body)
    assert response.status == 400
    assert "Traceback" not in await response.text()


@pytest.mark.parametrize("authorization", [
    None, "Bearer garbage", "Bearer a.b.c", "Basic dXNlcjpwYXNz",
    # A well-formed JWT from an issuer botbuilder does not trust: refused before any key download.
    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJodHRwczovL2V2aWwuZXhhbXBsZSJ9.c2ln",
], ids=["none", "garbage", "dots", "basic", "foreign-issuer"])
async def test_with_app_id_unauthenticated_requests_get_401(start_teams: StartTeams,
                                                            authorization: str | None) -> None:
    h = await start_teams({"MICROSOFT_APP_ID": APP_ID, "MICROSOFT_APP_PASSWORD": "secret"})
    headers = {"Authorization": authorization} if authorization else {}
    response = await h.post(activity(h.connector.url, "応募資格は?"), headers)
    assert response.status == 401
    assert h.connector.posted == []
    with h.core.db.session() as s:
        assert s.scalars(select(QuestionLog)).all() == []


async def test_emulator_mode_garbage_authorization_is_401(start_teams: StartTeams) -> None:
    h = await start_teams()
    response = await h.post(activity(h.connector.url, "応募資格は?"), {"Authorization": "Bearer not-a-jwt"})
    assert response.status == 401
    assert h.connector.posted == []


async def test_without_app_id_and_anonymous_not_allowed_everything_is_401(start_teams: StartTeams) -> None:
    h = await start_teams(anonymous_allowed=False)
    response = await h.post(activity(h.connector.url, "応募資格は?"))
    assert response.status == 401
    assert h.connector.posted == []


# Signed tokens, checked against signing keys served from 127.0.0.1 (botbuilder's parameterized settings).
ISSUER = "https://api.botframework.com"


class KeyServer:
    """OpenID metadata and signing keys, served from a thread: botbuilder fetches them with blocking `requests`.

    With `hold`, the metadata answer waits for `release`, so a test can look at the bot mid-download.
    """

    def __init__(self, jwk: dict, hold: bool = False):
        self.asked, self.release = threading.Event(), threading.Event()
        if not hold:
            self.release.set()
        keys = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/openid":
                    keys.asked.set()
                    keys.release.wait(10)
                    body = {"jwks_uri": f"{keys.url}/keys"}
                else:
                    body = {"keys": [jwk]}
                send_json(self, body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(key: rsa.RSAPrivateKey) -> dict:
    return {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": "test-key", "endorsements": ["msteams"]}


def _token(key: rsa.RSAPrivateKey, service_url: str, audience: str = APP_ID) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": audience, "serviceurl": service_url, "nbf": now - 60, "exp": now + 600}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "test-key"})


@dataclass
class FakeAzureAd:
    """Stands in for MSAL's token request to Azure AD (blocking HTTP; no network here), cache included."""

    fetched_on: list[threading.Thread] = field(default_factory=list)

    def get_access_token(self, credentials: MicrosoftAppCredentials) -> str:
        if not hasattr(credentials, "_fake_token"):  # MSAL keeps one cache per credentials object
            self.fetched_on.append(threading.current_thread())
            credentials._fake_token = f"aad-token-for-{credentials.microsoft_app_id}"
        return credentials._fake_token


@pytest.fixture
def azure_ad(monkeypatch: pytest.MonkeyPatch) -> FakeAzureAd:
    fake = FakeAzureAd()
    monkeypatch.setattr(MicrosoftAppCredentials, "get_access_token",
                        lambda self, force_refresh=False: fake.get_access_token(self))
    return fake


async def _start_signed(start_teams: StartTeams, keys: KeyServer) -> Harness:
    return await start_teams({"MICROSOFT_APP_ID": APP_ID, "MICROSOFT_APP_PASSWORD": "secret"}, auth_overrides={
        "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": f"{keys.url}/openid",
        "TO_BOT_FROM_CHANNEL_TOKEN_ISSUER": ISSUER})


@pytest.fixture
def key_servers() -> Iterator[Callable[..., KeyServer]]:
    started: list[KeyServer] = []

    def start(jwk: dict, hold: bool = False) -> KeyServer:
        started.append(KeyServer(jwk, hold))
        return started[-1]

    yield start
    for server in started:
        server.close()


def _event(service_url: str) -> dict:
    return activity(service_url, kind="event", name="ping", conversation="a:signed-chat")  # needs no answer


async def test_signed_token_is_accepted_and_a_forged_one_refused(
        start_teams: StartTeams, key_servers: Callable[..., KeyServer], signing_key: rsa.RSAPrivateKey,
        azure_ad: FakeAzureAd) -> None:
    h = await _start_signed(start_teams, key_servers(_jwk(signing_key)))
    url = h.connector.url
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    for token, status in [(_token(other_key, url), 401),  # signed with a key the service did not publish
                          (_token(signing_key, url, audience="another-bot"), 401),
                          (_token(signing_key, "https://elsewhere.example/"), 401),  # serviceurl claim mismatch
                          (_token(signing_key, url), 201)]:
        response = await h.post(_event(url), {"Authorization": f"Bearer {token}"})
        assert response.status == status, token
    assert _stored_reference(h, "a:signed-chat") is not None


async def test_key_download_does_not_block_other_requests(
        start_teams: StartTeams, key_servers: Callable[..., KeyServer], signing_key: rsa.RSAPrivateKey,
        azure_ad: FakeAzureAd) -> None:
    keys = key_servers(_jwk(signing_key), hold=True)
    h = await _start_signed(start_teams, keys)
    signed = asyncio.create_task(h.post(_event(h.connector.url),
                                        {"Authorization": f"Bearer {_token(signing_key, h.connector.url)}"}))
    assert await asyncio.to_thread(keys.asked.wait, 10)  # the bot is now downloading the keys

    unsigned = await h.post(activity(h.connector.url, "応募資格は?"))
    assert unsigned.status == 401
    assert not signed.done()  # answered while the first request's keys were still on their way

    keys.release.set()
    assert (await signed).status == 201


async def test_signed_replies_carry_a_token_fetched_once_off_the_event_loop(
        start_teams: StartTeams, key_servers: Callable[..., KeyServer], signing_key: rsa.RSAPrivateKey,
        azure_ad: FakeAzureAd) -> None:
    h = await _start_signed(start_teams, key_servers(_jwk(signing_key)))
    auth = {"Authorization": f"Bearer {_token(signing_key, h.connector.url)}"}
    for n, question in enumerate(["応募資格は?", "選定されるとどんな支援がありますか"]):
        response = await h.post(activity(h.connector.url, question, activity_id=f"msg-{n}"), auth)
        assert response.status == 201

    assert len(h.connector.messages) == 2
    assert {p.authorization for p in h.connector.posted} == {f"Bearer aad-token-for-{APP_ID}"}
    # The channel (typing) and the outbox's sender (the answer) each fetch a token once: their credentials,
    # and so MSAL's token cache, outlive a turn; and never on the event loop's thread.
    assert len(azure_ad.fetched_on) == 2
    assert threading.main_thread() not in azure_ad.fetched_on

"""The Teams sender through a real CloudAdapter to a fake Bot Framework connector on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.channels.teams_sender import TeamsSender, build_teams_sender
from bot.config import Settings
from bot.db.models import OutboxMessage
from bot.db.repos.conversations import SqlConversations
from bot.db.repos.outbox_worker import SqlOutboxQueue
from bot.db.repos.work import SqlOutboxWriter
from bot.db.session import Database
from handlers.address import Address
from handlers.messages import Reply
from handlers.outcome import Lane, Send
from scheduler.outbox import OutboxWorker, utc_now
from tests.fake_teams import serving

TENANT = "tenant-1"
PERSONAL = "a:personal-chat-1"
CHANNEL = "19:general@thread.tacv2"


@dataclass
class Connector:
    """Records each activity posted (and each one replaced: PUT of an activity id); answers with scripted
    statuses first ("429", "500", "403")."""

    url: str = ""
    posted: list[tuple[str, dict]] = field(default_factory=list)
    updated: list[tuple[str, str, dict]] = field(default_factory=list)  # conversation, activity id, activity
    replied_to: list[str | None] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    opened: list[dict] = field(default_factory=list)  # the parameters of each conversation created

    async def receive(self, request: web.Request) -> web.Response:
        if request.path == "/v3/conversations":
            self.opened.append(await request.json())
            return web.json_response({"id": f"a:opened-{len(self.opened)}"})
        if self.faults:
            status = int(self.faults.pop(0))
            return web.json_response({"error": {"code": "x", "message": "scripted"}}, status=status,
                                     headers={"Retry-After": "0"} if status == 429 else None)
        if request.method == "PUT":
            self.updated.append((request.match_info["conversation"], request.match_info["activity"],
                                 await request.json()))
            return web.json_response({"id": request.match_info["activity"]})
        self.posted.append((request.match_info["conversation"], await request.json()))
        self.replied_to.append(request.match_info.get("activity"))
        return web.json_response({"id": f"activity-{len(self.posted)}"})


@pytest.fixture
async def connector() -> AsyncIterator[Connector]:
    async with serving(Connector()) as fake:
        yield fake


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
async def teams(settings: Settings, db: Database) -> AsyncIterator[TeamsSender]:
    sender = build_teams_sender(settings, db)
    yield sender
    await sender.close()


def enqueue(db: Database, *sends: Send) -> None:
    with db.session() as session:
        for send in sends:
            SqlOutboxWriter(session).enqueue(send, utc_now())
        session.commit()


def outbox(db: Database) -> dict[str, OutboxMessage]:
    with db.session() as session:
        return {r.key: r for r in session.scalars(select(OutboxMessage))}


def worker(db: Database, teams: TeamsSender, **options: object) -> OutboxWorker:
    return OutboxWorker(SqlOutboxQueue(db), {"teams": teams}, send_rate=0, backoff_base_s=0.05,  # type: ignore[arg-type]
                        **options)


async def test_sends_to_a_stored_conversation(db: Database, teams: TeamsSender, connector: Connector) -> None:
    reference = {"activityId": "msg-1", "user": {"id": "29:user-1"}, "bot": {"id": "28:dxlab-bot"},
                 "conversation": {"id": PERSONAL, "conversationType": "personal", "tenantId": TENANT},
                 "channelId": "msteams", "serviceUrl": connector.url}
    address = Address("teams", PERSONAL, workspace=TENANT)
    with db.session() as session:
        SqlConversations(session).save(address, json.dumps(reference))
        session.commit()
    enqueue(db, Send(address, Reply(text="ご相談の担当者が決まりました。"), "k-personal", lane=Lane.REPLY))
    assert (await worker(db, teams).drain()).sent == 1
    ((conversation, activity),) = connector.posted
    assert conversation == PERSONAL and connector.replied_to != ["msg-1"]  # not a reply to the last message heard
    assert (activity["type"], activity["text"]) == ("message", "ご相談の担当者が決まりました。")
    assert activity["from"]["id"] == "28:dxlab-bot"
    assert outbox(db)["k-personal"].platform_id == "activity-1"


async def test_rebuilds_a_channel_thread_from_the_address(db: Database, teams: TeamsSender,
                                                           connector: Connector) -> None:
    address = Address("teams", CHANNEL, thread="1700000000000", workspace=TENANT, service_url=connector.url)
    enqueue(db, Send(address, Reply(text="交流会のお知らせです。"), "k-thread"))
    assert (await worker(db, teams).drain()).sent == 1
    ((conversation, activity),) = connector.posted
    assert conversation == f"{CHANNEL};messageid=1700000000000"
    assert activity["conversation"]["tenantID"] == TENANT  # (botbuilder spells it so)


async def test_429_and_5xx_are_retried_and_403_gives_up(db: Database, teams: TeamsSender,
                                                        connector: Connector) -> None:
    address = Address("teams", CHANNEL, workspace=TENANT, service_url=connector.url)
    connector.faults = ["429", "500"]
    enqueue(db, Send(address, Reply(text="一通目"), "k-retried", lane=Lane.REPLY))
    report = await worker(db, teams, in_flight=1).drain()
    assert report.sent == 1 and report.retried == 1  # the 429 waited in place; the 500 came back later
    assert [a["text"] for _, a in connector.posted] == ["一通目"]
    assert outbox(db)["k-retried"].attempts == 2
    connector.faults = ["403"]
    enqueue(db, Send(address, Reply(text="二通目"), "k-refused"))
    report = await worker(db, teams).drain()
    assert [f["key"] for f in report.failed] == ["k-refused"] and "403" in str(report.failed[0]["error"])


async def test_a_message_to_a_person_goes_to_their_personal_chat(db: Database, teams: TeamsSender,
                                                                 connector: Connector) -> None:
    reference = {"user": {"id": "29:user-1", "aadObjectId": "aad-1"}, "bot": {"id": "28:dxlab-bot"},
                 "conversation": {"id": PERSONAL, "conversationType": "personal", "tenantId": TENANT},
                 "channelId": "msteams", "serviceUrl": connector.url}
    with db.session() as session:  # as the Teams channel saves it when the person writes to the bot
        SqlConversations(session).save(Address("teams", PERSONAL, "aad-1", workspace=TENANT), json.dumps(reference))
        session.commit()
    # A reminder addressed to the person (the directory knows their Azure AD object id), not to a chat.
    enqueue(db, Send(Address("teams", user="aad-1"), Reply(text="交流会は明日です。"), "k-remind"))
    assert (await worker(db, teams).drain()).sent == 1
    ((conversation, activity),) = connector.posted
    assert conversation == PERSONAL and activity["text"] == "交流会は明日です。"


async def test_a_person_with_no_chat_yet_gets_one_opened_once(db: Database, teams: TeamsSender,
                                                              connector: Connector) -> None:
    channel = {"user": {"id": "29:someone-else"}, "bot": {"id": "28:dxlab-bot"},
               "conversation": {"id": CHANNEL, "conversationType": "channel", "tenantID": TENANT},  # as serialized
               "channelId": "msteams", "serviceUrl": connector.url}
    with db.session() as session:  # the bot has only been heard in a lab's channel of the tenant
        SqlConversations(session).save(Address("teams", CHANNEL, "29:someone-else"), json.dumps(channel))
        session.commit()
    enqueue(db, Send(Address("teams", user="aad-2"), Reply(text="KPIのご報告をお願いします。"), "k-nudge-1"))
    enqueue(db, Send(Address("teams", user="aad-2"), Reply(text="締切は明日です。"), "k-nudge-2"))
    assert (await worker(db, teams, in_flight=1).drain()).sent == 2
    ((opened),) = connector.opened  # opened once: the second message found the chat the first one opened
    assert opened["members"] == [{"id": "aad-2"}] and opened["isGroup"] is False
    assert opened["channelData"] == {"tenant": {"id": TENANT}} and opened["tenantID"] == TENANT  # (sic)
    assert [(c, a["text"]) for c, a in connector.posted] == [("a:opened-1", "KPIのご報告をお願いします。"),
                                                             ("a:opened-1", "締切は明日です。")]


async def test_a_channel_never_heard_from_is_reached_through_the_connector_heard_last(
        db: Database, teams: TeamsSender, connector: Connector) -> None:
    heard = {"user": {"id": "29:u"}, "bot": {"id": "28:dxlab-bot"}, "channelId": "msteams",
             "conversation": {"id": CHANNEL, "conversationType": "channel", "tenantID": TENANT},
             "serviceUrl": connector.url}
    with db.session() as session:
        SqlConversations(session).save(Address("teams", CHANNEL, "29:u"), json.dumps(heard))
        session.commit()
    other = "19:lab-nagano@thread.tacv2"  # a lab's channel from the directory; the bot never heard from it
    enqueue(db, Send(Address("teams", other), Reply(text="交流会のご案内"), "k-other"))
    assert (await worker(db, teams).drain()).sent == 1
    ((conversation, activity),) = connector.posted
    assert conversation == other and activity["conversation"]["tenantID"] == TENANT


async def test_an_address_with_nothing_to_rebuild_from_fails_at_once(db: Database, teams: TeamsSender) -> None:
    enqueue(db, Send(Address("teams", user="29:someone", workspace=TENANT), Reply(text="x"), "k-nowhere"))
    report = await worker(db, teams).drain()
    assert [f["key"] for f in report.failed] == ["k-nowhere"]


async def test_an_edit_replaces_the_sent_activity(db: Database, teams: TeamsSender, connector: Connector) -> None:
    address = Address("teams", CHANNEL, workspace=TENANT, service_url=connector.url)
    enqueue(db, Send(address, Reply(text="交流会のご案内(参加 0名)"), "k-invite"))
    enqueue(db, Send(address, Reply(text="交流会のご案内(参加 1名)"), "k-invite:live:1", lane=Lane.REPLY,
                     edits="k-invite"))
    report = await worker(db, teams).drain()
    assert report.sent == 2 and [a["text"] for _, a in connector.posted] == ["交流会のご案内(参加 0名)"]
    ((conversation, activity_id, activity),) = connector.updated
    assert (conversation, activity_id) == (CHANNEL, "activity-1")
    assert (activity["id"], activity["text"]) == ("activity-1", "交流会のご案内(参加 1名)")
    assert outbox(db)["k-invite:live:1"].platform_id == "activity-1"

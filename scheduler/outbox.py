"""The outbox worker: claims rows, delivers them through a platform's Sender, paces, retries, reconciles.

No platform SDK and no handler here: a `Sender` per platform (bot/channels/*_sender.py) delivers one
row and translates its platform's errors into the three this module understands; the database side is
the `OutboxStore` Protocol (bot/db/repos/outbox_worker.py).

Delivery is at least once with a reconcile step that makes it effectively once on Slack:
- a row is claimed (state `claimed`, `claimed_until`) before it is sent, so two workers never hold it;
- an outcome we do not know (a timeout, a 5xx, a worker that died between send and commit, whose claim
  expires and is taken over) sets `unknown_outcome`; the next try first asks `find_delivered` whether
  the platform already has a message carrying the row's key, and only sends when it has not.
Where a platform has no lookup (Teams, Slack ephemeral messages) one duplicate remains possible, only
after such an unknown outcome.

An edit (a row whose `edits` names the key of an earlier row) replaces that row's message in place
(`Sender.edit`). It goes only once its original is sent: before that it is released unchanged (no attempt
spent) until the original's own time; when the original was given up, so is the edit. Edits are
idempotent, so an unknown outcome is simply tried again. The store hands out only the newest edit of
a message (older pending ones are marked superseded when claimed), so a burst of changes costs one call.

Pacing (real time, not the clock given for due-time comparisons):
- lane REPLY rows go at once; only a workspace paused by a 429 holds them;
- lane BULK rows go ≥ `channel_gap_s` apart per pacing key (a Slack channel) and at most `send_rate`
  per second per workspace (a token bucket; 0 = unlimited);
- a 429 pauses the whole workspace until its Retry-After.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from handlers.address import Address
from handlers.messages import Reply
from handlers.outcome import Lane

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]

DEFAULT_SEND_RATE = 5.0  # messages per second per workspace (DXLAB_SEND_RATE)
DEFAULT_MAX_ATTEMPTS = 8  # DXLAB_OUTBOX_MAX_ATTEMPTS
CLAIM_S = 45.0  # a dead worker's claim is taken over after this (< 60 s)
BATCH = 200
IN_FLIGHT = 16
HOLD_MAX_S = 5.0  # wait in memory for a pacing gate up to this; longer → back to the table
BACKOFF_BASE_S = 2.0
BACKOFF_CAP_S = 600.0
FLUSH_EVERY_S = 0.05
EDIT_RECHECK_S = 2.0  # an edit whose original is on its way looks again after this
GIVEN_UP = ("failed", "cancelled", "superseded")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- what a Sender sees and says ---------------------------------------------------------------

@dataclass(frozen=True)
class Original:
    """The earlier row an edit replaces, as it stood when the edit was claimed."""

    id: int
    key: str
    state: str
    platform_id: str | None
    address_json: str
    next_attempt_at: dt.datetime

    @property
    def address(self) -> Address:
        return Address.from_json(self.address_json)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    key: str
    platform: str
    address_json: str
    payload_json: str
    attempts: int  # including this one
    unknown_outcome: bool  # an earlier try may have been delivered: reconcile before sending
    lane: str = Lane.BULK.value
    pacing_key: str = ""
    workspace: str = ""
    created_at: dt.datetime | None = None
    edits: str | None = None  # the key of the row whose message this one replaces
    original: Original | None = None  # that row (None: not found)

    @property
    def address(self) -> Address:
        return Address.from_json(self.address_json)

    @property
    def reply(self) -> Reply:
        return Reply.from_json(self.payload_json)


@dataclass(frozen=True)
class Delivered:
    platform_id: str


class SendError(Exception):
    pass


class RateLimited(SendError):
    def __init__(self, retry_after_s: float, scope: str = "workspace"):
        super().__init__(f"rate limited ({scope}); retry after {retry_after_s:g} s")
        self.retry_after_s = retry_after_s
        self.scope = scope


class Transient(SendError):
    """Timeouts, 5xx, network errors: the message may or may not have arrived."""


class Permanent(SendError):
    """The platform refused for good (no such channel, not a member, archived…)."""


class Sender(Protocol):
    async def send(self, row: OutboxRow) -> Delivered: ...

    async def find_delivered(self, row: OutboxRow) -> str | None: ...

    async def edit(self, row: OutboxRow) -> Delivered:
        """Replace the message of `row.original` (sent, with its platform_id) by `row.reply`."""
        ...


# -- what the worker asks of the database ----------------------------------------------------------

@dataclass(frozen=True)
class Settled:
    """The end of one claim: sent (platform_id), retry at `next_at`, released unchanged, or failed."""

    id: int
    state: str  # "sent" | "retry" | "release" | "failed"
    platform_id: str | None = None
    next_at: dt.datetime | None = None
    error: str | None = None
    unknown: bool = False


class OutboxStore(Protocol):
    def claim(self, worker: str, now: dt.datetime, limit: int, claim_s: float) -> list[OutboxRow]: ...

    def settle(self, worker: str, now: dt.datetime, results: Sequence[Settled]) -> None: ...

    def next_wakeup(self) -> dt.datetime | None:
        """The earliest next_attempt_at of a pending row or claimed_until of a claimed one; None when idle."""
        ...

    def status(self, now: dt.datetime) -> dict[str, object]: ...


# -- pacing ------------------------------------------------------------------------------------

@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class Pacer:
    """When may a row go (monotonic seconds)? Reserves its slot when asked."""

    send_rate: float = DEFAULT_SEND_RATE
    channel_gap_s: float = 1.0
    paused_until: dict[str, float] = field(default_factory=dict)
    _channel_next: dict[str, float] = field(default_factory=dict)
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def pause(self, workspace: str, seconds: float) -> None:
        until = time.monotonic() + seconds
        self.paused_until[workspace] = max(self.paused_until.get(workspace, 0.0), until)

    def gate(self, row: OutboxRow) -> float:
        """The monotonic time at which `row` may be sent; reserves the channel slot and a token."""
        now = time.monotonic()
        at = max(now, self.paused_until.get(row.workspace, 0.0))
        if row.lane == Lane.REPLY.value:
            return at
        at = max(at, self._channel_next.get(row.pacing_key, 0.0))
        if self.send_rate > 0:
            bucket = self._buckets.setdefault(row.workspace, _Bucket(self.send_rate, now))
            bucket.tokens = min(self.send_rate, bucket.tokens + (now - bucket.at) * self.send_rate)
            bucket.at = now
            bucket.tokens -= 1  # may go negative: the debt is the wait
            if bucket.tokens < 0:
                at = max(at, now + -bucket.tokens / self.send_rate)
        self._channel_next[row.pacing_key] = at + self.channel_gap_s
        return at

    def unreserve(self, row: OutboxRow) -> None:
        """Give back a slot reserved for a row that was not sent after all."""
        if row.lane != Lane.REPLY.value and self.send_rate > 0 and row.workspace in self._buckets:
            self._buckets[row.workspace].tokens += 1
        self._channel_next.pop(row.pacing_key, None)


# -- the worker --------------------------------------------------------------------------------

@dataclass
class DrainReport:
    sent: int = 0
    retried: int = 0
    failed: list[dict[str, object]] = field(default_factory=list)  # rows given up: key, attempts, error

    def add(self, other: DrainReport) -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.failed.extend(other.failed)

    def to_json(self) -> dict[str, object]:
        return {"sent": self.sent, "retried": self.retried, "given_up": self.failed}


class OutboxWorker:
    def __init__(self, store: OutboxStore, senders: dict[str, Sender], *, clock: Clock = utc_now,
                 send_rate: float = DEFAULT_SEND_RATE, max_attempts: int = DEFAULT_MAX_ATTEMPTS,
                 in_flight: int = IN_FLIGHT, batch: int = BATCH, channel_gap_s: float = 1.0,
                 rng: random.Random | None = None, worker_id: str | None = None,
                 backoff_base_s: float = BACKOFF_BASE_S):
        self.store = store
        self.senders = senders
        self.clock = clock
        self.max_attempts = max_attempts
        self.batch = batch
        self.pacer = Pacer(send_rate, channel_gap_s)
        self.worker_id = worker_id or f"w-{uuid.uuid4().hex[:12]}"
        self._slots = asyncio.Semaphore(in_flight)
        self._rng = rng or random.Random()
        self._backoff_base_s = backoff_base_s
        self._wake = asyncio.Event()
        self._stopping = False

    # ---- entry points

    def wake(self) -> None:
        """Rows were enqueued: look now rather than at the next poll."""
        self._wake.set()

    async def deliver_ready(self) -> DrainReport:
        """Deliver every row ready at the clock's now (claiming batch after batch) and return."""
        report = DrainReport()
        while True:
            now = self.clock()
            rows = await asyncio.to_thread(self.store.claim, self.worker_id, now, self.batch, CLAIM_S)
            if not rows:
                return report
            report.add(await self._deliver(rows))

    async def drain(self, until_empty: bool = True, max_wait_s: float = 0.5) -> DrainReport:
        """Deliver until no row is pending or claimed, waiting out backoff, Retry-After and dead claims."""
        report = DrainReport()
        while True:
            report.add(await self.deliver_ready())
            wakeup = await asyncio.to_thread(self.store.next_wakeup)
            if wakeup is None or not until_empty:
                return report
            wait = (wakeup - self.clock()).total_seconds()
            await asyncio.sleep(min(max(wait, 0.01), max_wait_s))

    async def run_forever(self, poll_s: float = 2.0) -> None:
        """The serving loop: deliver what is ready; sleep until woken, the next due row, or `poll_s`."""
        while not self._stopping:
            self._wake.clear()  # a wake() during the round below makes the wait end at once
            try:
                await self.deliver_ready()
                wakeup = await asyncio.to_thread(self.store.next_wakeup)
            except Exception:
                log.exception("outbox: delivery round failed")
                wakeup = None
            wait = poll_s if wakeup is None else min(poll_s, max((wakeup - self.clock()).total_seconds(), 0.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(wait, 0.05))

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def status(self) -> dict[str, object]:
        return await asyncio.to_thread(self.store.status, self.clock())

    # ---- one batch

    async def _deliver(self, rows: list[OutboxRow]) -> DrainReport:
        report = DrainReport()
        results: list[Settled] = []
        pending_flush: list[Settled] = []
        flushed = asyncio.Event()

        async def flusher() -> None:
            while True:
                await asyncio.sleep(FLUSH_EVERY_S)
                if pending_flush:
                    batch = pending_flush[:]
                    del pending_flush[:]
                    await asyncio.to_thread(self.store.settle, self.worker_id, self.clock(), batch)
                if flushed.is_set() and not pending_flush:
                    return

        async def one(row: OutboxRow) -> None:
            async with self._slots:
                settled = await self._one(row)
            results.append(settled)
            pending_flush.append(settled)

        # An edit whose original is in this batch goes after it, seeing how its original went.
        ids = {row.id for row in rows}
        after = [row for row in rows if row.original is not None and row.original.id in ids]
        later = {row.id for row in after}
        flush_task = asyncio.create_task(flusher())
        try:
            await asyncio.gather(*(one(row) for row in rows if row.id not in later))
            ended = {s.id: s for s in results}
            await asyncio.gather(*(one(_after_original(row, ended.get(row.original.id)))
                                   for row in after if row.original is not None))
        finally:
            flushed.set()
            await flush_task
        by_id = {row.id: row for row in rows}
        for s in results:
            if s.state == "sent":
                report.sent += 1
            elif s.state == "retry":
                report.retried += 1
            elif s.state == "failed":
                report.failed.append({"key": by_id[s.id].key, "attempts": by_id[s.id].attempts, "error": s.error})
        return report

    async def _one(self, row: OutboxRow) -> Settled:
        sender = self.senders.get(row.platform)
        if sender is None:
            return Settled(row.id, "failed", error=f"no sender for platform {row.platform!r}")
        if row.edits is not None:
            held = self._edit_held(row)
            if held is not None:
                return held
        while True:
            gate = self.pacer.gate(row)
            wait = gate - time.monotonic()
            if wait > HOLD_MAX_S:
                self.pacer.unreserve(row)
                return Settled(row.id, "release", next_at=self.clock() + dt.timedelta(seconds=wait))
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                delivered = await self._attempt(sender, row)
                return Settled(row.id, "sent", platform_id=delivered.platform_id)
            except RateLimited as exc:
                log.info("outbox: %s rate limited for %.1f s (%s)", row.workspace or row.platform,
                         exc.retry_after_s, row.key)
                self.pacer.pause(row.workspace, exc.retry_after_s)
            except Permanent as exc:
                log.warning("outbox: gave up %s: %s", row.key, exc)
                return Settled(row.id, "failed", error=f"permanent: {exc}")
            except Transient as exc:
                return self._retry(row, f"transient: {exc}", unknown=True)
            except Exception as exc:  # a sender's bug: retried like an unknown outcome, logged with traceback
                log.exception("outbox: sender for %s failed on %s", row.platform, row.key)
                return self._retry(row, f"{type(exc).__name__}: {exc}", unknown=True)

    def _edit_held(self, row: OutboxRow) -> Settled | None:
        """An edit cannot go yet (its original is not sent: released, no attempt spent) or ever (given up)."""
        original = row.original
        if original is None:
            return Settled(row.id, "failed", error=f"edit of {row.edits}: no such message")
        if original.state in GIVEN_UP:
            return Settled(row.id, "failed", error=f"edit of {row.edits}: the original was given up ({original.state})")
        if original.state != "sent":
            recheck = self.clock() + dt.timedelta(seconds=EDIT_RECHECK_S)
            return Settled(row.id, "release", next_at=max(original.next_attempt_at, recheck))
        return None

    async def _attempt(self, sender: Sender, row: OutboxRow) -> Delivered:
        if row.edits is not None:  # replacing a message twice is harmless: no reconcile
            return await sender.edit(row)
        if row.unknown_outcome:
            found = await sender.find_delivered(row)
            if found is not None:
                log.info("outbox: %s was already delivered (%s); not sending again", row.key, found)
                return Delivered(found)
        return await sender.send(row)

    def _retry(self, row: OutboxRow, error: str, unknown: bool) -> Settled:
        if row.attempts >= self.max_attempts:
            log.warning("outbox: gave up %s after %d attempts: %s", row.key, row.attempts, error)
            return Settled(row.id, "failed", error=error, unknown=unknown)
        delay = backoff_s(row.attempts, self._rng, self._backoff_base_s)
        return Settled(row.id, "retry", next_at=self.clock() + dt.timedelta(seconds=delay), error=error,
                       unknown=unknown)


def _after_original(row: OutboxRow, ended: Settled | None) -> OutboxRow:
    """An edit whose original was delivered (or given up) in the same batch, seeing that outcome."""
    if row.original is None or ended is None or ended.state not in ("sent", "failed"):
        return row
    return replace(row, original=replace(row.original, state=ended.state, platform_id=ended.platform_id))


def backoff_s(attempts: int, rng: random.Random, base_s: float = BACKOFF_BASE_S) -> float:
    """Exponential (2, 4, 8 … s, at most 10 min) with jitter: half fixed, half random."""
    ceiling = min(BACKOFF_CAP_S, base_s * 2 ** max(attempts - 1, 0))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)

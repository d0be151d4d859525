"""Bot Framework signing keys, fetched with a bound: botbuilder's own fetch blocks and has no timeout.

botbuilder checks a token's signature with keys from an OpenID metadata document and its JWKS
(botframework/connector/auth/jwt_token_extractor.py `_OpenIdMetadata`): two `requests.get` calls without
a timeout, made inside its async API, again by every request while the keys are missing (a failed fetch
is not remembered). A stalled key server would then hold one thread per request, and a burst of tokens
naming unknown keys would each start a download.

bot/channels/teams.py makes botbuilder get its metadata objects from `signing_keys(url)` (SDK imports stay
there); a `SigningKeys`:
- one download at a time per metadata URL, on a daemon thread (it never holds up the process's exit),
  each HTTP call with a timeout; callers wait for it on their own event loop, at most FETCH_WAIT_S;
- keys are kept for a day (as botbuilder does); a token naming a key we do not have starts a new
  download at most once per UNKNOWN_KEY_REFETCH_S;
- after a failed or overdue download, none is started for RETRY_AFTER_FAILURE_S: meanwhile a token that
  needs keys we do not have is refused at once (the last keys, if any, keep being used).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from jwt.algorithms import RSAAlgorithm

log = logging.getLogger(__name__)

HTTP_TIMEOUT_S = (3.05, 5.0)  # connect, read: per call
FETCH_WAIT_S = 8.0  # a caller waits this long for a download under way, then it counts as failed
KEEP_S = 24 * 3600.0
UNKNOWN_KEY_REFETCH_S = 3600.0
RETRY_AFTER_FAILURE_S = 30.0

Keys = list[dict[str, Any]]
Download = concurrent.futures.Future[bool]  # True once the keys are in; False when the download failed


@dataclass(frozen=True)
class SigningKey:
    """What botbuilder reads from a key (its `_OpenIdConfig`): the public key and the channels it endorses."""

    public_key: Any
    endorsements: list[str]


class KeysUnavailable(PermissionError):
    """No key to check this token with: 401."""


class SigningKeys:
    """botbuilder's `_OpenIdMetadata` interface (`await get(key_id)`), bounded. Shared by every event loop."""

    def __init__(self, url: str):
        self.url = url
        self.downloads = 0  # started, for the record (and the tests)
        self._lock = threading.Lock()
        self._keys: Keys = []
        self._fetched_at: float | None = None  # time.monotonic() of the last successful download
        self._failed_at: float | None = None
        self._running: Download | None = None
        self._started_at = 0.0

    async def get(self, key_id: str | None) -> SigningKey:
        download = self._download_for(key_id)
        if download is not None:
            try:  # a failed download was recorded by its thread; an overdue one is recorded here
                await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(download)),
                                       max(0.0, self._started_at + FETCH_WAIT_S - time.monotonic()))
            except TimeoutError as exc:
                self._failed(download, exc)
        found = self._find(key_id)
        if found is None:
            raise KeysUnavailable(f"no signing key {key_id!r} from {self.url}")
        return found

    def _download_for(self, key_id: str | None) -> Download | None:
        """The download to wait for (one under way, or a new one), or None when the keys must do."""
        now = time.monotonic()
        with self._lock:
            fresh = self._fetched_at is not None and now - self._fetched_at < KEEP_S
            known = any(k.get("kid") == key_id for k in self._keys)
            if fresh and (known or now - (self._fetched_at or 0.0) < UNKNOWN_KEY_REFETCH_S):
                return None
            if self._running is not None:
                return self._running
            if self._failed_at is not None and now - self._failed_at < RETRY_AFTER_FAILURE_S:
                return None
            self.downloads += 1
            self._started_at = now
            download: Download = concurrent.futures.Future()
            self._running = download
        threading.Thread(target=self._fetch, args=(download,), name="teams-signing-keys", daemon=True).start()
        return download

    def _fetch(self, download: Download) -> None:
        try:
            metadata = requests.get(self.url, timeout=HTTP_TIMEOUT_S)
            metadata.raise_for_status()
            listing = requests.get(metadata.json()["jwks_uri"], timeout=HTTP_TIMEOUT_S)
            listing.raise_for_status()
            keys = listing.json()["keys"]
            if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
                raise ValueError("the key set is not a list of keys")
        except Exception as exc:
            self._failed(download, exc)
            download.set_result(False)
            return
        with self._lock:
            self._keys, self._fetched_at, self._failed_at = keys, time.monotonic(), None
            if self._running is download:
                self._running = None
        download.set_result(True)

    def _failed(self, download: Download, exc: BaseException) -> None:
        with self._lock:
            if self._running is not download:
                return  # already recorded (by the thread or by another waiter)
            self._running, self._failed_at = None, time.monotonic()
        log.warning("teams: could not download the signing keys from %s (%s: %s); next try in %.0f s",
                    self.url, type(exc).__name__, exc, RETRY_AFTER_FAILURE_S)

    def _find(self, key_id: str | None) -> SigningKey | None:
        with self._lock:
            key = next((k for k in self._keys if k.get("kid") == key_id), None)
        if key is None:
            return None
        try:
            return SigningKey(RSAAlgorithm.from_jwk(json.dumps(key)), list(key.get("endorsements", [])))
        except Exception as exc:  # a published key we cannot read
            raise KeysUnavailable(f"signing key {key_id!r} is unreadable: {exc}") from exc


_BY_URL: dict[str, SigningKeys] = {}
_BY_URL_LOCK = threading.Lock()


def signing_keys(url: str) -> SigningKeys:
    with _BY_URL_LOCK:
        return _BY_URL.setdefault(url, SigningKeys(url))


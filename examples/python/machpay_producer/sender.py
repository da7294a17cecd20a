"""Delivery of signed batches to /v1/agent, with the client behaviour docs/protocol.md §6 asks for.

- 202: done; events listed in ``rejected`` are reported, never resent (resending cannot fix them).
- 429 and 503: wait ``Retry-After`` seconds, sign again with a fresh timestamp, resend.
- 413: split the batch in two and send each half.
- 401 ``timestamp_out_of_window``: take the receiver's clock from the ``Date`` header, correct
  the local offset and resend once.
- Other 4xx: permanent; report and stop.
- No answer (connection refused or reset, timeout): resend after a jittered exponential
  backoff. Resending is safe: an event keeps its (source, id) and natural key, so the receiver
  stores it once.
"""

import gzip
import http.client
import json
import random
import sys
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from .keys import AgentKey
from .signing import sign_request

AGENT_PATH = "/v1/agent"
BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"
MAX_EVENTS_PER_REQUEST = 1000  # docs/protocol.md §2 default


@dataclass
class Outcome:
    """What became of the events given to :meth:`Sender.send`."""

    accepted: int = 0
    # Per-event rejections, with ``index`` into the list given to send().
    rejected: list = field(default_factory=list)
    # Requests refused as a whole: (status, error code, message, number of events).
    refused: list = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    statuses: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.refused and not self.rejected


class GaveUp(Exception):
    """The receiver could not be reached, or kept asking to wait, for every attempt."""


def log(message: str) -> None:
    print(f"machpay-producer: {message}", file=sys.stderr)


class Sender:
    def __init__(
        self,
        url: str,
        key: AgentKey,
        *,
        use_gzip: bool = False,
        batch_size: int = MAX_EVENTS_PER_REQUEST,
        max_attempts: int = 6,
        max_wait_s: float = 30.0,
        timeout_s: float = 10.0,
        clock_offset_ms: int = 0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"--url must be http(s)://host[:port], got {url!r}")
        conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._conn = conn_class(parts.hostname, parts.port, timeout=timeout_s)
        self._path = parts.path.rstrip("/") + AGENT_PATH
        self._key = key
        self._gzip = use_gzip
        self._batch_size = max(1, min(batch_size, MAX_EVENTS_PER_REQUEST))
        self._max_attempts = max(1, max_attempts)
        self._max_wait_s = max_wait_s
        # Added to the local clock when stamping X-MachPay-Timestamp; corrected from Date.
        self.clock_offset_ms = clock_offset_ms

    def close(self) -> None:
        self._conn.close()

    def send(self, events: list[dict]) -> Outcome:
        outcome = Outcome()
        for start in range(0, len(events), self._batch_size):
            self._send_batch(events[start : start + self._batch_size], start, outcome)
        return outcome

    def _send_batch(self, batch: list[dict], offset: int, outcome: Outcome) -> None:
        body = json.dumps(batch, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": BATCH_MEDIA_TYPE}
        if self._gzip:
            # mtime=0: the same batch compresses to the same bytes on every attempt.
            body = gzip.compress(body, mtime=0)
            headers["Content-Encoding"] = "gzip"

        clock_corrected = False
        for attempt in range(1, self._max_attempts + 1):
            if attempt > 1:
                outcome.retries += 1
            timestamp_ms = int(time.time() * 1000) + self.clock_offset_ms
            signed = {**headers, **sign_request(self._key, self._path, body, timestamp_ms)}
            try:
                status, reply_headers, reply = self._post(body, signed)
            except (OSError, http.client.HTTPException) as err:
                self._conn.close()
                delay = min(5.0, 0.2 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
                log(f"no answer ({err.__class__.__name__}: {err}); retrying in {delay:.2f} s")
                time.sleep(delay)
                continue
            outcome.requests += 1
            outcome.statuses.append(status)
            code, message = error_of(reply)

            if status == 202:
                outcome.accepted += int(reply.get("accepted", 0))
                outcome.rejected.extend({**r, "index": offset + int(r["index"])} for r in reply.get("rejected", []))
                return
            if status in (429, 503):
                wait = min(retry_after_seconds(reply_headers.get("Retry-After")), self._max_wait_s)
                log(f"{status} {code}: waiting {wait:g} s (Retry-After) before resending")
                time.sleep(wait)
                continue
            if status == 413 and len(batch) > 1:
                half = len(batch) // 2
                log(f"413 {code}: splitting {len(batch)} events into {half} + {len(batch) - half}")
                self._send_batch(batch[:half], offset, outcome)
                self._send_batch(batch[half:], offset + half, outcome)
                return
            if status == 401 and code == "timestamp_out_of_window" and not clock_corrected:
                server_ms = date_header_ms(reply_headers.get("Date"))
                if server_ms is not None:
                    clock_corrected = True
                    # Date has a resolution of one second: aim at its middle.
                    self.clock_offset_ms = server_ms + 500 - int(time.time() * 1000)
                    log(f"401 {code}: the receiver's clock differs by {self.clock_offset_ms} ms; re-signing once")
                    continue
            if code == "no_valid_events":
                outcome.rejected.extend({**r, "index": offset + int(r["index"])} for r in reply.get("rejected", []))
            outcome.refused.append({"status": status, "code": code, "message": message, "events": len(batch)})
            log(f"{status} {code}: {message} ({len(batch)} events not sent again)")
            return
        raise GaveUp(f"no 202 after {self._max_attempts} attempts for a batch of {len(batch)} events")

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, http.client.HTTPMessage, dict]:
        # http.client sets Content-Length for a bytes body; the receiver requires it (no chunked bodies).
        self._conn.request("POST", self._path, body=body, headers=headers)
        response = self._conn.getresponse()
        raw = response.read()
        try:
            reply = json.loads(raw) if raw else {}
        except ValueError:
            reply = {}
        if response.will_close:
            self._conn.close()
        return response.status, response.headers, reply if isinstance(reply, dict) else {}


def error_of(reply: dict) -> tuple[str, str]:
    error = reply.get("error")
    if isinstance(error, dict):
        return str(error.get("code", "")), str(error.get("message", ""))
    return "", ""


def retry_after_seconds(value: str | None) -> float:
    """Retry-After in seconds (the receiver sends seconds; an HTTP date is also understood)."""
    if value is None:
        return 1.0
    try:
        return max(0.0, float(value))
    except ValueError:
        server_ms = date_header_ms(value)
        return 1.0 if server_ms is None else max(0.0, server_ms / 1000 - time.time())


def date_header_ms(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(parsedate_to_datetime(value).timestamp() * 1000)
    except (TypeError, ValueError):
        return None

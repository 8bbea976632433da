"""The CalDAV backend: every meeting also on one shared team calendar.

Built on the python ``caldav`` library's :class:`caldav.DAVClient`, used for raw WebDAV
requests only. ``Calendar.save_event()`` and ``Event.save()`` are *not* used: checked
against Radicale with caldav 3.6, ``save_event`` bumps SEQUENCE on every save (a REQUEST
mailed with ``SEQUENCE:0`` is stored as ``SEQUENCE:1``, the next as ``2``), and it runs
the data through ``vcal.fix()`` and re-serialises it. The copy on the team calendar must
carry the SEQUENCE that was mailed, or the attendees' clients and the team calendar
disagree about which version is current. So:

* ``publish``/``cancel`` PUT the builder's bytes unchanged, except for the VCALENDAR's
  ``METHOD`` line, which is removed: RFC 4791 section 4.1 forbids METHOD in a calendar
  collection and strict servers (Apple Calendar Server, older SabreDAV) refuse it. The
  resource is ``<calendar>/<uid>.ics`` (a UID with other characters than letters, digits
  and ``@._-`` gets a SHA-256 name instead). The PUT is conditional on what a GET just
  saw (``If-None-Match: *`` or ``If-Match: <etag>``), so an older SEQUENCE never
  overwrites a newer one even with two daemons writing.
* ``get`` GETs that resource. A 404 (no such event, or no such calendar) is None.
* ``busy`` sends a ``calendar-query`` REPORT with a ``time-range`` on the team calendar,
  asking the server to ``expand`` recurring events, and applies the port's rules to the
  events in which an attendee takes part. It knows only what is on the team calendar
  (Liaison's own meetings and whatever else people put there), not the attendees'
  personal calendars. When the server leaves a recurring event unexpanded it returns None
  (cannot tell) rather than guess.

Errors: HTTP and connection failures become the port's errors
(:mod:`calendar_sync.port_errors`); no ``caldav`` or ``niquests`` exception escapes.
The server is not contacted before the first call.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, NoReturn
from urllib.parse import quote, urljoin, urlsplit
from zoneinfo import ZoneInfo

from caldav.davclient import DAVClient
from caldav.lib import error as dav_error
from caldav.lib.python_utilities import WireBytes
from lxml import etree

from calendar_sync.port import (
    CalendarCapabilities,
    EventFacts,
    StoredEvent,
    busy_intervals,
    check_event,
    check_window,
    read_events,
)
from calendar_sync.port_errors import (
    CalendarAuthError,
    CalendarRejectedError,
    CalendarUnavailableError,
    InvalidEventError,
)

__all__ = ["CaldavCalendar", "strip_method"]

_CALDAV_NS = "urn:ietf:params:xml:ns:caldav"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9@._-]{0,120}")
_CONDITIONAL_ATTEMPTS = 3
_ICS_TYPE = "text/calendar; charset=utf-8"

_CHECK_BODY = """<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>"""

_BUSY_QUERY = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop>
    <C:calendar-data><C:expand start="{start}" end="{end}"/></C:calendar-data>
  </D:prop>
  <C:filter>
    <C:comp-filter name="VCALENDAR">
      <C:comp-filter name="VEVENT"><C:time-range start="{start}" end="{end}"/></C:comp-filter>
    </C:comp-filter>
  </C:filter>
</C:calendar-query>"""


class CaldavCalendar:
    """Meetings published to one shared calendar collection on a CalDAV server.

    ``url`` is the server's base URL and ``calendar_path`` the path of the team calendar
    collection (absolute, or relative to ``url``); with an empty ``calendar_path``,
    ``url`` is the collection itself. ``timeout`` (seconds) bounds each request.
    ``timezone`` is the zone floating times and all-day dates on the calendar are read in.
    ``ca_file`` names the CA bundle that signs an https server's certificate (default:
    the system's). One instance may be shared by threads: its requests are serialised.
    """

    capabilities = CalendarCapabilities(stores_events=True, free_busy=True, remote=True)

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        calendar_path: str = "",
        timeout: float = 30.0,
        timezone: str = "UTC",
        ca_file: str | None = None,
    ) -> None:
        collection = urljoin(url, calendar_path) if calendar_path else url
        if urlsplit(collection).scheme not in ("http", "https"):
            raise ValueError(f"CalDAV URL must be http:// or https://, got {collection!r}")
        if not collection.endswith("/"):
            collection += "/"
        self.url = collection
        self._zone = ZoneInfo(timezone)
        self._lock = threading.Lock()
        self._client = DAVClient(
            url=collection,
            username=username,
            password=password,
            timeout=timeout,  # type: ignore[arg-type]  # niquests takes float seconds
            enable_rfc6764=False,
            rate_limit_handle=False,  # no sleeping inside a call: the caller retries
            ssl_verify_cert=ca_file or True,
        )

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> CaldavCalendar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def check(self) -> None:
        """Raise unless the team calendar exists and can be read (for ``liaison check``)."""
        status, _headers, body = self._call(
            "PROPFIND", self.url, _CHECK_BODY, {"Depth": "0", "Content-Type": "text/xml"}
        )
        if status == 404:
            raise CalendarRejectedError(f"no calendar at {self.url}", status=404)
        if status != 207:
            self._raise_for(status, f"PROPFIND {self.url}")
        if f"{{{_CALDAV_NS}}}calendar" not in _resource_types(body):
            raise CalendarRejectedError(f"{self.url} is not a calendar collection")

    # -- the port ------------------------------------------------------------------------

    def publish(self, uid: str, ics: bytes, sequence: int) -> None:
        self._write(check_event(uid, ics, sequence, cancel=False, zone=self._zone), ics)

    def cancel(self, uid: str, ics: bytes, sequence: int) -> None:
        self._write(check_event(uid, ics, sequence, cancel=True, zone=self._zone), ics)

    def get(self, uid: str) -> StoredEvent | None:
        href = self.href(uid)
        status, _headers, body = self._call("GET", href)
        if status == 404:
            return None
        if status != 200:
            self._raise_for(status, f"GET {href}")
        facts = self._stored_facts(uid, body)
        if facts is None:
            return None
        return StoredEvent(uid=uid, sequence=facts.sequence, status=facts.status, raw=body)

    def busy(
        self, attendees: Sequence[str], start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]] | None:
        window_start, window_end = check_window(start, end)
        query = _BUSY_QUERY.format(start=_utc_stamp(window_start), end=_utc_stamp(window_end))
        status, _headers, body = self._call(
            "REPORT", self.url, query, {"Depth": "1", "Content-Type": "text/xml; charset=utf-8"}
        )
        if status != 207:
            self._raise_for(status, f"REPORT {self.url}")
        events: list[EventFacts] = []
        for data in _calendar_data(body):
            try:
                events.extend(read_events(data, self._zone))
            except InvalidEventError:
                continue  # someone else's unreadable event: it cannot be counted
        if any(event.recurring for event in events):
            return None  # the server did not expand a recurring event: cannot tell
        return busy_intervals(events, attendees, window_start, window_end)

    # -- internals -----------------------------------------------------------------------

    def href(self, uid: str) -> str:
        """The URL of the resource that holds meeting ``uid``."""
        name = uid if _SAFE_NAME.fullmatch(uid) else hashlib.sha256(uid.encode()).hexdigest()
        return self.url + quote(name, safe="") + ".ics"

    def _write(self, facts: EventFacts, ics: bytes) -> None:
        href = self.href(facts.uid)
        body = strip_method(ics)
        for _attempt in range(_CONDITIONAL_ATTEMPTS):
            status, headers, held = self._call("GET", href)
            if status == 404:
                condition = {"If-None-Match": "*"}
            elif status == 200:
                stored = self._stored_facts(facts.uid, held)
                if stored is not None and stored.sequence > facts.sequence:
                    return  # the calendar already has a newer version
                etag = headers.get("ETag")
                condition = {"If-Match": etag} if etag and not etag.startswith("W/") else {}
            else:
                self._raise_for(status, f"GET {href}")
            status, _headers, answer = self._call(
                "PUT", href, WireBytes(body), {"Content-Type": _ICS_TYPE, **condition}
            )
            if status in (200, 201, 204):
                return
            if status != 412:  # 412: changed since the GET; look again
                self._raise_for(status, f"PUT {href}", answer)
        raise CalendarUnavailableError(
            f"PUT {href}: the event kept changing under us ({_CONDITIONAL_ATTEMPTS} attempts)",
            status=412,
        )

    def _stored_facts(self, uid: str, body: bytes) -> EventFacts | None:
        try:
            events = read_events(body, self._zone)
        except InvalidEventError:
            return None
        mine = [e for e in events if e.uid == uid and not e.recurrence_id]
        return mine[0] if mine else None

    def _call(
        self,
        method: str,
        url: str,
        body: str | bytes = "",
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One request; returns status, headers and body, or raises a port error."""
        what = f"{method} {url}"
        try:
            with self._lock:
                response = self._client.request(url, method, body, dict(headers or {}))  # type: ignore[arg-type]
        except dav_error.AuthorizationError as exc:
            if exc.status == 403 and exc.preconditions:
                raise CalendarRejectedError(
                    f"{what}: refused ({', '.join(exc.preconditions)})", status=403
                ) from None
            raise CalendarAuthError(
                f"{what}: {exc.status or 401} {exc.reason}", status=exc.status
            ) from None
        except dav_error.DAVError as exc:  # RateLimitError (429, 503 + Retry-After) and kin
            raise CalendarUnavailableError(
                f"{what}: {getattr(exc, 'status', None) or ''} {exc.reason}".strip(),
                status=getattr(exc, "status", None),
            ) from None
        except OSError as exc:  # niquests' ConnectionError, Timeout, ... are OSErrors
            raise CalendarUnavailableError(f"{what}: {exc}") from None
        return int(response.status), response.headers, _body_bytes(response)

    def _raise_for(self, status: int, what: str, body: bytes = b"") -> NoReturn:
        detail = body.decode("utf-8", "replace").strip()[:200]
        message = f"{what}: HTTP {status}" + (f" {detail}" if detail else "")
        if status == 401:
            raise CalendarAuthError(message, status=status)
        if status in (408, 425, 429) or status >= 500:
            raise CalendarUnavailableError(message, status=status)
        raise CalendarRejectedError(message, status=status)


def strip_method(ics: bytes) -> bytes:
    """``ics`` without the VCALENDAR's METHOD property; every other byte is kept.

    A calendar collection must not hold METHOD (RFC 4791 section 4.1). The property is
    removed with its folded continuation lines, at the VCALENDAR level only.
    """
    lines = ics.splitlines(keepends=True)
    kept: list[bytes] = []
    depth = 0
    dropping = False
    for line in lines:
        if dropping and line[:1] in (b" ", b"\t"):
            continue  # continuation of the METHOD line
        dropping = False
        upper = line.upper()
        if upper.startswith(b"BEGIN:"):
            depth += 1
        elif upper.startswith(b"END:"):
            depth -= 1
        elif depth == 1 and (upper.startswith(b"METHOD:") or upper.startswith(b"METHOD;")):
            dropping = True
            continue
        kept.append(line)
    return b"".join(kept)


def _body_bytes(response: Any) -> bytes:
    # DAVResponse.raw is the body as text with CRLF turned into LF (caldav's normalisation);
    # iCalendar lines end in CRLF, so put them back.
    text = response.raw if response.raw else ""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _calendar_data(body: bytes) -> list[bytes]:
    """The calendar-data of every successful response in a multistatus body."""
    try:
        tree = etree.fromstring(body.replace(b"\r\n", b"\n"), _xml_parser())
    except etree.XMLSyntaxError as exc:
        raise CalendarUnavailableError(f"unreadable REPORT answer: {exc}") from None
    found: list[bytes] = []
    for element in tree.iter(f"{{{_CALDAV_NS}}}calendar-data"):
        if element.text:
            found.append(element.text.replace("\r\n", "\n").replace("\n", "\r\n").encode())
    return found


def _resource_types(body: bytes) -> set[str]:
    try:
        tree = etree.fromstring(body.replace(b"\r\n", b"\n"), _xml_parser())
    except etree.XMLSyntaxError:
        return set()
    return {
        str(child.tag)
        for element in tree.iter("{DAV:}resourcetype")
        for child in element
        if isinstance(child.tag, str)
    }


def _xml_parser() -> etree.XMLParser:
    # Server answers are untrusted: no entity expansion, no network access.
    return etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


def _utc_stamp(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

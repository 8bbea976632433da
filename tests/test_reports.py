"""Bounces (DSN and Exchange NDRs) and read receipts (MDN)."""

from __future__ import annotations

import email
import email.policy
import json
from dataclasses import asdict
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mail_parsers.model import Bounce, Mdn
from mail_parsers.reports import read_bounce, read_mdn

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


def _expected() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORPUS / "expected.json").read_text("utf-8"))
    return data


def _parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


@pytest.mark.parametrize(
    "name", ["noise_05_postfix_dsn_bounce.eml", "noise_06_exchange_ndr_zh.eml"]
)
def test_corpus_bounce(corpus_dir: Path, name: str) -> None:
    bounce = read_bounce(_parse((corpus_dir / name).read_bytes()))
    assert bounce is not None
    assert asdict(bounce) == _expected()[name]["bounce"]


def test_corpus_read_receipt(corpus_dir: Path) -> None:
    name = "noise_07_read_receipt_outlook.eml"
    mdn = read_mdn(_parse((corpus_dir / name).read_bytes()))
    assert mdn is not None
    assert asdict(mdn) == _expected()[name]["mdn"]


def test_corpus_reports_are_only_found_where_they_are(corpus_dir: Path) -> None:
    for name, entry in _expected().items():
        msg = _parse((corpus_dir / name).read_bytes())
        assert (read_bounce(msg) is not None) == bool(entry.get("bounce")), name
        assert (read_mdn(msg) is not None) == bool(entry.get("mdn")), name


# --- built reports ---------------------------------------------------------------------

ORIGINAL_ID = "<task.xt-2026-0018.rw-0012.20260320140230@coord.example.com>"

EXCHANGE_NDR_HTML_ONLY = f"""\
From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@example.com>
To: coord@example.com
Subject: =?utf-8?B?5pyq6YCB6L6+OiBb5Lu75YqhXSBYVC0yMDI2LTAwMTgvUlctMDAxMg==?=
Date: Fri, 20 Mar 2026 06:02:41 +0000
Message-ID: <NDR1@EXMBX02.corp.example.com>
In-Reply-To: {ORIGINAL_ID}
MIME-Version: 1.0
Content-Type: text/html; charset="utf-8"

<html><body><p><b>传递到这些收件人或组失败：</b></p>
<p><a href="mailto:Zhou.Yan@example.com">Zhou.Yan@example.com</a><br></p>
<p>你尝试联系的电子邮件地址不存在。</p>
<p><b>管理员诊断信息:</b></p><p>生成服务器: EXMBX02.corp.example.com</p>
<p>zhou.yan@example.com<br>550 5.1.10 RESOLVER.ADR.RecipientNotFound; not found</p>
</body></html>
""".encode()


def test_exchange_ndr_that_is_not_a_report() -> None:
    bounce = read_bounce(_parse(EXCHANGE_NDR_HTML_ONLY))
    assert bounce == Bounce(
        recipient="zhou.yan@example.com",
        action="failed",
        status="5.1.10",
        original_message_id=ORIGINAL_ID,
    )


EXIM_DELAY = b"""\
From: Mail Delivery System <Mailer-Daemon@mx.example.net>
To: coord@example.com
Subject: Warning: message 1w2x3y-0004 delayed 24 hours
X-Failed-Recipients: wang.qiang@example.net
Auto-Submitted: auto-replied
Content-Type: text/plain; charset=us-ascii

This message was created automatically by mail delivery software.
A message that you sent has not yet been delivered to one or more of its
recipients after more than 24 hours on the queue on mx.example.net.

  wang.qiang@example.net
    Delay reason: SMTP error from remote mail server after RCPT TO: 451 4.4.7 try later

------ This is a copy of the message's headers. ------

From: coord@example.com
Message-ID: <minutes.xt-2026-0003.v2.20260320084519@coord.example.com>
Subject: [MINUTES] XT-2026-0003
"""


def test_text_only_delay_notice() -> None:
    bounce = read_bounce(_parse(EXIM_DELAY))
    assert bounce == Bounce(
        recipient="wang.qiang@example.net",
        action="delayed",
        status="4.4.7",
        original_message_id="<minutes.xt-2026-0003.v2.20260320084519@coord.example.com>",
    )


TWO_RECIPIENT_DSN = b"""\
From: MAILER-DAEMON@mx.example.com
To: coord@example.com
Subject: Delivery Status Notification
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Delivery to some recipients failed.
--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; ok.person@example.com
Action: delayed
Status: 4.2.2

Final-Recipient: RFC822; <Gone.Person@Example.org>
Action: failed
Status: 5.2.1 (mailbox disabled)

--b1
Content-Type: message/rfc822

From: coord@example.com
Message-ID: <approval.xt-2026-0023.20260319143000@coord.example.com>
Subject: [APPROVAL]

body
--b1--
"""


def test_dsn_reports_the_failed_recipient() -> None:
    bounce = read_bounce(_parse(TWO_RECIPIENT_DSN))
    assert bounce == Bounce(
        recipient="gone.person@example.org",
        action="failed",
        status="5.2.1",
        original_message_id="<approval.xt-2026-0023.20260319143000@coord.example.com>",
    )


AUTOMATIC_MDN = b"""\
From: someone@example.com
To: coord@example.com
Subject: Deleted: [MINUTES] XT-2026-0011
In-Reply-To: <minutes.xt-2026-0011.v1.20260320093002@coord.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification; boundary="m1"

--m1
Content-Type: text/plain

Your message was deleted without being read.
--m1
Content-Type: message/disposition-notification

Reporting-UA: mail.example.com
Original-Recipient: rfc822;Someone@Example.com
Disposition: automatic-action/MDN-sent-automatically; deleted/expired

--m1--
"""


def test_mdn_without_original_message_id_falls_back_to_in_reply_to() -> None:
    assert read_mdn(_parse(AUTOMATIC_MDN)) == Mdn(
        original_message_id="<minutes.xt-2026-0011.v1.20260320093002@coord.example.com>",
        final_recipient="someone@example.com",
        disposition="deleted",
    )


def test_an_ordinary_reply_is_neither() -> None:
    raw = b"From: a@example.com\r\nSubject: Re: [TASK] x\r\n\r\nACK\r\n"
    msg = _parse(raw)
    assert read_bounce(msg) is None
    assert read_mdn(msg) is None

"""Sign-offs by reply: the office's evaluation, who may give it, the review queue, tokens."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from daemon.bootstrap import App
from daemon.inbound import Arrival, Outcome, SourceRef
from daemon.pipeline import Pipeline
from store.uow import SqlUnitOfWork
from tests.support import build_reply, parse_mail, scratch_app, text_of, with_message_id
from workflow.replies import apply_reviewed

OFFICE = "office@example.com"
REQUEST = "req_01_outlook_zh_plain_gb2312_b64.eml"


@dataclass
class World:
    app: App
    pipeline: Pipeline
    uid: int = 0

    def arrive(self, raw: bytes) -> Outcome:
        self.uid += 1
        return self.pipeline.handle(Arrival(SourceRef("test", 1, str(self.uid)), raw))

    def sent(self, kind: str) -> list[bytes]:
        with SqlUnitOfWork(self.app.session_factory) as uow:
            return [r.raw for r in uow.outbox.in_state("pending") if r.kind == kind]

    def request(self, number: str = "XT-2026-0001") -> dict[str, object]:
        with SqlUnitOfWork(self.app.session_factory) as uow:
            r = uow.requests.by_number(number)
            assert r is not None
            return {
                "state": r.state,
                "revision": r.revision,
                "lead": r.lead_department,
                "support": list(r.supporting_departments),
                "title": r.title,
            }


def _world(tmp_path: Path, **env: str) -> Iterator[World]:
    app, _ = scratch_app(tmp_path, **env)
    yield World(
        app,
        Pipeline(
            session_factory=app.session_factory,
            config=app.workflow,
            blobs=app.blobs,
            clock=app.clock,
        ),
    )
    app.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from _world(tmp_path)


@pytest.fixture
def registered(world: World, corpus_dir: Path) -> bytes:
    """A registered request; returns the evaluation notice the office received."""
    assert world.arrive((corpus_dir / REQUEST).read_bytes()) is Outcome.PROCESSED
    [notice] = world.sent("office/evaluation_notice")
    return notice


ACCEPT = "受理 牵头部门：研发部 配合部门：采购部、财务部\n"


def test_office_accepts_the_request_by_reply(world: World, registered: bytes) -> None:
    reply = build_reply(registered, sender=OFFICE, body="张主任您好，\n" + ACCEPT)
    assert world.arrive(reply) is Outcome.PROCESSED
    assert world.request() == {
        "state": "accepted",
        "revision": 1,
        "lead": "研发部",
        "support": ["采购部", "财务部"],
        "title": world.request()["title"],
    }
    [receipt] = world.sent("signer/receipt")
    assert parse_mail(receipt)["To"].addresses[0].addr_spec == OFFICE
    assert "XT-2026-0001" in parse_mail(receipt)["Subject"]
    [accepted] = world.sent("requester/accepted")
    assert "研发部" in text_of(parse_mail(accepted))
    with SqlUnitOfWork(world.app.session_factory) as uow:
        [signoff] = uow.signoffs.for_request(1)
        assert (signoff.action, signoff.signer, signoff.via) == (
            "evaluate_accept",
            OFFICE,
            "trusted",
        )


def test_a_replayed_sign_off_changes_nothing(world: World, registered: bytes) -> None:
    world.arrive(build_reply(registered, sender=OFFICE, body=ACCEPT))
    # The same answer again (a resent or forwarded copy): held as a replay.
    assert world.arrive(build_reply(registered, sender=OFFICE, body=ACCEPT)) is Outcome.PROCESSED
    with SqlUnitOfWork(world.app.session_factory) as uow:
        [held] = uow.signoffs.pending_review()
        assert held.reason == "replayed"
    # Another decision on the same mail is a replay too: one decision per asking mail.
    world.arrive(build_reply(registered, sender=OFFICE, body="退回：重复\n"))
    assert world.request()["state"] == "accepted"
    with SqlUnitOfWork(world.app.session_factory) as uow:
        assert [h.reason for h in uow.signoffs.pending_review()] == ["replayed", "replayed"]
        assert len(uow.signoffs.for_request(1)) == 1


@pytest.mark.parametrize(
    ("sender", "extra", "authenticated", "reason"),
    [
        ("li.na@example.com", {}, True, "wrong_sender"),  # the requester answers the office's mail
        ("office@example.com", {}, False, None),  # no DMARC: hostile, quarantined
        ("0ffice@example.com", {}, True, "wrong_sender"),  # look-alike address
    ],
)
def test_only_the_person_asked_may_sign_off(
    world: World,
    registered: bytes,
    sender: str,
    extra: dict[str, str],
    authenticated: bool,
    reason: str | None,
) -> None:
    reply = build_reply(
        registered, sender=sender, body=ACCEPT, authenticated=authenticated, extra_headers=extra
    )
    outcome = world.arrive(reply)
    assert world.request()["state"] == "registered"
    assert world.sent("signer/receipt") == []
    with SqlUnitOfWork(world.app.session_factory) as uow:
        held = uow.signoffs.pending_review()
        if reason is None:
            assert outcome is Outcome.QUARANTINED
            assert held == []
        else:
            assert [h.reason for h in held] == [reason]
    if reason is not None:
        [notice] = world.sent("sender/held_for_review")
        assert parse_mail(notice)["To"].addresses[0].addr_spec == sender
        [office] = world.sent("office/held_for_review")
        assert "liaison review approve" in text_of(parse_mail(office))


def test_subject_tag_alone_never_signs_off(world: World, registered: bytes) -> None:
    reply = build_reply(registered, sender=OFFICE, body=ACCEPT, in_reply_to=False, references=False)
    world.arrive(reply)
    assert world.request()["state"] == "registered"
    with SqlUnitOfWork(world.app.session_factory) as uow:
        assert [h.reason for h in uow.signoffs.pending_review()] == ["subject_only"]


def test_the_office_approves_a_held_sign_off(world: World, registered: bytes) -> None:
    world.arrive(build_reply(registered, sender="assistant@example.com", body=ACCEPT))
    with SqlUnitOfWork(world.app.session_factory) as uow:
        [held] = uow.signoffs.pending_review()
        outcome = apply_reviewed(
            held.id,
            approve=True,
            reviewer="zhou.min@example.com",
            uow=uow,
            now=world.app.clock.now(),
            config=world.app.workflow,
        )
        assert outcome.result == "applied"
        uow.commit()
    assert world.request()["state"] == "accepted"
    with SqlUnitOfWork(world.app.session_factory) as uow:
        [signoff] = uow.signoffs.for_request(1)
        assert signoff.via == "review"


def test_returned_request_is_resubmitted_under_the_same_number(
    world: World, registered: bytes, corpus_dir: Path
) -> None:
    world.arrive(build_reply(registered, sender=OFFICE, body="退回：请补充验收标准\n"))
    assert world.request()["state"] == "returned"
    [returned] = world.sent("requester/returned")
    assert "请补充验收标准" in text_of(parse_mail(returned))

    original = (corpus_dir / REQUEST).read_bytes()
    requester = parse_mail(original)["From"].addresses[0].addr_spec
    corrected = build_reply(
        returned,
        sender=requester,
        subject="[需求] XT-2026-0001 修订",
        body=text_of(parse_mail(original)).replace("验收标准：", "验收标准：试点三家零差错；"),
        in_reply_to=False,
        references=False,
        quote=False,
    )
    assert world.arrive(corrected) is Outcome.PROCESSED
    request = world.request()
    assert (request["state"], request["revision"]) == ("registered", 2)
    notices = world.sent("office/evaluation_notice")
    assert len(notices) == 2
    with SqlUnitOfWork(world.app.session_factory) as uow:
        assert [r.number for r in uow.requests.list()] == ["XT-2026-0001"]
    # The new notice can be signed off; the old one was used already.
    world.arrive(build_reply(notices[-1], sender=OFFICE, body=ACCEPT))
    assert world.request()["state"] == "accepted"


def test_keyword_that_does_not_fit_the_state_changes_nothing(
    world: World, registered: bytes
) -> None:
    world.arrive(build_reply(registered, sender=OFFICE, body=ACCEPT))
    # A second notice does not exist; answer the first with a fresh Message-ID again:
    # replayed. Use the requester's acknowledgement instead, which asks for nothing.
    [ack] = world.sent("requester/acknowledged")
    reply = build_reply(ack, sender="li.na@example.com", body="受理\n")
    world.arrive(reply)
    assert world.request()["state"] == "accepted"


def test_reply_tokens_route_a_reply_without_threading_headers(
    tmp_path: Path, corpus_dir: Path
) -> None:
    secret = tmp_path / "token-secret"
    secret.write_text("s3cret-token-key-for-tests")
    for world in _world(
        tmp_path,
        LIAISON_MAILBOX_SUBADDRESS="true",
        LIAISON_SECURITY_REPLY_TOKEN_SECRET_FILE=str(secret),
    ):
        world.arrive((corpus_dir / REQUEST).read_bytes())
        [notice] = world.sent("office/evaluation_notice")
        reply_to = parse_mail(notice)["Reply-To"].addresses[0].addr_spec
        local, _, domain = reply_to.partition("@")
        assert local.startswith("coord+") and domain == "example.com"
        token = local.removeprefix("coord+")
        with SqlUnitOfWork(world.app.session_factory) as uow:
            [row] = [
                r for r in uow.outbox.in_state("pending") if r.kind == "office/evaluation_notice"
            ]
            assert (
                row.token_hash
                and token not in row.token_hash
                and token.encode() not in row.raw.replace(reply_to.encode(), b"")
            )
        # A client that drops In-Reply-To/References: the token alone routes it.
        reply = build_reply(notice, sender=OFFICE, body=ACCEPT, in_reply_to=False, references=False)
        assert world.arrive(reply) is Outcome.PROCESSED
        assert world.request()["state"] == "accepted"
        # The same token forwarded to somebody else signs nothing.
        forwarded = with_message_id(
            build_reply(
                notice,
                sender="li.na@example.com",
                body="退回：x\n",
                in_reply_to=False,
                references=False,
            ),
            "<forwarded@example.com>",
        )
        world.arrive(forwarded)
        assert world.request()["state"] == "accepted"

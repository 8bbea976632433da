"""The execution stage's records: progress history, weekly requests and digests, alerts.

Everything that must happen once (a progress request per task and week, a digest per
request and week, a warning or an overdue mark per task and due date, a reminder per
progress request) is *claimed* by one statement that only one transaction can win on
both backends: an ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` against the row's
unique key, or an ``UPDATE ... WHERE <still due>`` for a reminder. A replica that loses
the race gets ``False`` and sends nothing.

The queries for what is due read indexes only: open tasks by ``(state, due)`` within a
window of due dates, progress requests by ``remind_at``; a weekly or daily pass that has
found everything done is recorded in ``execution_sweeps`` so later ticks skip it.
"""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence
from datetime import date, datetime

from sqlalchemy import and_, exists, or_, select, update

from store.models import (
    ExecutionSweep,
    Minutes,
    ProgressRecord,
    ProgressRequest,
    Request,
    Task,
    TaskAlert,
    WeeklyDigest,
)
from store.repositories import _Repository, _upsert_insert

__all__ = ["ExecutionRepository", "OPEN_TASK_STATES"]

#: A task the owner still works on (``returned``: reopened by the reviewer).
OPEN_TASK_STATES: tuple[str, ...] = ("assigned", "acknowledged", "returned")


class ExecutionRepository(_Repository):
    """Progress records, progress requests, weekly digests, task alerts and sweeps."""

    # --- progress history -----------------------------------------------------------------

    def add_progress(self, record: ProgressRecord) -> ProgressRecord:
        return self._add(record)

    def progress_of_request(self, request_id: int) -> builtins.list[ProgressRecord]:
        """Every report on the request's tasks, oldest first."""
        return self._all(
            select(ProgressRecord)
            .where(ProgressRecord.request_id == request_id)
            .order_by(ProgressRecord.at, ProgressRecord.id)
        )

    def latest_progress(self, task_id: int) -> ProgressRecord | None:
        """The task's latest report (one indexed row)."""
        return self._session.scalars(
            select(ProgressRecord)
            .where(ProgressRecord.task_id == task_id)
            .order_by(ProgressRecord.at.desc(), ProgressRecord.id.desc())
            .limit(1)
        ).first()

    def mark_answered(self, task_id: int, now: datetime) -> int:
        """The owner reported on the task: its progress requests sent so far are
        answered and need no reminder. How many were waiting."""
        result = self._session.execute(
            update(ProgressRequest)
            .where(
                ProgressRequest.task_id == task_id,
                ProgressRequest.answered_at.is_(None),
                ProgressRequest.sent_at <= now,
            )
            .values(answered_at=now, remind_at=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    # --- weekly progress requests -----------------------------------------------------------

    def tasks_to_ask(
        self, week: date, limit: int, closed_states: Collection[str]
    ) -> builtins.list[tuple[Task, Request]]:
        """Open tasks of live requests that have no progress request for ``week`` yet."""
        asked = exists().where(ProgressRequest.task_id == Task.id, ProgressRequest.week == week)
        statement = (
            select(Task, Request)
            .join(Request, Request.id == Task.request_id)
            .where(
                Task.state.in_(OPEN_TASK_STATES),
                Request.state.not_in(tuple(closed_states)),
                ~asked,
            )
            .order_by(Task.id)
            .limit(limit)
        )
        return [(task, request) for task, request in self._session.execute(statement).tuples()]

    def claim_progress_request(
        self,
        *,
        task: Task,
        week: date,
        deadline: datetime,
        now: datetime,
    ) -> bool:
        """Record the progress request of ``task`` for ``week``; False when it exists."""
        insert = _upsert_insert(self._session, ProgressRequest)
        statement = (
            insert.values(
                request_id=task.request_id,
                task_id=task.id,
                week=week,
                owner=task.owner_email.lower(),
                deadline=deadline,
                sent_at=now,
                remind_at=deadline,
            )
            .on_conflict_do_nothing(index_elements=[ProgressRequest.task_id, ProgressRequest.week])
            .returning(ProgressRequest.id)
        )
        return self._session.execute(statement).scalar_one_or_none() is not None

    def due_reminders(self, now: datetime, limit: int) -> builtins.list[ProgressRequest]:
        """Unanswered progress requests whose deadline has passed, not yet reminded."""
        return self._all(
            select(ProgressRequest)
            .where(ProgressRequest.remind_at <= now)
            .order_by(ProgressRequest.remind_at, ProgressRequest.id)
            .limit(limit)
        )

    def claim_reminder(self, progress_request_id: int, now: datetime, *, remind: bool) -> bool:
        """Take the reminder of one progress request (``remind``: it is sent; otherwise
        it is dropped, e.g. the task closed); False when another run took it."""
        result = self._session.execute(
            update(ProgressRequest)
            .where(
                ProgressRequest.id == progress_request_id,
                ProgressRequest.remind_at.is_not(None),
            )
            .values(remind_at=None, reminded_at=now if remind else None)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    def progress_requests_of_request(self, request_id: int) -> builtins.list[ProgressRequest]:
        """Every progress request of the request's tasks, by week."""
        return self._all(
            select(ProgressRequest)
            .where(ProgressRequest.request_id == request_id)
            .order_by(ProgressRequest.week, ProgressRequest.task_id)
        )

    # --- weekly digests ---------------------------------------------------------------------

    def requests_to_digest(
        self,
        week: date,
        deadline: datetime,
        previous: datetime,
        limit: int,
        closed_states: Collection[str],
    ) -> builtins.list[Request]:
        """Live requests with tasks assigned by ``deadline`` (their minutes final by then)
        that had something going on in the week (a task open or delivered, or accepted
        after ``previous``), and no digest for ``week`` yet."""
        active = exists().where(
            Task.request_id == Request.id,
            Minutes.id == Task.minutes_id,
            Minutes.final_at <= deadline,
            or_(
                Task.state.in_((*OPEN_TASK_STATES, "done")),
                and_(Task.state == "accepted", Task.accepted_at > previous),
            ),
        )
        sent = exists().where(WeeklyDigest.request_id == Request.id, WeeklyDigest.week == week)
        return self._all(
            select(Request)
            .where(Request.state.not_in(tuple(closed_states)), active, ~sent)
            .order_by(Request.id)
            .limit(limit)
        )

    def claim_digest(self, request_id: int, week: date, now: datetime) -> bool:
        insert = _upsert_insert(self._session, WeeklyDigest)
        statement = (
            insert.values(request_id=request_id, week=week, sent_at=now)
            .on_conflict_do_nothing(index_elements=[WeeklyDigest.request_id, WeeklyDigest.week])
            .returning(WeeklyDigest.id)
        )
        return self._session.execute(statement).scalar_one_or_none() is not None

    # --- risk warnings and overdue marks ----------------------------------------------------

    def tasks_due_between(
        self,
        kind: str,
        first: date | None,
        last: date,
        limit: int,
        closed_states: Collection[str],
    ) -> builtins.list[tuple[Task, Request]]:
        """Open tasks of live requests due in ``[first, last]`` (``first`` None: any date up
        to ``last``) without a ``kind`` alert for their current due date."""
        alerted = exists().where(
            TaskAlert.task_id == Task.id, TaskAlert.kind == kind, TaskAlert.due == Task.due
        )
        window = [Task.due <= last] if first is None else [Task.due >= first, Task.due <= last]
        statement = (
            select(Task, Request)
            .join(Request, Request.id == Task.request_id)
            .where(
                Task.state.in_(OPEN_TASK_STATES),
                *window,
                Request.state.not_in(tuple(closed_states)),
                ~alerted,
            )
            .order_by(Task.due, Task.id)
            .limit(limit)
        )
        return [(task, request) for task, request in self._session.execute(statement).tuples()]

    def claim_alert(
        self, *, task: Task, kind: str, due: date, deadline: datetime, now: datetime
    ) -> bool:
        """Record a ``kind`` alert of ``task`` for ``due``; False when it exists."""
        insert = _upsert_insert(self._session, TaskAlert)
        statement = (
            insert.values(
                request_id=task.request_id,
                task_id=task.id,
                kind=kind,
                due=due,
                deadline=deadline,
                at=now,
            )
            .on_conflict_do_nothing(
                index_elements=[TaskAlert.task_id, TaskAlert.kind, TaskAlert.due]
            )
            .returning(TaskAlert.id)
        )
        return self._session.execute(statement).scalar_one_or_none() is not None

    def alerts_of_request(self, request_id: int) -> builtins.list[TaskAlert]:
        return self._all(
            select(TaskAlert)
            .where(TaskAlert.request_id == request_id)
            .order_by(TaskAlert.at, TaskAlert.id)
        )

    def alerts_of_tasks(self, task_ids: Sequence[int], kind: str) -> builtins.list[TaskAlert]:
        if not task_ids:
            return []
        return self._all(
            select(TaskAlert).where(TaskAlert.task_id.in_(task_ids), TaskAlert.kind == kind)
        )

    # --- sweeps -------------------------------------------------------------------------------

    def sweep_done(self, job: str, day: date) -> bool:
        return self._session.get(ExecutionSweep, (job, day)) is not None

    def finish_sweep(self, job: str, day: date, now: datetime) -> None:
        insert = _upsert_insert(self._session, ExecutionSweep)
        self._session.execute(
            insert.values(job=job, day=day, done_at=now).on_conflict_do_nothing(
                index_elements=[ExecutionSweep.job, ExecutionSweep.day]
            )
        )

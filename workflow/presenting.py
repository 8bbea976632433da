"""Values prepared for templates: every value a template shows arrives here as a string.

Templates only substitute, branch on booleans and loop over prepared lists, so all
formatting (dates in the reader's language and time zone, labels, sizes) happens here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from mail_parsers.model import Attachment, IssueFields, ParsedMessage, RequestFields
from store.models import Issue, Request

_WEEKDAYS_ZH = "一二三四五六日"
_URGENCY = {
    "zh": {"normal": "一般", "urgent": "紧急", "critical": "特急"},
    "en": {"normal": "normal", "urgent": "urgent", "critical": "critical"},
}

#: Field labels, in the order of the request form, as people write them back.
REQUEST_LABELS = {
    "zh": [
        ("title", "需求名称"),
        ("requesting_department", "发起部门"),
        ("receiving_departments", "接收部门"),
        ("background", "背景与目标"),
        ("due", "期望完成时间"),
        ("urgency", "紧急程度"),
        ("resources", "所需资源"),
        ("acceptance_criteria", "验收标准"),
    ],
    "en": [
        ("title", "Title"),
        ("requesting_department", "Requesting department"),
        ("receiving_departments", "Receiving departments"),
        ("background", "Background"),
        ("due", "Due"),
        ("urgency", "Urgency"),
        ("resources", "Resources"),
        ("acceptance_criteria", "Acceptance criteria"),
    ],
}
ISSUE_LABELS = {
    "zh": [
        ("task", "所属任务"),
        ("request", "所属需求"),
        ("description", "问题描述"),
        ("impact", "影响范围"),
        ("tried", "已尝试方案"),
        ("support", "所需支持"),
        ("urgency", "紧急程度"),
    ],
    "en": [
        ("task", "Task"),
        ("request", "Request"),
        ("description", "Description"),
        ("impact", "Impact"),
        ("tried", "Tried"),
        ("support", "Support needed"),
        ("urgency", "Urgency"),
    ],
}
_PROBLEM_TEXT = {
    "zh": {
        "missing": "「{label}」未填写",
        "invalid_date": (
            "「{label}」不是可识别的日期：{raw}（请写成 2026-03-31、2026/3/31 或 2026年3月31日）"
        ),
        "invalid_urgency": "「{label}」只能是 一般、紧急 或 特急：{raw}",
        "empty": "邮件正文为空",
        "unknown": "「{label}」无法识别：{raw}",
    },
    "en": {
        "missing": "{label} is missing",
        "invalid_date": "{label} is not a date we can read: {raw} (write 2026-03-31 or 2026/3/31)",
        "invalid_urgency": "{label} must be normal, urgent or critical: {raw}",
        "empty": "the message body is empty",
        "unknown": "{label} could not be read: {raw}",
    },
}
_REPLY_KEYWORDS = {
    "zh": [
        "纪要确认：确认 / 有异议：理由",
        "任务：收到 / 申请改期：日期 理由 / 进度：60% 说明 / 风险：说明 / 完成",
        "验收：验收通过 / 退回：理由",
        "评估（协调办公室）：受理 牵头部门：X 配合部门：Y、Z / 退回：理由",
        "审批：同意 / 驳回：理由",
    ],
    "en": [
        "Minutes: CONFIRM / OBJECT: reason",
        "Task: ACK / RESCHEDULE: date reason / PROGRESS: 60% note / RISK: note / DONE",
        "Deliverable: ACCEPT / RETURN: reason",
        "Evaluation (coordination office): ACCEPT lead: X support: Y, Z / RETURN: reason",
        "Approval: APPROVE / REJECT: reason",
    ],
}


def format_date(d: date | None, language: str) -> str:
    if d is None:
        return ""
    if language == "zh":
        return f"{d.year}年{d.month}月{d.day}日（周{_WEEKDAYS_ZH[d.weekday()]}）"
    return f"{d:%a %Y-%m-%d}"


def format_instant(at: datetime, tz: ZoneInfo, language: str) -> str:
    local = at.astimezone(tz)
    if language == "zh":
        return f"{format_date(local.date(), 'zh')} {local:%H:%M}"
    return f"{local:%a %Y-%m-%d %H:%M} ({tz.key})"


def format_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def urgency_label(value: str | None, language: str) -> str:
    return _URGENCY["zh" if language == "zh" else "en"].get(value or "normal", value or "")


def _attachment_lines(attachments: Sequence[Attachment]) -> list[str]:
    return [f"{a.filename or '(unnamed)'} ({format_size(a.size)})" for a in attachments]


def request_context(
    request: Request,
    attachments: Sequence[Attachment],
    deadline: datetime,
    tz: ZoneInfo,
    language: str,
) -> dict[str, object]:
    sep = "、" if language == "zh" else ", "
    return {
        "number": request.number,
        "title": request.title,
        "requester_name": request.requester_name or request.requester_email,
        "requester_email": request.requester_email,
        "requesting_department": request.requesting_department,
        "receiving_departments": sep.join(request.receiving_departments),
        "background": request.background,
        "due": format_date(request.due, language),
        "urgency": urgency_label(request.urgency, language),
        "resources": request.resources or "",
        "acceptance_criteria": request.acceptance_criteria or "",
        "attachments": _attachment_lines(attachments),
        "has_attachments": bool(attachments),
        "deadline": format_instant(deadline, tz, language),
    }


def problems_context(parsed: ParsedMessage, tz: ZoneInfo, language: str) -> dict[str, object]:
    """The problems of an invalid request or issue, and the form filled with what was read."""
    lang = "zh" if language == "zh" else "en"
    issue = isinstance(parsed.fields, IssueFields) or parsed.kind == "issue"
    labels = dict((ISSUE_LABELS if issue else REQUEST_LABELS)[lang])
    problems = []
    for err in parsed.errors:
        label = labels.get(err.field, err.field)
        text = _PROBLEM_TEXT[lang].get(err.code, _PROBLEM_TEXT[lang]["unknown"])
        problems.append(text.format(label=label, raw=err.raw or ""))
    values = _understood_values(parsed, lang)
    form = [
        (label, values.get(key, ""))
        for key, label in (ISSUE_LABELS if issue else REQUEST_LABELS)[lang]
    ]
    return {
        "subject": parsed.headers.subject,
        "problems": problems,
        "form": form,
        "tag": ("[问题]" if lang == "zh" else "[ISSUE]")
        if issue
        else ("[需求]" if lang == "zh" else "[REQUEST]"),
        "sender_name": parsed.headers.from_name or parsed.headers.from_addr or "",
    }


def _understood_values(parsed: ParsedMessage, lang: str) -> dict[str, str]:
    f = parsed.fields
    sep = "、" if lang == "zh" else ", "
    if isinstance(f, RequestFields):
        return {
            "title": f.title or "",
            "requesting_department": f.requesting_department or "",
            "receiving_departments": sep.join(f.receiving_departments),
            "background": f.background or "",
            "due": f.due.isoformat() if f.due else "",
            "urgency": urgency_label(f.urgency, lang) if f.urgency else "",
            "resources": f.resources or "",
            "acceptance_criteria": f.acceptance_criteria or "",
        }
    if isinstance(f, IssueFields):
        return {
            "task": f.task or "",
            "request": f.request or "",
            "description": f.description or "",
            "impact": f.impact or "",
            "tried": f.tried or "",
            "support": f.support or "",
            "urgency": urgency_label(f.urgency, lang) if f.urgency else "",
        }
    return {}


def issue_context(
    issue: Issue,
    number: str | None,
    attachments: Sequence[Attachment],
    meeting_by: datetime,
    tz: ZoneInfo,
    language: str,
) -> dict[str, object]:
    ref = "/".join(x for x in (number or issue.request_ref, issue.task_ref) if x)
    return {
        "reference": ref,
        "description": issue.description,
        "urgency": urgency_label(issue.urgency, language),
        "meeting_by": format_instant(meeting_by, tz, language),
        "attachments": _attachment_lines(attachments),
        "has_attachments": bool(attachments),
    }


def not_understood_context(parsed: ParsedMessage, language: str) -> dict[str, object]:
    return {
        "subject": parsed.headers.subject,
        "keywords": list(_REPLY_KEYWORDS["zh" if language == "zh" else "en"]),
    }


def registered_values(request: Request, language: str) -> dict[str, str]:
    """A registered request as form values, keyed like ``REQUEST_LABELS``."""
    sep = "、" if language == "zh" else ", "
    return {
        "title": request.title,
        "requesting_department": request.requesting_department,
        "receiving_departments": sep.join(request.receiving_departments),
        "background": request.background,
        "due": request.due.isoformat() if request.due else "",
        "urgency": urgency_label(request.urgency, language),
        "resources": request.resources or "",
        "acceptance_criteria": request.acceptance_criteria or "",
    }

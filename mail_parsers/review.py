"""The review (复盘) mail: successes, shortcomings and improvements, each a labelled field.

``[复盘] XT-2026-0001`` (or ``[REVIEW]``) in the subject; in the body, one label per
section, the text on the same line or on the lines below it::

    成功经验：每周进度同步及时，问题当天协调
    不足：需求变更未及时书面确认
    改进措施：
    1. 变更一律走书面确认
    2. 启动会前发送材料清单

Labels are matched like every other form (``mail_parsers.fields``): Chinese or English,
any case, full- or half-width, ``:`` or ``：``; a value ends at the next label, a blank
line, a signature separator or quoted text. ``目标达成情况``/``Goals`` is optional.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mail_parsers.fields import LabelTable, extract, find_request_id
from mail_parsers.model import FieldError

REVIEW_LABELS = LabelTable(
    {
        "request": ("所属需求", "需求编号", "Request"),
        "goals": ("目标达成情况", "目标达成", "Goals met", "Goals"),
        "successes": (
            "成功经验",
            "亮点",
            "亮点（成功经验）",
            "经验",
            "Successes",
            "What went well",
            "Highlights",
        ),
        "shortcomings": (
            "不足",
            "存在不足",
            "问题与不足",
            "Shortcomings",
            "What went wrong",
            "Weaknesses",
        ),
        "improvements": (
            "改进措施",
            "改进方向",
            "改进建议",
            "Improvements",
            "Improvement measures",
            "Actions",
        ),
    }
)
#: The sections a review must have.
REQUIRED = ("successes", "shortcomings", "improvements")


@dataclass(frozen=True)
class ReviewFields:
    request: str | None  # "XT-2026-0012", from the body's label or the subject
    goals: str | None
    successes: str | None
    shortcomings: str | None
    improvements: str | None


def read_review_fields(
    text: str, subject: str = "", numbers: re.Pattern[str] | None = None
) -> tuple[ReviewFields, tuple[FieldError, ...]]:
    """The review in ``text``, and a ``missing`` error for each required section not found.

    The request number is the one in the 所属需求 field, else in ``subject``; ``numbers``
    finds it (the profile's numbering, ``ParseOptions.request_number``; default ``XT-``).
    """
    found = extract(text.split("\n"), REVIEW_LABELS)

    def value(name: str) -> str | None:
        item = found.get(name)
        return item.value if item is not None else None

    request_text = value("request")
    request = find_request_id(request_text, numbers) or find_request_id(subject, numbers)
    fields = ReviewFields(
        request=request,
        goals=value("goals"),
        successes=value("successes"),
        shortcomings=value("shortcomings"),
        improvements=value("improvements"),
    )
    errors = tuple(FieldError(name, "missing") for name in REQUIRED if value(name) is None)
    return fields, errors

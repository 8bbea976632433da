"""How the workflow names and addresses a person from the directory.

Every stage writes to people the directory knows: in their language (Chinese unless the
directory says English), by name where it has one.
"""

from __future__ import annotations

from typing import Literal

from workflow.actions import Recipient
from workflow.config import WorkflowConfig
from workflow.directory import Department, Directory

__all__ = [
    "evaluating_department",
    "language",
    "recipient",
    "request_signature",
    "signature",
    "who",
]


def language(directory: Directory, address: str) -> Literal["zh", "en"]:
    """The language mail to ``address`` is written in."""
    return "en" if directory.language_of(address) == "en" else "zh"


def who(directory: Directory, address: str, name: str | None = None) -> str:
    """``Name <address>`` for mail text (``name`` over the directory's), else the address."""
    person = directory.person(address)
    shown = name or (person.name if person is not None else None)
    return f"{shown} <{address}>" if shown else address


def recipient(directory: Directory, address: str, name: str | None = None) -> Recipient:
    """``address`` as a recipient: named, in their language."""
    person = directory.person(address)
    return Recipient(
        address, name or (person.name if person else None), language(directory, address)
    )


def evaluating_department(
    requester: str, requesting_department: str, config: WorkflowConfig
) -> Department | None:
    """The department whose head evaluates a request of ``requester``, or None when the
    coordination office does: where the profile has no office step, the requester's own
    department in the directory, else the requesting department the request names, if
    the directory names its head."""
    if config.profile.stages.evaluation_by_office:
        return None
    directory = config.directory
    department = directory.department_of(requester)
    if department is None and requesting_department.strip():
        department = directory.department(requesting_department)
    return department if department is not None and department.head else None


def signature(department: Department | None, language: str) -> str:
    """Who a mail is signed by: the coordination office, or, where the head of
    ``department`` evaluates instead (a profile without an office step), the coordination
    mailbox acting for that department ("财务部协调邮箱" / "Finance coordination mailbox")."""
    english = language == "en"
    if department is None:
        return "Coordination office" if english else "协调办公室"
    return f"{department.name} coordination mailbox" if english else f"{department.name}协调邮箱"


def request_signature(
    requester: str, requesting_department: str, config: WorkflowConfig, language: str
) -> str | None:
    """The signature of the mails about a request of ``requester``, or None where the
    office signs (the templates' default)."""
    department = evaluating_department(requester, requesting_department, config)
    return signature(department, language) if department is not None else None

"""The directory: departments, their heads, members and superiors, the process roles, and
each person's name, language and delegates. Pure values; reading the file is the
daemon's job (``daemon/directory_file.py``).

A :class:`Directory` is built from the TOML shape of ``operations.md`` with
:meth:`Directory.from_mapping`, or from CSV rows with :meth:`Directory.from_csv_rows`.
Both validate the whole input and raise one :class:`DirectoryError` whose ``problems``
list every mistake at once. Things that are allowed but probably unintended (an address
named as a head without a ``[[person]]`` entry, two people with the same name) are kept
in :attr:`Directory.warnings` instead.

TOML (the contract)::

    [roles]
    office_head = "zhou.min@example.com"      # optional
    approvers = ["finance.lead@example.com", "gm@example.com"]   # in order; optional

    [[department]]
    name = "研发部"                            # required
    aliases = ["R&D"]                          # optional: other names people write
    code = "研发"                              # optional: short code, e.g. in request
                                               # numbers ({department}); default: the name
    head = "zhao.lei@example.com"              # required
    superior = "cto@example.com"               # optional: receives escalations
    members = ["li.na@example.com"]            # optional

    [[person]]
    email = "zhao.lei@example.com"             # required
    name = "赵磊"                              # required
    language = "zh"                            # zh | en; default zh
    delegates = ["assistant.zhao@example.com"] # optional: may sign off for this person

CSV (the same columns, one row per person and role; see
``daemon/examples/directory.csv``). The first row that is not blank and not a comment
(first cell starting with ``#``) is the header; column names are matched without regard
to case, full-width forms or spaces, in English or Chinese:

=============  ==============  ===================================================
column         also            holds
=============  ==============  ===================================================
email          邮箱            the person's address (required on every row)
name           姓名            display name
language       语言            ``zh`` or ``en``
delegates      代理人          addresses that may sign off for this person
department     部门            a department's *name* (not an alias)
role           角色            ``member`` ``head`` ``superior`` ``office_head``
                               ``approver`` (成员 负责人 上级 办公室负责人 审批人)
aliases        别名            the department's other names
code           代码, 简称      the department's short code (request numbers)
=============  ==============  ===================================================

* A row with a department and no role makes the person a member of it; ``head`` and
  ``superior`` need the department column; ``office_head`` and ``approver`` do not use
  it. A role cell may list several roles (``head; approver``).
* A person with several roles has several rows; name, language and delegates may be
  given on any of them (repeating them is allowed, contradicting them is a problem).
  A row with only an email and a name declares a person outside any department.
* Approvers are taken in row order. A department's aliases may be given on any of its
  rows; they are merged. Its code may be given on any of its rows (once, or repeated
  the same).
* Lists inside a cell (delegates, aliases, roles) are separated by ``;`` ``,`` ``、``
  (half- or full-width).

Matching. Addresses are compared after NFKC folding (full-width → half-width) and
lower-casing. Department names and aliases, and people's names, are compared after NFKC
folding and case folding with all white space removed (``" ｒ＆ｄ "`` is ``R&D``,
``李 娜`` is ``李娜``).

Resolving people (:meth:`Directory.resolve_person`) gives one of

* :class:`Resolved` — exactly one person;
* :class:`Unknown` — nothing matches (``reason`` says what was missing);
* :class:`Ambiguous` — a name (without an address) shared by several people;
* :class:`Conflict` — a name and an address that point at different people: the name
  belongs to someone else in the directory, or the address is not in the directory
  while the name is. A name that matches nobody does not conflict with a known address
  (people write ``Li Na li.na@example.com`` for 李娜): the address decides.

Delegation is not transitive: a delegate's own delegates may not sign for the principal.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Protocol, TypeAlias

from workflow.errors import WorkflowError

__all__ = [
    "DEFAULT_LANGUAGE",
    "Ambiguous",
    "Conflict",
    "Department",
    "DepartmentResolution",
    "Directory",
    "DirectoryError",
    "DirectorySource",
    "Language",
    "Person",
    "PersonResolution",
    "Resolved",
    "ResolvedDepartment",
    "Roles",
    "StaticDirectory",
    "Unknown",
    "fold_address",
    "fold_name",
    "is_address",
]

Language: TypeAlias = Literal["zh", "en"]
DEFAULT_LANGUAGE: Language = "zh"
#: Accepted spellings of each language (folded); the canonical ones are ``zh`` and ``en``.
_LANGUAGE_SPELLINGS: Mapping[Language, frozenset[str]] = {
    "zh": frozenset({"zh", "zh-cn", "zh-hans", "中文", "chinese"}),
    "en": frozenset({"en", "en-us", "en-gb", "英文", "english"}),
}


# ------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Person:
    email: str  # lower case
    name: str  # "" only for an address the directory names without a [[person]] entry
    language: Language = DEFAULT_LANGUAGE
    delegates: tuple[str, ...] = ()  # addresses that may sign off for this person
    department: str | None = None  # the department this person heads or belongs to


@dataclass(frozen=True)
class Department:
    name: str
    head: str
    aliases: tuple[str, ...] = ()
    superior: str | None = None
    members: tuple[str, ...] = ()
    #: A short code (``研发`` for 研发部), e.g. for request numbers; None: use the name.
    code: str | None = None


@dataclass(frozen=True)
class Roles:
    office_head: str | None = None
    approvers: tuple[str, ...] = ()  # plan approval, in order


@dataclass(frozen=True)
class Resolved:
    person: Person


UnknownReason: TypeAlias = Literal[
    "empty", "unknown-name", "unknown-address", "several-addresses", "unknown-department"
]


@dataclass(frozen=True)
class Unknown:
    text: str  # as written
    reason: UnknownReason
    #: For departments: names that contain, or are contained in, what was written.
    suggestions: tuple[str, ...] = ()

    def describe(self) -> str:
        what = {
            "empty": "no name or address given",
            "unknown-name": f"nobody named {self.text!r} is in the directory",
            "unknown-address": f"{self.text!r} is not an address in the directory",
            "several-addresses": f"{self.text!r} names more than one address",
            "unknown-department": f"no department is called {self.text!r}",
        }[self.reason]
        if self.suggestions:
            what += " (did you mean " + ", ".join(self.suggestions) + "?)"
        return what


@dataclass(frozen=True)
class Ambiguous:
    text: str
    candidates: tuple[Person, ...]  # sorted by address

    def describe(self) -> str:
        listed = ", ".join(f"{p.name} <{p.email}>" for p in self.candidates)
        return f"{self.text!r} could be any of {listed}; write the address"


@dataclass(frozen=True)
class Conflict:
    text: str
    name: str  # the name as written
    address: str  # the address as written, folded
    named: tuple[Person, ...]  # people with that name (none of them has that address)
    addressed: Person | None  # the person with that address, if any

    def describe(self) -> str:
        named = ", ".join(f"<{p.email}>" for p in self.named)
        if self.addressed is None:
            return f"{self.name} is {named} in the directory, not <{self.address}>"
        return (
            f"<{self.address}> is {self.addressed.name or 'someone else'}, "
            f"not {self.name} ({named})"
        )


PersonResolution: TypeAlias = Resolved | Unknown | Ambiguous | Conflict


@dataclass(frozen=True)
class ResolvedDepartment:
    department: Department


DepartmentResolution: TypeAlias = ResolvedDepartment | Unknown


class DirectoryError(WorkflowError, ValueError):
    """A directory cannot be used; ``problems`` lists every reason."""

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.source = source
        self.problems: tuple[str, ...] = tuple(problems)
        listed = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"directory {source}:\n{listed}")


# ------------------------------------------------------------------------- folding

_WHITESPACE = re.compile(r"\s+")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*")
# Something that looks like an address inside free text (validated separately).
_ADDRESS_IN_TEXT = re.compile(r"[^\s<>()\[\]\"'“”‘’,;、@]+@[^\s<>()\[\]\"'“”‘’,;、@]+")
_NAME_JUNK = "<>()[]\"'“”‘’,;:、 "
_LIST_SEPARATORS = re.compile(r"[;,、]")


def fold_address(text: str) -> str:
    """An address as the directory compares it: NFKC-folded, trimmed, lower case."""
    return unicodedata.normalize("NFKC", text).strip().lower()


def _exact_address(text: str) -> str:
    """An address for authorisation: trimmed, ASCII letters lower-cased, nothing folded."""
    return text.strip().translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold_name(text: str) -> str:
    """A name or department as the directory compares it: NFKC, case-folded, no spaces."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", text).casefold())


def is_address(text: str) -> bool:
    """``text`` (already folded) is one plain ``local@domain`` address."""
    return _ADDRESS.fullmatch(text) is not None


# ------------------------------------------------------------------------- the directory


class DirectorySource(Protocol):
    """Where the workflow gets the directory from; asked again for every use, so a
    reloaded file takes effect without a restart."""

    def current(self) -> Directory: ...


@dataclass(frozen=True)
class Directory:
    """People, departments and roles, validated. Build it with :meth:`from_mapping`,
    :meth:`from_csv_rows` or :meth:`empty`; the constructor trusts its arguments."""

    people: tuple[Person, ...] = ()  # sorted by address
    departments: tuple[Department, ...] = ()  # in the order the file gives them
    roles: Roles = Roles()
    warnings: tuple[str, ...] = field(default=(), compare=False)
    _by_email: Mapping[str, Person] = field(init=False, repr=False, compare=False)
    _by_name: Mapping[str, tuple[Person, ...]] = field(init=False, repr=False, compare=False)
    _by_department: Mapping[str, Department] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, list[Person]] = {}
        for person in self.people:
            if person.name:
                by_name.setdefault(fold_name(person.name), []).append(person)
        by_department: dict[str, Department] = {}
        for department in self.departments:
            for spelling in (department.name, *department.aliases):
                by_department.setdefault(fold_name(spelling), department)
        object.__setattr__(self, "_by_email", MappingProxyType({p.email: p for p in self.people}))
        object.__setattr__(
            self, "_by_name", MappingProxyType({k: tuple(v) for k, v in by_name.items()})
        )
        object.__setattr__(self, "_by_department", MappingProxyType(by_department))

    # -- construction

    @classmethod
    def empty(cls) -> Directory:
        """No people, no departments: every address is unknown and written to in Chinese."""
        return cls()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, source: str = "directory") -> Directory:
        """The TOML shape (``tomllib.loads`` output); raises :class:`DirectoryError`."""
        drafts = _Drafts()
        _read_mapping(data, drafts)
        return drafts.build(source)

    @classmethod
    def from_csv_rows(
        cls, rows: Iterable[Sequence[str]], *, source: str = "directory"
    ) -> Directory:
        """Rows of the CSV format (``csv.reader`` output, header included); raises
        :class:`DirectoryError`."""
        drafts = _Drafts()
        _read_csv_rows(rows, drafts)
        return drafts.build(source)

    # -- people

    def person(self, email: str) -> Person | None:
        return self._by_email.get(fold_address(email))

    def language_of(self, email: str) -> Language:
        person = self.person(email)
        return DEFAULT_LANGUAGE if person is None else person.language

    def name_of(self, email: str) -> str:
        """The display name, or the address itself when the directory has no name."""
        person = self.person(email)
        return person.name if person is not None and person.name else fold_address(email)

    def resolve_person(self, text: str) -> PersonResolution:
        """A name, an address, or both (``李娜 li.na@example.com``, ``李娜 <li.na@…>``)."""
        folded = unicodedata.normalize("NFKC", text)
        found = _ADDRESS_IN_TEXT.findall(folded)
        name = _ADDRESS_IN_TEXT.sub(" ", folded)
        name = " ".join(name.split()).strip(_NAME_JUNK)
        if len(found) > 1:
            return Unknown(text.strip(), "several-addresses")
        address = fold_address(found[0]).removeprefix("mailto:") if found else None
        return self.resolve_parts(name or None, address, text=text.strip())

    def resolve_parts(
        self, name: str | None, email: str | None, *, text: str | None = None
    ) -> PersonResolution:
        """The same rules for a name and an address already separated (as the minutes
        parser gives them); ``text`` is what to quote back (default: both joined)."""
        name = name.strip() if name and name.strip() else None
        address = fold_address(email) if email and email.strip() else None
        if text is None:
            text = " ".join(part for part in (name, address) if part)
        if name is None and address is None:
            return Unknown(text, "empty")
        named = self._by_name.get(fold_name(name), ()) if name is not None else ()
        if address is None:
            assert name is not None
            if not named:
                return Unknown(text, "unknown-name")
            if len(named) > 1:
                return Ambiguous(text, named)
            return Resolved(named[0])
        addressed = self._by_email.get(address)
        if addressed is None:
            if named:
                return Conflict(text, name or "", address, named, None)
            return Unknown(text, "unknown-address")
        if not named or addressed in named:
            return Resolved(addressed)
        return Conflict(text, name or "", address, named, addressed)

    # -- departments

    def department(self, name_or_alias: str) -> Department | None:
        return self._by_department.get(fold_name(name_or_alias))

    def resolve_department(self, text: str) -> DepartmentResolution:
        department = self.department(text)
        if department is not None:
            return ResolvedDepartment(department)
        key = fold_name(text)
        if not key:
            return Unknown(text.strip(), "empty")
        suggestions: list[str] = []
        for spelling, candidate in self._by_department.items():
            if (key in spelling or spelling in key) and candidate.name not in suggestions:
                suggestions.append(candidate.name)
        return Unknown(text.strip(), "unknown-department", tuple(suggestions))

    def department_of(self, email: str) -> Department | None:
        person = self.person(email)
        if person is None or person.department is None:
            return None
        return self.department(person.department)

    def head_of(self, department: str) -> str | None:
        found = self.department(department)
        return None if found is None else found.head

    def superior_of(self, department: str) -> str | None:
        found = self.department(department)
        return None if found is None else found.superior

    # -- sign-off

    def is_delegate(self, principal_email: str, candidate_email: str) -> bool:
        """Exact comparison (case aside): see :meth:`may_sign_for`."""
        principal = self.person(principal_email)
        return principal is not None and _exact_address(candidate_email) in principal.delegates

    def may_sign_for(self, principal: str, sender: str) -> bool:
        """``sender`` is ``principal`` or one of the principal's delegates.

        Addresses are compared exactly, ignoring only ASCII case: never NFKC-folded as
        in look-ups, or ``office@ｅxample.com`` (full-width e) would sign for the office.
        """
        same = _exact_address(principal) == _exact_address(sender)
        return same or self.is_delegate(principal, sender)

    # -- roles

    @property
    def office_head(self) -> str | None:
        return self.roles.office_head

    @property
    def approvers(self) -> tuple[str, ...]:
        return self.roles.approvers


@dataclass(frozen=True)
class StaticDirectory:
    """A :class:`DirectorySource` that always gives the same directory."""

    directory: Directory = field(default_factory=Directory.empty)

    def current(self) -> Directory:
        return self.directory


# ------------------------------------------------------------------------- validation


@dataclass
class _DepartmentDraft:
    where: str
    name: str
    aliases: list[str] = field(default_factory=list)
    head: str | None = None
    superior: str | None = None
    members: list[str] = field(default_factory=list)
    code: str | None = None


@dataclass
class _PersonDraft:
    where: str
    email: str
    name: str
    language: Language = DEFAULT_LANGUAGE
    delegates: list[str] = field(default_factory=list)


@dataclass
class _Drafts:
    """What was read, before the checks that span entries; ``problems`` so far."""

    problems: list[str] = field(default_factory=list)
    departments: list[_DepartmentDraft] = field(default_factory=list)
    people: list[_PersonDraft] = field(default_factory=list)
    office_head: str | None = None
    approvers: list[str] = field(default_factory=list)

    def address(self, where: str, what: str, value: object) -> str | None:
        """``value`` folded if it is one valid address; otherwise a problem and None."""
        if not isinstance(value, str):
            self.problems.append(f"{where}: {what} must be an address, not {_kind(value)}")
            return None
        folded = fold_address(value)
        if not folded:
            self.problems.append(f"{where}: {what} is empty")
            return None
        if not is_address(folded):
            self.problems.append(f"{where}: {what} {value.strip()!r} is not an email address")
            return None
        return folded

    def addresses(self, where: str, what: str, value: object, *, unique: bool = False) -> list[str]:
        """A list of addresses; a repeated one is dropped, or a problem when ``unique``."""
        if not isinstance(value, list):
            self.problems.append(f"{where}: {what} must be a list of addresses")
            return []
        found: list[str] = []
        for item in value:
            folded = self.address(where, f"{what} entry", item)
            if folded is not None and folded in found:
                if unique:
                    self.problems.append(f"{where}: {folded} is listed twice in {what}")
            elif folded is not None:
                found.append(folded)
        return found

    def language(self, where: str, value: object) -> Language:
        if isinstance(value, str):
            folded = fold_name(value).replace("_", "-")
            for language, spellings in _LANGUAGE_SPELLINGS.items():
                if folded in spellings:
                    return language
        shown = repr(value.strip()) if isinstance(value, str) else _kind(value)
        self.problems.append(f"{where}: language {shown} is not one of zh, en")
        return DEFAULT_LANGUAGE

    def build(self, source: str) -> Directory:
        problems = self.problems
        warnings: list[str] = []

        # Departments: names and aliases unique across departments.
        spellings: dict[str, tuple[str, str]] = {}  # folded -> (department name, spelling)
        for draft in self.departments:
            own: set[str] = set()
            for spelling in (draft.name, *draft.aliases):
                key = fold_name(spelling)
                if key in own:
                    continue
                own.add(key)
                if key in spellings:
                    other, other_spelling = spellings[key]
                    problems.append(
                        f"{draft.where}: {_spelling(draft, spelling)} collides with "
                        f"{other_spelling!r} of department {other}"
                    )
                else:
                    spellings[key] = (draft.name, spelling)

        # Codes: unique across departments (they name a department's number sequence).
        codes: dict[str, str] = {}  # folded code -> department name
        for draft in self.departments:
            if draft.code is None:
                continue
            other = codes.setdefault(fold_name(draft.code), draft.name)
            if other != draft.name:
                problems.append(
                    f"{draft.where}: code {draft.code!r} is already the code of department {other}"
                )

        # Membership: each person heads or belongs to at most one department.
        department_of: dict[str, str] = {}
        for draft in self.departments:
            for address in [draft.head, *draft.members]:
                if address is None:
                    continue
                known = department_of.setdefault(address, draft.name)
                if known != draft.name:
                    problems.append(
                        f"{draft.where}: {address} already belongs to department {known}; "
                        "a person belongs to one department"
                    )

        # People: one entry per address, never their own delegate.
        entries: dict[str, _PersonDraft] = {}
        for person in self.people:
            if person.email in entries:
                problems.append(
                    f"{person.where}: {person.email} is already listed "
                    f"({entries[person.email].where})"
                )
                continue
            entries[person.email] = person
            if person.email in person.delegates:
                problems.append(f"{person.where}: {person.email} is listed as their own delegate")

        if problems:
            raise DirectoryError(source, problems)

        # Addresses named in a role without a [[person]] entry: known by address only.
        referenced: dict[str, str] = {}
        for draft in self.departments:
            for address, role in (
                (draft.head, f"head of {draft.name}"),
                (draft.superior, f"superior of {draft.name}"),
                *((m, f"member of {draft.name}") for m in draft.members),
            ):
                if address is not None:
                    referenced.setdefault(address, role)
        if self.office_head is not None:
            referenced.setdefault(self.office_head, "office head")
        for address in self.approvers:
            referenced.setdefault(address, "approver")
        for person in self.people:
            for address in person.delegates:
                referenced.setdefault(address, f"delegate of {person.email}")
        for address, role in referenced.items():
            if address not in entries:
                warnings.append(
                    f"{address} ({role}) has no person entry: no name to resolve, mail in "
                    f"{DEFAULT_LANGUAGE}"
                )

        people = [
            Person(
                email=p.email,
                name=p.name,
                language=p.language,
                delegates=tuple(p.delegates),
                department=department_of.get(p.email),
            )
            for p in self.people
        ]
        people += [
            Person(email=a, name="", department=department_of.get(a))
            for a in referenced
            if a not in entries
        ]
        people.sort(key=lambda p: p.email)

        names: dict[str, list[str]] = {}
        for entry in people:
            if entry.name:
                names.setdefault(fold_name(entry.name), []).append(entry.email)
        for emails in names.values():
            if len(emails) > 1:
                shown = entries[emails[0]].name
                warnings.append(
                    f"{shown} is the name of {', '.join(emails)}: mail naming them "
                    "must give the address"
                )

        departments = tuple(
            Department(
                name=d.name,
                head=d.head or "",
                aliases=tuple(d.aliases),
                superior=d.superior,
                members=tuple(d.members),
                code=d.code,
            )
            for d in self.departments
        )
        return Directory(
            people=tuple(people),
            departments=departments,
            roles=Roles(office_head=self.office_head, approvers=tuple(self.approvers)),
            warnings=tuple(warnings),
        )


def _spelling(draft: _DepartmentDraft, spelling: str) -> str:
    return f"name {spelling!r}" if spelling == draft.name else f"alias {spelling!r}"


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "a table"
    return type(value).__name__


def _text(drafts: _Drafts, where: str, what: str, value: object) -> str | None:
    """A required, non-empty string (trimmed), or a problem and None."""
    if value is None:
        drafts.problems.append(f"{where}: {what} is missing")
        return None
    if not isinstance(value, str):
        drafts.problems.append(f"{where}: {what} must be text, not {_kind(value)}")
        return None
    if not value.strip():
        drafts.problems.append(f"{where}: {what} is empty")
        return None
    return " ".join(value.split())


def _unknown_keys(
    drafts: _Drafts, where: str, entry: Mapping[str, Any], allowed: tuple[str, ...]
) -> None:
    for key in entry:
        if key not in allowed:
            drafts.problems.append(f"{where}: unknown key {key!r} (expected {', '.join(allowed)})")


# ------------------------------------------------------------------------- TOML shape

_TOP_KEYS = ("roles", "department", "person")
_ROLE_KEYS = ("office_head", "approvers")
_DEPARTMENT_KEYS = ("name", "aliases", "head", "superior", "members", "code")
_PERSON_KEYS = ("email", "name", "language", "delegates")


def _tables(drafts: _Drafts, data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        drafts.problems.append(f"{key} must be an array of tables ([[{key}]])")
        return []
    return value


def _read_mapping(data: Mapping[str, Any], drafts: _Drafts) -> None:
    _unknown_keys(drafts, "top level", data, _TOP_KEYS)

    roles = data.get("roles", {})
    if not isinstance(roles, Mapping):
        drafts.problems.append("roles must be a table ([roles])")
        roles = {}
    _unknown_keys(drafts, "[roles]", roles, _ROLE_KEYS)
    if roles.get("office_head") is not None:
        drafts.office_head = drafts.address("[roles]", "office_head", roles["office_head"])
    drafts.approvers = drafts.addresses(
        "[roles]", "approvers", roles.get("approvers", []), unique=True
    )

    for index, entry in enumerate(_tables(drafts, data, "department"), start=1):
        name = entry.get("name")
        where = (
            f"department {' '.join(name.split())}"
            if isinstance(name, str) and name.strip()
            else f"[[department]] #{index}"
        )
        _unknown_keys(drafts, where, entry, _DEPARTMENT_KEYS)
        checked = _text(drafts, where, "name", name)
        draft = _DepartmentDraft(where, checked or "")
        aliases = entry.get("aliases", [])
        if not isinstance(aliases, list):
            drafts.problems.append(f"{where}: aliases must be a list of names")
            aliases = []
        for alias in aliases:
            text = _text(drafts, where, "alias", alias)
            if text is not None and text not in draft.aliases:
                draft.aliases.append(text)
        if "head" not in entry:
            drafts.problems.append(f"{where}: head is missing")
        else:
            draft.head = drafts.address(where, "head", entry["head"])
        if entry.get("superior") is not None:
            draft.superior = drafts.address(where, "superior", entry["superior"])
        draft.members = drafts.addresses(where, "members", entry.get("members", []))
        if entry.get("code") is not None:
            draft.code = _text(drafts, where, "code", entry["code"])
        if checked is not None:
            drafts.departments.append(draft)

    for index, entry in enumerate(_tables(drafts, data, "person"), start=1):
        email = entry.get("email")
        where = (
            f"person {fold_address(email)}"
            if isinstance(email, str) and email.strip()
            else f"[[person]] #{index}"
        )
        _unknown_keys(drafts, where, entry, _PERSON_KEYS)
        address = drafts.address(where, "email", email) if "email" in entry else None
        if "email" not in entry:
            drafts.problems.append(f"{where}: email is missing")
        name = _text(drafts, where, "name", entry.get("name"))
        language = (
            drafts.language(where, entry["language"]) if "language" in entry else DEFAULT_LANGUAGE
        )
        delegates = drafts.addresses(where, "delegates", entry.get("delegates", []))
        if address is not None and name is not None:
            drafts.people.append(_PersonDraft(where, address, name, language, delegates))


# ------------------------------------------------------------------------- CSV shape

_CSV_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "email": ("email", "e-mail", "address", "邮箱", "电子邮件", "邮件地址"),
    "name": ("name", "姓名", "名字"),
    "language": ("language", "语言"),
    "delegates": ("delegates", "delegate", "代理人"),
    "department": ("department", "部门"),
    "role": ("role", "roles", "角色"),
    "aliases": ("aliases", "alias", "别名", "部门别名"),
    "code": ("code", "department code", "代码", "部门代码", "简称"),
}
_CSV_ROLES: Mapping[str, tuple[str, ...]] = {
    "member": ("member", "成员"),
    "head": ("head", "负责人", "部门负责人"),
    "superior": ("superior", "上级"),
    "office_head": ("office_head", "office head", "officehead", "办公室负责人"),
    "approver": ("approver", "审批人"),
}


def _lookup(table: Mapping[str, tuple[str, ...]], text: str) -> str | None:
    key = fold_name(text).replace("-", "_")
    for canonical, spellings in table.items():
        if key in (fold_name(s).replace("-", "_") for s in spellings):
            return canonical
    return None


def _split(cell: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", cell)
    return [" ".join(part.split()) for part in _LIST_SEPARATORS.split(folded) if part.strip()]


@dataclass
class _CsvPerson:
    where: str
    name: str | None = None
    language: str | None = None
    delegates: list[str] = field(default_factory=list)
    has_entry: bool = False


def _read_csv_rows(rows: Iterable[Sequence[str]], drafts: _Drafts) -> None:
    columns: dict[str, int] | None = None
    people: dict[str, _CsvPerson] = {}
    departments: dict[str, _DepartmentDraft] = {}  # by folded name
    office_head_where: str | None = None

    for number, row in enumerate(rows, start=1):
        where = f"row {number}"
        if not any(cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
            continue
        if columns is None:
            columns = _csv_header(drafts, where, row)
            if "email" not in columns:
                return
            continue
        extra = [cell for cell in row[max(columns.values()) + 1 :] if cell.strip()]
        if extra:
            drafts.problems.append(f"{where}: more cells than the header has columns")

        def cell(
            column: str, row: Sequence[str] = row, columns: Mapping[str, int] = columns
        ) -> str:
            index = columns.get(column)
            return row[index].strip() if index is not None and index < len(row) else ""

        address = drafts.address(where, "email", cell("email"))
        if address is None:
            continue
        person = people.setdefault(address, _CsvPerson(where))
        name = " ".join(cell("name").split())
        if name:
            person.has_entry = True
            if person.name is None:
                person.name = name
            elif fold_name(person.name) != fold_name(name):
                drafts.problems.append(
                    f"{where}: {address} is named {name!r} here and {person.name!r} "
                    f"in {person.where}"
                )
        language = cell("language")
        if language:
            person.has_entry = True
            if person.language is None:
                person.language = language
            elif fold_name(person.language) != fold_name(language):
                drafts.problems.append(
                    f"{where}: {address} has language {language!r} here and "
                    f"{person.language!r} in {person.where}"
                )
        if cell("delegates"):
            person.has_entry = True
            for delegate in drafts.addresses(where, "delegates", _split(cell("delegates"))):
                if delegate not in person.delegates:
                    person.delegates.append(delegate)

        roles: list[str] = []
        for text in _split(cell("role")):
            role = _lookup(_CSV_ROLES, text)
            if role is None:
                drafts.problems.append(
                    f"{where}: role {text!r} is not one of {', '.join(_CSV_ROLES)}"
                )
            elif role not in roles:
                roles.append(role)

        department_name = " ".join(unicodedata.normalize("NFKC", cell("department")).split())
        # The department's own spelling is kept as written (not NFKC-folded).
        written = " ".join(cell("department").split())
        department: _DepartmentDraft | None = None
        if department_name:
            key = fold_name(department_name)
            department = departments.get(key)
            if department is None:
                department = _DepartmentDraft(f"department {written}", written)
                departments[key] = department
            for alias in _split(cell("aliases")):
                if alias not in department.aliases:
                    department.aliases.append(alias)
            code = " ".join(cell("code").split())
            if code and department.code is None:
                department.code = code
            elif code and fold_name(code) != fold_name(department.code or ""):
                drafts.problems.append(
                    f"{where}: department {department.name} has code {code!r} here and "
                    f"{department.code!r} on an earlier row"
                )
            if not roles:
                roles = ["member"]
        elif cell("aliases"):
            drafts.problems.append(f"{where}: aliases given without a department")
        elif cell("code"):
            drafts.problems.append(f"{where}: code given without a department")

        if not (roles or name or language or cell("delegates")):
            drafts.problems.append(
                f"{where}: {address} has no name, language, delegates, department or role"
            )
        for role in roles:
            if role in ("member", "head", "superior") and department is None:
                drafts.problems.append(f"{where}: role {role} needs the department column")
            elif role == "member" and department is not None:
                if address not in department.members:
                    department.members.append(address)
            elif role in ("head", "superior") and department is not None:
                current = department.head if role == "head" else department.superior
                if current is not None and current != address:
                    drafts.problems.append(
                        f"{where}: department {department.name} already has {role} {current}"
                    )
                elif role == "head":
                    department.head = address
                else:
                    department.superior = address
            elif role == "office_head":
                if drafts.office_head is not None and drafts.office_head != address:
                    drafts.problems.append(
                        f"{where}: office_head is already {drafts.office_head} "
                        f"({office_head_where})"
                    )
                else:
                    drafts.office_head, office_head_where = address, where
            elif role == "approver":
                if address in drafts.approvers:
                    drafts.problems.append(f"{where}: {address} is already an approver")
                else:
                    drafts.approvers.append(address)

    if columns is None:
        drafts.problems.append("no header row (expected columns email, name, ...)")
        return

    for draft in departments.values():
        if draft.head is None:
            drafts.problems.append(f"{draft.where}: head is missing (no row with role head)")
        drafts.departments.append(draft)
    for address, person in people.items():
        if not person.has_entry:
            continue  # known only through a role: as in TOML without a [[person]] entry
        where = f"person {address} ({person.where})"
        if person.name is None:
            drafts.problems.append(f"{where}: name is missing")
            continue
        language = (
            drafts.language(where, person.language)
            if person.language is not None
            else DEFAULT_LANGUAGE
        )
        drafts.people.append(_PersonDraft(where, address, person.name, language, person.delegates))


def _csv_header(drafts: _Drafts, where: str, row: Sequence[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, text in enumerate(row):
        if not text.strip():
            continue
        column = _lookup(_CSV_COLUMNS, text)
        if column is None:
            drafts.problems.append(
                f"{where}: unknown column {text.strip()!r} (expected {', '.join(_CSV_COLUMNS)})"
            )
        elif column in columns:
            drafts.problems.append(f"{where}: column {column} appears twice")
        else:
            columns[column] = index
    if "email" not in columns:
        drafts.problems.append(f"{where}: the header has no email column")
    return columns

"""The directory: the shipped TOML and CSV examples, resolving people and departments,
delegates, validation that lists every problem, and reloading the file while running."""

from __future__ import annotations

import copy
import csv
import io
import logging
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

import daemon
from daemon.directory_file import DirectoryFile, load_directory
from workflow.directory import (
    Ambiguous,
    Conflict,
    Directory,
    DirectoryError,
    Resolved,
    ResolvedDepartment,
    StaticDirectory,
    Unknown,
)

EXAMPLES = Path(daemon.__file__).resolve().parent / "examples"
EXAMPLE_TOML = EXAMPLES / "directory.toml"
EXAMPLE_CSV = EXAMPLES / "directory.csv"


def example_data() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE_TOML.read_text("utf-8"))


@pytest.fixture(scope="module")
def example() -> Directory:
    return load_directory(EXAMPLE_TOML)


@pytest.fixture(scope="module")
def with_namesake() -> Directory:
    """The example plus a second 李娜 in 市场部, so that the bare name is ambiguous."""
    data = copy.deepcopy(example_data())
    data["department"][1]["members"].append("li.na2@example.com")
    data["person"].append({"email": "li.na2@example.com", "name": "李娜", "language": "zh"})
    return Directory.from_mapping(data)


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def problems_of(build: Any) -> tuple[str, ...]:
    with pytest.raises(DirectoryError) as caught:
        build()
    return caught.value.problems


# ------------------------------------------------------------------------- the examples


def test_shipped_toml_example_loads(example: Directory) -> None:
    assert [d.name for d in example.departments] == ["研发部", "市场部", "财务部", "行政部"]
    assert len(example.people) == 13
    assert example.office_head == "zhou.min@example.com"
    assert example.approvers == ("finance.lead@example.com", "gm@example.com")
    assert example.warnings == ()
    zhao = example.person("zhao.lei@example.com")
    assert zhao is not None
    assert (zhao.name, zhao.language, zhao.delegates, zhao.department) == (
        "赵磊",
        "zh",
        ("assistant.zhao@example.com",),
        "研发部",
    )


def test_shipped_csv_example_is_the_same_directory(example: Directory) -> None:
    from_csv = load_directory(EXAMPLE_CSV)
    assert from_csv == example
    assert from_csv.warnings == ()


def test_order_of_person_entries_does_not_matter(example: Directory) -> None:
    data = example_data()
    data["person"].reverse()
    assert Directory.from_mapping(data) == example


# ------------------------------------------------------------------------- people


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("李娜", "li.na@example.com"),
        ("li.na@example.com", "li.na@example.com"),
        ("LI.NA@Example.COM", "li.na@example.com"),
        ("李娜 li.na@example.com", "li.na@example.com"),
        ("李娜 <li.na@example.com>", "li.na@example.com"),
        ('"李娜" <li.na@example.com>', "li.na@example.com"),
        ("李娜（li.na＠example.com）", "li.na@example.com"),
        ("  李 娜  ", "li.na@example.com"),
        ("Emily Clark", "emily.clark@example.com"),
        ("emily  clark", "emily.clark@example.com"),
        ("ＥＭＩＬＹ　ＣＬＡＲＫ", "emily.clark@example.com"),
        ("mailto:emily.clark@example.com", "emily.clark@example.com"),
        # A name nobody has does not contradict a known address: the address decides.
        ("Li Na <li.na@example.com>", "li.na@example.com"),
    ],
)
def test_name_address_or_both_resolve(example: Directory, text: str, email: str) -> None:
    result = example.resolve_person(text)
    assert isinstance(result, Resolved), result
    assert result.person.email == email


@pytest.mark.parametrize(
    ("text", "expected", "named_in_description"),
    [
        ("张三", Unknown("张三", "unknown-name"), ["张三"]),
        ("zhang.san@example.com", Unknown("zhang.san@example.com", "unknown-address"), []),
        ("", Unknown("", "empty"), []),
        (
            "a@example.com b@example.com",
            Unknown("a@example.com b@example.com", "several-addresses"),
            ["a@example.com b@example.com"],
        ),
    ],
)
def test_unknown_says_what_was_not_found(
    example: Directory, text: str, expected: Unknown, named_in_description: list[str]
) -> None:
    result = example.resolve_person(text)
    assert result == expected
    assert isinstance(result, Unknown)
    for name in named_in_description:
        assert name in result.describe()


def test_a_shared_name_is_ambiguous_and_lists_the_candidates(with_namesake: Directory) -> None:
    result = with_namesake.resolve_person("李娜")
    assert isinstance(result, Ambiguous)
    assert result.text == "李娜"
    assert [p.email for p in result.candidates] == ["li.na2@example.com", "li.na@example.com"]
    described = result.describe()
    assert "李娜" in described
    assert "li.na@example.com" in described and "li.na2@example.com" in described
    # The address settles it.
    settled = with_namesake.resolve_person("李娜 <li.na2@example.com>")
    assert isinstance(settled, Resolved)
    assert settled.person.email == "li.na2@example.com"
    assert any("李娜" in w for w in with_namesake.warnings)


@pytest.mark.parametrize(
    ("text", "named", "addressed"),
    [
        # The name is somebody else's.
        ("王强 li.na@example.com", ["wang.qiang@example.com"], "li.na@example.com"),
        # The name is known, the address is not (a typo in the address).
        ("李娜 lina@example.com", ["li.na@example.com"], None),
    ],
)
def test_name_and_address_that_disagree_conflict(
    example: Directory, text: str, named: list[str], addressed: str | None
) -> None:
    result = example.resolve_person(text)
    assert isinstance(result, Conflict), result
    assert [p.email for p in result.named] == named
    assert (result.addressed.email if result.addressed else None) == addressed
    assert result.name in result.describe() and result.address in result.describe()


def test_resolve_parts_takes_a_name_and_address_already_split(example: Directory) -> None:
    li_na = example.person("li.na@example.com")
    assert li_na is not None
    assert example.resolve_parts("李娜", "li.na@example.com") == Resolved(li_na)
    assert example.resolve_parts(None, None) == Unknown("", "empty")
    assert isinstance(example.resolve_parts("王强", "li.na@example.com"), Conflict)


@pytest.mark.parametrize(
    ("email", "language"),
    [
        ("emily.clark@example.com", "en"),
        ("Emily.Clark@EXAMPLE.com", "en"),
        ("zhao.lei@example.com", "zh"),
        ("stranger@elsewhere.example", "zh"),
    ],
)
def test_language_of_defaults_to_chinese(example: Directory, email: str, language: str) -> None:
    assert example.language_of(email) == language


def test_unknown_address_has_no_person(example: Directory) -> None:
    assert example.person("stranger@elsewhere.example") is None
    assert example.name_of("Stranger@Elsewhere.example") == "stranger@elsewhere.example"
    assert example.name_of("li.na@example.com") == "李娜"


# ------------------------------------------------------------------------- departments


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("研发部", "研发部"),
        ("R&D", "研发部"),
        ("r&d", "研发部"),
        (" Ｒ＆Ｄ ", "研发部"),
        ("研发中心", "研发部"),
        ("研 发 部", "研发部"),
        ("MARKETING", "市场部"),
        ("Finance", "财务部"),
        ("综合办", "行政部"),
        ("\u3000行政部\u3000", "行政部"),
    ],
)
def test_department_by_name_or_alias(example: Directory, text: str, name: str) -> None:
    found = example.department(text)
    assert found is not None and found.name == name
    assert example.resolve_department(text) == ResolvedDepartment(found)


@pytest.mark.parametrize(
    ("text", "suggestions"),
    [
        ("研发", ("研发部",)),
        ("研发部门", ("研发部",)),
        ("法务部", ()),
    ],
)
def test_unknown_department_names_it(
    example: Directory, text: str, suggestions: tuple[str, ...]
) -> None:
    result = example.resolve_department(text)
    assert result == Unknown(text, "unknown-department", suggestions)
    assert isinstance(result, Unknown)
    assert text in result.describe()
    assert example.department(text) is None


@pytest.mark.parametrize(
    ("email", "department", "head", "superior"),
    [
        ("li.na@example.com", "研发部", "zhao.lei@example.com", "cto@example.com"),
        ("zhao.lei@example.com", "研发部", "zhao.lei@example.com", "cto@example.com"),
        ("emily.clark@example.com", "市场部", "sun.li@example.com", "gm@example.com"),
        ("liu.yang@example.com", "行政部", "zhou.min@example.com", "gm@example.com"),
    ],
)
def test_department_of_head_and_superior(
    example: Directory, email: str, department: str, head: str, superior: str
) -> None:
    found = example.department_of(email)
    assert found is not None and found.name == department
    assert example.head_of(department) == head
    assert example.superior_of(department) == superior
    for alias in found.aliases:
        assert example.head_of(alias) == head


@pytest.mark.parametrize(
    "email", ["cto@example.com", "assistant.zhao@example.com", "nobody@example.com"]
)
def test_people_outside_departments(example: Directory, email: str) -> None:
    assert example.department_of(email) is None


def test_head_of_unknown_department(example: Directory) -> None:
    assert example.head_of("法务部") is None
    assert example.superior_of("法务部") is None


# ------------------------------------------------------------------------- delegates


@pytest.mark.parametrize(
    ("principal", "sender", "may"),
    [
        ("zhao.lei@example.com", "zhao.lei@example.com", True),
        ("zhao.lei@example.com", "Zhao.Lei@Example.com", True),
        ("zhao.lei@example.com", "assistant.zhao@example.com", True),
        ("zhao.lei@example.com", "ASSISTANT.ZHAO@example.com", True),
        ("zhao.lei@example.com", "li.na@example.com", False),
        ("assistant.zhao@example.com", "zhao.lei@example.com", False),  # not symmetric
        ("li.na@example.com", "assistant.zhao@example.com", False),
        ("stranger@example.com", "stranger@example.com", True),
        ("stranger@example.com", "assistant.zhao@example.com", False),
    ],
)
def test_may_sign_for(example: Directory, principal: str, sender: str, may: bool) -> None:
    assert example.may_sign_for(principal, sender) is may
    assert example.is_delegate(principal, sender) is (may and principal != sender.lower())


def test_delegation_is_not_transitive() -> None:
    directory = Directory.from_mapping(
        {
            "person": [
                {"email": "a@example.com", "name": "甲", "delegates": ["b@example.com"]},
                {"email": "b@example.com", "name": "乙", "delegates": ["c@example.com"]},
                {"email": "c@example.com", "name": "丙"},
            ]
        }
    )
    assert directory.may_sign_for("a@example.com", "b@example.com")
    assert directory.may_sign_for("b@example.com", "c@example.com")
    assert not directory.may_sign_for("a@example.com", "c@example.com")


# ------------------------------------------------------------------------- validation

GOOD_TOML = """
[roles]
office_head = "head@example.com"
approvers = ["gm@example.com"]

[[department]]
name = "研发部"
aliases = ["R&D"]
head = "head@example.com"
superior = "gm@example.com"
members = ["a@example.com"]

[[person]]
email = "head@example.com"
name = "赵磊"

[[person]]
email = "gm@example.com"
name = "黄伟"

[[person]]
email = "a@example.com"
name = "李娜"
language = "en"
delegates = ["head@example.com"]
"""


def test_the_validation_baseline_is_valid() -> None:
    directory = Directory.from_mapping(tomllib.loads(GOOD_TOML))
    assert directory.language_of("a@example.com") == "en"
    assert directory.warnings == ()


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'head = "head@example.com"\nsuperior',
            'head = "赵磊"\nsuperior',
            "department 研发部: head '赵磊' is not an email address",
        ),
        ('head = "head@example.com"\nsuperior', "superior", "department 研发部: head is missing"),
        ('language = "en"', 'language = "fr"', "language 'fr' is not one of zh, en"),
        (
            'delegates = ["head@example.com"]',
            'delegates = ["a@example.com"]',
            "a@example.com is listed as their own delegate",
        ),
        (
            'email = "gm@example.com"',
            'email = "HEAD@example.com"',
            "head@example.com is already listed",
        ),
        (
            'members = ["a@example.com"]',
            'members = ["a@example.com"]\n[[department]]\nname = "Ｒ＆Ｄ"\nhead = "gm@example.com"',
            "name 'Ｒ＆Ｄ' collides with 'R&D' of department 研发部",
        ),
        (
            'members = ["a@example.com"]',
            'members = ["a@example.com"]\n[[department]]\nname = "市场部"\n'
            'head = "gm@example.com"\nmembers = ["a@example.com"]',
            "a@example.com already belongs to department 研发部",
        ),
        (
            'approvers = ["gm@example.com"]',
            'approvers = ["gm@example.com", "GM@example.com"]',
            "gm@example.com is listed twice in approvers",
        ),
        ('name = "李娜"', 'name = ""', "person a@example.com: name is empty"),
        ('name = "李娜"', "nom = 1", "person a@example.com: unknown key 'nom'"),
        ("[roles]", "[role]", "unknown key 'role'"),
        ('members = ["a@example.com"]', 'members = "a@example.com"', "members must be a list"),
    ],
)
def test_each_mistake_is_reported(old: str, new: str, expected: str) -> None:
    assert GOOD_TOML.count(old) == 1
    text = GOOD_TOML.replace(old, new)
    problems = problems_of(lambda: Directory.from_mapping(tomllib.loads(text)))
    assert any(expected in p for p in problems), problems


def test_three_mistakes_give_three_problems_at_once(tmp_path: Path) -> None:
    text = (
        GOOD_TOML.replace('\nhead = "head@example.com"', '\nhead = "head.example.com"')
        .replace('language = "en"', 'language = "de"')
        .replace('delegates = ["head@example.com"]', 'delegates = ["a@example.com"]')
    )
    path = tmp_path / "directory.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(DirectoryError) as caught:
        load_directory(path)
    assert len(caught.value.problems) == 3, caught.value.problems
    message = str(caught.value)
    assert str(path) in message
    for fragment in ("'head.example.com' is not an email address", "'de'", "own delegate"):
        assert fragment in message


def test_an_address_without_a_person_entry_is_known_by_address_with_a_warning() -> None:
    directory = Directory.from_mapping(
        {"department": [{"name": "研发部", "head": "Zhao.Lei@Example.com"}]}
    )
    head = directory.person("zhao.lei@example.com")
    assert head is not None
    assert (head.name, head.language, head.department) == ("", "zh", "研发部")
    assert directory.name_of("zhao.lei@example.com") == "zhao.lei@example.com"
    assert directory.warnings == (
        "zhao.lei@example.com (head of 研发部) has no person entry: no name to resolve, mail in zh",
    )


def test_empty_directory() -> None:
    empty = Directory.empty()
    assert empty == Directory.from_mapping({})
    assert empty.person("a@example.com") is None
    assert empty.language_of("a@example.com") == "zh"
    assert empty.resolve_person("李娜") == Unknown("李娜", "unknown-name")
    assert empty.office_head is None and empty.approvers == ()
    assert StaticDirectory().current() == empty


# ------------------------------------------------------------------------- CSV format

CSV_HEADER = "email,name,language,delegates,department,role,aliases\n"


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("x@example.com,甲,zh,,研发部,boss,\n", "role 'boss' is not one of member"),
        ("x@example.com,甲,zh,,,head,\n", "role head needs the department column"),
        (
            "x@example.com,甲,zh,,研发部,head,\ny@example.com,乙,zh,,研发部,head,\n",
            "department 研发部 already has head x@example.com",
        ),
        (
            "x@example.com,甲,zh,,研发部,head,\nx@example.com,乙,,,,approver,\n",
            "x@example.com is named '乙' here and '甲' in row 2",
        ),
        ("x@example.com,甲,zh,,研发部,member,\n", "department 研发部: head is missing"),
        ("x@example.com,,,,,,\n", "x@example.com has no name"),
        ("not-an-address,甲,zh,,,,\n", "row 2: email 'not-an-address' is not an email address"),
        ("x@example.com,甲,klingon,,,,\n", "language 'klingon' is not one of zh, en"),
        ("x@example.com,甲,zh,,,,R&D\n", "row 2: aliases given without a department"),
        ("x@example.com,甲,zh,,,,,extra\n", "row 2: more cells than the header"),
    ],
)
def test_each_csv_mistake_is_reported(rows: str, expected: str) -> None:
    problems = problems_of(lambda: Directory.from_csv_rows(csv_rows(CSV_HEADER + rows)))
    assert any(expected in p for p in problems), problems


def test_csv_header_in_chinese_any_order_with_comments() -> None:
    text = (
        "# a comment, with commas\n"
        "\n"
        "部门,角色,邮箱,姓名,语言,别名,代理人\n"
        "研发部,负责人; 审批人,zhao.lei@example.com,赵磊,英文,R&D、研发中心,a@example.com\n"
        "研发部,,li.na@example.com,李娜,,,\n"
        "# another comment\n"
        ",办公室负责人,zhou.min@example.com,周敏,,,\n"
    )
    directory = Directory.from_csv_rows(csv_rows(text))
    rd = directory.department("研发中心")
    assert rd is not None
    assert (rd.name, rd.head, rd.members, rd.aliases) == (
        "研发部",
        "zhao.lei@example.com",
        ("li.na@example.com",),
        ("R&D", "研发中心"),
    )
    assert directory.approvers == ("zhao.lei@example.com",)
    assert directory.office_head == "zhou.min@example.com"
    assert directory.language_of("zhao.lei@example.com") == "en"
    assert directory.is_delegate("zhao.lei@example.com", "a@example.com")


def test_csv_unknown_column_and_missing_email_column_reported_together() -> None:
    problems = problems_of(lambda: Directory.from_csv_rows(csv_rows("mail,name,dept\n")))
    assert problems == (
        "row 1: unknown column 'mail' (expected email, name, language, delegates, department, "
        "role, aliases, code)",
        "row 1: unknown column 'dept' (expected email, name, language, delegates, department, "
        "role, aliases, code)",
        "row 1: the header has no email column",
    )


# ------------------------------------------------------------------------- the file


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("directory.yaml", b"x: 1", "unsupported file type '.yaml'"),
        ("directory.toml", "[[person]]\nname = '李娜'".encode("gbk"), "not UTF-8 text"),
        ("directory.toml", b"[[person]\n", "not valid TOML"),
        ("directory.csv", b"", "no header row"),
    ],
)
def test_load_errors_name_the_file(
    tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DirectoryError) as caught:
        load_directory(path)
    assert str(path) in str(caught.value)
    assert any(expected in p for p in caught.value.problems), caught.value.problems


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    with pytest.raises(DirectoryError) as caught:
        DirectoryFile(path)
    assert str(path) in str(caught.value)
    assert "cannot read the file" in caught.value.problems[0]


def test_csv_with_a_byte_order_mark_loads(tmp_path: Path, example: Directory) -> None:
    path = tmp_path / "directory.CSV"
    path.write_bytes(b"\xef\xbb\xbf" + EXAMPLE_CSV.read_bytes())
    assert load_directory(path) == example


def write(path: Path, text: str, *, bump_seconds: int) -> None:
    """Rewrite ``path`` and move its modification time on explicitly, so the change
    shows even where the file system keeps whole seconds."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, "utf-8")
    stamp = before + bump_seconds * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


def reload_records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "liaison.directory"]


def test_reload_picks_up_an_edit_and_survives_a_broken_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="liaison.directory")
    path = tmp_path / "directory.toml"
    write(path, GOOD_TOML, bump_seconds=0)
    source = DirectoryFile(path)
    first = source.current()
    assert first.language_of("a@example.com") == "en"
    assert source.current() is first  # unchanged file: the same object, no reload

    # An edit is picked up, once.
    write(path, GOOD_TOML.replace('language = "en"', 'language = "zh"'), bump_seconds=10)
    second = source.current()
    assert second.language_of("a@example.com") == "zh"
    assert source.current() is second
    assert source.current() is second
    assert sum("reloaded" in m for m in reload_records(caplog)) == 1

    # A broken edit keeps the last good directory, and is logged once with every problem.
    broken = GOOD_TOML.replace('language = "en"', 'language = "fr"').replace(
        '\nhead = "head@example.com"', '\nhead = "nobody"'
    )
    write(path, broken, bump_seconds=20)
    assert source.current() is second
    assert source.current() is second
    assert len(source.problems) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert str(path) in errors[0] and "'fr'" in errors[0] and "'nobody'" in errors[0]

    # Fixing it is picked up again.
    write(path, GOOD_TOML, bump_seconds=30)
    third = source.current()
    assert third == first
    assert not source.problems


def test_a_removed_file_keeps_the_last_good_directory_until_it_returns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "directory.csv"
    path.write_bytes(EXAMPLE_CSV.read_bytes())
    source = DirectoryFile(path)
    good = source.current()
    path.unlink()
    assert source.current() is good
    assert source.current() is good
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1
    assert source.problems and "cannot read the file" in source.problems[0]
    # Put back with one more department member: read again.
    text = EXAMPLE_CSV.read_text("utf-8") + "new.hire@example.com,新人,zh,,研发部,,\n"
    write(path, text, bump_seconds=0)
    again = source.current()
    rd = again.department("R&D")
    assert rd is not None and "new.hire@example.com" in rd.members
    assert source.problems == ()


def test_a_replaced_file_is_noticed_by_its_inode(tmp_path: Path) -> None:
    """Editors save by writing a new file and renaming it over the old one."""
    path = tmp_path / "directory.toml"
    path.write_text(GOOD_TOML, "utf-8")
    source = DirectoryFile(path)
    assert source.current().office_head == "head@example.com"
    replacement = tmp_path / "directory.toml.new"
    replacement.write_text(GOOD_TOML.replace('office_head = "head@example.com"', ""), "utf-8")
    stat = path.stat()
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same times on purpose
    os.replace(replacement, path)
    assert source.current().office_head is None


def test_no_file_configured_means_an_empty_directory() -> None:
    source = DirectoryFile.empty()
    assert source.path is None
    assert source.current() == Directory.empty()
    assert source.current().language_of("anyone@example.com") == "zh"
    assert source.problems == ()


def test_check_names_every_problem_of_a_broken_directory(tmp_path: Path) -> None:
    from daemon.checks import check_directory
    from daemon.settings import load_settings

    broken = tmp_path / "directory.toml"
    broken.write_text(
        '[[department]]\nname = "研发部"\nhead = "not-an-address"\n\n'
        '[[person]]\nemail = "a@example.com"\nlanguage = "fr"\n',
        encoding="utf-8",
    )
    settings = load_settings(None, environ={"LIAISON_DIRECTORY_FILE": str(broken)})
    result = check_directory(settings)
    assert not result.ok
    assert "not-an-address" in result.detail and "fr" in result.detail

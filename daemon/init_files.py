"""``liaison init``: the starter configuration and directory, from the shipped examples.

The examples live in ``daemon/examples/`` as package data (no ``__init__.py``: a
namespace subpackage) and are read through ``importlib.resources``, so they work from a
wheel as well as from a checkout. The package data must include ``examples/*.toml``.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

EXAMPLES_PACKAGE = "daemon.examples"
STARTER_FILES = ("liaison.toml", "directory.toml")
#: The default profile, copied so an admin can edit a clock or the numbering and point
#: ``[workflow] profile`` at the copy.
PROFILE_FILE = "profile.toml"


class StarterFilesExistError(FileExistsError):
    """``liaison init`` would overwrite files; nothing was written."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        names = ", ".join(str(p) for p in paths)
        super().__init__(f"refusing to overwrite {names}; use --force to replace them")

    def __str__(self) -> str:
        return str(self.args[0])


def read_example(name: str) -> str:
    """The text of a shipped example, e.g. ``read_example("liaison.toml")``."""
    if name not in STARTER_FILES:
        raise ValueError(f"no example named {name!r}; there are {', '.join(STARTER_FILES)}")
    resource = resources.files(EXAMPLES_PACKAGE) / name
    return resource.read_text(encoding="utf-8")


def read_default_profile() -> str:
    """The shipped ``standard`` profile, as the starting point of an edited copy."""
    return (resources.files("workflow") / "profiles" / "standard.toml").read_text(encoding="utf-8")


def write_starter_files(target: Path, *, force: bool = False) -> list[Path]:
    """Write ``liaison.toml``, ``directory.toml`` and ``profile.toml`` into ``target``.

    ``target`` is created if missing. Without ``force``, nothing is written if any of
    the files exists already (:class:`StarterFilesExistError`). Returns the paths written.
    """
    target.mkdir(parents=True, exist_ok=True)
    texts = {name: read_example(name) for name in STARTER_FILES}
    texts[PROFILE_FILE] = read_default_profile()
    paths = [target / name for name in texts]
    existing = [p for p in paths if p.exists() or p.is_symlink()]
    if existing and not force:
        raise StarterFilesExistError(existing)
    for path in paths:
        _write(path, texts[path.name], replace=force)
    return paths


def _write(path: Path, text: str, *, replace: bool) -> None:
    """Write atomically; without ``replace``, fail if the file appeared meanwhile."""
    if not replace:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
        return
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)

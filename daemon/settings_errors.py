"""What goes wrong while loading the configuration.

The loader never stops at the first mistake: it collects every problem it finds in the
file, the environment and the secret files, then raises one :class:`ConfigError` that
carries them all, so an operator fixes everything in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the configuration.

    ``where`` is the dotted key (``"mailbox.imap.port"``), a section (``"mailbox"``), or
    ``""`` for the configuration as a whole. ``source`` says where the offending value came
    from: the configuration file, the environment variable, the secret file or systemd
    credential, or ``""`` when the value is missing altogether and no file is in use.
    """

    where: str
    message: str
    source: str = ""

    def __str__(self) -> str:
        text = f"{self.where or 'configuration'}: {self.message}"
        if self.source:
            text += f" [{self.source}]"
        return text


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` lists every reason found.

    A permanent error: retrying changes nothing until an operator edits the file, the
    environment or the secrets. ``str()`` gives one problem per line.
    """

    def __init__(self, problems: Iterable[ConfigProblem]) -> None:
        self.problems: list[ConfigProblem] = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)

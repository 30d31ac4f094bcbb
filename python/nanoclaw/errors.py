"""Exceptions raised by nanoclaw.

Every exception that comes from the C library carries nanoclaw's own one-line
message (``str(exc)``, also ``exc.message``) and its errno-style ``code``::

    NanoclawError                 anything nanoclaw reports
    ├── LibraryNotFoundError      libnanoclaw.so could not be loaded (also an OSError)
    ├── SandboxError              the sandbox could not be set up, or broke
    │   └── ProfileError          a bad setting: names the key and the value (also a ValueError)
    ├── ModelError                the model's API failed: key rejected, model not found,
    │                             bad answers, unreachable, retries exhausted
    ├── AgentError                the task did not finish: max_steps reached, the
    │   └── AgentTimeoutError     deadline passed (also a TimeoutError), cancelled
    └── CommandError              Result.check_returncode(): the command failed

Unknown keyword arguments are a plain ``TypeError``, as for any Python call.
"""

from __future__ import annotations

import errno as _errno
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .isolation import Result

__all__ = [
    "NanoclawError",
    "LibraryNotFoundError",
    "SandboxError",
    "ProfileError",
    "ModelError",
    "AgentError",
    "AgentTimeoutError",
    "CommandError",
]


class NanoclawError(Exception):
    """Base class of every error nanoclaw reports.

    Attributes:
        message: nanoclaw's own message (what was wrong, with the value and where).
        code: the errno-style code nanoclaw gave with it (``errno.EINVAL``, ...), or 0.
    """

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    @property
    def errno_name(self) -> str:
        """The symbolic name of :attr:`code` (``"EINVAL"``), or ``""``."""
        return _errno.errorcode.get(self.code, "")

    def __repr__(self) -> str:
        return "%s(%r, code=%s)" % (type(self).__name__, self.message, self.errno_name or self.code)


class LibraryNotFoundError(NanoclawError, OSError):
    """libnanoclaw could not be loaded; the message lists every place tried."""


class SandboxError(NanoclawError):
    """The sandbox could not be set up (a missing image, a bind source that does
    not exist, a limit the host cannot enforce), or it ended unexpectedly."""


class ProfileError(SandboxError, ValueError):
    """A setting nanoclaw refuses, e.g. ``mem_limit: "512q" is not a size (try 512m)``."""


class ModelError(NanoclawError):
    """The model's API failed: the key was rejected or missing, the model does
    not exist, the server was unreachable or kept failing, or it answered
    something that is not a chat completion."""


class AgentError(NanoclawError):
    """The agent's task ended without an answer (e.g. it still called tools after
    ``max_steps`` model requests, or it was cancelled)."""


class AgentTimeoutError(AgentError, TimeoutError):
    """The agent's deadline (the sandbox's ``timeout``) passed before the model answered."""


class CommandError(NanoclawError):
    """Raised by :meth:`Result.check_returncode` (and ``run(..., check=True)``) when
    the command exited non-zero, was killed, or timed out. ``result`` is the Result."""

    def __init__(self, message: str, result: "Result") -> None:
        super().__init__(message, 0)
        self.result = result

"""nanoclaw: run AI agents, and the commands they decide on, in hardened Linux sandboxes.

A binding of libnanoclaw (ctypes). The API is the shape agent code already uses::

    from nanoclaw import Agent
    from nanoclaw.isolation import DockerSandbox

    agent = Agent(name="SupportBot_v2", model="gpt-4o-mini",
                  sandbox=DockerSandbox(image="host", mem_limit="512m", cpu_shares=512,
                                        network_disabled=False, allowed_hosts=["api.internal:443"]))
    print(agent.execute("Summarise today's tickets"))

The model's endpoint and key come from OPENAI_BASE_URL and OPENAI_API_KEY.
Commands can also be run directly::

    r = DockerSandbox(mem_limit="256m").run(["python3", "-c", "print(42)"], timeout=10)
    r.exit_code, r.stdout, r.stats.mem_peak_bytes

Contents:
    Agent                       a model whose tool calls run in a sandbox (execute(prompt) -> str)
    isolation.DockerSandbox     a sandbox description (every nanoclaw profile key as a keyword)
    isolation.Session           one sandbox, many commands (DockerSandbox.session())
    isolation.Result, RunStats  what a command / a sandbox did
    profile_keys()              every profile key, with its default and help
    NanoclawError and subclasses (SandboxError, ProfileError, ModelError, AgentError, ...)

libnanoclaw is found through $NANOCLAW_LIBRARY, a copy in this package's directory,
the system loader (libnanoclaw.so.0), or the source tree's build/ directory.
"""

from . import errors, isolation
from ._profile import KeyInfo, profile_keys
from .agent import Agent
from .errors import (AgentError, AgentTimeoutError, CommandError, LibraryNotFoundError, ModelError, NanoclawError,
                     ProfileError, SandboxError)
from .isolation import DockerSandbox, Result, RunStats, Session

__version__ = "0.1.0"

__all__ = [
    "Agent", "DockerSandbox", "Session", "Result", "RunStats", "KeyInfo", "profile_keys", "library_version",
    "library_path", "NanoclawError", "LibraryNotFoundError", "SandboxError", "ProfileError", "ModelError",
    "AgentError", "AgentTimeoutError", "CommandError", "errors", "isolation", "__version__",
]


def library_version() -> str:
    """The version of the loaded libnanoclaw (nc_version())."""
    from . import _lib
    return (_lib.lib().nc_version() or b"").decode()


def library_path() -> str:
    """The libnanoclaw file (or soname) this package loaded."""
    from . import _lib
    return _lib.library_path()

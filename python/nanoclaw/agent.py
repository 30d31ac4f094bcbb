"""nanoclaw.Agent: a model that works in a sandbox (nc_agent_*)."""

from __future__ import annotations

import datetime
import errno
import threading
import weakref
from ctypes import c_int, byref, c_void_p
from typing import Any, List, Optional, Union

from . import _lib
from ._profile import Profile, Setting, settings_from_kwargs
from .errors import AgentError, AgentTimeoutError, ModelError, NanoclawError, ProfileError
from .isolation import DockerSandbox, _image_error

__all__ = ["Agent"]

Seconds = Union[int, float, str, datetime.timedelta]


# enum nc_agent_outcome (nanoclaw.h)
_SETUP, _MODEL, _MAX_STEPS, _DEADLINE, _CANCELLED, _SANDBOX = 1, 2, 3, 4, 5, 6


def _agent_error(msg: str, code: int, image: Optional[str], outcome: Optional[int] = None) -> NanoclawError:
    """nanoclaw's agent error -> the exception class (see Agent.execute).

    With the library's outcome (nc_agent_execute_ex) the class follows it;
    older libraries only give errno and the message."""
    if outcome is not None:
        if outcome == _MODEL:
            return ModelError(msg, code)
        if outcome == _DEADLINE:
            return AgentTimeoutError(msg, code)
        if outcome in (_MAX_STEPS, _CANCELLED):
            return AgentError(msg, code)
        if outcome == _SANDBOX:
            return _image_error(msg, code, image)
        if outcome == _SETUP:
            if code == errno.EPERM:
                return ProfileError(msg, code)  # a setting that would pass the API key into the sandbox
            if "starting the sandbox" in msg or "sandbox session:" in msg or "image" in msg:
                return _image_error(msg, code, image)
            return ModelError(msg, code)  # no key, bad base URL: the model cannot be reached
    if "starting the sandbox" in msg or "sandbox session:" in msg:
        return _image_error(msg, code, image)
    if code == errno.EPERM:
        return ProfileError(msg, code)  # a setting that would pass the API key into the sandbox
    if code == errno.ETIMEDOUT and "deadline" in msg:
        return AgentTimeoutError(msg, code)
    if code in (errno.ELOOP, errno.ECANCELED):
        return AgentError(msg, code)
    return ModelError(msg, code)


class Agent:
    """An AI agent whose tool calls run inside a nanoclaw sandbox.

    ``execute(prompt)`` asks the model (any OpenAI-compatible chat completions
    API with tool calling) and runs the tools it calls — ``run_command``,
    ``read_file``, ``write_file``, ``list_dir`` — inside one sandbox that lives
    for the whole task, until the model gives its final answer, which is
    returned as a string. The model is asked from this process: the API key
    never enters the sandbox, and every request, answer and tool call is in
    the sandbox's audit log.

    The endpoint and key come from the environment, as with OpenAI's client:
    ``OPENAI_BASE_URL`` (default https://api.openai.com/v1) and
    ``OPENAI_API_KEY`` (not needed for a server on loopback)::

        from nanoclaw import Agent
        from nanoclaw.isolation import DockerSandbox

        agent = Agent(name="SupportBot_v2", model="gpt-4o-mini",
                      sandbox=DockerSandbox(image="host", mem_limit="512m", cpu_shares=512,
                                            allowed_hosts=["api.internal:443"]))
        print(agent.execute("How many CPUs does this machine have?"))

    Args:
        name: the agent's name (in its system prompt and audit records);
            default: the sandbox's ``name``, else "agent".
        model: the model, e.g. "gpt-4o-mini".
        sandbox: where its tools run (default ``DockerSandbox()``: image "host",
            nanoclaw's defaults). Its ``timeout`` (default 60 s) is the deadline of
            the whole task.
        base_url: the API's base URL, overriding ``OPENAI_BASE_URL``.
        api_key_env: the environment variable holding the key (default OPENAI_API_KEY).
        max_steps: model requests per task, 1..1000 (default 20).
        tool_timeout: seconds one tool call may run (default 30).
        request_timeout: seconds one model request may take (default 120).
        system_prompt: replaces the built-in system prompt.
        **more: any other ``agent.*`` key libnanoclaw knows; unknown -> TypeError.

    Raises:
        TypeError: an unknown keyword argument (all of them are named).
        ProfileError: a bad value (nanoclaw's message names it), e.g. ``max_steps=0``.
    """

    def __init__(self, name: Optional[str] = None, model: Optional[str] = None,
                 sandbox: Optional[DockerSandbox] = None, *, base_url: Optional[str] = None,
                 api_key_env: Optional[str] = None, max_steps: Optional[int] = None,
                 tool_timeout: Optional[Seconds] = None, request_timeout: Optional[Seconds] = None,
                 system_prompt: Optional[str] = None, **more: Any) -> None:
        if sandbox is None:
            sandbox = DockerSandbox()
        elif not isinstance(sandbox, DockerSandbox):
            raise TypeError("Agent(): sandbox must be a nanoclaw.isolation.DockerSandbox, got %s"
                            % type(sandbox).__name__)
        for what, v in (("name", name), ("model", model)):
            if v is not None and not isinstance(v, str):
                raise TypeError("Agent(): %s must be a str, got %s" % (what, type(v).__name__))
            if v is not None and "\0" in v:
                raise ProfileError("agent %s %r contains a NUL byte" % (what, v), errno.EINVAL)
        opts = dict(base_url=base_url, api_key_env=api_key_env, max_steps=max_steps, tool_timeout=tool_timeout,
                    request_timeout=request_timeout, system_prompt=system_prompt)
        opts.update(more)
        settings: List[Setting] = settings_from_kwargs("Agent()", opts, prefix="agent.")
        if any(k == "agent.model" for k, _, _ in settings):
            raise TypeError("Agent(): give the model as model=..., not in the options")
        self.name = name
        self.model = model
        self.sandbox = sandbox
        self.options = {k: v for k, v in opts.items() if v is not None}
        profile = Profile(sandbox._settings + settings)
        L = _lib.lib()
        if not _lib.has("nc_agent_new"):
            raise NanoclawError("%s has no agents (nc_agent_new): rebuild libnanoclaw" % _lib.library_path(),
                                errno.ENOSYS)
        err = _lib.NcError()
        ptr = L.nc_agent_new(name.encode() if name else None, model.encode() if model else None, profile.ptr,
                             byref(err))
        if not ptr:
            raise ProfileError(err.text, err.code)
        self._profile = profile  # borrowed by the C agent: freed after it
        self._ptr = ptr
        self._lock = threading.Lock()
        self._fin = weakref.finalize(self, Agent._free, ptr, profile)

    @staticmethod
    def _free(ptr: int, profile: Profile) -> None:
        _lib.lib().nc_agent_free(ptr)
        del profile

    def execute(self, prompt: str) -> str:
        """Do the task described by ``prompt`` and return the model's final answer.

        Opens one sandbox for the task, runs the model's tool calls inside it,
        and tears it down before returning. Calls on one Agent run one at a time.

        Raises:
            ModelError: the model's API failed: ``OPENAI_API_KEY`` missing or
                rejected, model not found, server unreachable, retries exhausted,
                an answer that is not a chat completion.
            SandboxError: the sandbox could not start (e.g. an image that is not
                available) or broke during the task.
            AgentTimeoutError: the sandbox's ``timeout`` passed before the answer.
            AgentError: the model still called tools after ``max_steps`` requests.
            ProfileError: a setting nanoclaw refuses for an agent (e.g. an ``env``
                entry that would pass the API key into the sandbox).
        """
        if not isinstance(prompt, str):
            raise TypeError("execute(): prompt must be a str, got %s" % type(prompt).__name__)
        if not prompt or "\0" in prompt:
            raise ValueError("execute(): the prompt is empty" if not prompt else "execute(): the prompt has a NUL byte")
        L = _lib.lib()
        resp = c_void_p()
        err = _lib.NcError()
        with self._lock:
            if self._ptr is None:
                raise NanoclawError("agent %s has been closed" % (self.name or ""), errno.EBADF)
            outcome: Optional[int] = None
            if getattr(L, "nc_agent_execute_ex", None) is not None:
                oc = c_int(-1)
                rc = L.nc_agent_execute_ex(self._ptr, prompt.encode("utf-8", "surrogateescape"), byref(resp), byref(oc),
                                           byref(err))
                outcome = oc.value if oc.value >= 0 else None
            else:
                rc = L.nc_agent_execute(self._ptr, prompt.encode("utf-8", "surrogateescape"), byref(resp), byref(err))
        if rc < 0:
            _lib.take_string(resp.value)
            raise _agent_error(err.text, err.code, self.sandbox.image, outcome)
        return _lib.take_string(resp.value) or ""

    def close(self) -> None:
        """Free the agent now (also done when it is garbage-collected)."""
        with self._lock:
            self._fin()
            self._ptr = None

    def __enter__(self) -> "Agent":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        extra = "".join(", %s=%r" % kv for kv in self.options.items())
        return "Agent(name=%r, model=%r, sandbox=%r%s)" % (self.name, self.model, self.sandbox, extra)

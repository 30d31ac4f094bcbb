"""Sandboxes: :class:`DockerSandbox` describes one; ``run`` and ``session`` use it.

``DockerSandbox`` takes Docker's option names (``image``, ``mem_limit``,
``cpu_shares``, ``network_disabled``, ...) but nothing here talks to Docker:
nanoclaw runs the sandbox itself, natively, on Linux namespaces, cgroups and
seccomp — the isolation a Docker container gets, plus a read-only root, no
capabilities at all, a hostname egress allowlist, a hard deadline and an
audit log — and it starts in milliseconds without a daemon.

    >>> from nanoclaw.isolation import DockerSandbox
    >>> sb = DockerSandbox(image="host", mem_limit="256m", timeout=30)
    >>> r = sb.run(["python3", "-c", "print(6 * 7)"])
    >>> r.exit_code, r.stdout
    (0, '42\\n')
"""

from __future__ import annotations

import ctypes
import datetime
import os
import threading
import weakref
from ctypes import byref, c_char_p, c_void_p
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from . import _lib
from ._profile import FILE, KeyInfo, Profile, Setting, duration_ms, profile_keys, settings_from_kwargs, size_bytes
from .errors import CommandError, SandboxError

__all__ = ["DockerSandbox", "Session", "Result", "RunStats", "KeyInfo", "profile_keys"]

NC_EXIT_TIMEOUT = 124
NC_EXIT_SETUP = 125
NC_EXIT_NOEXEC = 126
NC_EXIT_NOTFOUND = 127

# A run's deadline is enforced on the command (exec timeout, which keeps its
# output); the sandbox around it lives this much longer as a backstop.
_BACKSTOP_MS = 2000

StrList = Union[str, Sequence[str]]
Seconds = Union[int, float, str, datetime.timedelta]
Size = Union[int, str]
Argv = Union[str, Sequence[Union[str, bytes, "os.PathLike[str]"]]]
_IMAGE_HINT = "; a named image comes from nanoclaw's image store: `nanoclaw image pull %s`"


@dataclass(frozen=True)
class RunStats:
    """What became of a sandbox (a one-shot run or a whole session): nc_run_result.

    Attributes:
        sandbox_id: the sandbox's id (32 hex chars), as in the audit log.
        exit_code: for a session 0, or 124 when its deadline passed (125 setup failure).
        signal: signal that ended it, or 0.
        timed_out: the sandbox's deadline (``timeout``) fired.
        oom_killed: the memory limit killed something in the sandbox.
        output_truncated, output_dropped_bytes: ``output_limit`` dropped output.
        wall_ms, cpu_user_ms, cpu_sys_ms: times of the whole sandbox.
        mem_peak_bytes: peak memory of the sandbox's cgroup.
        enforced: which limits held: {"memory", "cpu_shares", "cpus", "pids"} -> bool.
        net_allowed, net_denied, net_failed: egress proxy connections allowed / refused / failed.
        net_bytes_out, net_bytes_in: bytes relayed each way by the proxy.
    """

    sandbox_id: str
    exit_code: int
    signal: int
    timed_out: bool
    oom_killed: bool
    output_truncated: bool
    wall_ms: int
    cpu_user_ms: int
    cpu_sys_ms: int
    mem_peak_bytes: int
    output_dropped_bytes: int
    enforced: Dict[str, bool]
    net_allowed: int
    net_denied: int
    net_failed: int
    net_bytes_out: int
    net_bytes_in: int

    @classmethod
    def _from_c(cls, r: _lib.NcRunResult) -> "RunStats":
        return cls(
            sandbox_id=r.id.decode("ascii", "replace"), exit_code=r.exit_code, signal=r.signal,
            timed_out=bool(r.timed_out), oom_killed=bool(r.oom_killed), output_truncated=bool(r.output_truncated),
            wall_ms=r.wall_ms, cpu_user_ms=r.cpu_user_ms, cpu_sys_ms=r.cpu_sys_ms, mem_peak_bytes=r.mem_peak_bytes,
            output_dropped_bytes=r.output_dropped_bytes,
            enforced={"memory": bool(r.enforced_memory), "cpu_shares": bool(r.enforced_cpu_shares),
                      "cpus": bool(r.enforced_cpus), "pids": bool(r.enforced_pids)},
            net_allowed=r.net_allowed, net_denied=r.net_denied, net_failed=r.net_failed,
            net_bytes_out=r.net_bytes_out, net_bytes_in=r.net_bytes_in)


@dataclass(frozen=True)
class Result:
    """The result of one command run in a sandbox.

    Attributes:
        argv: the command as run.
        exit_code: its exit status; 128+N when signal N killed it; 124 when its
            deadline passed; 126 not executable; 127 not found. (``returncode`` too.)
        signal: the signal that killed it, or 0.
        timed_out: its deadline passed and it was killed.
        stdout_bytes, stderr_bytes: what it wrote, up to ``output_cap`` bytes each.
        stdout_truncated, stderr_truncated: ``output_cap`` was reached (the rest was dropped).
        wall_ms: the command's own wall time.
        message: nanoclaw's note when the command could not be started (e.g. not
            found: exit 127) or was cut short by the sandbox's end; else None.
        sandbox_id: the sandbox it ran in.
        stats: for :meth:`DockerSandbox.run`, what became of its sandbox
            (:class:`RunStats`: OOM kills, CPU, peak memory, network counts);
            None for a command of a :class:`Session` (see :meth:`Session.stop`).

    ``stdout``/``stderr`` are the captures decoded as UTF-8 (invalid bytes replaced);
    ``ok`` is ``exit_code == 0``. The fields of ``stats`` are also readable here
    (``oom_killed``, ``mem_peak_bytes``, ``cpu_user_ms``, ``net_denied``, ...; None without stats).
    """

    argv: List[str]
    exit_code: int
    signal: int
    timed_out: bool
    stdout_bytes: bytes
    stderr_bytes: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    wall_ms: int
    sandbox_id: str
    message: Optional[str] = None
    stats: Optional[RunStats] = field(default=None, repr=False)

    @property
    def stdout(self) -> str:
        """stdout decoded as UTF-8 (invalid bytes replaced)."""
        return self.stdout_bytes.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        """stderr decoded as UTF-8 (invalid bytes replaced)."""
        return self.stderr_bytes.decode("utf-8", "replace")

    @property
    def returncode(self) -> int:
        """Same as exit_code (the name subprocess uses)."""
        return self.exit_code

    @property
    def ok(self) -> bool:
        """True when the command exited 0."""
        return self.exit_code == 0

    @property
    def oom_killed(self) -> Optional[bool]:
        """The memory limit killed something in the sandbox (None without stats)."""
        return self.stats.oom_killed if self.stats else None

    def __getattr__(self, name: str) -> Any:
        # the rest of RunStats' fields: mem_peak_bytes, cpu_user_ms, net_denied, ...
        if name in RunStats.__dataclass_fields__ and name not in ("exit_code", "signal", "timed_out", "wall_ms"):
            stats = self.__dict__.get("stats")
            return getattr(stats, name) if stats is not None else None
        raise AttributeError("%r object has no attribute %r" % (type(self).__name__, name))

    def check_returncode(self) -> "Result":
        """Raise :class:`nanoclaw.CommandError` unless the command exited 0; return self."""
        if self.exit_code != 0:
            if self.timed_out:
                why = "timed out (exit %d)" % self.exit_code
            elif self.signal:
                why = "was killed by signal %d%s" % (self.signal, " (out of memory)" if self.oom_killed else "")
            else:
                why = "exited %d" % self.exit_code
            msg = "command %s %s" % (" ".join(self.argv), why)
            if self.message:
                msg += ": " + self.message
            elif self.stderr_bytes.strip():
                msg += ": " + self.stderr.strip().splitlines()[-1][:300]
            raise CommandError(msg, self)
        return self

    def to_dict(self) -> Dict[str, Any]:
        """The result as plain data (stdout/stderr as text)."""
        d = {"argv": list(self.argv), "exit_code": self.exit_code, "signal": self.signal,
             "timed_out": self.timed_out, "stdout": self.stdout, "stderr": self.stderr,
             "stdout_truncated": self.stdout_truncated, "stderr_truncated": self.stderr_truncated,
             "wall_ms": self.wall_ms, "sandbox_id": self.sandbox_id, "message": self.message}
        if self.stats is not None:
            d["stats"] = dict(self.stats.__dict__)
        return d


def _argv(argv: Argv) -> List[bytes]:
    if isinstance(argv, (str, bytes)):
        argv = ["/bin/sh", "-c", os.fsdecode(argv)]
    out = []
    for a in argv:
        b = os.fsencode(a)
        if b"\0" in b:
            raise ValueError("argv: %r contains a NUL byte" % (a,))
        out.append(b)
    if not out or not out[0]:
        raise ValueError("argv: no command given")
    return out


def _stdin(stdin: Union[None, str, bytes, bytearray, memoryview]) -> Optional[bytes]:
    if stdin is None:
        return None
    if isinstance(stdin, str):
        return stdin.encode("utf-8")
    if isinstance(stdin, (bytes, bytearray, memoryview)):
        return bytes(stdin)
    raise TypeError("stdin: expected str or bytes, got %s" % type(stdin).__name__)


def _image_error(msg: str, code: int, image: Optional[str]) -> SandboxError:
    """nanoclaw's message, plus how to provide the image when it names a missing one."""
    if image and image != "host" and not image.startswith("/") and image in msg and "image pull" not in msg:
        msg = msg + _IMAGE_HINT % image
    return SandboxError(msg, code)


class Session:
    """A running sandbox that takes many commands (nc_session_*).

    The sandbox stays up between commands — files written in /tmp are still
    there for the next one — and everything in it is killed by :meth:`stop`
    (also on leaving a ``with`` block, or when the object is collected). The
    sandbox's ``timeout`` is the deadline of the whole session. Get one from
    :meth:`DockerSandbox.session`::

        with sandbox.session() as s:
            s.run("echo state > /tmp/x")
            print(s.run(["cat", "/tmp/x"]).stdout)   # state
        print(s.stats.mem_peak_bytes)

    A session is not safe to use from several threads at once; calls are serialised.
    """

    def __init__(self, profile: Profile, image: Optional[str] = None) -> None:
        self._profile = profile
        self._image = image
        self._lock = threading.Lock()
        self.stats: Optional[RunStats] = None
        """What became of the sandbox, once :meth:`stop` ran."""
        L = _lib.lib()
        err = _lib.NcError()
        ptr = c_void_p()
        if L.nc_session_start(profile.ptr, byref(ptr), byref(err)) < 0:
            raise _image_error(err.text, err.code, image)
        self._ptr: Optional[int] = ptr.value
        self.id: str = (L.nc_session_id(self._ptr) or b"").decode()
        """The sandbox id (32 hex chars), as in the audit log."""
        # stop (kill everything) if the object is dropped without stop()
        self._fin = weakref.finalize(self, Session._stop_ptr, self._ptr, profile)

    @staticmethod
    def _stop_ptr(ptr: int, profile: Profile) -> None:
        err = _lib.NcError()
        _lib.lib().nc_session_stop(ptr, None, byref(err))
        del profile  # kept alive until the session is gone

    @property
    def running(self) -> bool:
        """True until stop()."""
        return self._ptr is not None

    def run(self, argv: Argv, *, stdin: Union[None, str, bytes] = None, timeout: Optional[Seconds] = None,
            output_cap: Optional[Size] = None, check: bool = False) -> Result:
        """Run one command in the session and wait for it.

        Args:
            argv: the command and its arguments (argv[0] looked up in the sandbox's
                PATH); a string is run by ``/bin/sh -c``.
            stdin: data for its standard input (str is UTF-8 encoded); default: /dev/null.
            timeout: seconds (or "500ms", a timedelta) after which the command and its
                children are killed (exit 124, ``timed_out``); the session lives on.
                Default: only the session's deadline.
            output_cap: bytes of stdout and of stderr kept, each (int or "10m"; default 1 MiB).
            check: raise :class:`nanoclaw.CommandError` unless it exits 0.

        Returns:
            a :class:`Result` (``stats`` is None: see :meth:`stop`).

        Raises:
            SandboxError: the session has ended (its deadline passed) or broke.
        """
        a = _argv(argv)
        data = _stdin(stdin)
        t_ms = 0
        if timeout is not None:
            t_ms = duration_ms(timeout.total_seconds() if isinstance(timeout, datetime.timedelta) else timeout)
            if t_ms <= 0:
                raise ValueError("timeout: %r is not a positive duration" % (timeout,))
        cap = size_bytes("output_cap", output_cap) if output_cap is not None else 0
        with self._lock:
            if self._ptr is None:
                raise SandboxError("session %s has been stopped" % self.id, 3)
            r = self._exec(a, data, t_ms, cap)
        return r.check_returncode() if check else r

    def _exec(self, a: List[bytes], data: Optional[bytes], t_ms: int, cap: int, stats: Optional[RunStats] = None
              ) -> Result:
        L = _lib.lib()
        cargv = (c_char_p * (len(a) + 1))(*a, None)
        res = _lib.NcExecResult()
        err = _lib.NcError()
        rc = L.nc_session_exec(self._ptr, cargv, data, len(data) if data else 0, t_ms, cap, byref(res), byref(err))
        if rc < 0:
            raise SandboxError(err.text, err.code)
        try:
            out = ctypes.string_at(res.out, res.out_len) if res.out else b""
            er = ctypes.string_at(res.err, res.err_len) if res.err else b""
        finally:
            L.nc_exec_result_free(byref(res))
        return Result(argv=[os.fsdecode(x) for x in a], exit_code=res.exit_code, signal=res.signal,
                      timed_out=bool(res.timed_out), stdout_bytes=out, stderr_bytes=er,
                      stdout_truncated=bool(res.out_truncated), stderr_truncated=bool(res.err_truncated),
                      wall_ms=res.wall_ms, sandbox_id=self.id, message=err.text or None, stats=stats)

    def stop(self) -> RunStats:
        """Kill everything in the sandbox and return what became of it (idempotent)."""
        with self._lock:
            if self._ptr is None:
                assert self.stats is not None
                return self.stats
            self._fin.detach()
            res = _lib.NcRunResult()
            err = _lib.NcError()
            rc = _lib.lib().nc_session_stop(self._ptr, byref(res), byref(err))
            self._ptr = None
            self.stats = RunStats._from_c(res)
            if rc < 0:
                raise SandboxError(err.text, err.code)
            return self.stats

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        return "<nanoclaw Session %s%s>" % (self.id, "" if self._ptr else " (stopped)")


class DockerSandbox:
    """A sandbox description in Docker's terms, run natively by nanoclaw.

    Nothing here needs Docker: nanoclaw builds the sandbox itself from Linux
    namespaces (user, mount, pid, net, uts, ipc, cgroup), cgroup limits and a
    seccomp filter — the isolation of a Docker container and more: a read-only
    root, an unprivileged user with no capabilities, no network except an
    egress proxy enforcing ``allowed_hosts``, a hard deadline and a
    hash-chained audit log of everything run. It starts in milliseconds.

    Every key of a nanoclaw profile (``nanoclaw run --help``) is a keyword
    argument; None (the default) keeps nanoclaw's default. Values are checked
    now: an unknown keyword raises ``TypeError`` naming it, a bad value raises
    :class:`nanoclaw.ProfileError` (a ``SandboxError`` and ``ValueError``)
    with nanoclaw's message naming the key and the value.

    Args:
        image: the root filesystem. ``"host"`` (default): a read-only view of
            this machine's /usr, /bin, /sbin, /lib* and an allowlisted /etc.
            An absolute directory: that tree, read-only (e.g. a rootfs unpacked
            from ``docker export``). A name such as ``"python:3.11-slim"`` comes
            from nanoclaw's image store: pull it first with
            ``nanoclaw image pull python:3.11-slim``; a libnanoclaw without the
            image store refuses it when the sandbox starts (``SandboxError``
            saying what is missing).
        name: a label for results and audit records.
        mem_limit: memory limit, ``"512m"``, ``"1g"`` or bytes as an int (0 = none;
            default 512m); swap is disabled.
        cpu_shares: relative CPU weight, 2..262144 (default 1024).
        cpus: CPU quota in CPUs, e.g. 1.5 (default unlimited).
        pids_limit: maximum number of tasks (default 256; 0 = unlimited).
        timeout: seconds until everything is killed: 60, 2.5, "500ms" or a
            timedelta (default 60; 0 = none).
        network_disabled: True: loopback only, not even the allowlist proxy.
        allowed_hosts: destinations the egress proxy lets through:
            ``"api.openai.com"``, ``"api.internal:443"``, ``"*.example.com"``,
            ``"10.0.0.0/8"``. Empty (default): no network.
        add_hosts: static names, ``["vectordb:10.0.0.7"]``.
        tmpfs: writable size-limited scratch dirs, ``["/work:256m"]`` (added to /tmp:64m).
        binds: host paths, ``["/srv/data:/data:ro", "/srv/out:/out:rw"]`` (read-only unless ``:rw``).
        env: environment variables: a dict ``{"MODE": "batch"}`` or a list of
            ``"NAME=VALUE"``; a bare ``"NAME"`` (or a None value) copies it from this
            process's environment. The environment is otherwise scrubbed.
        workdir: working directory inside (default /).
        user: ``"UID[:GID]"`` inside (default 1000:1000; never root).
        hostname: the sandbox's hostname (default "sandbox").
        result_json: write each run's result as JSON to this file ("-": stdout).
        limits: ``"strict"`` (default) refuses to run when a limit cannot be
            enforced; ``"best-effort"`` runs and reports which held.
        output_limit: cap on what a ``run`` command may print (e.g. "10m").
        audit: the audit log, a dict of ``log`` (a path, or "none"), ``fsync``
            ("record"/"batch"), ``append_only``, ``syslog``, ``http``,
            ``required``, ``output_cap``; or flattened: ``audit_log="none"``.
        dependencies: ``{"apt": [...], "pip": [...], "npm": [...]}`` the image
            needs (for ``nanoclaw export dockerfile``); or ``dependencies_pip=[...]``.
        agent: agent settings (``{"max_steps": 10}``, ...) for an
            :class:`nanoclaw.Agent` using this sandbox; usually given to Agent instead.
        **more: any other key libnanoclaw knows (a newer library's); unknown -> TypeError.

    Group keys take a dict or flattened underscore names (``audit={"log": "none"}``
    is ``audit_log="none"``); giving one key both ways is a TypeError.
    """

    def __init__(self, image: Optional[str] = "host", *, name: Optional[str] = None,
                 mem_limit: Optional[Size] = None, cpu_shares: Optional[int] = None,
                 cpus: Union[int, float, str, None] = None, pids_limit: Optional[int] = None,
                 timeout: Optional[Seconds] = None, network_disabled: Optional[bool] = None,
                 allowed_hosts: Optional[StrList] = None, add_hosts: Optional[StrList] = None,
                 tmpfs: Optional[StrList] = None, binds: Optional[StrList] = None,
                 env: Union[None, Mapping[str, Any], StrList] = None, workdir: Optional[str] = None,
                 user: Union[None, str, int] = None, hostname: Optional[str] = None,
                 result_json: Optional[str] = None, limits: Optional[str] = None,
                 output_limit: Optional[Size] = None, audit: Optional[Mapping[str, Any]] = None,
                 dependencies: Optional[Mapping[str, Any]] = None, agent: Optional[Mapping[str, Any]] = None,
                 **more: Any) -> None:
        given = dict(image=image, name=name, mem_limit=mem_limit, cpu_shares=cpu_shares, cpus=cpus,
                     pids_limit=pids_limit, timeout=timeout, network_disabled=network_disabled,
                     allowed_hosts=allowed_hosts, add_hosts=add_hosts, tmpfs=tmpfs, binds=binds, env=env,
                     workdir=workdir, user=user, hostname=hostname, result_json=result_json, limits=limits,
                     output_limit=output_limit, audit=audit, dependencies=dependencies, agent=agent)
        given.update(more)
        self._init(settings_from_kwargs("DockerSandbox()", given), {k: v for k, v in given.items() if v is not None})

    def _init(self, settings: List[Setting], kwargs: Dict[str, Any]) -> None:
        self._settings: List[Setting] = settings
        self._kwargs = kwargs
        p = Profile(settings)
        p.validate()
        self._profile = p
        self._image = self.profile().get("image")

    @classmethod
    def from_file(cls, path: Union[str, "os.PathLike[str]"], **overrides: Any) -> "DockerSandbox":
        """A sandbox from a JSON profile file (``nanoclaw run --config``); keyword
        arguments override the file (list keys add to its lists)."""
        self = cls.__new__(cls)
        settings: List[Setting] = [(FILE, os.fspath(path), None)]
        settings += settings_from_kwargs("DockerSandbox.from_file()", overrides)
        self._init(settings, dict(config=os.fspath(path), **overrides))
        return self

    def replace(self, **overrides: Any) -> "DockerSandbox":
        """A copy with some settings changed (list keys add to the lists)."""
        new = type(self).__new__(type(self))
        kw = dict(self._kwargs)
        kw.update(overrides)
        new._init(self._settings + settings_from_kwargs("replace()", overrides), kw)
        return new

    @property
    def image(self) -> str:
        """The effective image ("host", a directory, or an image name)."""
        return self._image or "host"

    @property
    def settings(self) -> Dict[str, Any]:
        """The keyword arguments given (None ones left out)."""
        return dict(self._kwargs)

    def profile(self) -> Dict[str, Any]:
        """The effective profile as nanoclaw sees it (canonical JSON, parsed): every key, defaults included."""
        return self._profile.to_dict()

    def to_json(self) -> str:
        """The effective profile as canonical JSON text (usable as ``nanoclaw run --config``)."""
        return self._profile.to_json()

    def _build(self, overrides: Mapping[str, Any], caller: str) -> Profile:
        extra = settings_from_kwargs(caller, overrides) if overrides else []
        p = Profile(self._settings + extra)
        p.validate()
        return p

    def session(self, **overrides: Any) -> Session:
        """Start a sandbox that takes many commands (see :class:`Session`).

        Keyword arguments are profile keys changing this session only (list keys
        add to the sandbox's lists, e.g. ``env={"X": "1"}``).

        Raises:
            SandboxError: the sandbox could not be set up (nanoclaw's message).
        """
        p = self._build(overrides, "session()")
        return Session(p, p.to_dict().get("image") or self._image)

    def run(self, argv: Argv, *, stdin: Union[None, str, bytes] = None, output_cap: Optional[Size] = None,
            check: bool = False, **options: Any) -> Result:
        """Run one command in a fresh sandbox, wait, and tear the sandbox down.

        Args:
            argv: the command and its arguments (argv[0] looked up in the sandbox's
                PATH); a string is run by ``/bin/sh -c``.
            stdin: data for its standard input (str is UTF-8 encoded); default /dev/null.
            output_cap: bytes of stdout and of stderr kept, each (int or "10m"; default 1 MiB).
            check: raise :class:`nanoclaw.CommandError` unless it exits 0.
            **options: profile keys for this run only: ``timeout=5`` (seconds until
                the command is killed: exit 124, ``timed_out``), ``env={"X": "1"}``
                (added), ``mem_limit="64m"``, ``workdir="/tmp"``, ... Unknown -> TypeError.

        Returns:
            a :class:`Result`: exit_code, stdout, stderr, timed_out, and in ``stats``
            what became of the sandbox (oom_killed, mem_peak_bytes, cpu_user_ms, ...).

        Raises:
            SandboxError: the sandbox could not be set up (e.g. a missing image or
                bind source, a limit this host cannot enforce), with nanoclaw's message.
            ProfileError: an option has a bad value.
        """
        a = _argv(argv)
        data = _stdin(stdin)
        cap = size_bytes("output_cap", output_cap) if output_cap is not None else 0
        p = self._build(options, "run()")
        prof = p.to_dict()
        deadline = duration_ms(prof.get("timeout", 0) or 0)
        if deadline:
            p.set("timeout", "%dms" % (deadline + _BACKSTOP_MS), "timeout")
        s = Session(p, prof.get("image") or self._image)
        try:
            r = s._exec(a, data, deadline, cap)
        except SandboxError as e:
            stats = s.stop()
            if stats.timed_out or stats.oom_killed:
                r = Result(argv=[os.fsdecode(x) for x in a], exit_code=NC_EXIT_TIMEOUT if stats.timed_out else 137,
                           signal=9, timed_out=stats.timed_out, stdout_bytes=b"", stderr_bytes=b"",
                           stdout_truncated=False, stderr_truncated=False, wall_ms=stats.wall_ms,
                           sandbox_id=s.id, message=e.message, stats=stats)
                return r.check_returncode() if check else r
            raise
        except BaseException:
            s.stop()
            raise
        stats = s.stop()
        r = Result(**{**r.__dict__, "stats": stats})
        return r.check_returncode() if check else r

    def __repr__(self) -> str:
        return "DockerSandbox(%s)" % ", ".join("%s=%r" % kv for kv in self._kwargs.items())

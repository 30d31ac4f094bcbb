"""The API surface: help texts, the key list from libnanoclaw, the ctypes layout."""

import ctypes
import inspect
import pydoc
import shutil
import subprocess
from pathlib import Path

import pytest

import nanoclaw
from nanoclaw import _lib
from nanoclaw.isolation import DockerSandbox, Result, Session

from conftest import REPO


def test_help_texts():
    for obj, words in [
        (nanoclaw, ["Agent", "DockerSandbox", "OPENAI_BASE_URL"]),
        (nanoclaw.Agent, ["execute", "OPENAI_API_KEY", "OPENAI_BASE_URL", "max_steps", "ModelError", "SandboxError"]),
        (DockerSandbox, ["natively", "mem_limit", "allowed_hosts", "nanoclaw image pull", "TypeError", "ProfileError",
                         "run(", "session("]),
        (Result, ["exit_code", "stdout", "timed_out", "oom_killed"]),
        (Session, ["stop"]),
        (nanoclaw.errors, ["SandboxError", "ModelError"]),
    ]:
        text = pydoc.render_doc(obj, renderer=pydoc.plaintext)
        for w in words:
            assert w in text, (obj, w)
    for fn in (nanoclaw.Agent.execute, DockerSandbox.run, DockerSandbox.session, Session.run, Result.check_returncode):
        assert fn.__doc__ and len(fn.__doc__) > 40


def test_every_profile_key_is_a_documented_keyword():
    keys = nanoclaw.profile_keys()
    names = {k.name for k in keys}
    assert {"image", "mem_limit", "cpu_shares", "network_disabled", "allowed_hosts", "audit.log",
            "agent.max_steps"} <= names
    assert "config" not in names  # flag only
    params = inspect.signature(DockerSandbox.__init__).parameters
    doc = DockerSandbox.__doc__
    for k in keys:
        top = k.group or k.name
        assert top in params, "DockerSandbox() has no parameter for %s" % k.name
        assert top + ":" in doc, "DockerSandbox's docstring does not document %s" % top
        assert k.help, k.name
    assert [k.name for k in keys if k.is_list] == ["allowed_hosts", "add_hosts", "tmpfs", "binds", "env",
                                                   "dependencies.apt", "dependencies.pip", "dependencies.npm"]
    # every agent.* key but the model is an Agent keyword
    agent_params = inspect.signature(nanoclaw.Agent.__init__).parameters
    for k in keys:
        if k.group == "agent" and k.name != "agent.model":
            assert k.name.split(".", 1)[1] in agent_params


def test_keys_match_the_cli():
    # the CLI built with this library: beside it in build/, else the tree's build/ (a pip-installed copy)
    cli = Path(nanoclaw.library_path()).resolve().parent / "nanoclaw"
    if not cli.exists():
        cli = Path(__file__).resolve().parents[2] / "build" / "nanoclaw"
    assert cli.exists(), "no nanoclaw CLI to compare with (build it: ninja -C build)"
    out = subprocess.run([str(cli), "run", "--help"], capture_output=True, text=True, timeout=30)
    text = " ".join((out.stdout + out.stderr).split())
    for k in nanoclaw.profile_keys():  # the same table behind both
        assert " ".join(k.help.split()) in text, k.name


def test_type_hints_resolve():
    import typing
    for fn in (DockerSandbox.__init__, DockerSandbox.run, nanoclaw.Agent.__init__, nanoclaw.Agent.execute,
               Session.run):
        hints = typing.get_type_hints(fn)
        assert "return" in hints
    assert typing.get_type_hints(nanoclaw.Agent.execute)["return"] is str


def test_versions():
    assert nanoclaw.library_version() == nanoclaw.__version__
    assert nanoclaw.library_path()


CHECK_C = r"""
#include <stddef.h>
#include <stdio.h>
#include "nanoclaw.h"
#define F(T, f) printf("%s.%s %zu\n", #T, #f, offsetof(T, f));
int main(void) {
  printf("nc_error %zu\n", sizeof(nc_error));
  printf("nc_run_result %zu\n", sizeof(nc_run_result));
  printf("nc_exec_result %zu\n", sizeof(nc_exec_result));
  F(nc_error, msg)
  F(nc_run_result, exit_code) F(nc_run_result, timed_out) F(nc_run_result, output_truncated)
  F(nc_run_result, wall_ms) F(nc_run_result, output_dropped_bytes) F(nc_run_result, enforced_memory)
  F(nc_run_result, enforced_pids) F(nc_run_result, net_allowed) F(nc_run_result, net_bytes_in)
  F(nc_exec_result, timed_out) F(nc_exec_result, wall_ms) F(nc_exec_result, out) F(nc_exec_result, err)
  F(nc_exec_result, out_len) F(nc_exec_result, err_len) F(nc_exec_result, out_truncated)
  F(nc_exec_result, err_truncated)
  return 0;
}
"""


def test_ctypes_layout_matches_the_header(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    header = REPO / "include" / "nanoclaw.h"
    if not cc or not header.exists():
        pytest.skip("needs a C compiler and include/nanoclaw.h")
    (tmp_path / "check.c").write_text(CHECK_C)
    subprocess.run([cc, "-I", str(REPO / "include"), "-o", str(tmp_path / "check"), str(tmp_path / "check.c")],
                   check=True, timeout=60)
    out = subprocess.run([str(tmp_path / "check")], capture_output=True, text=True, check=True).stdout
    types = {"nc_error": _lib.NcError, "nc_run_result": _lib.NcRunResult, "nc_exec_result": _lib.NcExecResult}
    for line in out.splitlines():
        what, n = line.rsplit(" ", 1)
        if "." in what:
            t, f = what.split(".")
            assert getattr(types[t], f).offset == int(n), what
        else:
            assert ctypes.sizeof(types[what]) == int(n), what

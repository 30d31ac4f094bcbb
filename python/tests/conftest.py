"""Fixtures: the package under test, a scripted OpenAI-compatible server on loopback."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MOCK = REPO / "tests" / "helpers" / "mock_openai.py"

import nanoclaw  # noqa: E402  (PYTHONPATH=python, or an installed package)
from nanoclaw import _lib  # noqa: E402

# Where the package under test is importable from (for programs run as subprocesses).
PKG_PARENT = str(Path(nanoclaw.__file__).resolve().parent.parent)


def has_agent() -> bool:
    try:
        return _lib.has("nc_agent_execute")
    except nanoclaw.LibraryNotFoundError:
        return False


needs_agent = pytest.mark.skipif(not has_agent(), reason="this libnanoclaw has no nc_agent_execute yet")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="cgroup limits need root (or a delegated cgroup)")


@pytest.fixture
def audit_kw(tmp_path):
    """Sandbox keywords sending the audit log to a file of this test."""
    return {"audit": {"log": str(tmp_path / "audit.jsonl")}}


class MockOpenAI:
    """tests/helpers/mock_openai.py run with a script; .url is its /v1 base URL."""

    def __init__(self, tmp: Path, script, key=None, model=None):
        self.dir = tmp
        (tmp / "script.json").write_text(json.dumps(script))
        self.port_file = tmp / "port"
        self.log = tmp / "requests.jsonl"
        argv = [sys.executable, str(MOCK), "--script", str(tmp / "script.json"), "--port-file", str(self.port_file),
                "--log", str(self.log)]
        if key:
            argv += ["--key", key]
        if model:
            argv += ["--model", model]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not self.port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mock_openai.py did not start: %s" % self.proc.stderr.read().decode())
            time.sleep(0.02)
        self.port = int(self.port_file.read_text())
        self.url = "http://127.0.0.1:%d/v1" % self.port

    def requests(self):
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def mock_openai(tmp_path, monkeypatch):
    """Factory: mock_openai(script, key=None, model=None) -> MockOpenAI, with
    OPENAI_BASE_URL (and OPENAI_API_KEY when key is given) set in the environment."""
    if not MOCK.exists():
        pytest.skip("tests/helpers/mock_openai.py is missing")
    servers = []

    def start(script, key=None, model=None):
        d = tmp_path / ("mock%d" % len(servers))
        d.mkdir()
        m = MockOpenAI(d, script, key, model)
        servers.append(m)
        monkeypatch.setenv("OPENAI_BASE_URL", m.url)
        if key:
            monkeypatch.setenv("OPENAI_API_KEY", key)
        else:
            monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        return m

    yield start
    for m in servers:
        m.close()


def run_program(path: Path, env_extra: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run a Python program as a user would (python3 prog.py) with the package under test importable."""
    env = dict(os.environ)
    env.update(env_extra)
    env["PYTHONPATH"] = PKG_PARENT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=timeout)

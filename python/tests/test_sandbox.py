"""DockerSandbox.run and sessions: what a command did, and what became of its sandbox."""

import datetime
import http.server
import json
import os
import shutil
import socketserver
import tempfile
import threading
from pathlib import Path

import pytest

import nanoclaw
from nanoclaw.isolation import DockerSandbox, Result, RunStats

from conftest import needs_root


@pytest.fixture
def sb(audit_kw):
    return DockerSandbox(image="host", **audit_kw)


def test_exit_code_stdout_stderr(sb):
    r = sb.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert isinstance(r, Result)
    assert (r.exit_code, r.returncode, r.ok) == (3, 3, False)
    assert r.stdout == "out\n" and r.stderr == "err\n"
    assert r.stdout_bytes == b"out\n"
    assert r.signal == 0 and not r.timed_out and r.message is None
    assert len(r.sandbox_id) == 32
    assert isinstance(r.stats, RunStats) and r.stats.sandbox_id == r.sandbox_id
    assert r.stats.wall_ms >= r.wall_ms
    assert r.argv == ["sh", "-c", "echo out; echo err >&2; exit 3"]


def test_runs_as_the_sandbox_not_the_host(sb):
    r = sb.run(["sh", "-c", "id -u; hostname; ls /root 2>&1 || true; touch /usr/x 2>&1 || true"])
    lines = r.stdout.splitlines()
    assert lines[0] == "1000" and lines[1] == "sandbox"
    assert "Read-only file system" in r.stdout or "Permission denied" in r.stdout


def test_string_runs_in_a_shell(sb):
    assert sb.run("echo $((6*7)) | tr 4 X").stdout == "X2\n"


def test_stdin(sb):
    assert sb.run(["wc", "-c"], stdin=b"12345").stdout.strip() == "5"
    assert sb.run(["cat"], stdin="héllo").stdout == "héllo"
    assert sb.run(["cat"]).stdout == ""  # /dev/null by default


def test_binary_output_is_kept_and_decoded_leniently(sb):
    r = sb.run(["printf", "a\\377\\000b"])
    assert r.stdout_bytes == b"a\xff\x00b"
    assert r.stdout == "a\ufffd\x00b"


def test_not_found_and_not_executable(sb):
    r = sb.run(["no-such-command"])
    assert r.exit_code == 127 and "not found" in r.message
    r = sb.run(["/etc/hostname"])
    assert r.exit_code == 126 and r.message


def test_signal(sb):
    r = sb.run(["sh", "-c", "kill -TERM $$"])
    assert (r.exit_code, r.signal) == (128 + 15, 15)


def test_timeout_kills_and_keeps_output(sb):
    r = sb.run("echo started; sleep 30; echo never", timeout=0.5)
    assert r.timed_out and r.exit_code == 124
    assert r.stdout == "started\n"
    assert 400 <= r.wall_ms < 5000


def test_timeout_forms(sb):
    for t in ("300ms", 0.3, datetime.timedelta(milliseconds=300)):
        assert sb.run(["sleep", "10"], timeout=t).timed_out


def test_sandbox_timeout_applies_to_run(audit_kw):
    r = DockerSandbox(timeout=0.5, **audit_kw).run(["sleep", "10"])
    assert r.timed_out and r.exit_code == 124


@needs_root
def test_oom_kill(audit_kw):
    sb = DockerSandbox(mem_limit="32m", **audit_kw)
    r = sb.run(["python3", "-c", "x = bytearray(256 << 20); print(len(x))"])
    assert r.exit_code == 137 and r.signal == 9
    assert r.oom_killed is True and r.stats.oom_killed
    assert r.stats.enforced["memory"]
    assert 0 < r.mem_peak_bytes <= 40 << 20
    with pytest.raises(nanoclaw.CommandError, match="out of memory"):
        r.check_returncode()


@needs_root
def test_limits_are_enforced_and_reported(sb):
    r = sb.run(["true"])
    assert r.stats.enforced["memory"] and r.stats.enforced["pids"]
    assert r.oom_killed is False
    assert r.cpu_user_ms is not None and r.net_allowed == 0


@needs_root
def test_pids_limit(audit_kw):
    r = DockerSandbox(pids_limit=8, **audit_kw).run(["sh", "-c", "for i in $(seq 20); do sleep 2 & done; wait"])
    assert r.stats.enforced["pids"]
    assert "Cannot fork" in r.stderr and r.exit_code != 0


def test_env_dict_list_and_per_run(audit_kw, monkeypatch):
    monkeypatch.setenv("NC_PY_FROM_HOST", "copied")
    sb = DockerSandbox(env={"MODE": "batch", "NC_PY_FROM_HOST": None}, **audit_kw)
    r = sb.run(["sh", "-c", 'echo "$MODE $NC_PY_FROM_HOST $EXTRA"'])
    assert r.stdout == "batch copied \n"
    r = sb.run(["sh", "-c", 'echo "$MODE $EXTRA"'], env=["EXTRA=1"])
    assert r.stdout == "batch 1\n"
    # the environment is scrubbed: nothing else of ours leaks in
    assert "NC_PY_FROM_HOST" not in DockerSandbox(**audit_kw).run(["env"]).stdout


@pytest.fixture
def shared_dir():
    """A directory the sandbox user can read (pytest's tmp_path is 0700 root's)."""
    d = tempfile.mkdtemp(prefix="nanoclaw-py-")
    os.chmod(d, 0o755)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def test_workdir_tmpfs_binds(audit_kw, shared_dir):
    (shared_dir / "in").mkdir()
    (shared_dir / "in" / "in.txt").write_text("data\n")
    out = shared_dir / "out"
    out.mkdir()
    os.chmod(out, 0o777)
    sb = DockerSandbox(tmpfs=["/work:1m"], workdir="/work",
                       binds=["%s:/data:ro" % (shared_dir / "in"), "%s:/out:rw" % out], **audit_kw)
    r = sb.run(["sh", "-c", "pwd; cat /data/in.txt; echo x > /out/o.txt; echo y > /data/z 2>/dev/null || echo ro"])
    assert r.stdout == "/work\ndata\nro\n", r.stderr
    assert (out / "o.txt").read_text() == "x\n"


def test_output_cap(sb):
    r = sb.run(["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a"], output_cap="1k")
    assert r.stdout_bytes == b"a" * 1024 and r.stdout_truncated and not r.stderr_truncated
    r = sb.run(["sh", "-c", "head -c 3000000 /dev/urandom"])
    assert len(r.stdout_bytes) == 1 << 20 and r.stdout_truncated  # the default cap: 1 MiB


def test_nul_heavy_output(sb):
    """Binary output is recorded as base64 in the audit log, not as 6-byte escapes (once a 125)."""
    r = sb.run(["sh", "-c", "head -c 100000 /dev/zero"])
    assert r.stdout_bytes == bytes(100000)


def test_check(sb):
    assert sb.run(["true"], check=True).ok
    with pytest.raises(nanoclaw.CommandError) as ei:
        sb.run(["sh", "-c", "echo boom >&2; exit 2"], check=True)
    assert ei.value.result.exit_code == 2 and "boom" in str(ei.value) and "exited 2" in str(ei.value)
    with pytest.raises(nanoclaw.CommandError, match="timed out"):
        sb.run(["sleep", "5"], timeout=0.2, check=True)


def test_to_dict(sb):
    d = sb.run(["echo", "hi"]).to_dict()
    assert d["stdout"] == "hi\n" and d["exit_code"] == 0 and d["stats"]["oom_killed"] is False
    json.dumps(d)


def test_session_keeps_state_between_commands(sb):
    with sb.session() as s:
        assert s.running and len(s.id) == 32
        s.run("echo state > /tmp/x", check=True)
        r = s.run(["cat", "/tmp/x"])
        assert r.stdout == "state\n" and r.sandbox_id == s.id
        assert r.stats is None and r.oom_killed is None
        t = s.run(["sleep", "5"], timeout=0.2)
        assert t.timed_out and t.exit_code == 124
        assert s.run(["echo", "still up"]).stdout == "still up\n"  # an exec timeout leaves the session up
    assert not s.running
    assert s.stats is not None and s.stats.sandbox_id == s.id and not s.stats.timed_out
    assert s.stop() is s.stats  # idempotent
    with pytest.raises(nanoclaw.SandboxError, match="stopped"):
        s.run(["true"])


def test_session_deadline_ends_it(audit_kw):
    s = DockerSandbox(timeout=0.5, **audit_kw).session()
    with pytest.raises(nanoclaw.SandboxError, match="deadline"):
        s.run(["sleep", "10"])
    assert s.stop().timed_out


def test_session_overrides(sb):
    with sb.session(env={"X": "1"}, hostname="box") as s:
        assert s.run(["sh", "-c", "echo $X; hostname"]).stdout == "1\nbox\n"


def test_sandbox_is_reusable_and_unchanged_by_run_options(sb):
    assert sb.run(["hostname"], hostname="other").stdout == "other\n"
    assert sb.run(["hostname"]).stdout == "sandbox\n"


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello from the host\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def http_server():
    srv = socketserver.TCPServer(("127.0.0.1", 0), _Hello)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_allowed_hosts_and_network_counts(audit_kw, http_server):
    port = http_server
    sb = DockerSandbox(add_hosts=["svc.test:127.0.0.1"], allowed_hosts=["svc.test:%d" % port], **audit_kw)
    r = sb.run(["sh", "-c", "curl -sS http://svc.test:%d/; curl -s -o /dev/null -w '%%{http_code}\\n' "
                            "http://other.test/" % port])
    assert r.stdout == "hello from the host\n403\n", r.stderr
    assert r.stats.net_allowed == 1 and r.stats.net_denied == 1
    assert r.net_bytes_in > 0


def test_no_network_by_default(sb, http_server):
    r = sb.run(["sh", "-c", "curl -sS --max-time 2 http://127.0.0.1:%d/ 2>&1; echo rc=$?" % http_server])
    assert "hello" not in r.stdout and "rc=0" not in r.stdout


def test_audit_log_records_the_run(tmp_path, audit_kw):
    r = DockerSandbox(name="audited", **audit_kw).run(["echo", "recorded"])
    recs = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    mine = [x for x in recs if x.get("sandbox") == r.sandbox_id]
    assert {"start", "exec", "exec_end", "end"} <= {x["event"] for x in mine}


def test_profile_reflects_keywords(audit_kw):
    sb = DockerSandbox(image="host", mem_limit="512m", cpu_shares=512, cpus=1.5, timeout=2.5, pids_limit=64,
                       network_disabled=False, allowed_hosts=["api.internal:443", "*.example.com"],
                       env={"A": "1"}, tmpfs="/work:8m", name="p", **audit_kw)
    p = sb.profile()
    assert p["mem_limit"] == 512 << 20 and p["cpu_shares"] == 512 and p["pids_limit"] == 64
    assert p["allowed_hosts"] == ["api.internal:443", "*.example.com"]
    assert p["env"] == {"A": "1"} and "/work:8388608" in p["tmpfs"]
    assert json.loads(sb.to_json()) == p
    assert sb.settings["cpu_shares"] == 512 and "DockerSandbox(" in repr(sb)
    assert DockerSandbox(mem_limit=256 << 20).profile()["mem_limit"] == 256 << 20


def test_group_keys_as_dict_or_flattened(tmp_path):
    log = str(tmp_path / "a.jsonl")
    a = DockerSandbox(audit={"log": log, "fsync": "batch"}, agent={"max_steps": 5}, dependencies={"pip": ["x"]})
    b = DockerSandbox(audit_log=log, audit_fsync="batch", agent_max_steps=5, dependencies_pip="x")
    assert a.profile() == b.profile()
    assert a.profile()["audit"]["fsync"] == "batch"


def test_from_file_and_replace(tmp_path, audit_kw):
    f = tmp_path / "profile.json"
    f.write_text(json.dumps({"hostname": "fromfile", "env": {"A": "1"}, "audit": {"log": "none"}}))
    sb = DockerSandbox.from_file(f, env={"B": "2"})
    assert sb.run(["sh", "-c", "hostname; echo $A$B"]).stdout == "fromfile\n12\n"
    sb2 = sb.replace(hostname="replaced")
    assert sb2.profile()["hostname"] == "replaced" and sb.profile()["hostname"] == "fromfile"
    with pytest.raises(nanoclaw.ProfileError, match="profile.json"):
        f.write_text('{"mem_limit": "lots"}')
        DockerSandbox.from_file(f)


def test_image_directory(tmp_path, audit_kw):
    busybox = "/bin/busybox"
    if not os.path.exists(busybox):
        pytest.skip("no /bin/busybox (busybox-static)")
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "busybox").write_bytes(open(busybox, "rb").read())
    os.chmod(root / "bin" / "busybox", 0o755)
    for tool in ("sh", "ls", "echo", "cat"):
        os.symlink("busybox", root / "bin" / tool)
    for d in ("tmp", "proc", "dev", "etc"):
        (root / d).mkdir()
    os.chmod(tmp_path, 0o755)
    r = DockerSandbox(image=str(root), env={"PATH": "/bin"}, **audit_kw).run(["sh", "-c", "ls /bin; echo ok"])
    assert r.exit_code == 0, (r.stderr, r.message)
    assert "busybox" in r.stdout and r.stdout.endswith("ok\n")


def test_named_image_until_the_image_store(audit_kw):
    sb = DockerSandbox(image="python:3.11-slim", **audit_kw)  # accepted: resolved when the sandbox starts
    assert sb.image == "python:3.11-slim"
    try:
        r = sb.run(["python3", "-c", "import sys; print(sys.version_info[:2])"])
    except nanoclaw.SandboxError as e:
        msg = str(e)
        assert "python:3.11-slim" in msg  # what is missing
        assert "nanoclaw image pull python:3.11-slim" in msg or "image pull" in msg  # how to provide it
        assert not isinstance(e, nanoclaw.ProfileError)
    else:
        assert r.stdout == "(3, 11)\n"


def test_concurrent_runs_from_threads(sb):
    """Sandboxes started from several threads at once (libnanoclaw must not close
    another thread's file descriptors)."""
    results, errors = [], []

    def work(i):
        for _ in range(8):
            try:
                results.append(sb.run(["sh", "-c", "echo %d" % i]).stdout)
            except Exception as e:
                errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert sorted(results) == sorted("%d\n" % i for i in range(8) for _ in range(8))

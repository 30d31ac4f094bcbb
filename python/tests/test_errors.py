"""Bad keywords are TypeErrors naming them; bad values carry nanoclaw's own message."""

import errno
import os
import subprocess
import sys

import pytest

import nanoclaw
from nanoclaw.isolation import DockerSandbox

from conftest import PKG_PARENT


def test_unknown_keywords_named_all_at_once():
    with pytest.raises(TypeError) as ei:
        DockerSandbox(image="host", mem_limt="512m", cpu_share=512, frobnicate=True)
    msg = str(ei.value)
    assert msg.startswith("DockerSandbox() got unexpected keyword arguments")
    assert "'mem_limt' (did you mean 'mem_limit'?)" in msg
    assert "'cpu_share' (did you mean 'cpu_shares'?)" in msg
    assert "'frobnicate'" in msg


def test_one_unknown_keyword():
    with pytest.raises(TypeError, match=r"got an unexpected keyword argument: 'privileged'$"):
        DockerSandbox(privileged=True)


def test_unknown_group_member():
    with pytest.raises(TypeError, match=r"\"audit\['lgo'\]\" \(did you mean \"audit\['log'\]\"\?\)"):
        DockerSandbox(audit={"lgo": "none"})
    with pytest.raises(TypeError, match="audit_lgo"):
        DockerSandbox(audit_lgo="none")
    with pytest.raises(TypeError, match="takes a dict"):
        DockerSandbox(audit="none")


def test_same_key_twice():
    with pytest.raises(TypeError, match="audit.log twice"):
        DockerSandbox(audit={"log": "none"}, audit_log="none")


def test_wrong_python_types():
    with pytest.raises(TypeError, match="mem_limit takes one value"):
        DockerSandbox(mem_limit=["512m"])
    with pytest.raises(TypeError, match="cpus: expected str, int, float or bool, got object"):
        DockerSandbox(cpus=object())
    with pytest.raises(TypeError, match="allowed_hosts: expected a list of strings"):
        DockerSandbox(allowed_hosts=443)
    with pytest.raises(TypeError, match="binds: expected a list of strings, got a dict"):
        DockerSandbox(binds={"/a": "/b"})


@pytest.mark.parametrize("key,value,shown", [
    ("mem_limit", "512q", '"512q" is not a size'),
    ("cpu_shares", 1, '"1" is not a whole number from 2 to 262144'),
    ("cpus", 0.0001, '"0.0001" is not a CPU count'),
    ("pids_limit", "many", '"many"'),
    ("timeout", "soon", '"soon" is not a duration'),
    ("network_disabled", "maybe", '"maybe" is not a boolean'),
    ("allowed_hosts", ["ok.example", "bad host!"], '"bad host!" is not HOST[:PORT]'),
    ("add_hosts", ["noip"], '"noip" is not NAME:IP'),
    ("tmpfs", ["relative"], '"relative" is not an absolute path'),
    ("binds", ["/etc"], '"/etc" is not SRC:DST'),
    ("env", {"1BAD": "x"}, '"1BAD" is not a variable name'),
    ("workdir", "rel", '"rel" is not an absolute path'),
    ("user", "root", '"root" is not UID[:GID]'),
    ("hostname", "bad_host", '"bad_host" is not a hostname'),
    ("limits", "lax", '"lax" is not a limits mode'),
    ("audit_fsync", "never", '"never" is not record or batch'),
])
def test_bad_values_carry_nanoclaws_message(key, value, shown):
    with pytest.raises(nanoclaw.ProfileError) as ei:
        DockerSandbox(**{key: value})
    e = ei.value
    assert isinstance(e, nanoclaw.SandboxError) and isinstance(e, ValueError)
    assert str(e).startswith(key + ": ") and shown in str(e)
    assert e.code == errno.EINVAL and e.message == str(e)


def test_bad_value_in_group_dict_names_the_dotted_key():
    with pytest.raises(nanoclaw.ProfileError, match=r'^audit\.fsync: "never"'):
        DockerSandbox(audit={"fsync": "never"})


def test_missing_bind_source():
    with pytest.raises(nanoclaw.ProfileError) as ei:
        DockerSandbox(binds=["/no/such/dir:/data"])
    assert '"/no/such/dir"' in str(ei.value) and ei.value.code == errno.ENOENT


def test_conflicting_settings():
    with pytest.raises(nanoclaw.ProfileError, match="network_disabled is true but allowed_hosts"):
        DockerSandbox(network_disabled=True, allowed_hosts=["api.openai.com"])


def test_nul_bytes_are_refused_not_truncated():
    with pytest.raises(nanoclaw.ProfileError, match="NUL"):
        DockerSandbox(allowed_hosts=["api.openai.com\0.evil.example"])
    with pytest.raises(ValueError, match="NUL"):
        DockerSandbox(audit_log="none").run(["echo", "a\0b"])


def test_run_options_checked_before_running():
    sb = DockerSandbox(audit_log="none")
    with pytest.raises(TypeError, match="run\\(\\) got an unexpected keyword argument: 'timout'"):
        sb.run(["true"], timout=5)
    with pytest.raises(nanoclaw.ProfileError, match='timeout: "never"'):
        sb.run(["true"], timeout="never")
    with pytest.raises(ValueError, match="no command"):
        sb.run([])
    with pytest.raises(TypeError, match="stdin"):
        sb.run(["cat"], stdin=42)
    with pytest.raises(ValueError, match="output_cap"):
        sb.run(["true"], output_cap="lots")


def test_session_timeout_must_be_positive():
    with DockerSandbox(audit_log="none").session() as s:
        with pytest.raises(ValueError, match="timeout"):
            s.run(["true"], timeout=0)


def test_error_repr_and_fields():
    e = nanoclaw.ProfileError('mem_limit: "x" is not a size', errno.EINVAL)
    assert e.errno_name == "EINVAL" and "ProfileError(" in repr(e)
    assert issubclass(nanoclaw.ModelError, nanoclaw.NanoclawError)
    assert issubclass(nanoclaw.AgentTimeoutError, TimeoutError)
    assert not issubclass(nanoclaw.ModelError, nanoclaw.SandboxError)


def test_library_not_found_names_what_was_tried():
    code = ("import nanoclaw\n"
            "try:\n    nanoclaw.DockerSandbox()\n"
            "except nanoclaw.LibraryNotFoundError as e:\n    print(type(e).__mro__[1:3], e)\n")
    env = dict(os.environ, NANOCLAW_LIBRARY="/nonexistent/libnanoclaw.so", PYTHONPATH=PKG_PARENT)
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "/nonexistent/libnanoclaw.so" in p.stdout and "NANOCLAW_LIBRARY" in p.stdout


def test_import_and_help_need_no_library():
    # `import nanoclaw` and help() work before libnanoclaw is found
    code = "import nanoclaw, pydoc; print(len(pydoc.render_doc(nanoclaw.Agent)) > 500)"
    env = dict(os.environ, NANOCLAW_LIBRARY="/nonexistent/libnanoclaw.so", PYTHONPATH=PKG_PARENT)
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert p.stdout == "True\n", p.stderr

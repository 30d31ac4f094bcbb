"""nanoclaw.Agent against a scripted OpenAI-compatible server on loopback."""

import errno
import json

import pytest

import nanoclaw
from nanoclaw import Agent
from nanoclaw.isolation import DockerSandbox

from conftest import HERE, needs_agent, run_program

pytestmark = needs_agent

KEY = "sk-test-0123456789abcdef"


def chat_requests(mock):
    return [r for r in mock.requests() if r["path"] == "/v1/chat/completions"]


def test_issue_program_runs_unchanged(mock_openai):
    """The program of issue #8, as a user would run it: python3 supportbot.py."""
    mock = mock_openai([
        {"tool_calls": [{"name": "run_command", "arguments": {"command": "id -u; hostname"}}]},
        {"answer": "The sandbox says: {last_tool}"},
    ], key=KEY, model="gpt-4o-mini")
    p = run_program(HERE / "programs" / "supportbot.py", {"OPENAI_BASE_URL": mock.url, "OPENAI_API_KEY": KEY})
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.startswith("The sandbox says: ")
    # the tool ran inside the sandbox: its user (1000) and hostname, not this host's
    tool = json.loads(out[len("The sandbox says: "):])
    assert tool["exit_code"] == 0
    assert tool["stdout"] == "1000\nsandbox\n"
    reqs = chat_requests(mock)
    assert len(reqs) == 2
    assert reqs[0]["headers"]["Authorization"] == "Bearer " + KEY
    assert reqs[0]["body"]["model"] == "gpt-4o-mini"
    assert "SupportBot_v2" in reqs[0]["body"]["messages"][0]["content"]
    assert reqs[0]["body"]["messages"][-1] == {"role": "user",
                                               "content": "Which user do your commands run as? Check, then answer."}
    # the key never goes to the model as content, nor into the sandbox's tool output
    assert KEY not in json.dumps([r["body"] for r in reqs])


def test_design_example_named_image(mock_openai):
    """DESIGN.md's example uses image="python:3.11-slim": it runs where the image store
    has the image; otherwise it fails with a SandboxError saying what is missing and how
    to provide it."""
    mock = mock_openai([{"answer": "done", "repeat": True}], key=KEY)
    p = run_program(HERE / "programs" / "design_example.py", {"OPENAI_BASE_URL": mock.url, "OPENAI_API_KEY": KEY})
    if p.returncode == 0:
        assert p.stdout == "done\n"
        return
    assert "nanoclaw.errors.SandboxError" in p.stderr, p.stderr
    last = p.stderr.strip().splitlines()[-1]
    assert "python:3.11-slim" in last
    assert "nanoclaw image pull python:3.11-slim" in last or "image pull" in last
    assert chat_requests(mock) == []  # nothing was asked before the sandbox existed


def test_execute_returns_answer_in_process(mock_openai, audit_kw):
    mock_openai([{"answer": "42"}], key=KEY)
    agent = Agent(name="calc", model="gpt-4o-mini", sandbox=DockerSandbox(**audit_kw))
    assert agent.execute("6*7?") == "42"


def test_tool_calls_write_then_read_in_one_sandbox(mock_openai, audit_kw, tmp_path):
    mock = mock_openai([
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "/tmp/note.txt", "content": "kept\n"}}]},
        {"tool_calls": [{"name": "read_file", "arguments": {"path": "/tmp/note.txt"}}]},
        {"answer": "file: {last_tool}"},
    ], key=KEY)
    agent = Agent("notes", "gpt-4o-mini", DockerSandbox(**audit_kw))
    answer = agent.execute("keep a note")
    assert answer.startswith("file: ") and "kept" in answer
    assert len(chat_requests(mock)) == 3
    # the audit log of the task holds the agent's records
    events = [json.loads(line)["event"] for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert "agent_start" in events and "tool_call" in events and "agent_end" in events


def test_options_reach_the_model(mock_openai, audit_kw):
    mock = mock_openai([{"answer": "ok"}], key=KEY)
    agent = Agent("opts", "gpt-4o-mini", DockerSandbox(**audit_kw), system_prompt="Be terse.", max_steps=3,
                  request_timeout=5, tool_timeout=2)
    assert agent.execute("hi") == "ok"
    body = chat_requests(mock)[0]["body"]
    assert body["messages"][0] == {"role": "system", "content": "Be terse."}


def test_base_url_option_overrides_environment(mock_openai, monkeypatch, audit_kw):
    mock = mock_openai([{"answer": "from the option"}], key=KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing there
    agent = Agent("u", "gpt-4o-mini", DockerSandbox(**audit_kw), base_url=mock.url)
    assert agent.execute("hi") == "from the option"


def test_api_key_env_option(mock_openai, monkeypatch, audit_kw):
    mock = mock_openai([{"answer": "ok"}], key=KEY)
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("MY_LLM_KEY", KEY)
    assert Agent("k", "gpt-4o-mini", DockerSandbox(**audit_kw), api_key_env="MY_LLM_KEY").execute("hi") == "ok"
    assert chat_requests(mock)[0]["headers"]["Authorization"] == "Bearer " + KEY


def test_default_sandbox(mock_openai):
    mock_openai([{"answer": "ok"}], key=KEY)
    agent = Agent(name="plain", model="gpt-4o-mini")
    assert agent.sandbox.image == "host"
    assert agent.execute("hi") == "ok"


# ---- errors ----

def test_wrong_key_is_model_error(mock_openai, monkeypatch, audit_kw):
    mock_openai([{"answer": "never"}], key=KEY)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    with pytest.raises(nanoclaw.ModelError) as ei:
        Agent("k", "gpt-4o-mini", DockerSandbox(**audit_kw)).execute("hi")
    assert ei.value.code == errno.EACCES
    assert "401" in str(ei.value) and "OPENAI_API_KEY" in str(ei.value)


def test_unknown_model_is_model_error(mock_openai, audit_kw):
    mock_openai([{"answer": "never"}], key=KEY, model="gpt-4o-mini")
    with pytest.raises(nanoclaw.ModelError) as ei:
        Agent("m", "gpt-9", DockerSandbox(**audit_kw)).execute("hi")
    assert ei.value.code == errno.ENOENT
    assert "gpt-9" in str(ei.value)


def test_missing_key_for_remote_endpoint_is_model_error(monkeypatch, audit_kw):
    # refused before any connection: no key for a non-loopback endpoint
    monkeypatch.setenv("OPENAI_BASE_URL", "https://llm.invalid/v1")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(nanoclaw.ModelError) as ei:
        Agent("k", "gpt-4o-mini", DockerSandbox(**audit_kw)).execute("hi")
    assert "OPENAI_API_KEY is not set" in str(ei.value)


def test_server_down_is_model_error(monkeypatch, audit_kw):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with pytest.raises(nanoclaw.ModelError) as ei:
        Agent("k", "gpt-4o-mini", DockerSandbox(**audit_kw)).execute("hi")
    assert "127.0.0.1:9" in str(ei.value)


def test_max_steps_is_agent_error(mock_openai, audit_kw):
    mock_openai([{"tool_calls": [{"name": "run_command", "arguments": {"command": "true"}}], "repeat": True}],
                key=KEY)
    with pytest.raises(nanoclaw.AgentError) as ei:
        Agent("loop", "gpt-4o-mini", DockerSandbox(**audit_kw), max_steps=2).execute("loop forever")
    assert not isinstance(ei.value, nanoclaw.AgentTimeoutError)
    assert "max_steps=2" in str(ei.value)


def test_deadline_is_agent_timeout(mock_openai, audit_kw):
    mock_openai([{"answer": "too late", "delay": 5}], key=KEY)
    with pytest.raises(nanoclaw.AgentTimeoutError) as ei:
        Agent("slow", "gpt-4o-mini", DockerSandbox(timeout=1, **audit_kw)).execute("hi")
    assert isinstance(ei.value, TimeoutError)
    assert "deadline" in str(ei.value)


def test_key_into_sandbox_is_refused(mock_openai, audit_kw):
    mock_openai([{"answer": "never"}], key=KEY)
    agent = Agent("leak", "gpt-4o-mini", DockerSandbox(env={"TOKEN": KEY}, **audit_kw))
    with pytest.raises(nanoclaw.ProfileError) as ei:
        agent.execute("hi")
    assert "TOKEN" in str(ei.value) and KEY not in str(ei.value)


def test_missing_image_is_sandbox_error(mock_openai, audit_kw, tmp_path, monkeypatch):
    monkeypatch.setenv("NANOCLAW_STORE", str(tmp_path / "store"))  # an empty image store: the image is missing
    mock_openai([{"answer": "never"}], key=KEY)
    agent = Agent("img", "gpt-4o-mini", DockerSandbox(image="python:3.11-slim", **audit_kw))
    try:
        agent.execute("hi")
    except nanoclaw.SandboxError as e:
        assert "python:3.11-slim" in str(e) and "image pull" in str(e)
    else:
        pytest.fail("an image that is not in the store did not fail")


def test_bad_arguments():
    with pytest.raises(TypeError, match="'maxsteps'.*did you mean 'max_steps'"):
        Agent("a", "gpt-4o-mini", maxsteps=3)
    with pytest.raises(TypeError, match="'mem_limit'"):
        Agent("a", "gpt-4o-mini", mem_limit="1g")  # a sandbox setting: give it to DockerSandbox
    with pytest.raises(TypeError, match="DockerSandbox"):
        Agent("a", "gpt-4o-mini", sandbox={"image": "host"})
    with pytest.raises(nanoclaw.ProfileError, match='max_steps: "0"'):
        Agent("a", "gpt-4o-mini", max_steps=0)
    with pytest.raises(nanoclaw.ProfileError, match="no model given"):
        Agent("a")
    with pytest.raises(ValueError):
        Agent("a", "gpt-4o-mini").execute("")
    with pytest.raises(TypeError):
        Agent("a", "gpt-4o-mini").execute(b"bytes")


def test_closed_agent():
    a = Agent("a", "gpt-4o-mini")
    a.close()
    with pytest.raises(nanoclaw.NanoclawError, match="closed"):
        a.execute("hi")

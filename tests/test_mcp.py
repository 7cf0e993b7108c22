"""MCP tool servers: the real ``mcp`` client against a test server over stdio and HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mcp import types

from agent import events as ev
from agent.mcp import (
    McpConfigError,
    McpManager,
    McpTiming,
    ServerConfig,
    approval_rule,
    load_servers,
)
from agent.session import Session
from agent.tools.registry import MAX_OUTPUT_CHARS
from bot.cli import main
from bot.ops.doctor import mcp_checks, run_doctor
from bot.settings import Settings
from tests.closing import bounded
from tests.conftest import free_port
from tests.standins.llm import text, tool_calls
from tests.support import Recorder, assert_history_valid, eventually, make_agent, test_tools

ROOT = Path(__file__).resolve().parent.parent
FAST = McpTiming(retry_first=0.05, retry_max=0.5, health_interval=0.2, call_wait=10)
TOKEN = "tok-3f9a1c"


def standin_args(log: Path) -> list[str]:
    return ["-m", "tests.standins.mcp_server", "--log", str(log)]


def logged(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def server_pid(log: Path) -> int:
    return int([line for line in logged(log) if line.startswith("pid ")][-1].split()[1])


def stdio_config(log: Path, **fields) -> ServerConfig:
    return ServerConfig(
        name="local", command=sys.executable, args=standin_args(log), cwd=ROOT, **fields
    )


class HttpStandin:
    """The test server as streamable HTTP on a loopback port, restartable on that port."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        args = [*standin_args(self.log), "--http", str(self.port), "--token", TOKEN]
        self.proc = subprocess.Popen([sys.executable, *args], cwd=ROOT)
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("the MCP standin did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def log(tmp_path) -> Path:
    return tmp_path / "calls.log"


@pytest.fixture
async def local(log):
    """A registry with the test tools and the stdio server's tools, connected."""
    registry = test_tools()
    manager = McpManager([stdio_config(log)], registry, timing=FAST)
    async with bounded("the MCP servers", manager):
        assert manager.server("local").connected, manager.server("local").error
        yield manager, registry


@pytest.fixture
def http_server(log):
    server = HttpStandin(log)
    server.start()
    yield server
    server.stop()


def http_config(server: HttpStandin) -> ServerConfig:
    return ServerConfig(
        name="remote", url=server.url, headers={"Authorization": "Bearer ${STANDIN_TOKEN}"}
    )


async def run_turn(agent, session, prompt="go") -> Recorder:
    rec = Recorder()
    await agent.run(session, prompt, rec.turn)
    return rec


# ── tools, schemas, approval rules ───────────────────────────────────────


async def test_tools_are_namespaced_with_schemas_unchanged(llm, local):
    manager, registry = local
    assert sorted(manager.server("local").tool_names) == [
        f"local__{n}" for n in ("big", "broken", "lookup", "picture", "slow", "touch", "wipe")
    ]
    llm.script(text("hi"))
    await run_turn(make_agent(llm, registry), Session(key="k"))

    sent = {t["function"]["name"]: t["function"] for t in llm.requests[0]["tools"]}
    assert {"plan", "echo", "local__lookup", "local__wipe"} <= set(sent)
    assert sent["local__lookup"]["parameters"] == {
        "type": "object",
        "properties": {"query": {"title": "Query", "type": "string"}},
        "required": ["query"],
        "title": "lookupArguments",
    }
    assert sent["local__lookup"]["description"] == "Look something up (read-only)."
    assert registry.approval("local__lookup") == "never"
    assert registry.approval("local__wipe") == "always"
    assert registry.approval("local__touch") == "always"  # unannotated: maybe destructive
    assert registry.approval("plan") is None  # built-ins keep the built-in policy


def test_approval_rule_prefers_the_file_over_annotations():
    read_only = types.Tool(
        name="look",
        input_schema={"type": "object"},
        annotations=types.ToolAnnotations(read_only_hint=True),
    )
    destructive = types.Tool(
        name="drop",
        input_schema={"type": "object"},
        annotations=types.ToolAnnotations(destructive_hint=True),
    )
    plain = ServerConfig(name="s", url="http://x/mcp")
    server_wide = ServerConfig(name="s", url="http://x/mcp", approval="always")
    per_tool = ServerConfig(
        name="s", url="http://x/mcp", approval="always", tool_approval={"drop": "never"}
    )
    assert [approval_rule(plain, t) for t in (read_only, destructive)] == ["never", "always"]
    assert [approval_rule(server_wide, t) for t in (read_only, destructive)] == ["always"] * 2
    assert [approval_rule(per_tool, t) for t in (read_only, destructive)] == ["always", "never"]


# ── turns through the real client ───────────────────────────────────────


async def test_read_only_tool_runs_at_once(llm, local, log):
    _, registry = local
    llm.script(tool_calls(("local__lookup", {"query": "bert"})), text("Found it."))
    session = Session(key="k")
    rec = await run_turn(make_agent(llm, registry), session)

    (output,) = rec.of(ev.ToolOutput)
    assert (output.tool, output.output, output.success) == ("local__lookup", "found: bert", True)
    assert "lookup bert" in logged(log)
    assert rec.of(ev.ApprovalRequired) == []
    assert rec.types()[-1] == "turn_complete"
    assert_history_valid(session)


async def test_destructive_tool_waits_for_approval(llm, local, log):
    _, registry = local
    agent, session = make_agent(llm, registry), Session(key="k")
    llm.script(tool_calls(("local__wipe", {"target": "prod"})))
    rec = await run_turn(agent, session, "clean up")

    (approval,) = rec.of(ev.ApprovalRequired)
    assert approval.tools[0]["tool"] == "local__wipe"
    assert approval.tools[0]["arguments"] == {"target": "prod"}
    assert not any(line.startswith("wipe") for line in logged(log))

    llm.script(text("Wiped."))
    call_id = approval.tools[0]["tool_call_id"]
    await agent.resume(session, [{"tool_call_id": call_id, "approved": True}], rec.turn)
    assert rec.of(ev.ToolOutput)[-1].output == "wiped prod"
    assert "wipe prod" in logged(log)
    assert_history_valid(session)


async def test_yolo_mode_skips_mcp_approvals_too(llm, local, log):
    _, registry = local
    llm.script(tool_calls(("local__wipe", {"target": "tmp"})), text("ok"))
    rec = await run_turn(make_agent(llm, registry, yolo_mode=True), Session(key="k"))
    assert rec.of(ev.ApprovalRequired) == []
    assert "wipe tmp" in logged(log)


async def test_results_images_errors_and_size_bound(llm, local):
    _, registry = local
    llm.script(
        tool_calls(
            ("local__picture", {}),
            ("local__broken", {}),
            ("local__big", {"size": MAX_OUTPUT_CHARS * 3}),
            ("local__lookup", {}),  # missing argument: the server says so
        ),
        text("done"),
    )
    session = Session(key="k")
    rec = await run_turn(make_agent(llm, registry), session)

    picture, broken, big, invalid = rec.of(ev.ToolOutput)
    assert picture.success and picture.output.startswith("a red dot\n[image image/png, ")
    assert picture.output.endswith("bytes: attached for people]")
    (image,) = picture.attachments  # the PNG itself goes to the chat, not to the model
    assert image["filename"] == "image-1.png" and image["mime_type"] == "image/png"
    assert base64.b64decode(image["data"]).startswith(b"\x89PNG")
    assert "iVBOR" not in str(llm.requests[-1]["messages"])
    assert not broken.success and broken.output.startswith("ERROR: ")
    assert "characters omitted" in big.output and len(big.output) < MAX_OUTPUT_CHARS + 100
    assert not invalid.success and "query" in invalid.output
    assert rec.types()[-1] == "turn_complete"
    assert_history_valid(session)


async def test_stop_cancels_the_slow_call_on_the_server(llm, local, log):
    _, registry = local
    llm.script(tool_calls(("local__slow", {"seconds": 30})))
    agent, rec, session = make_agent(llm, registry), Recorder(), Session(key="k")
    task = asyncio.create_task(agent.run(session, "wait", rec.turn))
    await eventually(lambda: "slow-start 30.0" in logged(log))

    rec.turn.cancel.set()
    await asyncio.wait_for(task, 5)

    assert rec.types()[-1] == "interrupted"
    await eventually(lambda: "slow-cancelled" in logged(log), within=5)
    assert "slow-done" not in logged(log)
    assert_history_valid(session)


async def test_server_killed_mid_call_is_reconnected_within_the_turn(llm, local, log):
    manager, registry = local
    llm.script(
        tool_calls(("local__slow", {"seconds": 30})),
        tool_calls(("local__lookup", {"query": "again"})),
        text("Recovered."),
    )
    agent, rec, session = make_agent(llm, registry), Recorder(), Session(key="k")
    task = asyncio.create_task(agent.run(session, "go", rec.turn))
    await eventually(lambda: "slow-start 30.0" in logged(log))
    first_pid = server_pid(log)

    os.kill(first_pid, signal.SIGKILL)
    await asyncio.wait_for(task, 20)

    lost, again = rec.of(ev.ToolOutput)
    assert not lost.success and "closed during the call" in lost.output
    assert (again.output, again.success) == ("found: again", True)
    assert rec.types()[-1] == "turn_complete"
    assert manager.server("local").connects == 2 and server_pid(log) != first_pid
    assert_history_valid(session)


async def test_http_server_with_bearer_header_from_the_environment(llm, http_server, log, caplog):
    caplog.set_level(logging.DEBUG)
    registry = test_tools()
    config = http_config(http_server)
    environ = {"STANDIN_TOKEN": TOKEN}
    async with McpManager([config], registry, environ=environ, timing=FAST):
        llm.script(tool_calls(("remote__lookup", {"query": "gpt2"})), text("ok"))
        rec = await run_turn(make_agent(llm, registry), Session(key="k"))

    assert rec.of(ev.ToolOutput)[0].output == "found: gpt2"
    assert "lookup gpt2" in logged(log)
    assert TOKEN not in caplog.text


async def test_wrong_token_leaves_the_tools_absent_and_the_turn_working(llm, http_server, caplog):
    registry = test_tools()
    config = http_config(http_server)
    async with McpManager(
        [config], registry, environ={"STANDIN_TOKEN": "wrong"}, timing=FAST
    ) as manager:
        server = manager.server("remote")
        assert not server.connected and server.error
        assert [n for n in registry.names() if n.startswith("remote__")] == []
        llm.script(text("Still here."))
        rec = await run_turn(make_agent(llm, registry), Session(key="k"))
    assert rec.text() == "Still here."
    assert "MCP server remote" in caplog.text and "unavailable" in caplog.text


async def test_http_server_down_then_back(llm, http_server, log):
    registry = test_tools()
    timing = McpTiming(retry_first=0.05, retry_max=0.2, health_interval=0.1, call_wait=0.3)
    environ = {"STANDIN_TOKEN": TOKEN}
    async with McpManager(
        [http_config(http_server)], registry, environ=environ, timing=timing
    ) as m:
        http_server.stop()
        await eventually(lambda: not m.server("remote").connected)
        llm.script(tool_calls(("remote__lookup", {"query": "a"})), text("It is down."))
        agent, session = make_agent(llm, registry), Session(key="k")
        rec = await run_turn(agent, session)
        (down,) = rec.of(ev.ToolOutput)
        assert not down.success and "MCP server 'remote' is unavailable" in down.output
        assert rec.types()[-1] == "turn_complete"

        http_server.start()
        await eventually(lambda: m.server("remote").connected, within=15)
        llm.script(tool_calls(("remote__lookup", {"query": "b"})), text("Back."))
        rec = await run_turn(agent, session)
        assert rec.of(ev.ToolOutput)[0].output == "found: b"
        assert_history_valid(session)


# ── configuration, doctor, the tools command ─────────────────────────────


def test_example_file_loads_and_references_expand(monkeypatch):
    servers = load_servers(ROOT / "examples" / "mcp_servers.example.yaml")
    by_name = {s.name: s for s in servers}
    assert by_name["huggingface"].transport == "http"
    assert by_name["internal"].transport == "stdio"
    assert by_name["internal"].tool_approval == {"list_things": "never", "delete_thing": "always"}

    hf = by_name["huggingface"].expanded({"HF_TOKEN": "hf_x"})
    assert hf.headers == {"Authorization": "Bearer hf_x"}
    with pytest.raises(McpConfigError, match=r"\$\{INTERNAL_API_KEY\}, which is not set"):
        by_name["internal"].expanded({})


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ({"mcpServers": {"x": {"command": "a", "url": "http://b"}}}, "either 'command'"),
        ({"mcpServers": {"x": {"url": "http://b", "approval": "sometimes"}}}, "approval"),
        ({"mcpServers": {"bad name": {"url": "http://b"}}}, "server name"),
        ({"tools": []}, "expected a mapping"),
    ],
)
def test_bad_config_files_are_refused(tmp_path, content, problem):
    path = tmp_path / "servers.json"
    path.write_text(json.dumps(content))
    with pytest.raises(McpConfigError, match=problem):
        load_servers(path)


def write_servers(tmp_path: Path, log: Path) -> Path:
    path = tmp_path / "servers.yaml"
    closed = f"http://127.0.0.1:{free_port()}/mcp"
    path.write_text(
        json.dumps(
            {
                "servers": {
                    "local": {
                        "command": sys.executable,
                        "args": standin_args(log),
                        "cwd": str(ROOT),
                    },
                    "down": {"url": closed},
                }
            }
        )
    )
    return path


async def test_doctor_reports_each_server(tmp_path, log):
    settings = Settings(mcp_servers=write_servers(tmp_path, log))
    checks = mcp_checks(settings)

    class Out(list):
        write = list.append

    out = Out()
    assert await run_doctor(settings, out, checks) == 1
    local, down = out
    assert local.startswith("ok   mcp local: ") and "7 tools" in local, out
    assert down.startswith("FAIL mcp down: ")


def test_tools_command_lists_built_in_and_mcp_tools(tmp_path, log, monkeypatch, capsys):
    monkeypatch.setenv("MCP_SERVERS", str(write_servers(tmp_path, log)))
    monkeypatch.delenv("YOLO_MODE", raising=False)
    monkeypatch.delenv("WEB_SEARCH_URL", raising=False)

    assert main(["tools"]) == 0

    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert rows["tool"].split() == ["tool", "source", "read-only", "needs", "approval"]
    assert rows["local__lookup"].split()[1:] == ["mcp", "local", "no", "never"]
    assert rows["local__wipe"].split()[1:] == ["mcp", "local", "no", "always"]
    assert rows["plan"].split()[1:] == ["built-in", "no", "never"]
    assert rows["research"].split()[1:] == ["built-in", "yes", "never"]
    assert rows["read"].split()[1:] == ["built-in", "yes", "never"]
    assert rows["sandbox_create"].split()[1:] == [
        "built-in",
        "no",
        "hardware",
        "other",
        "than",
        "cpu-basic",
    ]
    assert rows["github_find_examples"].split()[1:] == ["built-in", "yes", "never"]
    assert "list, read" in rows["hf_repo_files"]
    assert "web_search" not in rows, "no search instance set: not offered"
    assert "delete_branch" in rows["hf_repo_git"]
    assert rows["MCP"].startswith("MCP server down unavailable: ")

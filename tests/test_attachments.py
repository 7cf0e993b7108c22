"""Shared files reach the agent: downloads from a loopback file server, the sandbox, the message."""

from __future__ import annotations

import base64
import json
import struct
import time
import zlib
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from agent.sandbox.files import STATE_KEY, Sandbox
from agent.session import Session
from bot.attachments import (
    Fetched,
    FetchFailed,
    SharedFile,
    classify,
    fetch,
    ingest,
    model_sees_images,
)
from bot.store.sessions import SessionStore
from tests.closing import bounded
from tests.standins.llm import text
from tests.support import Recorder, make_agent

TOKEN = "xoxb-test-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
MB = 1_000_000


def png(width: int = 4, height: int = 3) -> bytes:
    """A real (tiny, red) PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def training_log(lines: int = 5000) -> bytes:
    body = [f"step {n} loss {1 / (n + 1):.5f}" for n in range(1, lines - 1)]
    return "\n".join(["START run-42 config=sft.yaml", *body, "FINAL eval_loss=0.123"]).encode()


NOTEBOOK = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {},
    "cells": [
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": ["# Fine-tuning notes\n", "Try lr 2e-5."],
        },
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": 1,
            "source": ["x = 6 * 7\n", "print(x)"],
            "outputs": [
                {"output_type": "stream", "name": "stdout", "text": ["42\n"]},
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"image/png": base64.b64encode(png()).decode()},
                },
            ],
        },
    ],
}


class FileServer:
    """Files over loopback HTTP, like Slack's and Discord's file hosts.

    ``/public/<name>``: anyone. ``/private/<name>``: only with the bearer token.
    ``/unscoped/<name>``: redirects to ``login_url`` (Slack, for an app without
    files:read). ``/stream/<name>``: chunked, no length. ``/expired/<name>``: 404.
    ``/login``: a sign-in web page. ``requests`` records (path, Authorization).
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.types: dict[str, str] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.login_url = ""
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    def add(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.files[name], self.types[name] = data, content_type

    def url(self, route: str, name: str = "") -> str:
        return f"{self.base_url}/{route}/{name}" if name else f"{self.base_url}/{route}"

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    async def __aenter__(self) -> FileServer:
        app = web.Application()
        app.router.add_get("/public/{name}", self._public)
        app.router.add_get("/private/{name}", self._private)
        app.router.add_get("/unscoped/{name}", self._unscoped)
        app.router.add_get("/stream/{name}", self._stream)
        app.router.add_get("/expired/{name}", self._expired)
        app.router.add_get("/login", self._login)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner:
            await self._runner.cleanup()

    def _record(self, request: web.Request) -> str:
        self.requests.append((request.path, request.headers.get("Authorization")))
        return request.match_info.get("name", "")

    def _file(self, name: str) -> web.Response:
        if name not in self.files:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=self.files[name], content_type=self.types[name])

    async def _public(self, request: web.Request) -> web.Response:
        return self._file(self._record(request))

    async def _private(self, request: web.Request) -> web.Response:
        name = self._record(request)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.Response(status=403, text="not_authed")
        return self._file(name)

    async def _unscoped(self, request: web.Request) -> web.Response:
        self._record(request)
        raise web.HTTPFound(self.login_url)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        name = self._record(request)
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        data = self.files[name]
        for start in range(0, len(data), 4096):
            try:
                await response.write(data[start : start + 4096])
            except ConnectionError:  # the client stopped reading: that is the point
                break
        return response

    async def _expired(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.Response(status=404, text="This content is no longer available.")

    async def _login(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.Response(
            text="<!DOCTYPE html><html>Sign in to Slack</html>", content_type="text/html"
        )


@pytest.fixture
async def files():
    async with bounded("the file server", FileServer()) as server:
        yield server


@pytest.fixture
async def login():
    async with bounded("the login server", FileServer()) as server:  # another origin
        yield server


@pytest.fixture
async def http():
    async with bounded("the HTTP client", aiohttp.ClientSession()) as client:
        yield client


@pytest.fixture
def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path / "sandboxes")


def saved_file(sandbox: Sandbox, session: Session, name: str) -> bytes:
    return sandbox.path(session, name).read_bytes()


async def shared(files, http, sandbox, session, *file_list, vision=False, max_bytes=20 * MB, **kw):
    return await ingest(
        "Please look at this.",
        list(file_list),
        sandbox=sandbox,
        session=session,
        vision=vision,
        max_bytes=max_bytes,
        http=http,
        **kw,
    )


# ── the message the agent gets ───────────────────────────────────────────


async def test_a_log_is_inlined_head_and_tail_and_saved_whole(files, http, sandbox):
    log = training_log()
    files.add("train.log", log, "text/plain")
    session = Session(key="slack:T1:C1:1.0")
    file = SharedFile(
        "train.log", files.url("private", "train.log"), len(log), "text/plain", BEARER
    )

    result = await shared(files, http, sandbox, session, file)

    content = result.content
    assert isinstance(content, str)
    assert content.startswith("Please look at this.")
    assert "START run-42 config=sft.yaml" in content  # the head
    assert "FINAL eval_loss=0.123" in content  # the tail
    assert "step 2500 loss" not in content  # the middle is left out...
    assert "lines left out" in content  # ...and says so
    assert "sandbox:train.log" in content
    assert len(content) < 12_000 + 1_000
    assert result.notices == []
    assert result.saved == ["train.log"]
    assert STATE_KEY in session.state  # the sandbox was created for the session
    assert saved_file(sandbox, session, "train.log") == log
    assert files.requests == [("/private/train.log", f"Bearer {TOKEN}")]


async def test_a_short_file_is_inlined_whole(files, http, sandbox):
    script = b"import torch\nprint(torch.__version__)\n"
    files.add("check.py", script, "text/x-python")
    session = Session(key="k")

    result = await shared(
        files, http, sandbox, session, SharedFile("check.py", files.url("public", "check.py"))
    )

    assert "Its full text" in result.content
    assert "import torch\nprint(torch.__version__)" in result.content
    assert saved_file(sandbox, session, "check.py") == script


async def test_a_notebook_becomes_its_cells_text(files, http, sandbox):
    raw = json.dumps(NOTEBOOK).encode()
    files.add("explore.ipynb", raw, "application/json")
    session = Session(key="k")

    result = await shared(
        files,
        http,
        sandbox,
        session,
        SharedFile("explore.ipynb", files.url("public", "explore.ipynb")),
    )

    content = result.content
    assert "# %% [markdown] cell 1\n# Fine-tuning notes\nTry lr 2e-5." in content
    assert "# %% [code] cell 2\nx = 6 * 7\nprint(x)" in content
    assert "# out: 42" in content
    assert "# out: [image/png]" in content
    assert '"cell_type"' not in content  # not the raw JSON
    assert "iVBOR" not in content  # nor the output's image data
    assert saved_file(sandbox, session, "explore.ipynb") == raw  # the sandbox has the notebook


async def test_a_csv_shows_its_first_rows(files, http, sandbox):
    rows = ["id,text,label"] + [f"{n},example number {n},{n % 2}" for n in range(3000)]
    data = "\n".join(rows).encode()
    files.add("data.csv", data, "text/csv")
    session = Session(key="k")

    result = await shared(
        files, http, sandbox, session, SharedFile("data.csv", files.url("public", "data.csv"))
    )

    content = result.content
    assert "id,text,label\n0,example number 0,0" in content
    assert "2999,example number 2999" not in content
    assert "of 3,001 rows" in content
    assert saved_file(sandbox, session, "data.csv") == data


async def test_files_of_one_message_share_the_budget(files, http, sandbox):
    for name in ("a.md", "b.md"):
        files.add(name, ("word " * 4000).encode(), "text/markdown")
    session = Session(key="k")

    result = await shared(
        files,
        http,
        sandbox,
        session,
        SharedFile("a.md", files.url("public", "a.md")),
        SharedFile("b.md", files.url("public", "b.md")),
        budget=4000,
    )

    content = result.content
    assert content.count("word ") <= 4000 // len("word ")  # both excerpts fit in the budget
    assert content.count("Its first") == 2  # and each file got a part of it
    assert result.saved == ["a.md", "b.md"]


async def test_same_named_files_are_both_kept(files, http, sandbox):
    files.add("one", b"first\n", "text/plain")
    files.add("two", b"second\n", "text/plain")
    session = Session(key="k")

    result = await shared(
        files,
        http,
        sandbox,
        session,
        SharedFile("notes.txt", files.url("public", "one")),
        SharedFile("notes.txt", files.url("public", "two")),
    )

    assert result.saved == ["notes.txt", "notes (2).txt"]
    assert saved_file(sandbox, session, "notes (2).txt") == b"second\n"


async def test_an_image_becomes_an_image_part_when_the_model_sees_images(files, http, sandbox):
    image = png()
    files.add("loss.png", image, "image/png")
    session = Session(key="k")

    result = await shared(
        files,
        http,
        sandbox,
        session,
        SharedFile("loss.png", files.url("public", "loss.png"), len(image), "image/png"),
        vision=True,
    )

    text_part, image_part = result.content
    assert text_part["type"] == "text"
    assert text_part["text"].startswith("Please look at this.")
    assert "`loss.png`" in text_part["text"] and "image 1 below" in text_part["text"]
    assert image_part["type"] == "image_url"
    prefix, encoded = image_part["image_url"]["url"].split(",", 1)
    assert prefix == "data:image/png;base64"
    assert base64.b64decode(encoded) == image
    assert result.notices == []


async def test_an_image_is_named_when_the_model_cannot_see_it(files, http, sandbox):
    files.add("loss.png", png(), "image/png")
    session = Session(key="k")

    result = await shared(
        files, http, sandbox, session, SharedFile("loss.png", files.url("public", "loss.png"))
    )

    assert isinstance(result.content, str)
    assert "an image the model cannot see: loss.png" in result.content
    assert "base64" not in result.content
    assert result.notices == [
        "📎 `loss.png`: this model can't see images, so the agent knows only its name."
    ]
    assert saved_file(sandbox, session, "loss.png") == png()


async def test_a_binary_file_is_saved_and_named(files, http, sandbox):
    weights = bytes(range(256)) * 10
    files.add("adapter.safetensors", weights)
    session = Session(key="k")

    result = await shared(
        files,
        http,
        sandbox,
        session,
        SharedFile("adapter.safetensors", files.url("public", "adapter.safetensors")),
    )

    assert "`adapter.safetensors`" in result.content
    assert "not text" in result.content
    assert "sandbox:adapter.safetensors" in result.content
    assert saved_file(sandbox, session, "adapter.safetensors") == weights


async def test_a_file_the_sandbox_cannot_hold_is_still_excerpted_and_the_thread_told(
    files, http, tmp_path
):
    small = Sandbox(tmp_path / "small", max_file_bytes=1000)
    log = training_log(200)
    files.add("train.log", log, "text/plain")
    session = Session(key="k")

    result = await shared(
        files, http, small, session, SharedFile("train.log", files.url("public", "train.log"))
    )

    assert "FINAL eval_loss=0.123" in result.content
    assert "could not be saved in the sandbox" in result.content
    assert result.saved == []
    assert len(result.notices) == 1
    assert result.notices[0].startswith("📎 `train.log` couldn't be saved in the sandbox")
    assert not small.path(session, "train.log").exists()


async def test_a_message_without_files_is_unchanged(http, sandbox):
    session = Session(key="k")

    result = await ingest(
        "just text", [], sandbox=sandbox, session=session, vision=True, max_bytes=MB, http=http
    )

    assert result.content == "just text"
    assert result.notices == []
    assert STATE_KEY not in session.state  # no sandbox made for nothing


# ── failures a person can act on ─────────────────────────────────────────


async def test_a_missing_file_gets_a_line_in_the_thread(files, http, sandbox):
    session = Session(key="k")

    result = await shared(
        files, http, sandbox, session, SharedFile("gone.log", files.url("public", "gone.log"))
    )

    assert result.notices == [
        "📎 Couldn't read `gone.log`: it is gone (404 Not Found): it may have been deleted."
    ]
    assert "`gone.log` could not be read" in result.content  # the agent knows too
    assert result.saved == []


async def test_a_file_declared_too_big_is_refused_before_downloading(files, http, sandbox):
    files.add("huge.bin", b"x" * 10)
    session = Session(key="k")
    file = SharedFile("huge.bin", files.url("public", "huge.bin"), size=31 * MB)

    result = await shared(files, http, sandbox, session, file, max_bytes=20 * MB)

    assert result.notices == [
        "📎 Couldn't read `huge.bin`: it is 31 MB; the limit is 20 MB (MAX_ATTACHMENT_BYTES)."
    ]
    assert files.requests == []  # not one byte asked for


async def test_a_download_stops_once_over_the_limit(files, http, sandbox):
    files.add("big.bin", b"y" * 300_000)
    file = SharedFile("big.bin", files.url("stream", "big.bin"))  # size unknown, no length

    result = await fetch(file, max_bytes=100_000, session=http)

    assert isinstance(result, FetchFailed)
    assert result.kind == "too_big"
    assert result.line() == (
        "📎 Couldn't read `big.bin`: it is over the 100 KB limit (MAX_ATTACHMENT_BYTES)."
    )


async def test_a_length_over_the_limit_is_refused_without_reading_the_body(files, http):
    files.add("big.bin", b"z" * 300_000)

    result = await fetch(
        SharedFile("big.bin", files.url("public", "big.bin")), max_bytes=100_000, session=http
    )

    assert isinstance(result, FetchFailed)
    assert result.reason == "it is 300 KB; the limit is 100 KB (MAX_ATTACHMENT_BYTES)"


async def test_without_the_token_a_private_file_is_no_access(files, http):
    files.add("train.log", b"secret\n", "text/plain")
    file = SharedFile("train.log", files.url("private", "train.log"), access_hint="add a scope")

    result = await fetch(file, max_bytes=MB, session=http)

    assert isinstance(result, FetchFailed)
    assert result.kind == "no_access"
    assert (
        result.line() == "📎 Couldn't read `train.log`: the bot may not read it (403); add a scope."
    )


async def test_a_redirect_to_a_sign_in_page_is_no_access_and_keeps_the_token_home(
    files, login, http
):
    files.login_url = login.url("login")
    file = SharedFile(
        "train.log",
        files.url("unscoped", "train.log"),
        mimetype="text/plain",
        headers=BEARER,
        access_hint="the Slack app needs the files:read scope",
    )

    result = await fetch(file, max_bytes=MB, session=http)

    assert isinstance(result, FetchFailed)
    assert result.kind == "no_access"
    assert "sign-in page" in result.reason
    assert result.reason.endswith("the Slack app needs the files:read scope")
    assert files.requests == [("/unscoped/train.log", f"Bearer {TOKEN}")]
    assert login.requests == [("/login", None)]  # the token never went to the other host


async def test_a_redirect_within_the_host_keeps_the_token(files, http):
    files.add("train.log", b"ok\n", "text/plain")
    files.login_url = files.url("private", "train.log")  # same origin this time

    result = await fetch(
        SharedFile("train.log", files.url("unscoped", "x"), headers=BEARER),
        max_bytes=MB,
        session=http,
    )

    assert isinstance(result, Fetched)
    assert result.data == b"ok\n"
    assert files.requests[-1] == ("/private/train.log", f"Bearer {TOKEN}")


async def test_an_expired_link_says_so(files, http):
    past = format(int(time.time()) - 3600, "x")
    file = SharedFile("run.log", files.url("expired", "run.log") + f"?ex={past}&is=0&hm=abc")

    result = await fetch(file, max_bytes=MB, session=http)

    assert isinstance(result, FetchFailed)
    assert result.kind == "expired"
    assert (
        result.line() == "📎 Couldn't read `run.log`: its link has expired; share the file again."
    )


async def test_an_unreachable_host_is_a_network_error(http):
    with_closed_port = "http://127.0.0.1:9/file.txt"  # discard port: nothing listens

    result = await fetch(SharedFile("file.txt", with_closed_port), max_bytes=MB, session=http)

    assert isinstance(result, FetchFailed)
    assert result.kind == "network"
    assert result.line().startswith("📎 Couldn't read `file.txt`: the download failed (")


# ── the console: files by path ───────────────────────────────────────────


async def test_a_console_path_is_read_from_disk(tmp_path, http, sandbox):
    path = tmp_path / "config.yaml"
    path.write_text("lr: 2.0e-5\nepochs: 3\n")
    session = Session(key="console:me")

    result = await ingest(
        "use this config",
        [SharedFile.from_path(path), SharedFile.from_path(tmp_path / "nope.txt")],
        sandbox=sandbox,
        session=session,
        vision=False,
        max_bytes=MB,
        http=http,
    )

    assert "lr: 2.0e-5\nepochs: 3" in result.content
    assert saved_file(sandbox, session, "config.yaml") == path.read_bytes()
    assert result.notices == [
        f"📎 Couldn't read `nope.txt`: there is no file at {tmp_path / 'nope.txt'}."
    ]


# ── kinds, and the model's eyes ──────────────────────────────────────────


def test_kinds_come_from_extension_type_and_bytes():
    assert classify("run.log", None, b"loss 1.0\n") == "text"
    assert classify("README", None, "héllo wörld\n".encode()) == "text"  # UTF-8 sniff
    assert classify("data", "text/plain", b"a\tb\n") == "text"
    assert classify("photo.jpg", "image/jpeg", png()) == "image"  # the bytes decide
    assert classify("fake.png", "image/png", b"not really a png") == "text"
    assert classify("blob", None, b"\x00\x01\x02\xff") == "other"
    assert classify("latin.bin", None, "café".encode("latin-1")) == "other"


def test_vision_support_comes_from_the_local_model_map():
    assert model_sees_images("openai/gpt-4o") is True
    assert model_sees_images("openai/test-model") is False
    assert model_sees_images("no-such-provider/model") is False


# ── all the way to the model and back out of Redis ──────────────────────


async def test_an_image_message_reaches_the_model_unchanged_and_survives_redis(
    files, http, sandbox, llm, redis
):
    files.add("loss.png", png(), "image/png")
    session = Session(key="slack:T1:C1:2.0")
    result = await shared(
        files,
        http,
        sandbox,
        session,
        SharedFile("loss.png", files.url("public", "loss.png")),
        vision=True,
    )
    llm.script(text("The loss goes down."))
    agent, rec = make_agent(llm), Recorder()

    await agent.run(session, result.content, rec.turn)

    assert llm.requests[0]["messages"][-1] == {"role": "user", "content": result.content}
    assert rec.text() == "The loss goes down."
    assert session.context_tokens > 0
    store = SessionStore(redis)
    await store.save(session)
    loaded = await store.load(session.key)
    assert loaded is not None
    assert loaded.history[0]["content"] == result.content
    assert loaded.state == session.state

"""A loopback Hugging Face Hub for tests, spoken to by the real ``huggingface_hub`` client.

It serves what the hf_* tools use: repos (create, settings, info), trees,
downloads, commits (small files as regular content, no LFS), refs, branches,
tags, discussions and pull requests, search listings, papers, jobs (they move
SCHEDULING -> RUNNING -> COMPLETED by elapsed time while their logs grow),
scheduled jobs, a dataset viewer under ``/datasets-server``, and Spaces that build
and run the committed sandbox server (:mod:`tests.standins.spaces`).

``hub.fail(path_regex, status)`` makes the next matching request(s) fail;
``hub.stall(path_regex)`` holds matching requests until the event it returns is set;
``hub.requests`` records every request. Use the ``hub`` fixture::

    from tests.standins.hub import hub  # noqa: F401
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from aiohttp import web
from huggingface_hub import HfApi

from tests.closing import closed
from tests.standins.spaces import SpacesMixin

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

TOKEN = "hf_test"
USER = "tester"
ORG = "test-org"
KINDS = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
DEFAULT_LOGS = [
    "Installing dependencies",
    "Installed 3 packages in 12ms",
    "step 1/3 loss=2.10",
    '{"step": 1, "learning_rate": 2e-05, "grad_norm": 1.8}',
    "step 2/3 loss=1.40",
    '{"step": 2, "learning_rate": 1e-05, "grad_norm": 1.1}',
    "step 3/3 loss=0.90",
    "Training done, pushed to the Hub",
]

PRESETS: dict[int | str, tuple[int, dict[str, str], str]] = {
    401: (401, {}, "Invalid credentials in Authorization header"),
    402: (402, {}, "Payment required: insufficient credits on this namespace"),
    403: (403, {}, "You don't have the rights to do this under this namespace"),
    404: (404, {"X-Error-Code": "RepoNotFound"}, "Repository not found"),
    429: (429, {"Retry-After": "30"}, "Too many requests"),
    "gated": (
        403,
        {"X-Error-Code": "GatedRepo"},
        "Access to this repo is restricted. You must have access to it and be authenticated.",
    ),
    "entry_not_found": (404, {"X-Error-Code": "EntryNotFound"}, "Entry not found"),
    "revision_not_found": (404, {"X-Error-Code": "RevisionNotFound"}, "Invalid rev id"),
}
"""What ``hub.fail(path, status)`` answers, by status code or name."""

_ids = itertools.count(1)


def new_id(length: int = 24) -> str:
    return hashlib.sha1(f"{next(_ids)}-{time.time_ns()}".encode()).hexdigest()[:length]


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


HARDWARE = [
    # name, pretty name, cpu, ram, (gpu model, count, vram) or None, micro-USD a minute
    ("cpu-basic", "CPU Basic", "2 vCPU", "16 GB", None, 167),
    ("a10g-small", "Nvidia A10G - small", "4 vCPU", "15 GB", ("A10G", 1, "24 GB"), 16_667),
    ("l4x1", "1x Nvidia L4", "8 vCPU", "30 GB", ("L4", 1, "24 GB"), 15_000),
]
"""What ``GET /api/jobs/hardware`` lists."""


def _flavor(
    name: str, pretty: str, cpu: str, ram: str, gpu: tuple[str, int, str] | None, micro: int
) -> dict[str, Any]:
    """One flavor shaped as the Hub's hardware list gives it (camelCase, quantity a string)."""
    accelerator = None
    if gpu is not None:
        model, count, vram = gpu
        accelerator = {
            "type": "gpu",
            "model": model,
            "quantity": str(count),
            "vram": vram,
            "manufacturer": "Nvidia",
        }
    return {
        "name": name,
        "prettyName": pretty,
        "cpu": cpu,
        "ram": ram,
        "ephemeralStorage": "50 GB",
        "accelerator": accelerator,
        "unitCostMicroUSD": micro,
        "unitCostUSD": micro / 1e6,
        "unitLabel": "minute",
    }


class HubError(Exception):
    """Answer the request with this status, message and ``X-Error-Code``."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


# ── state ────────────────────────────────────────────────────────────────


@dataclass
class Repo:
    repo_id: str
    repo_type: str = "model"
    private: bool = False
    gated: str | bool = False
    info: dict[str, Any] = field(default_factory=dict)
    """Extra fields of the info and listing JSON: downloads, likes, tags, pipeline_tag, ..."""
    viewer: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    """Dataset viewer rows: ``{config: {split: [row, ...]}}``."""
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    discussions: list[dict[str, Any]] = field(default_factory=list)
    granted: set[str] = field(default_factory=set)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def commit(self, files: dict[str, bytes], branch: str = "main") -> str:
        sha = new_id(40)
        self.commits[sha] = files
        self.branches[branch] = sha
        return sha

    def resolve(self, revision: str) -> str:
        sha = self.branches.get(revision) or self.tags.get(revision)
        if sha is None and revision in self.commits:
            sha = revision
        if sha is None:
            raise HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return sha

    def files(self, revision: str = "main") -> dict[str, bytes]:
        return self.commits[self.resolve(revision)]

    @property
    def page(self) -> str:
        return f"{URL_PREFIX[self.repo_type]}{self.repo_id}"


@dataclass
class Job:
    id: str
    namespace: str
    spec: dict[str, Any]
    outcome: str
    logs: list[str]
    started: float = field(default_factory=time.monotonic)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    canceled: bool = False


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Failure:
    pattern: re.Pattern[str]
    status: int
    headers: dict[str, str]
    message: str
    times: int
    method: str | None


Handler = Callable[..., Awaitable[web.StreamResponse]]


class HubStandIn(SpacesMixin):
    """The stand-in server; seed it with :meth:`add_repo`, break it with :meth:`fail`."""

    def __init__(self, job_stage_seconds: float = 0.2) -> None:
        self.job_stage_seconds = job_stage_seconds
        """How long a job stays queued, then running, before it ends."""
        self.job_outcome = "COMPLETED"
        """The final stage of jobs created from now on (``COMPLETED`` or ``ERROR``)."""
        self.job_logs = list(DEFAULT_LOGS)
        self.repos: dict[tuple[str, str], Repo] = {}
        self.jobs: dict[str, Job] = {}
        self.scheduled: dict[str, dict[str, Any]] = {}
        self.papers: list[dict[str, Any]] = []
        self.requests: list[Recorded] = []
        self.failures: list[Failure] = []
        self.stalls: list[tuple[re.Pattern[str], asyncio.Event]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._spaces_init()
        self._routes = self._route_table()

    # ── lifecycle and test API ───────────────────────────────────────────

    async def start(self, port: int = 0) -> None:
        """Serve on ``port`` (0: a free one); after :meth:`close`, start again on ``self.port``."""
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 2**20)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def close(self) -> None:
        await self.close_spaces()
        if self._runner is not None:
            await self._runner.cleanup()

    def api(self, token: str | None = TOKEN) -> HfApi:
        """A real ``HfApi`` client pointed at this stand-in."""
        return HfApi(endpoint=self.url, token=token)

    @property
    def viewer_url(self) -> str:
        return f"{self.url}/datasets-server"

    def add_repo(
        self,
        repo_id: str,
        *,
        repo_type: str = "model",
        files: dict[str, str | bytes] | None = None,
        private: bool = False,
        gated: str | bool = False,
        viewer: dict[str, dict[str, list[dict[str, Any]]]] | None = None,
        **info: Any,
    ) -> Repo:
        """A repo with one commit on main holding ``files``."""
        repo = Repo(repo_id, repo_type, private, gated, info, viewer or {})
        repo.commit({p: c.encode() if isinstance(c, str) else c for p, c in (files or {}).items()})
        self.repos[(repo_type, repo_id)] = repo
        return repo

    def repo(self, repo_id: str, repo_type: str = "model") -> Repo:
        return self.repos[(repo_type, repo_id)]

    def fail(
        self,
        path_regex: str,
        status: int | str,
        *,
        times: int = 1,
        method: str | None = None,
        headers: dict[str, str] | None = None,
        message: str | None = None,
    ) -> None:
        """Make the next ``times`` requests whose path matches ``path_regex`` fail.

        ``status`` is a code (401, 402, 403, 404, 429, ...) or a name from
        :data:`PRESETS` (``"gated"``, ``"entry_not_found"``, ``"revision_not_found"``).
        """
        code, preset_headers, preset_message = PRESETS.get(status, (status, {}, "Stand-in error"))
        self.failures.append(
            Failure(
                re.compile(path_regex),
                int(code),
                {**preset_headers, **(headers or {})},
                message or preset_message,
                times,
                method,
            )
        )

    def stall(self, path_regex: str) -> asyncio.Event:
        """Hold every request whose path matches until the returned event is set."""
        release = asyncio.Event()
        self.stalls.append((re.compile(path_regex), release))
        return release

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def calls(self, method: str, path_regex: str) -> list[Recorded]:
        """Recorded requests with this method whose path matches."""
        return [r for r in self.requests if r.method == method and re.search(path_regex, r.path)]

    # ── plumbing ─────────────────────────────────────────────────────────

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Recorded(request.method, request.path, dict(request.query), body))
        for pattern, release in self.stalls:
            if pattern.search(request.path):
                await release.wait()
        for failure in self.failures:
            if (
                failure.times > 0
                and failure.pattern.search(request.path)
                and failure.method in (None, request.method)
            ):
                failure.times -= 1
                return _error(failure.status, failure.message, failure.headers)
        try:
            return await handler(request)
        except HubError as exc:
            headers = {"X-Error-Code": exc.code} if exc.code else {}
            return _error(exc.status, exc.message, headers)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.raw_path.split("?", 1)[0]
        for methods, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if match and request.method in methods:
                params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                return await handler(request, **params)
        raise HubError(404, f"Stand-in has no route for {request.method} {path}")

    def _route_table(self) -> list[tuple[set[str], re.Pattern[str], Handler]]:
        repo = r"/api/(?P<kinds>models|datasets|spaces)/(?P<repo_id>[^/]+/[^/]+)"
        job = r"/api/jobs/(?P<namespace>[^/]+)/(?P<job_id>[^/]+)"
        scheduled = r"/api/scheduled-jobs/(?P<namespace>[^/]+)"
        table = [
            ("GET", r"/api/whoami-v2", self._whoami),
            ("POST", r"/api/repos/create", self._create_repo),
            ("GET", r"/api/(?P<kinds>models|datasets|spaces)", self._search),
            ("GET", r"/api/papers/search", self._papers),
            ("POST", r"/api/validate-yaml", self._validate_yaml),
            ("PUT", repo + r"/settings", self._settings),
            ("GET", repo + r"/refs", self._refs),
            ("POST DELETE", repo + r"/branch/(?P<name>[^/]+)", self._branch),
            ("POST", repo + r"/tag/(?P<revision>[^/]+)", self._create_tag),
            ("DELETE", repo + r"/tag/(?P<name>[^/]+)", self._delete_tag),
            ("GET", repo + r"/tree/(?P<revision>[^/]+)(?:/(?P<path>.*))?", self._tree),
            ("POST", repo + r"/paths-info/(?P<revision>[^/]+)", self._paths_info),
            ("POST", repo + r"/preupload/(?P<revision>[^/]+)", self._preupload),
            ("POST", repo + r"/commit/(?P<revision>[^/]+)", self._commit),
            ("GET POST", repo + r"/discussions", self._discussions),
            ("GET", repo + r"/discussions/(?P<num>\d+)", self._discussion),
            ("POST", repo + r"/discussions/(?P<num>\d+)/merge", self._merge),
            ("GET", repo + r"(?:/revision/(?P<revision>[^/]+))?", self._info),
            (
                "GET HEAD",
                r"/(?:(?P<kinds>datasets|spaces)/)?(?P<repo_id>[^/]+/[^/]+)"
                r"/resolve/(?P<revision>[^/]+)/(?P<path>.+)",
                self._resolve,
            ),
            ("GET", r"/api/jobs/hardware", self._hardware),
            ("GET POST", r"/api/jobs/(?P<namespace>[^/]+)", self._jobs),
            ("GET", job, self._job),
            ("GET", job + r"/logs", self._job_logs),
            ("POST", job + r"/cancel", self._cancel_job),
            ("GET POST", scheduled, self._scheduled_jobs),
            ("GET DELETE", scheduled + r"/(?P<job_id>[^/]+)", self._scheduled_job),
            (
                "POST",
                scheduled + r"/(?P<job_id>[^/]+)/(?P<action>suspend|resume)",
                self._scheduled_action,
            ),
            ("GET", r"/datasets-server/(?P<route>splits|first-rows)", self._viewer),
            *self._space_routes(),
        ]
        return [(set(m.split()), re.compile(p), h) for m, p, h in table]

    # ── auth and lookup ──────────────────────────────────────────────────

    def _user(self, request: web.Request, required: bool = False) -> str | None:
        auth = request.headers.get("Authorization", "")
        if not auth:
            if required:
                raise HubError(401, "Unauthorized")
            return None
        if auth != f"Bearer {TOKEN}":
            raise HubError(401, "Invalid credentials in Authorization header")
        return USER

    def _writable(self, request: web.Request, namespace: str) -> str:
        user = self._user(request, required=True)
        if namespace not in (user, ORG):
            raise HubError(403, f"You don't have the rights to write under '{namespace}'")
        return namespace

    def _repo(
        self, request: web.Request, kinds: str | None, repo_id: str, write: bool = False
    ) -> Repo:
        repo = self.repos.get((KINDS.get(kinds or "models", "model"), repo_id))
        user = self._user(request)
        if repo is None or (repo.private and user is None):
            raise HubError(404, "Repository not found", "RepoNotFound")
        if write:
            self._writable(request, repo_id.split("/")[0])
        return repo

    # ── account and repos ────────────────────────────────────────────────

    async def _whoami(self, request: web.Request) -> web.Response:
        user = self._user(request, required=True)
        return web.json_response(
            {
                "type": "user",
                "id": "u1",
                "name": user,
                "fullname": "Test User",
                "orgs": [{"type": "org", "name": ORG}],
                "auth": {"type": "access_token", "accessToken": {"role": "write"}},
            }
        )

    async def _create_repo(self, request: web.Request) -> web.Response:
        payload = await request.json()
        namespace = payload.get("organization") or self._user(request, required=True)
        self._writable(request, namespace)
        repo_type = payload.get("type") or "model"
        repo_id = f"{namespace}/{payload['name']}"
        if (repo_type, repo_id) in self.repos:  # the Hub's 409 names the repo's URL too
            message = f"You already created this {repo_type} repo"
            url = f"{self.url}/{self.repos[(repo_type, repo_id)].page}"
            return web.json_response({"error": message, "url": url}, status=409)
        private = payload.get("private", payload.get("visibility") == "private")
        repo = self.add_repo(repo_id, repo_type=repo_type, private=bool(private))
        if payload.get("sdk"):
            repo.info["sdk"] = payload["sdk"]
        if repo_type == "space":
            self._space_created(repo_id, payload)
        return web.json_response({"url": f"{self.url}/{repo.page}", "name": repo_id})

    async def _validate_yaml(self, request: web.Request) -> web.Response:
        return web.json_response({"errors": [], "warnings": []})

    async def _settings(self, request: web.Request, kinds: str, repo_id: str) -> web.Response:
        repo = self._repo(request, kinds, repo_id, write=True)
        payload = await request.json()
        if "private" in payload:
            repo.private = bool(payload["private"])
        if "visibility" in payload:
            repo.private = payload["visibility"] == "private"
        if "gated" in payload:
            repo.gated = payload["gated"]
        return web.json_response({})

    async def _info(
        self, request: web.Request, kinds: str, repo_id: str, revision: str = "main"
    ) -> web.Response:
        repo = self._repo(request, kinds, repo_id)
        sha = repo.resolve(revision)
        return web.json_response(
            {
                **self._summary(repo),
                **(await self._space_fields(repo_id) if kinds == "spaces" else {}),
                "sha": sha,
                "siblings": [{"rfilename": path} for path in sorted(repo.commits[sha])],
            }
        )

    def _summary(self, repo: Repo) -> dict[str, Any]:
        data = {
            "_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24],
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "private": repo.private,
            "gated": repo.gated,
            "disabled": False,
            "likes": 0,
            "tags": [],
            "createdAt": iso(repo.created_at),
            "lastModified": iso(repo.created_at),
            **repo.info,
        }
        if repo.repo_type != "space":
            data.setdefault("downloads", 0)
        return data

    async def _search(self, request: web.Request, kinds: str) -> web.Response:
        query = request.query
        user = self._user(request)
        repo_type = KINDS[kinds]
        found = [
            r
            for r in self.repos.values()
            if r.repo_type == repo_type and (user or not r.private) and _matches(r, query)
        ]
        sort = query.get("sort")
        if sort:
            found.sort(key=lambda r: self._summary(r).get(sort) or 0, reverse=True)
        limit = int(query.get("limit", 1000))
        return web.json_response([self._summary(r) for r in found[:limit]])

    async def _papers(self, request: web.Request) -> web.Response:
        words = request.query.get("q", "").lower()
        found = [p for p in self.papers if words in (p["title"] + p.get("summary", "")).lower()]
        limit = int(request.query.get("limit", 50))
        return web.json_response([{"paper": p, "title": p["title"]} for p in found[:limit]])

    # ── files ────────────────────────────────────────────────────────────

    async def _tree(
        self, request: web.Request, kinds: str, repo_id: str, revision: str, path: str = ""
    ) -> web.Response:
        repo = self._repo(request, kinds, repo_id)
        files = repo.files(revision)
        recursive = request.query.get("recursive", "").lower() == "true"
        prefix = f"{path.strip('/')}/" if path.strip("/") else ""
        entries: dict[str, dict[str, Any]] = {}
        for name, content in files.items():
            if not name.startswith(prefix):
                continue
            rest = name[len(prefix) :].split("/")
            for depth in range(1, len(rest)):
                folder = prefix + "/".join(rest[:depth])
                entries[folder] = {"type": "directory", "oid": "0" * 40, "path": folder}
                if not recursive:
                    break
            if recursive or len(rest) == 1:
                entries[name] = _file_entry(name, content)
        if prefix and not entries:
            raise HubError(404, f"{path} does not exist on {revision}", "EntryNotFound")
        return web.json_response([entries[key] for key in sorted(entries)])

    async def _paths_info(
        self, request: web.Request, kinds: str, repo_id: str, revision: str
    ) -> web.Response:
        repo = self._repo(request, kinds, repo_id)
        files = repo.files(revision)
        form = await request.post()
        result = []
        for path in form.getall("paths", []):
            if path in files:
                result.append(_file_entry(str(path), files[str(path)]))
            elif any(name.startswith(f"{path}/") for name in files):
                result.append({"type": "directory", "oid": "0" * 40, "path": path})
        return web.json_response(result)

    async def _resolve(
        self, request: web.Request, repo_id: str, revision: str, path: str, kinds: str = "models"
    ) -> web.Response:
        repo = self._repo(request, kinds, repo_id)
        if repo.gated and self._user(request) not in repo.granted:
            raise HubError(403, f"Access to {repo.repo_id} is restricted.", "GatedRepo")
        sha = repo.resolve(revision)
        content = repo.commits[sha].get(path)
        if content is None:
            raise HubError(404, f"{path} does not exist on {revision}", "EntryNotFound")
        headers = {
            "X-Repo-Commit": sha,
            "ETag": f'"{_git_oid(content)}"',
            "Content-Length": str(len(content)),
        }
        if request.method == "HEAD":
            return web.Response(headers=headers)
        return web.Response(body=content, headers=headers)

    async def _preupload(
        self, request: web.Request, kinds: str, repo_id: str, revision: str
    ) -> web.Response:
        self._repo(request, kinds, repo_id, write=True)
        payload = await request.json()
        files = [
            {"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
            for f in payload["files"]
        ]
        return web.json_response({"files": files})

    async def _commit(
        self, request: web.Request, kinds: str, repo_id: str, revision: str
    ) -> web.Response:
        repo = self._repo(request, kinds, repo_id, write=True)
        lines = [json.loads(line) for line in (await request.read()).splitlines() if line.strip()]
        header = next(line["value"] for line in lines if line["key"] == "header")
        pr_url = None
        if request.query.get("create_pr") == "1":
            pr = self._open_discussion(repo, header["summary"], "", pull_request=True)
            revision, pr_url = (
                f"refs/pr/{pr['num']}",
                f"{self.url}/{repo.page}/discussions/{pr['num']}",
            )
        if revision not in repo.branches:
            raise HubError(400, f"Invalid rev id: {revision} is not a branch")
        files = dict(repo.files(revision))
        for line in lines:
            value = line["value"]
            if line["key"] == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif line["key"] == "deletedFile":
                if files.pop(value["path"], None) is None:
                    raise HubError(404, "A file with this name doesn't exist", "EntryNotFound")
            elif line["key"] == "deletedFolder":
                files = {
                    k: v
                    for k, v in files.items()
                    if not k.startswith(value["path"].rstrip("/") + "/")
                }
            elif line["key"] != "header":
                raise HubError(400, f"The stand-in does not support {line['key']}")
        sha = repo.commit(files, revision)
        if repo.repo_type == "space" and revision == "main":
            await self._space_committed(repo_id, files)
        return web.json_response(
            {
                "commitUrl": f"{self.url}/{repo.page}/commit/{sha}",
                "commitOid": sha,
                "pullRequestUrl": pr_url,
            }
        )

    # ── refs ─────────────────────────────────────────────────────────────

    async def _refs(self, request: web.Request, kinds: str, repo_id: str) -> web.Response:
        repo = self._repo(request, kinds, repo_id)

        def refs(items: dict[str, str], prefix: str) -> list[dict[str, str]]:
            return [
                {"name": name, "ref": f"{prefix}{name}", "targetCommit": sha}
                for name, sha in sorted(items.items())
            ]

        branches = {k: v for k, v in repo.branches.items() if not k.startswith("refs/pr/")}
        prs = {k: v for k, v in repo.branches.items() if k.startswith("refs/pr/")}
        return web.json_response(
            {
                "branches": refs(branches, "refs/heads/"),
                "tags": refs(repo.tags, "refs/tags/"),
                "converts": [],
                "pullRequests": [
                    {"name": k, "ref": k, "targetCommit": v} for k, v in sorted(prs.items())
                ],
            }
        )

    async def _branch(
        self, request: web.Request, kinds: str, repo_id: str, name: str
    ) -> web.Response:
        repo = self._repo(request, kinds, repo_id, write=True)
        if request.method == "DELETE":
            if name not in repo.branches:
                raise HubError(404, f"Branch {name} not found", "RevisionNotFound")
            if name == "main":
                raise HubError(403, "You cannot delete the default branch")
            del repo.branches[name]
            return web.json_response({})
        if name in repo.branches:
            raise HubError(409, f"Branch {name} already exists")
        payload = await request.json() if request.can_read_body else {}
        repo.branches[name] = repo.resolve(payload.get("startingPoint") or "main")
        return web.json_response({})

    async def _create_tag(
        self, request: web.Request, kinds: str, repo_id: str, revision: str
    ) -> web.Response:
        repo = self._repo(request, kinds, repo_id, write=True)
        payload = await request.json()
        if payload["tag"] in repo.tags:
            raise HubError(409, f"Tag {payload['tag']} already exists")
        repo.tags[payload["tag"]] = repo.resolve(revision)
        return web.json_response({})

    async def _delete_tag(
        self, request: web.Request, kinds: str, repo_id: str, name: str
    ) -> web.Response:
        repo = self._repo(request, kinds, repo_id, write=True)
        if repo.tags.pop(name, None) is None:
            raise HubError(404, f"Tag {name} not found", "RevisionNotFound")
        return web.json_response({})

    # ── discussions ──────────────────────────────────────────────────────

    def _open_discussion(
        self, repo: Repo, title: str, description: str, pull_request: bool
    ) -> dict[str, Any]:
        discussion = {
            "num": len(repo.discussions) + 1,
            "title": title,
            "description": description,
            "status": "open",
            "isPullRequest": pull_request,
            "author": {"name": USER},
            "createdAt": iso(datetime.now(UTC)),
            "repo": {"name": repo.repo_id, "type": repo.repo_type},
        }
        repo.discussions.append(discussion)
        if pull_request:
            repo.branches[f"refs/pr/{discussion['num']}"] = repo.resolve("main")
        return discussion

    async def _discussions(self, request: web.Request, kinds: str, repo_id: str) -> web.Response:
        if request.method == "POST":
            repo = self._repo(request, kinds, repo_id, write=True)
            payload = await request.json()
            discussion = self._open_discussion(
                repo,
                payload["title"],
                payload.get("description", ""),
                bool(payload.get("pullRequest")),
            )
            return web.json_response({"num": discussion["num"]})
        repo = self._repo(request, kinds, repo_id)
        kind = request.query.get("type", "all")
        status = request.query.get("status", "all")
        found = [
            d
            for d in reversed(repo.discussions)
            if (kind == "all" or d["isPullRequest"] == (kind == "pull_request"))
            and status in ("all", d["status"])
        ]
        page = int(request.query.get("p", 0))
        return web.json_response(
            {
                "discussions": found[page * 50 : page * 50 + 50],
                "count": len(found),
                "start": page * 50,
            }
        )

    def _find_discussion(self, repo: Repo, num: str) -> dict[str, Any]:
        for discussion in repo.discussions:
            if discussion["num"] == int(num):
                return discussion
        raise HubError(404, f"Discussion {num} not found")

    async def _discussion(
        self, request: web.Request, kinds: str, repo_id: str, num: str
    ) -> web.Response:
        repo = self._repo(request, kinds, repo_id)
        discussion = self._find_discussion(repo, num)
        return web.json_response(
            {
                **discussion,
                "events": [],
                "changes": {"base": "refs/heads/main"},
                "filesWithConflicts": [],
            }
        )

    async def _merge(
        self, request: web.Request, kinds: str, repo_id: str, num: str
    ) -> web.Response:
        repo = self._repo(request, kinds, repo_id, write=True)
        discussion = self._find_discussion(repo, num)
        if not discussion["isPullRequest"] or discussion["status"] != "open":
            raise HubError(400, f"Discussion {num} is not an open pull request")
        repo.commit(dict(repo.files(f"refs/pr/{num}")), "main")
        discussion["status"] = "merged"
        return web.json_response({})

    # ── jobs ─────────────────────────────────────────────────────────────

    async def _hardware(self, request: web.Request) -> web.Response:
        """Three flavors with per-minute prices, as the Hub lists them (l4x1's is not the
        bot's list price, so a test can tell which one it got)."""
        return web.json_response([_flavor(*row) for row in HARDWARE])

    def _progress(self, job: Job) -> tuple[str, int]:
        """The job's stage and how many of its log lines exist by now."""
        elapsed = time.monotonic() - job.started
        if job.canceled:
            return "CANCELED", len(job.logs) // 2
        if elapsed >= 2 * self.job_stage_seconds:
            return job.outcome, len(job.logs)
        if elapsed >= self.job_stage_seconds:
            fraction = (elapsed - self.job_stage_seconds) / self.job_stage_seconds
            return "RUNNING", max(1, int(fraction * len(job.logs)))
        return "SCHEDULING", 0

    def _job_json(self, job: Job) -> dict[str, Any]:
        stage, _ = self._progress(job)
        spec = job.spec
        return {
            "id": job.id,
            "createdAt": iso(job.created_at),
            "dockerImage": spec.get("dockerImage"),
            "spaceId": spec.get("spaceId"),
            "command": spec.get("command"),
            "arguments": spec.get("arguments", []),
            "environment": spec.get("environment", {}),
            "secrets": {name: None for name in spec.get("secrets") or {}},
            "flavor": spec.get("flavor", "cpu-basic"),
            "labels": spec.get("labels"),
            "status": {
                "stage": stage,
                "message": "Job failed with exit code 1" if stage == "ERROR" else None,
            },
            "owner": {"id": "u1", "name": job.namespace, "type": "user"},
        }

    def _find_job(self, request: web.Request, namespace: str, job_id: str) -> Job:
        self._writable(request, namespace)
        job = self.jobs.get(job_id)
        if job is None or job.namespace != namespace:
            raise HubError(404, f"Job {job_id} not found")
        return job

    async def _jobs(self, request: web.Request, namespace: str) -> web.Response:
        self._writable(request, namespace)
        if request.method == "POST":
            job = Job(
                new_id(), namespace, await request.json(), self.job_outcome, list(self.job_logs)
            )
            self.jobs[job.id] = job
            return web.json_response(self._job_json(job))
        stages = request.query.getall("stage", [])
        listed = [
            self._job_json(j) for j in reversed(self.jobs.values()) if j.namespace == namespace
        ]
        return web.json_response(
            [j for j in listed if not stages or j["status"]["stage"] in stages]
        )

    async def _job(self, request: web.Request, namespace: str, job_id: str) -> web.Response:
        return web.json_response(self._job_json(self._find_job(request, namespace, job_id)))

    async def _job_logs(self, request: web.Request, namespace: str, job_id: str) -> web.Response:
        job = self._find_job(request, namespace, job_id)
        _, shown = self._progress(job)
        lines = ["===== Job started =====", *job.logs[:shown]]
        if "tail" in request.query:
            lines = lines[-int(request.query["tail"]) :]
        now = datetime.now(UTC) - timedelta(seconds=1)
        events = "".join(
            f"data: {json.dumps({'timestamp': iso(now), 'data': line})}\n\n" for line in lines
        )
        return web.Response(text=events, content_type="text/event-stream")

    async def _cancel_job(self, request: web.Request, namespace: str, job_id: str) -> web.Response:
        self._find_job(request, namespace, job_id).canceled = True
        return web.json_response({})

    # ── scheduled jobs ───────────────────────────────────────────────────

    async def _scheduled_jobs(self, request: web.Request, namespace: str) -> web.Response:
        self._writable(request, namespace)
        if request.method == "GET":
            return web.json_response(
                [s for s in self.scheduled.values() if s["owner"]["name"] == namespace]
            )
        payload = await request.json()
        scheduled = {
            "id": new_id(),
            "createdAt": iso(datetime.now(UTC)),
            "schedule": payload["schedule"],
            "suspend": bool(payload.get("suspend", False)),
            "concurrency": bool(payload.get("concurrency", False)),
            "jobSpec": payload["jobSpec"],
            "status": {
                "lastJob": None,
                "nextJobRunAt": iso(datetime.now(UTC) + timedelta(hours=1)),
            },
            "owner": {"id": "u1", "name": namespace, "type": "user"},
        }
        self.scheduled[scheduled["id"]] = scheduled
        return web.json_response(scheduled)

    def _find_scheduled(self, request: web.Request, namespace: str, job_id: str) -> dict[str, Any]:
        self._writable(request, namespace)
        scheduled = self.scheduled.get(job_id)
        if scheduled is None or scheduled["owner"]["name"] != namespace:
            raise HubError(404, f"Scheduled job {job_id} not found")
        return scheduled

    async def _scheduled_job(
        self, request: web.Request, namespace: str, job_id: str
    ) -> web.Response:
        scheduled = self._find_scheduled(request, namespace, job_id)
        if request.method == "DELETE":
            del self.scheduled[job_id]
            return web.json_response({})
        return web.json_response(scheduled)

    async def _scheduled_action(
        self, request: web.Request, namespace: str, job_id: str, action: str
    ) -> web.Response:
        self._find_scheduled(request, namespace, job_id)["suspend"] = action == "suspend"
        return web.json_response({})

    # ── dataset viewer ───────────────────────────────────────────────────

    async def _viewer(self, request: web.Request, route: str) -> web.Response:
        repo = self.repos.get(("dataset", request.query.get("dataset", "")))
        if repo is None or not repo.viewer:
            raise HubError(
                404, "The dataset does not exist, or is not accessible", "DatasetNotFound"
            )
        if route == "splits":
            splits = [
                {"dataset": repo.repo_id, "config": config, "split": split}
                for config, by_split in repo.viewer.items()
                for split in by_split
            ]
            return web.json_response({"splits": splits, "pending": [], "failed": []})
        rows = repo.viewer.get(request.query["config"], {}).get(request.query["split"])
        if rows is None:
            raise HubError(404, "Not found", "SplitNotFound")
        features = [
            {"feature_idx": i, "name": name, "type": {"dtype": _dtype(value), "_type": "Value"}}
            for i, (name, value) in enumerate(rows[0].items() if rows else [])
        ]
        return web.json_response(
            {
                "features": features,
                "rows": [
                    {"row_idx": i, "row": row, "truncated_cells": []} for i, row in enumerate(rows)
                ],
            }
        )


def _error(status: int, message: str, headers: dict[str, str]) -> web.Response:
    return web.json_response(
        {"error": message}, status=status, headers={"X-Error-Message": message, **headers}
    )


def _git_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _file_entry(path: str, content: bytes) -> dict[str, Any]:
    return {"type": "file", "oid": _git_oid(content), "size": len(content), "path": path}


def _dtype(value: Any) -> str:
    return {bool: "bool", int: "int64", float: "float64", str: "string"}.get(type(value), "json")


def _matches(repo: Repo, query: Any) -> bool:
    """Whether a repo passes a listing's search, author, filter and pipeline_tag parameters."""
    tags = set(repo.info.get("tags", []))
    for key in ("library_name", "pipeline_tag", "sdk"):
        if repo.info.get(key):
            tags.add(str(repo.info[key]))
    checks = [
        query.get("search", "").lower() in repo.repo_id.lower(),
        repo.repo_id.startswith(f"{query['author']}/") if "author" in query else True,
        all(f in tags for f in query.getall("filter", [])),
        query.get("pipeline_tag", repo.info.get("pipeline_tag")) == repo.info.get("pipeline_tag"),
    ]
    return all(checks)


@pytest.fixture
async def hub() -> AsyncIterator[HubStandIn]:
    """A started Hub stand-in; ``hub.url`` is its base URL."""
    stand_in = HubStandIn()
    await stand_in.start()
    try:
        yield stand_in
    finally:
        await closed("the Hub stand-in", stand_in.close())

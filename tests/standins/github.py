"""A loopback GitHub REST API: repos, git trees, contents (raw or JSON), repo lists, code
search (with a token only, as GitHub's), and its rate limit.

``repos`` maps ``owner/name`` to ``{path: text}``; ``rate_limit()`` makes every later
request answer GitHub's 403 with ``x-ratelimit-remaining: 0``. The fault switches are
:class:`tests.standins.web.Site`'s.
"""

from __future__ import annotations

import base64
import json
import time

from aiohttp import web

from tests.standins.web import Site

NOTEBOOK = json.dumps(
    {
        "cells": [
            {"cell_type": "markdown", "source": ["# DPO in a notebook\n", "Run it on a T4."]},
            {"cell_type": "code", "source": ["from trl import DPOTrainer\n", "print('ok')"]},
        ],
        "metadata": {},
        "nbformat": 4,
    }
)

TRL_FILES = {
    "README.md": "# TRL\n",
    "trl/trainer/dpo_trainer.py": "class DPOTrainer:\n    pass\n",
    "examples/scripts/dpo.py": "\n".join(f"# dpo line {n}" for n in range(1, 501)),
    "examples/scripts/sft.py": "from trl import SFTTrainer\n",
    "examples/notebooks/dpo_notebook.ipynb": NOTEBOOK,
    "tests/test_dpo_trainer.py": "def test_dpo():\n    pass\n",
    "docs/source/dpo_trainer.md": "# DPO Trainer\n",
}


class GitHubStandIn(Site):
    def __init__(self) -> None:
        super().__init__()
        self.repos: dict[str, dict[str, str]] = {"huggingface/trl": dict(TRL_FILES)}
        self.owners = {
            "huggingface": [
                {"name": "trl", "description": "Train transformer LMs with RL", "stars": 12000},
                {"name": "peft", "description": "Parameter-efficient fine-tuning", "stars": 19000},
            ]
        }
        self.limited = False

    def rate_limit(self) -> None:
        self.limited = True

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/repos/{owner}/{name}", self._repo)
        app.router.add_get("/repos/{owner}/{name}/git/trees/{ref}", self._tree)
        app.router.add_get("/repos/{owner}/{name}/contents/{path:.*}", self._contents)
        app.router.add_get("/users/{owner}/repos", self._list)
        app.router.add_get("/search/code", self._search)

    @web.middleware
    async def _middleware(self, request: web.Request, handler):  # type: ignore[override]
        if self.limited:
            self.requests.append(request)
            reset = str(int(time.time()) + 600)
            return web.json_response(
                {"message": "API rate limit exceeded for 127.0.0.1."},
                status=403,
                headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
            )
        return await super()._middleware(request, handler)

    def _files(self, request: web.Request) -> dict[str, str]:
        files = self.repos.get(f"{request.match_info['owner']}/{request.match_info['name']}")
        if files is None:
            raise web.HTTPNotFound(text=json.dumps({"message": "Not Found"}))
        return files

    async def _repo(self, request: web.Request) -> web.Response:
        self._files(request)
        full = f"{request.match_info['owner']}/{request.match_info['name']}"
        return web.json_response({"full_name": full, "default_branch": "main"})

    async def _tree(self, request: web.Request) -> web.Response:
        files = self._files(request)
        entries, folders = [], set()
        for path, text in files.items():
            entries.append({"path": path, "type": "blob", "size": len(text)})
            parts = path.split("/")[:-1]
            folders.update("/".join(parts[: n + 1]) for n in range(len(parts)))
        entries += [{"path": f, "type": "tree"} for f in sorted(folders)]
        return web.json_response({"sha": "abc", "tree": entries, "truncated": False})

    async def _contents(self, request: web.Request) -> web.Response:
        files = self._files(request)
        path = request.match_info["path"].strip("/")
        if path not in files:
            inside = [p for p in files if p.startswith(path + "/")]
            if not inside:
                return web.json_response({"message": "Not Found"}, status=404)
            names = sorted({path + "/" + p[len(path) + 1 :].split("/")[0] for p in inside})
            return web.json_response(
                [{"path": n, "type": "file" if n in files else "dir"} for n in names]
            )
        text = files[path]
        if "raw" in request.headers.get("Accept", ""):
            return web.Response(text=text)
        encoded = base64.b64encode(text.encode()).decode()
        return web.json_response({"path": path, "encoding": "base64", "content": encoded})

    async def _list(self, request: web.Request) -> web.Response:
        owner = request.match_info["owner"]
        if owner not in self.owners:
            return web.json_response({"message": "Not Found"}, status=404)
        return web.json_response(
            [
                {
                    "full_name": f"{owner}/{r['name']}",
                    "name": r["name"],
                    "description": r["description"],
                    "stargazers_count": r["stars"],
                    "language": "Python",
                }
                for r in self.owners[owner]
            ]
        )

    async def _search(self, request: web.Request) -> web.Response:
        if not request.headers.get("Authorization"):
            return web.json_response({"message": "Requires authentication"}, status=401)
        query = request.query.get("q", "")
        words, repo = query.split(" repo:")[0].lower().split(), query.split("repo:")[-1]
        files = self.repos.get(repo, {})
        items = [
            {"path": p, "name": p.split("/")[-1], "repository": {"full_name": repo}}
            for p, text in files.items()
            if any(w in text.lower() for w in words)
        ]
        return web.json_response({"total_count": len(items), "items": items})

"""A loopback stand-in for what the research tools read, in the real services' shapes.

One server plays three:

- the Hub (``HF_ENDPOINT`` = ``url``): docs sites (``/docs/<library>``: an HTML page
  whose sidebar links every page, beside links to other versions and languages, ``/docs/<library>/<page>.md``: the page as Markdown),
  the OpenAPI spec (``/.well-known/openapi.json``), the papers API
  (``/api/papers/search``, ``/api/daily_papers``, ``/api/papers/<id>``) and repo
  listings filtered by ``arxiv:<id>`` (``/api/models|datasets|spaces``);
- arXiv (``ARXIV_URL`` = ``arxiv_url``): a paper's LaTeXML HTML at ``/html/<id>``;
- the dataset viewer (``DATASETS_SERVER_URL`` = ``viewer_url``): ``/is-valid``,
  ``/splits``, ``/info``, ``/first-rows``, ``/parquet``, ``/size``.

Switches: ``fail(path_regex, status, times)`` (404, 429 with ``Retry-After: 0``, 5xx),
``stall(path_regex)`` (held until the returned event is set: a timeout),
``oversize(path_regex, size)`` (a body of ``size`` bytes). ``requests`` records paths.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from agent.config import ResearchConfig

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LONG_PAGE = "\n".join(f"Line {n}: the trainer's arguments, one by one." for n in range(1, 1201))
DOCS: dict[str, dict[str, str]] = {
    "trl": {
        "index": "# TRL - Transformer Reinforcement Learning\n\nTrain models with SFT, DPO, GRPO.",
        "sft_trainer": (
            "# SFT Trainer\n\nSupervised fine-tuning with `SFTTrainer` and `SFTConfig`.\n\n"
            "## Dataset formats\n\nLanguage modeling ('text') and conversational ('messages')."
        ),
        "dpo_trainer": (
            "# DPO Trainer\n\nDirect Preference Optimization trains on preference pairs: "
            "`DPOTrainer` expects prompt, chosen and rejected columns.\n\n"
            "```python\nfrom trl import DPOConfig, DPOTrainer\n```"
        ),
        "grpo_trainer": (
            "# GRPO Trainer\n\nGroup Relative Policy Optimization uses reward functions "
            "on prompt-only datasets."
        ),
        "dataset_formats": (
            "# Dataset formats and types\n\nPreference datasets hold chosen and rejected "
            "completions; prompt-completion datasets hold a prompt and a completion."
        ),
        "reference/trainer_args": "# Trainer arguments\n\n" + LONG_PAGE,
    },
    "peft": {
        "index": "# PEFT\n\nParameter-efficient fine-tuning.",
        "lora": "# LoRA\n\nLow-rank adapters: `LoraConfig(r=16, lora_alpha=32)`.",
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Hub API", "version": "1"},
    "paths": {
        "/api/models": {
            "get": {
                "summary": "List models",
                "tags": ["models"],
                "parameters": [
                    {"$ref": "#/components/parameters/Search"},
                    {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                ],
            }
        },
        "/api/{repo_type}s/{repo_id}/commits/{revision}": {
            "get": {
                "summary": "List the commits of a repo",
                "description": "Commits of a revision, newest first.",
                "parameters": [
                    {
                        "name": "repo_type",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "repo_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "revision",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    },
                ],
            }
        },
        "/api/repos/create": {
            "post": {
                "summary": "Create a repo",
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/NewRepo"}}
                    }
                },
            }
        },
    },
    "components": {
        "parameters": {
            "Search": {
                "name": "search",
                "in": "query",
                "required": True,
                "description": "Words in the model id.",
                "schema": {"type": "string"},
            }
        },
        "schemas": {
            "NewRepo": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "private": {"type": "boolean"}},
            }
        },
    },
}

DPO_PAPER = {
    "id": "2305.18290",
    "title": "Direct Preference Optimization: Your Language Model is Secretly a Reward Model",
    "summary": "We introduce DPO, a stable and lightweight way to fine-tune on preferences.",
    "authors": [{"name": "Rafael Rafailov"}, {"name": "Archit Sharma"}],
    "publishedAt": "2023-05-29T00:00:00.000Z",
    "upvotes": 60,
    "githubRepo": "https://github.com/eric-mitchell/direct-preference-optimization",
}
GRPO_PAPER = {
    "id": "2402.03300",
    "title": "DeepSeekMath: Pushing the Limits of Mathematical Reasoning",
    "summary": "Introduces Group Relative Policy Optimization (GRPO).",
    "authors": [{"name": "Zhihong Shao"}],
    "publishedAt": "2024-02-05T00:00:00.000Z",
    "upvotes": 120,
}
PAPERS = {p["id"]: p for p in (DPO_PAPER, GRPO_PAPER)}
LINKED = {
    "models": [{"id": "HuggingFaceH4/zephyr-7b-beta"}],
    "datasets": [{"id": "trl-lib/ultrafeedback_binarized"}],
    "spaces": [],
}

PAPER_HTML = """<!DOCTYPE html><html><head><title>Direct Preference Optimization</title>
<style>.ltx_title {color: red}</style><script>var x = 1;</script></head><body>
<nav class="ltx_page_navbar">Contents Introduction Method</nav>
<article class="ltx_document">
<h1 class="ltx_title ltx_title_document">Direct Preference Optimization</h1>
<div class="ltx_abstract"><h6 class="ltx_title ltx_title_abstract">Abstract</h6>
<p class="ltx_p">We introduce DPO, a stable way to fine-tune on preferences.</p></div>
<section id="S1" class="ltx_section"><h2 class="ltx_title ltx_title_section">
<span class="ltx_tag ltx_tag_section">1 </span>Introduction</h2>
<div class="ltx_para"><p class="ltx_p">Language models learn from human feedback.</p></div>
</section>
<section id="S2" class="ltx_section"><h2 class="ltx_title ltx_title_section">
<span class="ltx_tag ltx_tag_section">2 </span>Method</h2>
<div class="ltx_para"><p class="ltx_p">The loss is
<math alttext="\\log\\sigma(\\beta r)" class="ltx_Math"><mi>junk</mi></math> on pairs.</p></div>
<section id="S2.SS1" class="ltx_subsection"><h3 class="ltx_title ltx_title_subsection">
<span class="ltx_tag ltx_tag_subsection">2.1 </span>Deriving the objective</h3>
<p class="ltx_p">A closed form of the optimal policy.</p></section>
</section>
<section id="S3" class="ltx_section"><h2 class="ltx_title ltx_title_section">
<span class="ltx_tag ltx_tag_section">3 </span>Experiments</h2>
<p class="ltx_p">Sentiment, summarization and dialogue.</p></section>
</article></body></html>"""

MESSAGES = {
    "_type": "List",
    "feature": {
        "role": {"dtype": "string", "_type": "Value"},
        "content": {"dtype": "string", "_type": "Value"},
    },
}
STRING = {"dtype": "string", "_type": "Value"}
DATASETS: dict[str, dict[str, Any]] = {
    "org/prefs": {
        "features": {"prompt": STRING, "chosen": STRING, "rejected": STRING},
        "splits": {"train": 1200, "test": 100},
        "rows": [{"prompt": "Say hi", "chosen": "Hi!", "rejected": "x" * 2000}],
    },
    "org/chat": {
        "features": {"messages": MESSAGES, "source": STRING},
        "splits": {"train": 50},
        "rows": [
            {
                "messages": [
                    {"role": "user", "content": "What is 2+2?"},
                    {"role": "assistant", "content": "4"},
                ],
                "source": "math",
            }
        ],
    },
}


@dataclass
class Failure:
    pattern: re.Pattern[str]
    status: int
    times: int


class ResearchStandIn:
    """The Hub's docs, OpenAPI spec and papers, arXiv HTML and the dataset viewer."""

    def __init__(self) -> None:
        self.docs = {library: dict(pages) for library, pages in DOCS.items()}
        self.datasets = dict(DATASETS)
        self.invalid: set[str] = set()
        self.requests: list[str] = []
        self.failures: list[Failure] = []
        self.stalls: list[tuple[re.Pattern[str], asyncio.Event]] = []
        self.oversized: list[tuple[re.Pattern[str], int]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/docs/{library}", self._docs_index)
        app.router.add_get("/docs/{library}/{page:.+}.md", self._docs_page)
        app.router.add_get("/.well-known/openapi.json", self._openapi)
        app.router.add_get("/api/papers/search", self._paper_search)
        app.router.add_get("/api/daily_papers", self._daily_papers)
        app.router.add_get("/api/papers/{paper_id}", self._paper)
        app.router.add_get("/api/{kind:models|datasets|spaces}", self._linked)
        app.router.add_get("/arxiv/html/{paper_id}", self._paper_html)
        app.router.add_get("/ds/{route}", self._viewer)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def close(self) -> None:
        for _, release in self.stalls:
            release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def arxiv_url(self) -> str:
        return f"{self.url}/arxiv"

    @property
    def viewer_url(self) -> str:
        return f"{self.url}/ds"

    def config(self, tmp_path: Path, **overrides: Any) -> ResearchConfig:
        """The research tools pointed here, with short timeouts for tests."""
        values: dict[str, Any] = {
            "hub_url": self.url,
            "datasets_server_url": self.viewer_url,
            "arxiv_url": self.arxiv_url,
            "docs_index": tmp_path / "hf_docs.sqlite",
            "timeout": 2.0,
            "retries": 2,
        }
        return ResearchConfig(**values | overrides)

    def fail(self, path_regex: str, status: int, *, times: int = 1) -> None:
        """The next ``times`` requests whose path matches answer ``status``."""
        self.failures.append(Failure(re.compile(path_regex), status, times))

    def stall(self, path_regex: str) -> asyncio.Event:
        """Hold matching requests until the returned event is set."""
        release = asyncio.Event()
        self.stalls.append((re.compile(path_regex), release))
        return release

    def oversize(self, path_regex: str, size: int) -> None:
        """Matching requests answer ``size`` bytes of JSON-ish filler."""
        self.oversized.append((re.compile(path_regex), size))

    def count(self, path_regex: str) -> int:
        return sum(1 for path in self.requests if re.search(path_regex, path))

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append(request.path)
        for pattern, release in self.stalls:
            if pattern.search(request.path):
                await release.wait()
        for failure in self.failures:
            if failure.times > 0 and failure.pattern.search(request.path):
                failure.times -= 1
                headers = {"Retry-After": "0"} if failure.status == 429 else {}
                return web.json_response(
                    {"error": f"stand-in {failure.status}"}, status=failure.status, headers=headers
                )
        for pattern, size in self.oversized:
            if pattern.search(request.path):
                return web.Response(body=b"x" * size, content_type="application/json")
        return await handler(request)

    # ── the Hub ──────────────────────────────────────────────────────────

    async def _docs_index(self, request: web.Request) -> web.Response:
        library = request.match_info["library"]
        pages = self.docs.get(library)
        if pages is None:
            raise web.HTTPNotFound(text="no such docs")
        links = "".join(f'<li><a href="/docs/{library}/{page}">{page}</a></li>' for page in pages)
        html = (
            f"<html><body><nav class='sidebar'><ul>{links}</ul></nav>"
            f"<a href='/docs/{library}/index#top'>top</a><a href='/docs/other/x'>x</a>"
            f'<a href="/docs/{library}/v0.9.0/en/index">v0.9</a>'
            f'<a href="/docs/{library}/main/en/index">main</a>'
            f'<a href="/docs/{library}/zh/index">中文</a></body></html>'
        )
        return web.Response(text=html, content_type="text/html")

    async def _docs_page(self, request: web.Request) -> web.Response:
        library, page = request.match_info["library"], request.match_info["page"]
        text = self.docs.get(library, {}).get(page)
        if text is None:
            raise web.HTTPNotFound(text="no such page")
        return web.Response(text=text, content_type="text/markdown")

    async def _openapi(self, request: web.Request) -> web.Response:
        return web.json_response(OPENAPI)

    async def _paper_search(self, request: web.Request) -> web.Response:
        words = request.query.get("q", "").lower().split()
        found = [
            {"paper": paper, "title": paper["title"]}
            for paper in PAPERS.values()
            if any(w in f"{paper['title']} {paper['summary']}".lower() for w in words)
        ]
        return web.json_response(found)

    async def _daily_papers(self, request: web.Request) -> web.Response:
        return web.json_response([{"paper": paper} for paper in PAPERS.values()])

    async def _paper(self, request: web.Request) -> web.Response:
        paper = PAPERS.get(request.match_info["paper_id"])
        if paper is None:
            raise web.HTTPNotFound(text='{"error": "Paper not found"}')
        return web.json_response(paper)

    async def _linked(self, request: web.Request) -> web.Response:
        if request.query.get("filter") != f"arxiv:{DPO_PAPER['id']}":
            return web.json_response([])
        return web.json_response(LINKED[request.match_info["kind"]])

    # ── arXiv ────────────────────────────────────────────────────────────

    async def _paper_html(self, request: web.Request) -> web.Response:
        if request.match_info["paper_id"].split("v")[0] != DPO_PAPER["id"]:
            raise web.HTTPNotFound(text="No HTML for this paper")
        return web.Response(text=PAPER_HTML, content_type="text/html")

    # ── the dataset viewer ───────────────────────────────────────────────

    async def _viewer(self, request: web.Request) -> web.Response:
        route, name = request.match_info["route"], request.query.get("dataset", "")
        data = self.datasets.get(name)
        if data is None:
            return web.json_response({"error": "The dataset does not exist."}, status=404)
        config = "default"
        if route == "is-valid":
            valid = name not in self.invalid
            return web.json_response(
                {"viewer": valid, "preview": valid, "search": valid, "filter": valid}
            )
        if route == "splits":
            splits = [{"dataset": name, "config": config, "split": s} for s in data["splits"]]
            return web.json_response({"splits": splits, "pending": [], "failed": []})
        if route == "size":
            splits = [
                {
                    "dataset": name,
                    "config": config,
                    "split": split,
                    "num_rows": rows,
                    "num_bytes_parquet_files": rows * 100,
                    "num_bytes_memory": rows * 300,
                    "num_columns": len(data["features"]),
                }
                for split, rows in data["splits"].items()
            ]
            return web.json_response({"size": {"splits": splits}, "partial": False})
        if route == "info":
            return web.json_response({"dataset_info": {"features": data["features"]}})
        if route == "first-rows":
            return web.json_response(
                {
                    "features": [
                        {"feature_idx": i, "name": k, "type": v}
                        for i, (k, v) in enumerate(data["features"].items())
                    ],
                    "rows": [
                        {"row_idx": i, "row": row, "truncated_cells": []}
                        for i, row in enumerate(data["rows"])
                    ],
                }
            )
        if route == "parquet":
            files = [
                {
                    "dataset": name,
                    "config": config,
                    "split": split,
                    "url": f"{self.url}/datasets/{name}/resolve/refs%2Fconvert%2Fparquet/"
                    f"{config}/{split}/0000.parquet",
                    "filename": "0000.parquet",
                    "size": rows * 100,
                }
                for split, rows in data["splits"].items()
            ]
            return web.json_response({"parquet_files": files})
        return web.json_response({"error": f"no route {route}"}, status=404)


@pytest.fixture
async def research() -> AsyncIterator[ResearchStandIn]:
    """A started research stand-in (docs, OpenAPI, papers, arXiv HTML, dataset viewer)."""
    stand_in = ResearchStandIn()
    await stand_in.start()
    try:
        yield stand_in
    finally:
        await stand_in.close()

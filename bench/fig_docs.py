"""Figure 10 — docs search: building a library's index, then searching it warm.

The research stand-in (``tests/standins/research.py``) serves one docs site of
``pages`` generated Markdown pages (about 6 KB each, a seeded mix of ML words) on
loopback. *Build*: the first ``explore_hf_docs`` call on an empty index, which
fetches the sidebar and every page and writes the SQLite FTS5 index (median over
``repeats`` fresh indexes). *Warm search*: ``queries`` further calls through the
tool registry, each a 1-3 word query, timed whole (the tool's answer included).
Standalone: ``python -m bench.fig_docs``.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path

from agent.session import Session
from agent.tools import build_research_tools
from agent.tools.registry import ToolContext, ToolRegistry
from bench.figure import Figure, below, step
from bench.stats import ms, summary
from tests.standins.research import ResearchStandIn

LIBRARY = "bench"
WORDS = [
    "trainer",
    "model",
    "dataset",
    "tokenizer",
    "lora",
    "adapter",
    "quantization",
    "gradient",
    "checkpointing",
    "learning",
    "rate",
    "scheduler",
    "warmup",
    "batch",
    "size",
    "epoch",
    "loss",
    "reward",
    "policy",
    "preference",
    "chosen",
    "rejected",
    "prompt",
    "completion",
    "messages",
    "chat",
    "template",
    "generation",
    "sampling",
    "temperature",
    "deepspeed",
    "fsdp",
    "accelerate",
    "mixed",
    "precision",
    "bf16",
    "fp16",
    "evaluation",
    "metric",
    "accuracy",
    "perplexity",
    "push",
    "hub",
    "checkpoint",
    "resume",
    "logging",
    "wandb",
    "callback",
    "collator",
    "padding",
    "truncation",
    "sequence",
    "length",
    "packing",
    "flash",
    "attention",
    "peft",
    "config",
    "optimizer",
    "adamw",
]
SEARCH_TARGET_MS = 50.0


def site(pages: int, seed: int = 7) -> dict[str, str]:
    """``pages`` Markdown pages of about 6 KB, a title and sections of random ML words."""
    rng = random.Random(seed)
    docs = {}
    for n in range(pages):
        title = " ".join(rng.sample(WORDS, 3)).title()
        sections = [
            f"## {' '.join(rng.sample(WORDS, 2)).title()}\n\n"
            + " ".join(rng.choice(WORDS) for _ in range(190))
            for _ in range(4)
        ]
        docs[f"page_{n:04d}"] = f"# {title}\n\n" + "\n\n".join(sections)
    return docs


async def run(pages: int = 400, queries: int = 300, repeats: int = 3) -> Figure:
    fig = Figure(
        "docs_search",
        "Docs search: index build (sidebar + pages fetched, FTS5 written) and warm search p50",
        {"pages": pages, "queries": queries, "build_repeats": repeats},
    )
    stand_in = ResearchStandIn()
    stand_in.docs = {LIBRARY: site(pages)}
    await stand_in.start()
    ctx = ToolContext(session=Session(key="bench:docs"))
    rng = random.Random(11)
    try:
        with tempfile.TemporaryDirectory() as data:
            builds: list[float] = []
            registry = ToolRegistry()
            for n in range(repeats):
                step(f"index build {n + 1}/{repeats}: {pages} pages")
                config = stand_in.config(Path(data) / str(n), timeout=30.0)
                registry = ToolRegistry(build_research_tools(config))
                start = time.perf_counter()
                first = await registry.call(
                    "explore_hf_docs", {"library": LIBRARY, "query": "lora"}, ctx
                )
                builds.append(time.perf_counter() - start)
                if not first.success:
                    fig.status = "partial"
                    fig.notes.append(f"build failed: {first.output}")
                    return fig
            index_bytes = (Path(data) / "0" / "hf_docs.sqlite").stat().st_size
            step(f"{queries} warm searches")
            searches = []
            for _ in range(queries):
                query = " ".join(rng.sample(WORDS, rng.randint(1, 3)))
                start = time.perf_counter()
                result = await registry.call(
                    "explore_hf_docs", {"library": LIBRARY, "query": query}, ctx
                )
                searches.append(ms(time.perf_counter() - start))
                assert result.success, result.output
    finally:
        await stand_in.close()
    build_s = round(statistics.median(builds), 2)
    search = summary(searches, 2)
    fig.results = {
        "build_s": [round(b, 2) for b in builds],
        "build_median_s": build_s,
        "index_mb": round(index_bytes / 1e6, 1),
        "search_ms": search,
    }
    fig.target(
        f"warm search p50 ({pages} pages)",
        f"< {SEARCH_TARGET_MS:g} ms",
        search["p50"],
        below(search["p50"], SEARCH_TARGET_MS),
    )
    fig.target(f"index build ({pages} pages, median s)", "reported", build_s, None)
    return fig


if __name__ == "__main__":
    figure = asyncio.run(run())
    print(figure.results)
    for target in figure.targets:
        print(target)

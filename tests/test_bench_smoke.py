"""The benchmark code works: tiny runs of the in-process figures, the Discord-limited
renderer, the Slack stand-in's rate limits, the bench's switch for the bot's Slack budget
and the report. Structure and sanity only,
never timings (the child-process figures run in `python -m bench --scale smoke`)."""

import json

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.surface import slack_surfaces
from bench import fig_chunk, fig_docs, fig_overhead, fig_research, fig_threads
from bench.chunk_bot import STAGES
from bench.discord_surface import EDITS_PER_WINDOW, DiscordChannel, SlidingWindow, discord_stream
from bench.report import write
from bench.rig import bot_env, bot_settings, last_marker, words
from bench.stats import percentile, summary
from bot.session_key import SessionKey
from tests.standins.slack import TEAM, RateLimits, SlackStandIn


def test_percentiles_and_markers():
    assert percentile([3, 1, 2], 50) == 2 and percentile([1, 2, 3], 99) == 3
    assert summary([])["n"] == 0 and summary([1.0, 2.0])["max"] == 2.0
    assert last_marker(words(12)) == 12 and last_marker("thinking…") == 0


def test_the_discord_window_refuses_the_sixth_edit_in_five_seconds():
    window = SlidingWindow(EDITS_PER_WINDOW, 5.0)
    assert [window.wait() for _ in range(EDITS_PER_WINDOW)] == [0.0] * EDITS_PER_WINDOW
    assert 0 < window.wait() <= 5.0


async def test_the_renderer_streams_a_discord_thread_within_its_limit():
    run = await discord_stream(chunks=10, rate=100, interval=0.05)
    assert len(run.chunk_ms) == 10 and run.refused == 0
    assert run.edits and run.edits == sorted(run.edits)
    assert DiscordChannel(0.0, limited=False).window.limit > EDITS_PER_WINDOW


async def test_the_slack_stand_in_answers_429_past_the_channel_limit_only_when_asked():
    async with SlackStandIn() as slack:
        client = AsyncWebClient(token="xoxb-t", base_url=slack.base_url)
        for _ in range(3):
            await client.chat_postMessage(channel="C1", text="free")
        slack.enforce_rate_limits(RateLimits(channel_per_second=1, channel_burst=1))
        await client.chat_postMessage(channel="C1", text="first")
        await client.chat_postMessage(channel="C2", text="another channel")
        try:
            await client.chat_postMessage(channel="C1", text="too soon")
            raise AssertionError("expected a 429")
        except Exception as exc:
            assert exc.response.status_code == 429
            assert int(exc.response.headers["Retry-After"]) >= 1
        assert slack.rate_limited == {"chat.postMessage": 1}


async def test_the_bench_switch_turns_the_bots_slack_budget_off(tmp_path):
    """Figures 1 and 3 run the bot with ``rate_budget=False`` (``SLACK_RATE_BUDGET=0``): its
    workspace keeps no lane, so edits in more threads than Slack's chat.update tier allows
    at once all go, and the stand-in, enforcing nothing, answers none with a 429."""
    threads = 12  # Tier 3's burst is 5 calls: with the budget on, the 6th would wait

    def key(n: int) -> str:
        return SessionKey("slack", TEAM, f"C{n}", "1.000001").encode()

    async with SlackStandIn() as slack:
        kept = slack_surfaces(bot_settings(bot_env("redis://-", "http://-", slack, tmp_path)))
        off = slack_surfaces(
            bot_settings(bot_env("redis://-", "http://-", slack, tmp_path, rate_budget=False))
        )
        try:
            assert kept(key(0)).budget.lane("chat.update") is not None
            assert off(key(0)).budget.lane("chat.update") is None
            for n in range(threads):
                surface = off(key(n))
                posted = await surface.client.chat_postMessage(channel=f"C{n}", text="…")
                await surface.call(
                    surface.client.chat_update, channel=f"C{n}", ts=posted["ts"], text="w"
                )
        finally:
            await kept.aclose()
            await off.aclose()
    assert [method for method, _ in slack.calls].count("chat.update") == threads
    assert slack.rate_limited == {} and slack.refused == []


async def test_the_overhead_figure_and_the_report(tmp_path):
    fig = await fig_overhead.run(turns=1, chunks=(3, 9))
    results = fig.results
    assert results["turn_ms"]["n"] == 1 and results["llm_only_ms"]["n"] == 1
    assert set(results["redis_round_trips_per_turn"]) == {"3 chunks", "9 chunks"}
    assert all(t.met in (True, False) for t in fig.targets)
    run = {
        "started": "now",
        "code": "test",
        "scale": "test",
        "seconds": 1.0,
        "machine": {"cpus": 2, "cpu_model": "cpu", "mem_total_mb": 1, "load_avg": [0, 0, 0]},
        "load_avg_after": [0, 0, 0],
    }
    write([fig], run, tmp_path)
    data = json.loads((tmp_path / "latest.json").read_text())
    assert data["figures"][0]["key"] == "overhead"
    assert "| 1 |" in (tmp_path / "latest.md").read_text()


async def test_the_thread_budget_figure_stays_within_slacks_limits():
    fig = await fig_threads.run(threads=(1, 2), words=4, rate=8.0)
    assert set(fig.results) == {"native × 1", "native × 2", "chat.update × 1", "chat.update × 2"}
    for case in fig.results.values():
        assert case["threads_shown"] in (1, 2) and case["interval_s"]["n"] >= 1
        assert all(m["429"] == 0 for m in case["calls_per_min"].values())
    assert "chat.appendStream" in fig.results["native × 2"]["calls_per_min"]
    assert "chat.appendStream" not in fig.results["chat.update × 2"]["calls_per_min"]


async def test_the_chunk_figure_reads_one_stream_on_every_path():
    fig = await fig_chunk.run(chunks=20, repeats=1)  # a path that misses a chunk raises
    cpu = fig.results["cpu_us_per_chunk_p50"]
    assert set(cpu) == {
        "a_plain_sse",
        "b_openai_client",
        "c_litellm_acompletion",
        "d_agent_stream",
        "d_whole_bot",
    }
    assert all(value > 0 for value in cpu.values())
    assert fig.results["ratio_to_openai_client"]["b_openai_client"] == 1.0
    profile = fig.results["profiles"]["d_whole_bot"]
    # which of the bot's functions are the heaviest of a 20-chunk answer varies from run
    # to run (the SDK's parse no longer stands out: chunks stay JSON); the table names ours
    assert profile.count("| `agent/") >= 2
    assert set(fig.results["stages_us_per_chunk_profiled"]) == {s for s, _, _ in STAGES}
    shown = fig_chunk.report(fig)
    assert all(f"| {path} |" in shown for path in cpu)


async def test_the_docs_search_figure_builds_and_searches():
    fig = await fig_docs.run(pages=5, queries=3, repeats=1)
    assert fig.status == "done", fig.notes
    assert fig.results["search_ms"]["n"] == 3 and len(fig.results["build_s"]) == 1
    assert fig.targets[0].met in (True, False)


async def test_the_research_figure_measures_both_contexts():
    fig = await fig_research.run()
    without, with_ = fig.results["without_research"], fig.results["with_research"]
    assert without["model_calls"] == 3 and with_["model_calls"] == 5
    assert with_["main_context_tokens"] < without["main_context_tokens"]
    assert fig.targets[0].met is True

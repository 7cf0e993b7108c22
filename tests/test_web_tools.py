"""web_search against a SearXNG-shaped stand-in; fetch_url against loopback page servers,
and its refusals of loopback, private and link-local addresses, also behind redirects."""

import pytest

from agent.session import Session
from agent.tools.http import HttpClient
from agent.tools.registry import ToolContext, ToolRegistry
from agent.tools.web import (
    FetchUrlTool,
    PinnedResolver,
    WebSearchTool,
    checked_addresses,
    html_text,
)
from bot.runtime import build_tools
from bot.settings import Settings
from tests.standins.web import PageServer, SearchStandIn

PAGE = """<html><head><title>DPO with TRL</title><style>p {color: red}</style></head>
<body><nav>Home | Docs</nav><h1>Direct Preference Optimization</h1>
<p>Use <b>DPOTrainer</b> with chosen/rejected pairs.</p><script>track()</script>
<ul><li>beta=0.1</li><li>lr=5e-7</li></ul></body></html>"""


@pytest.fixture
async def search():
    results = [
        {
            "title": "DPO explained",
            "url": "https://example.org/dpo",
            "content": "Preference tuning",
        },
        {"title": "Cooking", "url": "https://example.org/food", "content": "Pasta"},
    ]
    async with SearchStandIn(results) as stand_in:
        yield stand_in


@pytest.fixture
async def pages():
    """The page server the tool may read: on 127.0.0.2, trusted by host and port."""
    async with PageServer("127.0.0.2") as server:
        server.pages["/dpo"] = PAGE
        server.pages["/notes.txt"] = "plain notes"
        yield server


@pytest.fixture
async def victim():
    """A loopback service the tool must never reach (Redis, an admin page)."""
    async with PageServer("127.0.0.1") as server:
        server.pages["/secret"] = "the bot's own secret"
        yield server


def client(timeout=5.0):
    return HttpClient("the stand-in", timeout=timeout, retries=2, backoff=0.01)


def fetcher(pages, **kwargs):
    trusted = [pages.url.removeprefix("http://")]
    return ToolRegistry([FetchUrlTool(http=client(), trusted=trusted, **kwargs).tool()])


async def call(tools, name, **args):
    return await tools.call(name, args, ToolContext(session=Session(key="k")))


async def test_web_search_lists_titles_urls_and_snippets(search):
    tools = ToolRegistry([WebSearchTool(search.url, http=client()).tool()])
    result = await call(tools, "web_search", query="dpo")

    assert result.success
    assert "1. DPO explained\n   https://example.org/dpo\n   Preference tuning" in result.output
    assert "Cooking" not in result.output
    assert search.requests[0].query["format"] == "json"


async def test_web_search_failures_are_tool_errors(search):
    tools = ToolRegistry([WebSearchTool(search.url, http=client(timeout=0.3)).tool()])
    search.fail("/search", 404)
    missing = await call(tools, "web_search", query="dpo")
    search.fail("/search", 429, times=3)
    limited = await call(tools, "web_search", query="other")
    search.stall("/search")
    slow = await call(tools, "web_search", query="third")

    assert not missing.success and "404" in missing.output
    assert not limited.success and "Rate limited" in limited.output
    assert not slow.success and "did not answer" in slow.output


async def test_a_page_reads_as_text_without_scripts_or_navigation(pages):
    result = await call(fetcher(pages), "fetch_url", url=f"{pages.url}/dpo")

    assert result.success, result.output
    assert result.output.startswith("DPO with TRL\n")
    assert "# Direct Preference Optimization" in result.output
    assert "Use DPOTrainer with chosen/rejected pairs." in result.output
    assert "- beta=0.1" in result.output
    assert "track()" not in result.output and "color: red" not in result.output
    assert "Home | Docs" not in result.output


async def test_a_long_page_reads_in_parts(pages):
    pages.pages["/long.txt"] = "x" * 20_000 + "THE END"
    tools = fetcher(pages)
    first = await call(tools, "fetch_url", url=f"{pages.url}/long.txt")
    rest = await call(tools, "fetch_url", url=f"{pages.url}/long.txt", offset=15_000)

    assert "read on with offset=15000" in first.output and "THE END" not in first.output
    assert rest.output.endswith("THE END")


async def test_a_redirect_between_public_pages_is_followed(pages):
    pages.redirect("/old", "/notes.txt")
    result = await call(fetcher(pages), "fetch_url", url=f"{pages.url}/old")
    assert result.success and "plain notes" in result.output


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.1", "169.254.169.254", "localhost", "[::1]"])
async def test_loopback_private_and_link_local_addresses_are_refused(pages, victim, host):
    port = victim.url.rsplit(":", 1)[1]
    result = await call(fetcher(pages), "fetch_url", url=f"http://{host}:{port}/secret")

    assert not result.success
    assert "Refused" in result.output and "FETCH_URL_ALLOW_PRIVATE" in result.output
    assert victim.requests == []


@pytest.mark.parametrize("target", ["127.0.0.1", "10.0.0.1", "169.254.169.254"])
async def test_a_redirect_to_a_private_address_is_refused_before_connecting(pages, victim, target):
    port = victim.url.rsplit(":", 1)[1]
    pages.redirect("/innocent", f"http://{target}:{port}/secret")
    result = await call(fetcher(pages), "fetch_url", url=f"{pages.url}/innocent")

    assert not result.success and f"is {target}" in result.output
    assert pages.paths() == ["/innocent"]
    assert victim.requests == []


async def test_allow_private_reads_loopback(victim):
    tools = ToolRegistry([FetchUrlTool(http=client(), allow_private=True).tool()])
    result = await call(tools, "fetch_url", url=f"{victim.url}/secret")
    assert result.success and "the bot's own secret" in result.output


async def test_fetch_url_failures_are_tool_errors(pages):
    tools = ToolRegistry([FetchUrlTool(http=client(timeout=0.3), trusted=[pages.url[7:]]).tool()])
    missing = await call(tools, "fetch_url", url=f"{pages.url}/nope")
    pages.oversize("/big", 4_000_000)
    big = await call(
        ToolRegistry([FetchUrlTool(trusted=[pages.url[7:]]).tool()]),
        "fetch_url",
        url=f"{pages.url}/big",
    )
    pages.stall("/slow")
    slow = await call(tools, "fetch_url", url=f"{pages.url}/slow")
    scheme = await call(tools, "fetch_url", url="file:///etc/passwd")

    assert not missing.success and "404" in missing.output
    assert not big.success and "larger than 3,000,000 bytes" in big.output
    assert not slow.success and "did not answer within 0.3 s" in slow.output
    assert not scheme.success and "http(s) URLs only" in scheme.output


def test_html_text_keeps_headings_and_lists():
    title, text = html_text("<title> T </title><h2>Setup</h2><ul><li>a</li><li>b</li></ul>")
    assert title == "T"
    assert text == "## Setup\n\n- a\n- b"


async def test_the_connection_goes_to_the_addresses_checked_and_no_other_host():
    checked = await checked_addresses("localhost", 80, allow_private=True)
    resolver = PinnedResolver("localhost", checked)

    assert await resolver.resolve("localhost", 8080) == [{**r, "port": 8080} for r in checked]
    with pytest.raises(OSError):
        await resolver.resolve("rebound.example", 80)


def test_web_search_is_offered_only_with_a_search_instance(tmp_path):
    def names(**kwargs):
        return set(build_tools(Settings(_env_file=None, data_dir=tmp_path, **kwargs)).names())

    without = names(web_search_url=None)
    assert "web_search" not in without
    assert {"fetch_url", "github_find_examples", "github_read_file", "research"} <= without
    assert "web_search" in names(web_search_url="http://127.0.0.1:9")

"""What a failed Slack Web API call said, read whatever body came back.

slack_sdk raises :class:`SlackApiError` with the body as it came: a dict for JSON, a
string for a ``text/plain`` body (an HTTP 405, a proxy's 502 page), ``None`` or ``{}``
for an empty or HTML one, and the raw :class:`aiohttp.ClientResponse` when the body
claimed to be JSON but was not. :func:`failure` reads all of them, so a handler logs
the method and the HTTP status and goes on instead of failing on ``.get``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

DEFAULT_RETRY_AFTER = 1.0


@dataclass(frozen=True)
class SlackFailure:
    """A failed call: its Web API method, the HTTP status, Slack's error code if the body
    had one (``None`` otherwise) and the Retry-After of a 429."""

    method: str
    status: int | None
    error: str | None
    retry_after: float = DEFAULT_RETRY_AFTER

    @property
    def reason(self) -> str:
        """Slack's error code, else the HTTP status (``http_502``)."""
        return self.error or f"http_{self.status}"

    @property
    def server_side(self) -> bool:
        """Slack (or a proxy before it) answered 5xx: worth trying again later."""
        return self.status is not None and self.status >= 500

    def __str__(self) -> str:
        said = self.error or "no Slack error in the body"
        return f"{self.method} answered HTTP {self.status} ({said})"


def failure(exc: SlackApiError) -> SlackFailure:
    """What ``exc`` says, never raising whatever its response holds."""
    response = exc.response
    if isinstance(response, AsyncSlackResponse):
        url, status, headers = response.api_url, response.status_code, response.headers
        data = response.data
    elif isinstance(response, aiohttp.ClientResponse):  # a body that claimed JSON
        url, status, headers, data = str(response.url), response.status, response.headers, None
    else:
        url, status, headers, data = "", None, {}, None
    error = data.get("error") if isinstance(data, Mapping) else None
    return SlackFailure(
        method=url.rstrip("/").rsplit("/", 1)[-1] or "a Slack call",
        status=status,
        error=str(error) if error else None,
        retry_after=_seconds(headers.get("Retry-After")),
    )


def _seconds(value: str | None) -> float:
    try:
        return float(value) if value else DEFAULT_RETRY_AFTER
    except ValueError:
        return DEFAULT_RETRY_AFTER

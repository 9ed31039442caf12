"""Crawlers, headless browsers and scripts are not shoppers: their events are dropped.

The patterns come from ``crawler-user-agents`` (the community list of crawler user agents,
MIT licence, released every few weeks on PyPI), matched case-sensitively as the list is
written. A request with no user agent at all is counted as a bot too (every browser sends one).
Answers are remembered per user-agent string, so the regular-expression work is done once per
browser version, not per request.
"""

from __future__ import annotations

import re
from functools import lru_cache

import crawleruseragents

#: Longest user agent looked at (real ones are a few hundred characters).
MAX_USER_AGENT = 1_000


@lru_cache(maxsize=1)
def _patterns() -> list[re.Pattern[str]]:
    """The list's patterns, compiled into a few alternations (once per process)."""
    patterns = [str(p["pattern"]) for p in crawleruseragents.CRAWLER_USER_AGENTS_DATA]
    chunk = 50
    return [re.compile("|".join(patterns[i : i + chunk])) for i in range(0, len(patterns), chunk)]


@lru_cache(maxsize=4096)
def is_bot(user_agent: str | None) -> bool:
    """Whether a request's ``User-Agent`` belongs to a crawler, a headless browser or a
    script (an empty one counts as a bot).

    >>> is_bot("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    True
    >>> is_bot("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    ...        "Chrome/126.0.0.0 Safari/537.36")
    False
    >>> is_bot("")
    True
    """
    text = (user_agent or "").strip()[:MAX_USER_AGENT]
    if not text:
        return True
    return any(p.search(text) for p in _patterns())

"""Fixtures every browser test of this folder may ask for by name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.conftest import RunningCore
from tests.e2e.browser import NetworkGuard


@pytest.fixture
def page(core: RunningCore, browser: Browser) -> Iterator[tuple[Page, NetworkGuard]]:
    """A Chinese-language tab in a fresh context, watched: at the end no request may have
    left the appliance and the page's scripts may have logged no error (CSP included)."""
    guard = NetworkGuard(core.base_url)
    context = browser.new_context(locale="zh-CN", accept_downloads=True)
    guard.attach(context)
    tab = context.new_page()
    guard.watch(tab)
    try:
        yield tab, guard
    finally:
        context.close()
    assert guard.outside == [], "requests left the appliance"
    assert guard.console_errors == []

"""Browser tests: Playwright drives Debian's Chromium against pytest-django's `live_server`.

Playwright cannot download its own browsers here, so the tests launch /usr/bin/chromium (which
`.ci/run` installs) and skip, saying so, where it is missing.

Playwright's sync API starts an asyncio loop and leaves it marked as running in this thread from
the first call until Playwright stops, so Django refuses every ORM call in between with
SynchronousOnlyOperation. The tests run strictly one after another in this thread, so the check
is a false alarm here: `_allow_orm_beside_playwright` switches it off (DJANGO_ALLOW_ASYNC_UNSAFE)
for this package only, and Playwright stops when the package ends, so the rest of the suite keeps
both the check and a thread without a loop.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DEFAULT_TIMEOUT_MS = 10_000


class AdminLogin(Protocol):
    """The type of the `admin_login` fixture, for tests that annotate it."""

    def __call__(
        self, page: "Page", live_server_url: str, username: str, password: str, otp_token: str | None = None
    ) -> None: ...


@pytest.fixture(scope="package", autouse=True)
def _allow_orm_beside_playwright() -> Iterator[None]:
    """Let the tests use the ORM while Playwright's loop is marked running (see the docstring above)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="package")
def chromium_browser(_allow_orm_beside_playwright: None) -> Iterator["Browser"]:
    """One Chromium for all browser tests; package-scoped so Playwright's loop ends with them."""
    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (installed by .ci/run)")
    # Playwright itself is a pinned test dependency: without it the run fails rather than skips.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium_browser: "Browser") -> Iterator["Page"]:
    """A fresh context per test, so no cookie or session carries over from the test before."""
    context = chromium_browser.new_context()
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def _admin_login(
    page: "Page", live_server_url: str, username: str, password: str, otp_token: str | None = None
) -> None:
    """Log in through the admin's own form, as staff do; returns once the answer has loaded."""
    page.goto(f"{str(live_server_url).rstrip('/')}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    if otp_token is not None:
        page.fill("#id_otp_token", otp_token)
    # django-otp's form has a second submit button ("Get OTP Challenge"): press "Log in" itself.
    with page.expect_navigation():
        page.locator("#login-form").get_by_role("button", name="Log in", exact=True).click()


@pytest.fixture
def admin_login() -> AdminLogin:
    """`admin_login(page, live_server.url, username, password, otp_token=None)`."""
    return _admin_login

"""The staff console's login, through a real browser against the real server."""

from playwright.sync_api import Page, expect


def test_staff_log_in_to_the_console_and_a_wrong_password_is_refused(
    page: Page, live_server, admin_login, django_user_model
) -> None:
    """The smoke test for the browser setup: the server, Chromium and the ORM side by side."""
    django_user_model.objects.create_superuser(username="manager", password="a-long-test-password")

    admin_login(page, live_server.url, "manager", "not-the-password")
    expect(page.locator(".errornote")).to_contain_text("Please enter the correct username and password")

    admin_login(page, live_server.url, "manager", "a-long-test-password")
    expect(page).to_have_url(f"{live_server.url}/admin/")
    expect(page.get_by_role("heading", name="Staff console", level=1)).to_be_visible()

    # The ORM still answers once Playwright's loop is running in this thread.
    assert django_user_model.objects.get(username="manager").last_login is not None

"""The in-cluster server in a real browser: a user logs in with their token (kept in an
HttpOnly, SameSite=Strict cookie), sees their namespace, and gets the 403 page, saying
what they may not do, for a namespace their RBAC does not cover (screenshot
forbidden.png)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from browser import screenshot

from .test_web_incluster import Setup, other_namespace, setup  # noqa: F401 (fixtures)


def test_login_then_the_403_page_for_another_namespace(
    page: Page,
    setup: Setup,  # noqa: F811 (the fixture imported above)
) -> None:
    s = setup
    answer = page.goto(f"{s.url}/ui/namespaces/{s.a}/dags")
    assert answer is not None
    assert answer.status == 401
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    screenshot(page, "login")
    page.get_by_label("Token").fill(s.token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{s.url}/ui/namespaces/{s.a}/dags")
    expect(page.get_by_role("link", name="chatty", exact=True)).to_be_visible()
    [cookie] = [c for c in page.context.cookies() if c["name"] == "airkube_token"]
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"]) == (
        "airkube_token",
        True,
        "Strict",
    )

    answer = page.goto(f"{s.url}/ui/namespaces/{s.b}/dags")
    assert answer is not None
    assert answer.status == 403
    message = page.locator("p.error")
    expect(message).to_contain_text(f"system:serviceaccount:{s.a}:reader")
    expect(message).to_contain_text('cannot list resource "dags"')
    expect(message).to_contain_text(f'in the namespace "{s.b}"')
    expect(page.get_by_text("secret-dag")).to_have_count(0)
    screenshot(page, "forbidden")

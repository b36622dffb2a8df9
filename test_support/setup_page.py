"""The console's Setup page as HR reads it in the tests: the page (after *Check Slack again*, if asked), and
what it announces."""

import html
import re

from django.urls import reverse


def setup_page(hr, *, check_again: bool = False) -> str:
    """The Setup page as `hr` (a signed-in test client) sees it; `check_again`: after pressing *Check Slack
    again* (the checks run at once on the test's task backend)."""
    if check_again:
        response = hr.post(reverse("console:setup_check"), follow=True)
        assert response.status_code == 200
        assert "Checking Slack again" in response.text
    response = hr.get(reverse("console:setup"))
    assert response.status_code == 200
    return response.text


def alerts(page: str) -> list[str]:
    """The text of every element the page announces (role="alert"), white space squeezed."""
    found = re.findall(r'<(p|div)\b[^>]*role="alert"[^>]*>(.*?)</\1>', page, flags=re.S)
    return [re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", text))).strip() for _tag, text in found]

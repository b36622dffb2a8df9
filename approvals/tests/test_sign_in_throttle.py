"""Wrong passwords at the console's and the admin's sign-in: five for one account in 15 minutes lock it,
the right password included, on every host (the count is in the shared cache); other accounts are not
affected; a success clears the count."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from approvals.sign_in_throttle import FAILURES_ALLOWED, LOCKED_MESSAGE

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def hannah(django_user_model):
    return django_user_model.objects.create_user("hannah", "hannah@example.com", PASSWORD, is_staff=True,
                                                 is_superuser=True)


def sign_in(client, username, password, url_name="console:login"):
    return client.post(reverse(url_name), {"username": username, "password": password})


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(client, hannah):
    for _ in range(FAILURES_ALLOWED):
        response = sign_in(client, "hannah", "wrong")
        assert response.status_code == 200
        assert "correct username and password" in response.content.decode()
    response = sign_in(client, "hannah", PASSWORD)
    assert response.status_code == 200
    assert LOCKED_MESSAGE in response.content.decode().replace("&#x27;", "'")
    assert not signed_in(client)


def test_the_lock_counts_the_name_however_it_is_typed(client, hannah):
    for name in ("hannah", "Hannah", " HANNAH ", "hannah", "hAnnah"):
        sign_in(client, name, "wrong")
    assert LOCKED_MESSAGE in sign_in(client, "hannah", PASSWORD).content.decode().replace("&#x27;", "'")


def test_fewer_failures_then_the_right_password_signs_in_and_clears_the_count(client, hannah):
    for _ in range(FAILURES_ALLOWED - 1):
        sign_in(client, "hannah", "wrong")
    response = sign_in(client, "hannah", PASSWORD)
    assert response.status_code == 302 and signed_in(client)
    client.logout()
    # The count started again: four more wrong ones still leave the account open.
    for _ in range(FAILURES_ALLOWED - 1):
        sign_in(client, "hannah", "wrong")
    assert sign_in(client, "hannah", PASSWORD).status_code == 302


def test_another_account_is_not_locked(client, hannah, django_user_model):
    django_user_model.objects.create_user("omar", "omar@example.com", PASSWORD, is_staff=True)
    for _ in range(FAILURES_ALLOWED + 2):
        sign_in(client, "hannah", "wrong")
    assert sign_in(client, "omar", PASSWORD).status_code == 302


def test_the_admin_sign_in_shares_the_count_with_the_console(client, hannah):
    for _ in range(FAILURES_ALLOWED):
        sign_in(client, "hannah", "wrong", "admin:login")
    response = sign_in(client, "hannah", PASSWORD, "admin:login")
    assert response.status_code == 200 and not signed_in(client)
    assert LOCKED_MESSAGE in response.content.decode().replace("&#x27;", "'")
    response = sign_in(client, "hannah", PASSWORD)
    assert response.status_code == 200 and not signed_in(client)


def test_the_lock_lifts_when_its_window_ends(client, hannah):
    for _ in range(FAILURES_ALLOWED):
        sign_in(client, "hannah", "wrong")
    cache.clear()  # what the window's end does to the count
    assert sign_in(client, "hannah", PASSWORD).status_code == 302


def test_an_unknown_name_is_locked_the_same_way_and_says_nothing_of_whether_it_exists(client):
    for _ in range(FAILURES_ALLOWED):
        response = sign_in(client, "nobody", "wrong")
        assert "correct username and password" in response.content.decode()
    assert LOCKED_MESSAGE in sign_in(client, "nobody", "wrong").content.decode().replace("&#x27;", "'")

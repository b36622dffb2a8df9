"""The Redis cache keeps one client, with its own connection, per thread (Django builds one per call)."""

import gc
import threading

import pytest
import redis as redis_py
from django.core.cache import caches

from timeoff_site import redis_cache
from timeoff_site.redis_cache import RedisCache


def redis_up() -> bool:
    try:
        import redis

        redis.Redis(host="127.0.0.1", port=6379, socket_timeout=1).ping()
        return True
    except Exception:  # noqa: BLE001 - no Redis here: the test says so and skips
        return False


@pytest.fixture
def reuse_cache(settings):
    settings.CACHES = {**settings.CACHES, "reuse": {"BACKEND": "timeoff_site.redis_cache.RedisCache",
                                                     "LOCATION": "redis://127.0.0.1:6379/14"}}
    cache = caches["reuse"]
    yield cache
    cache.delete_many(["reuse-test", "reuse-thread"])


def in_thread(function):
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(function()))
    thread.start()
    thread.join()
    return outcome[0]


@pytest.mark.skipif(not redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_one_client_serves_every_call_of_a_thread_and_works(reuse_cache):
    assert isinstance(reuse_cache, RedisCache)
    client = reuse_cache._cache.get_client(write=True)
    assert client is reuse_cache._cache.get_client(write=False)
    assert client.connection is not None  # a kept connection: no pool round per command
    reuse_cache.set("reuse-test", {"a": 1}, 5)
    assert reuse_cache.get("reuse-test") == {"a": 1}
    assert reuse_cache.add("reuse-test", 2, 5) is False
    assert reuse_cache.get_many(["reuse-test", "missing"]) == {"reuse-test": {"a": 1}}
    assert client.connection is reuse_cache._cache.get_client().connection


@pytest.mark.skipif(not redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_each_thread_has_its_own_connection_and_gives_it_back_when_it_ends(reuse_cache):
    mine = reuse_cache._cache.get_client()

    def use_the_cache():
        client = reuse_cache._cache.get_client()
        reuse_cache.set("reuse-thread", "from a thread", 5)
        return client.client_id(), client.connection_pool

    theirs, pool = in_thread(use_the_cache)
    assert theirs != mine.client_id()
    assert reuse_cache.get("reuse-thread") == "from a thread"
    gc.collect()
    # The ended thread's connection is back in the pool, free for the next one.
    assert theirs in {connection_id(connection) for connection in pool._available_connections}


def connection_id(connection) -> int:
    connection.send_command("CLIENT", "ID")
    return connection.read_response()


@pytest.mark.skipif(not redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_a_connection_the_server_closed_while_idle_is_made_again(reuse_cache, monkeypatch):
    reuse_cache.set("reuse-test", "kept", 5)
    client = reuse_cache._cache.get_client()
    dropped = client.client_id()
    redis_py.Redis(host="127.0.0.1", port=6379, db=14).client_kill_filter(_id=dropped)  # as a restart would
    monkeypatch.setattr(redis_cache, "CHECK_AFTER_IDLE_SECONDS", 0.0)  # a quiet second, without the wait
    assert reuse_cache.get("reuse-test") == "kept"
    assert client.client_id() != dropped


@pytest.mark.skipif(not redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_a_busy_thread_sends_its_commands_without_checking_first(reuse_cache, monkeypatch):
    client = reuse_cache._cache.get_client()
    checked = []
    monkeypatch.setattr(redis_cache, "_drop_if_closed", checked.append)
    for _ in range(3):
        reuse_cache.get("reuse-test")
    assert checked == []
    monkeypatch.setattr(redis_cache, "CHECK_AFTER_IDLE_SECONDS", 0.0)
    reuse_cache.get("reuse-test")
    assert checked == [client.connection]


def test_the_production_settings_use_it_for_redis(monkeypatch):
    import importlib

    import timeoff_site.settings as site_settings

    monkeypatch.setenv("CACHE_URL", "redis://127.0.0.1:6379/3")
    try:
        reloaded = importlib.reload(site_settings)
        assert reloaded.CACHES["default"]["BACKEND"] == "timeoff_site.redis_cache.RedisCache"
    finally:
        monkeypatch.undo()
        importlib.reload(site_settings)

"""The Redis cache reuses one client per connection pool (Django builds one per call)."""

import pytest
from django.core.cache import caches

from timeoff_site.redis_cache import RedisCache


def redis_up() -> bool:
    try:
        import redis

        redis.Redis(host="127.0.0.1", port=6379, socket_timeout=1).ping()
        return True
    except Exception:  # noqa: BLE001 - no Redis here: the test says so and skips
        return False


@pytest.mark.skipif(not redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_one_client_serves_every_call_and_works(settings):
    settings.CACHES = {**settings.CACHES, "reuse": {"BACKEND": "timeoff_site.redis_cache.RedisCache",
                                                     "LOCATION": "redis://127.0.0.1:6379/14"}}
    cache = caches["reuse"]
    assert isinstance(cache, RedisCache)
    assert cache._cache.get_client(write=True) is cache._cache.get_client(write=False)
    cache.set("reuse-test", {"a": 1}, 5)
    assert cache.get("reuse-test") == {"a": 1}
    assert cache.add("reuse-test", 2, 5) is False
    cache.delete("reuse-test")


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

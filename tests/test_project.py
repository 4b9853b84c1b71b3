"""Project-wide endpoints: token, schema and docs, health, JSON 404s."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_token_endpoint_returns_a_working_token(api_client, user):
    user.set_password("s3cret-pass")
    user.save()
    response = api_client.post(
        "/api/auth/token/",
        {"username": "alice", "password": "s3cret-pass"},
        format="json",
    )
    assert response.status_code == 200
    token = response.json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/profiles/me/").json()["username"] == "alice"


def test_token_endpoint_rejects_bad_credentials_with_json(api_client, user):
    response = api_client.post(
        "/api/auth/token/", {"username": "alice", "password": "wrong"}, format="json"
    )
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_schema_documents_every_endpoint(api_client):
    response = api_client.get(
        "/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/products/", "/api/products/{id}/", "/api/products/{id}/price/",
        "/api/categories/", "/api/categories/{slug}/",
        "/api/tags/", "/api/tags/{slug}/",
        "/api/profiles/", "/api/profiles/{username}/", "/api/profiles/me/",
        "/api/catalog/stats/", "/api/health/", "/api/auth/token/",
    ):  # fmt: skip
        assert path in paths, path


def test_docs_page_is_served(api_client):
    response = api_client.get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [("get", "/api/schema/?format=bogus", 404), ("post", "/api/schema/", 405),
     ("get", "/api/docs/?format=bogus", 404), ("delete", "/api/docs/", 405),
     ("get", "/api/redoc/?format=bogus", 404), ("put", "/api/redoc/", 405)],
)  # fmt: skip
def test_the_schema_and_docs_errors_are_json(api_client, method, url, status):
    """Their renderers are YAML and HTML; their errors are JSON (CONTRACT 7)."""
    response = getattr(api_client, method)(url)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]


def test_the_schema_is_yaml_by_default(api_client):
    response = api_client.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert response.content.startswith(b"openapi: 3.")


def test_health_reports_database_and_cache(api_client):
    response = api_client.get("/api/health/")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "cache": "ok"}


def test_unknown_api_url_is_json_404(api_client):
    response = api_client.get("/api/nowhere/")
    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize(("given", "workers"), [("", None), ("3", 3)])
def test_gunicorn_runs_two_workers_per_core_unless_told(given, workers):
    """A sync worker waiting on Redis or PostgreSQL leaves its core to another.
    (Read in a subprocess: the settings file sets environment variables.)"""
    import os
    import subprocess
    import sys
    from pathlib import Path

    out = subprocess.run(
        [sys.executable, "-c", "import runpy; print(runpy.run_path("
         "'project/gunicorn_conf.py')['workers'])"],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "WEB_CONCURRENCY": given},
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert int(out) == (workers or 2 * len(os.sched_getaffinity(0)))

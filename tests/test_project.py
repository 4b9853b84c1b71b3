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


def test_health_reports_database_and_cache(api_client):
    response = api_client.get("/api/health/")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "cache": "ok"}


def test_unknown_api_url_is_json_404(api_client):
    response = api_client.get("/api/nowhere/")
    assert response.status_code == 404
    assert "detail" in response.json()

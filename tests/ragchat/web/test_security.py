"""Widget tokens over HTTP: one knowledge base, allowed origins only, a rate limit; the admin key; CORS."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.ragchat.web.conftest import ADMIN_KEY, SHOP, admin

QUESTION = {"question": "How often do tomatoes need watering?"}


def make_token(client: TestClient, kb: str = "garden", rate: int = 30, headers: dict[str, str] | None = None) -> str:
    response = client.post("/tokens", json={"kb": kb, "origins": [SHOP], "rate_per_minute": rate}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


def widget(token: str, origin: str | None = SHOP) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if origin is not None:
        headers["Origin"] = origin
    return headers


def test_a_token_chats_with_its_knowledge_base_from_an_allowed_origin(client: TestClient) -> None:
    token = make_token(client)
    answer = client.post("/kbs/garden/chat", json=QUESTION, headers=widget(token))
    assert answer.status_code == 200, answer.text
    assert "twice a week" in answer.json()["answer"]
    assert answer.headers["access-control-allow-origin"] == SHOP and "Origin" in answer.headers["vary"]
    with client.stream("POST", "/kbs/garden/chat/stream", json=QUESTION, headers=widget(token)) as stream:
        assert stream.status_code == 200
        assert stream.headers["access-control-allow-origin"] == SHOP
        events = [line for line in stream.iter_lines() if line.startswith("event: ")]
    assert events[0] == "event: sources" and events[-1] == "event: done"


def test_a_token_for_one_knowledge_base_cannot_read_another(client: TestClient) -> None:
    token = make_token(client, "garden")
    for path in ("/kbs/birds/chat", "/kbs/birds/chat/stream"):
        response = client.post(path, json={"question": "When do robins sing?"}, headers=widget(token))
        assert response.status_code == 403
        assert response.json() == {"detail": "this widget token is for knowledge base 'garden', not 'birds'"}
    assert client.post("/kbs/garden/chat", json=QUESTION, headers=widget(token)).status_code == 200


def test_other_origins_and_requests_without_an_origin_are_refused(client: TestClient) -> None:
    token = make_token(client)
    evil = client.post("/kbs/garden/chat", json=QUESTION, headers=widget(token, "https://evil.example"))
    assert evil.status_code == 403 and "https://evil.example is not allowed" in evil.json()["detail"]
    assert "access-control-allow-origin" not in evil.headers
    no_origin = client.post("/kbs/garden/chat", json=QUESTION, headers=widget(token, None))
    assert no_origin.status_code == 403 and "Origin" in no_origin.json()["detail"]
    unknown = client.post("/kbs/garden/chat", json=QUESTION, headers=widget("rcw_not-a-real-token"))
    assert unknown.status_code == 401 and unknown.headers["www-authenticate"] == "Bearer"


def test_the_rate_limit_answers_429_with_retry_after(client: TestClient) -> None:
    token = make_token(client, rate=2)
    other = make_token(client, rate=2)
    statuses = [client.post("/kbs/garden/chat", json=QUESTION, headers=widget(token)).status_code for _ in range(2)]
    assert statuses == [200, 200]
    limited = client.post("/kbs/garden/chat/stream", json=QUESTION, headers=widget(token))
    assert limited.status_code == 429
    assert 25 <= int(limited.headers["retry-after"]) <= 30  # 2 a minute: the next one 30 s after the first
    assert limited.headers["access-control-allow-origin"] == SHOP  # so the widget can read it
    assert "allows 2 requests a minute" in limited.json()["detail"]
    assert client.post("/kbs/garden/chat", json=QUESTION, headers=widget(other)).status_code == 200  # per token


def test_cors_preflight_is_answered_only_for_the_knowledge_bases_token_origins(client: TestClient) -> None:
    make_token(client, "garden")
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    ok = client.options("/kbs/garden/chat/stream", headers={"Origin": SHOP, **ask})
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == SHOP
    assert "POST" in ok.headers["access-control-allow-methods"]
    assert "Authorization" in ok.headers["access-control-allow-headers"]
    for path, origin in (("/kbs/garden/chat/stream", "https://evil.example"), ("/kbs/birds/chat", SHOP)):
        refused = client.options(path, headers={"Origin": origin, **ask})
        assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    # no CORS for the admin API
    other = client.get("/kbs", headers={"Origin": SHOP})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers


def test_token_management_shows_the_secret_once_and_revokes(client: TestClient) -> None:
    created = client.post("/tokens", json={"kb": "garden", "origins": ["https://Shop.Example:443"], "name": "shop"})
    assert created.status_code == 201
    body = created.json()
    assert body["origins"] == [SHOP] and body["rate_per_minute"] == 30 and body["token"].endswith(body["hint"])
    listed = client.get("/tokens", params={"kb": "garden"}).json()
    assert listed["count"] == 1 and "token" not in listed["data"][0]
    assert client.get("/tokens", params={"kb": "birds"}).json()["count"] == 0
    assert client.get(f"/tokens/{body['id']}").json()["name"] == "shop"
    assert client.delete(f"/tokens/{body['id']}").status_code == 204
    assert client.post("/kbs/garden/chat", json=QUESTION, headers=widget(body["token"])).status_code == 401
    assert client.delete(f"/tokens/{body['id']}").status_code == 404
    assert client.post("/tokens", json={"kb": "nope", "origins": [SHOP]}).status_code == 404
    bad = client.post("/tokens", json={"kb": "garden", "origins": ["shop.example"]})
    assert bad.status_code == 422 and "origin" in bad.json()["detail"]
    assert client.post("/tokens", json={"kb": "garden", "origins": []}).status_code == 422


def test_without_an_admin_key_the_api_is_open(client: TestClient) -> None:
    assert client.post("/kbs/garden/chat", json=QUESTION).status_code == 200
    assert client.get("/tokens").status_code == 200
    assert client.get("/kbs/garden/documents").status_code == 200


def test_with_an_admin_key_admin_endpoints_need_it(admin_client: TestClient) -> None:
    c = admin_client
    files = [("files", ("more.md", b"# More\n\nTomatoes like sun and warm soil all day long.", "text/markdown"))]
    assert c.post("/kbs/garden/documents", files=files).status_code == 401
    wrong = c.post("/kbs/garden/documents", files=files, headers=admin("wrong"))
    assert wrong.status_code == 401 and wrong.json() == {"detail": "wrong admin API key"}
    assert c.post("/kbs/garden/documents", files=files, headers={"X-API-Key": ADMIN_KEY}).status_code == 201
    doc_id = c.get("/kbs/garden/documents", headers=admin()).json()["data"][0]["id"]
    assert c.delete(f"/kbs/garden/documents/{doc_id}").status_code == 401
    assert c.delete("/kbs/garden").status_code == 401
    assert c.post("/kbs", json={"name": "x"}).status_code == 401
    assert c.get("/tokens").status_code == 401
    assert c.post("/tokens", json={"kb": "garden", "origins": [SHOP]}).status_code == 401
    for path in ("/kbs", "/kbs/garden/documents", "/v1/models"):
        assert c.get(path).status_code == 401, path
    assert c.post("/kbs/garden/search", json={"query": "tomatoes"}).status_code == 401
    # chat: the admin key or a widget token, nothing else
    assert c.post("/kbs/garden/chat", json=QUESTION).status_code == 401
    assert c.post("/kbs/garden/chat", json=QUESTION, headers=admin()).status_code == 200
    token = make_token(c, headers=admin())
    assert c.post("/kbs/garden/chat", json=QUESTION, headers=widget(token)).status_code == 200
    refused = c.get("/tokens", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403 and "only chat" in refused.json()["detail"]
    assert c.delete(f"/kbs/garden/documents/{doc_id}", headers=widget(token)).status_code == 403
    # public: health, the demo page and the widget script
    for path in ("/health", "/", "/widget.js"):
        assert c.get(path).status_code == 200, path


def test_the_demo_page_and_the_widget_script_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.headers["content-type"].startswith("text/html")
    assert '<script src="/widget.js" data-kb="demo"></script>' in page.text
    script = client.get("/widget.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["x-content-type-options"] == "nosniff"
    assert 'customElements.define("ragchat-widget"' in script.text
    assert "/widget.js" not in client.get("/openapi.json").text  # not part of the API description

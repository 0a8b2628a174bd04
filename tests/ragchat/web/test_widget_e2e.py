"""The real widget in headless Chromium against the app on a real uvicorn server.

The server uses the hash embedder (fast) and the extractive backend, streamed slowly enough to watch; word
coverage decides refusal (see ``FAKE_CHAT``). Host pages for the embedding tests come from a second small HTTP
server, so the widget really runs cross-origin: ``http://127.0.0.1:<port>`` is allowed by the widget token and
``http://localhost:<port>`` (another origin, same server) is not.

Screenshots go to ``docs/screenshots/`` (the README shows them).
"""

from __future__ import annotations

import functools
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from ragchat.api.app import create_app
from ragchat.api.settings import AppSettings
from ragchat.generation.extractive import ExtractiveChatModel
from ragchat.generation.types import GenerationInput, Message
from ragchat.services import Services
from tests.conftest import ROOT
from tests.ragchat.web.conftest import ADMIN_KEY, web_settings

pytestmark = [pytest.mark.browser, pytest.mark.server]

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the 'test' extra")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SCREENSHOTS = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

GARDEN = """# Garden handbook

## Watering tomatoes

Tomatoes need deep watering twice a week in summer. Water at the base of the plant in the early morning.

## Companion planting

Companion planting means growing plants side by side so that they help each other. Basil next to tomatoes is a
classic pair.

## Why companion planting works

The main benefits of companion planting are fewer pests and better pollination.

## Markup in notes

The old blog embedded <script>window.xssFired = true</script> and <img src=x onerror="window.xssFired = true"> tags.
"""

SCRIPT_TEXT = "<script>window.xssFired = true</script>"

# -- fixtures ---------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PacedModel:
    """The extractive backend, streamed with a pause before each piece (so streaming can be seen and stopped)."""

    name = "extractive"
    free_text = False

    def __init__(self, inner: ExtractiveChatModel, delay: float) -> None:
        self.inner = inner
        self.delay = delay

    def generate(self, request: GenerationInput) -> str:
        return self.inner.generate(request)

    def stream(self, request: GenerationInput) -> Iterator[str]:
        for piece in self.inner.stream(request):
            time.sleep(self.delay)
            yield piece

    def complete(self, messages: Sequence[Message]) -> str:
        return self.inner.complete(messages)


@dataclass
class Server:
    url: str
    model: PacedModel
    pages: Path  # files served by the host-page server
    pages_port: int

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def host_page(self, name: str, body: str, *, lang: str = "en", host: str = "127.0.0.1") -> str:
        """A page of a third-party site embedding the widget; its URL on ``host`` (an origin of its own)."""
        html = (
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Shop</title>'
            "<style>body{font:18px Georgia,serif;margin:40px} button{display:none!important} "
            "*{color:#a00!important}</style></head>"
            f"<body><h1>Garden shop</h1><p>Seeds, tools and advice.</p>{body}</body></html>"
        )
        (self.pages / name).write_text(html, encoding="utf-8")
        return f"http://{host}:{self.pages_port}/{name}"

    def widget_tag(self, kb: str, token: str, **data: str) -> str:
        extra = "".join(f' data-{k}="{v}"' for k, v in data.items())
        return f'<script src="{self.url}/widget.js" data-kb="{kb}" data-token="{token}"{extra}></script>'


@contextmanager
def running(settings: AppSettings) -> Iterator[tuple[str, PacedModel]]:
    """The app on uvicorn on a free loopback port: its URL and its (paced) answer model."""
    services = Services.build(settings.core)
    model = PacedModel(ExtractiveChatModel(services.embedder), delay=0.04)
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, services=services, chat_model=model),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws="none",
        lifespan="on",
    )
    api = uvicorn.Server(config)
    thread = threading.Thread(target=api.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not api.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}", model
    finally:
        api.should_exit = True
        thread.join(10)
        services.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    pages = tmp_path_factory.mktemp("pages")
    quiet = type("Quiet", (SimpleHTTPRequestHandler,), {"log_message": lambda *a: None})
    static = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(quiet, directory=str(pages)))
    threading.Thread(target=static.serve_forever, daemon=True).start()
    try:
        with running(web_settings(tmp_path_factory.mktemp("data"))) as (url, model):
            yield Server(url, model, pages, static.server_address[1])
    finally:
        static.shutdown()
        static.server_close()


@pytest.fixture(scope="module")
def garden_kb(server: Server, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Knowledge base 'garden' with the handbook and a two-page PDF, uploaded over HTTP."""
    folder = tmp_path_factory.mktemp("docs")
    write_documents(folder)
    with server.api() as http:
        assert http.post("/kbs", json={"name": "garden"}).status_code == 201
        files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in sorted(folder.iterdir())]
        assert http.post("/kbs/garden/documents", files=files).status_code == 201
    return "garden"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def write_documents(folder: Path) -> list[Path]:
    import pymupdf

    garden = folder / "garden.md"
    garden.write_text(GARDEN, encoding="utf-8")
    pdf = pymupdf.open()
    for title, text in (
        ("Soil guide", "Good soil is loose, dark and full of organic matter."),
        ("Mulching", "A layer of straw mulch keeps the soil moist and cool in hot weather."),
    ):
        sheet = pdf.new_page()
        sheet.insert_text((72, 72), title, fontsize=20)
        sheet.insert_text((72, 110), text, fontsize=11)
    pdf.save(folder / "soil.pdf")
    pdf.close()
    return [garden, folder / "soil.pdf"]


# -- driving the widget -----------------------------------------------------------------------------------------

LAST_ANSWER = "ragchat-widget article.bot >> nth=-1"

# The text of the last answer while it is still streaming (read in one go with its state), else null.
STREAMING_TEXT = """() => {
  const answer = [...document.querySelector("ragchat-widget").shadowRoot.querySelectorAll("article.bot")].at(-1);
  const text = answer && answer.querySelector(".answer") && answer.querySelector(".answer").textContent;
  return answer && answer.dataset.state === "streaming" && answer.getAttribute("aria-busy") === "true" && text
    ? text : null;
}"""


def ask(page: Any, question: str, *, state: str = "done") -> Any:
    """Type ``question`` into the open widget, press Enter and wait until the answer ends in ``state``."""
    box = page.locator("ragchat-widget textarea")
    box.fill(question)
    box.press("Enter")
    sync_api.expect(page.locator("ragchat-widget .msg.user").last).to_contain_text(question)
    answer = page.locator(LAST_ANSWER)
    sync_api.expect(answer).to_have_attribute("data-state", state, timeout=15_000)
    return answer


def shadow_has(page: Any, selector: str) -> bool:
    return bool(
        page.evaluate(
            "s => document.querySelector('ragchat-widget').shadowRoot.querySelector('.messages ' + s) !== null",
            selector,
        )
    )


def make_token(server: Server, kb: str, origin: str, rate: int = 30) -> str:
    with server.api() as http:
        body = {"kb": kb, "origins": [origin], "rate_per_minute": rate}
        response = http.post("/tokens", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["token"])


# -- the tests --------------------------------------------------------------------------------------------------


def test_demo_page_upload_ask_cite_follow_up_refuse_and_no_injection(server: Server, page: Any, tmp_path: Path) -> None:
    expect = sync_api.expect
    page.goto(server.url + "/")
    expect(page.locator("h1")).to_have_text("ragchat")

    # upload two documents into the 'demo' knowledge base from the browser
    page.set_input_files("#files", [str(p) for p in write_documents(tmp_path)])
    page.click("#upload")
    expect(page.locator("#upload-status")).to_contain_text("Done:", timeout=20_000)
    assert page.locator("#progress").evaluate("p => p.value") == 100
    expect(page.locator("#report li")).to_have_count(2)
    expect(page.locator("#report")).to_contain_text("garden.md")
    expect(page.locator("#documents")).to_contain_text("soil.pdf")

    # open the widget: a dialog, focus in the question box
    launcher = page.locator("ragchat-widget .launcher")
    expect(launcher).to_have_attribute("aria-label", "Open chat")
    launcher.click()
    expect(page.locator("ragchat-widget [role=dialog]")).to_be_visible()
    assert page.evaluate("document.querySelector('ragchat-widget').shadowRoot.activeElement.id") == "question"

    # a question: the answer streams in, then numbered citations
    box = page.locator("ragchat-widget textarea")
    box.fill("What is companion planting?")
    box.press("Enter")
    partial = page.wait_for_function(STREAMING_TEXT).json_value()
    answer = page.locator(LAST_ANSWER)
    expect(answer).to_have_attribute("data-state", "done", timeout=15_000)
    expect(answer).to_have_attribute("aria-busy", "false")
    final = answer.locator(".answer").text_content()
    assert partial != final and len(partial) < len(final), "the answer arrived in one piece, not streamed"
    assert "Companion planting means growing plants side by side" in final

    marker = answer.locator(".answer button.cite").first
    expect(marker).to_have_text("1")
    marker.click()
    source = answer.locator(".sources details[data-n='1']")
    expect(source).to_have_attribute("open", "")
    expect(source.locator("summary")).to_be_focused()
    expect(source.locator(".doc")).to_have_text("garden.md")
    expect(source.locator(".heading")).to_have_text("Garden handbook › Companion planting")
    expect(source.locator(".snippet")).to_contain_text("Companion planting means growing plants side by side")

    # a follow-up in the same conversation is understood with its context
    follow_up = ask(page, "What are its benefits?")
    expect(follow_up.locator(".answer")).to_contain_text("fewer pests and better pollination")
    expect(follow_up.locator(".understood")).to_have_text("Searched for: What are companion planting's benefits?")

    # a PDF source: document, page and heading path
    mulch = ask(page, "What does straw mulch do for the soil?")
    expect(mulch.locator(".answer")).to_contain_text("keeps the soil moist and cool")
    pdf_source = mulch.locator(".sources details").first
    pdf_source.locator("summary").click()
    expect(pdf_source.locator(".doc")).to_have_text("soil.pdf")
    expect(pdf_source.locator(".page")).to_have_text("p. 2")
    expect(pdf_source.locator(".heading")).to_have_text("Mulching")
    expect(pdf_source.locator(".snippet")).to_have_text(
        "A layer of straw mulch keeps the soil moist and cool in hot weather."
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "widget-desktop.png"))

    # nothing relevant: a refusal, shown as such, without sources
    refusal = ask(page, "Who won the football world cup?")
    expect(refusal).to_have_class("msg bot refused")
    expect(refusal.locator(".refusal-label")).to_contain_text("No answer in the knowledge base")
    expect(refusal.locator(".answer")).to_have_text(
        "The knowledge base does not contain information relevant to this question."
    )
    expect(refusal.locator(".sources")).to_have_count(0)

    # markup in a document is shown as text, never run
    markup = ask(page, "What did the old blog embed?")
    expect(markup.locator(".answer")).to_contain_text(SCRIPT_TEXT)
    markup.locator(".sources summary").first.click()
    expect(markup.locator(".snippet").first).to_contain_text('<img src=x onerror="window.xssFired = true">')
    page.screenshot(path=str(SCREENSHOTS / "widget-refusal-and-markup.png"))
    assert page.evaluate("window.xssFired") is None
    for tag in ("script", "img", "iframe"):
        assert not shadow_has(page, tag), f"a <{tag}> element was created from document text"

    # Escape closes the dialog and gives focus back to the launcher
    page.keyboard.press("Escape")
    expect(page.locator("ragchat-widget [role=dialog]")).to_be_hidden()
    expect(launcher).to_be_focused()
    expect(launcher).to_have_attribute("aria-expanded", "false")


def test_phone_viewport_keyboard_only(server: Server, garden_kb: str, browser: Any) -> None:
    expect = sync_api.expect
    origin = f"http://127.0.0.1:{server.pages_port}"
    url = server.host_page("phone.html", server.widget_tag(garden_kb, make_token(server, garden_kb, origin)))
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(url)
        launcher = page.locator("ragchat-widget .launcher")
        expect(launcher).to_be_visible()  # the host page hides its own buttons; its CSS does not reach in
        assert launcher.evaluate("b => getComputedStyle(b).color") == "rgb(255, 255, 255)"  # nor its !important color

        for _ in range(10):  # Tab until the launcher has focus, then open it with Enter
            page.keyboard.press("Tab")
            if launcher.evaluate("b => b.getRootNode().activeElement === b"):
                break
        expect(launcher).to_be_focused()
        page.keyboard.press("Enter")
        panel = page.locator("ragchat-widget [role=dialog]")
        expect(panel).to_be_visible()
        panel.evaluate("p => Promise.all(p.getAnimations().map(a => a.finished))")  # the opening animation
        box = panel.bounding_box()
        assert box == pytest.approx({"x": 0, "y": 0, "width": PHONE["width"], "height": PHONE["height"]}, abs=0.5)
        expect(page.locator("ragchat-widget textarea")).to_be_focused()

        page.keyboard.type("How often do tomatoes need watering?")
        page.keyboard.press("Enter")
        answer = page.locator(LAST_ANSWER)
        expect(answer).to_have_attribute("data-state", "done", timeout=15_000)
        expect(answer.locator(".answer")).to_contain_text("twice a week")

        for _ in range(12):  # back from the question box to the (last) source, and open it
            page.keyboard.press("Shift+Tab")
            if page.evaluate("document.querySelector('ragchat-widget').shadowRoot.activeElement?.tagName") == "SUMMARY":
                break
        page.keyboard.press("Enter")
        source = answer.locator(".sources details").first
        expect(source).to_have_attribute("open", "")
        expect(source.locator(".snippet")).to_contain_text("Tomatoes need deep watering twice a week")
        assert source.locator(".snippet").evaluate("b => getComputedStyle(b).color") == "rgb(31, 41, 55)"
        page.screenshot(path=str(SCREENSHOTS / "widget-phone.png"))
    finally:
        context.close()


def test_cross_origin_token_other_origin_rate_limit_and_chinese_ui(server: Server, garden_kb: str, page: Any) -> None:
    expect = sync_api.expect
    allowed = f"http://127.0.0.1:{server.pages_port}"
    tag = server.widget_tag(garden_kb, make_token(server, garden_kb, allowed, rate=2))

    # Chinese UI from the page's lang; a token good for this origin
    page.goto(server.host_page("zh.html", tag, lang="zh-CN"))
    launcher = page.locator("ragchat-widget .launcher")
    expect(launcher).to_have_attribute("aria-label", "打开聊天")
    launcher.click()
    expect(page.locator("ragchat-widget textarea")).to_have_attribute("placeholder", "输入问题…")
    expect(page.locator("ragchat-widget .send")).to_have_text("发送")
    first = ask(page, "How often do tomatoes need watering?")
    expect(first.locator(".answer")).to_contain_text("twice a week")
    expect(first.locator(".sources h3")).to_have_text("来源")
    refused = ask(page, "Who won the football world cup?")
    expect(refused.locator(".refusal-label")).to_contain_text("知识库中没有找到答案")

    # the token allows 2 questions a minute: the third is refused with 429, shown with a retry button
    limited = ask(page, "How often do tomatoes need watering?", state="error")
    expect(limited.locator("[role=alert]")).to_contain_text(re.compile(r"提问太频繁，请 \d+ 秒后再试。"))
    expect(limited.locator("button.retry")).to_have_text("重试")

    # the same page from another origin: the browser is refused (CORS), the widget says so
    page.goto(server.host_page("other.html", tag, host="localhost"))
    page.locator("ragchat-widget .launcher").click()
    other = ask(page, "How often do tomatoes need watering?", state="error")
    expect(other.locator("[role=alert]")).to_contain_text("not allowed to use it")
    expect(other.locator(".answer")).to_have_count(0)


def test_stop_while_streaming_and_retry_after_an_error(server: Server, garden_kb: str, page: Any) -> None:
    expect = sync_api.expect
    origin = f"http://127.0.0.1:{server.pages_port}"
    page.goto(server.host_page("stop.html", server.widget_tag(garden_kb, make_token(server, garden_kb, origin))))
    page.locator("ragchat-widget .launcher").click()

    # a network failure: an error with a retry button; retrying answers the same question
    failures = {"left": 1}

    def fail_once(route: Any) -> None:
        if failures["left"]:
            failures["left"] -= 1
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/chat/stream", fail_once)
    failed = ask(page, "How often do tomatoes need watering?", state="error")
    expect(failed.locator("[role=alert]")).to_contain_text("Could not reach the chat server")
    failed.locator("button.retry").click()
    expect(failed).to_have_attribute("data-state", "done", timeout=15_000)
    expect(failed.locator(".answer")).to_contain_text("twice a week")
    expect(page.locator("ragchat-widget .msg.user")).to_have_count(1)  # the same turn, not a new question

    # stop: the partial answer stays, marked as stopped, and the send button comes back
    server.model.delay = 0.5
    try:
        box = page.locator("ragchat-widget textarea")
        box.fill("What are the benefits of companion planting?")
        box.press("Enter")
        answer = page.locator(LAST_ANSWER)
        expect(answer.locator(".answer")).not_to_be_empty(timeout=15_000)
        stop = page.locator("ragchat-widget .stop")
        expect(stop).to_be_visible()
        expect(page.locator("ragchat-widget .send")).to_be_hidden()
        stop.click()
        expect(answer).to_have_attribute("data-state", "stopped")
        expect(answer.locator(".note")).to_have_text("Stopped.")
        expect(page.locator("ragchat-widget .send")).to_be_visible()
        expect(stop).to_be_hidden()
    finally:
        server.model.delay = 0.04


def test_demo_page_on_a_server_with_an_admin_key(page: Any, tmp_path: Path) -> None:
    expect = sync_api.expect
    garden = write_documents(tmp_path)[0]
    with running(web_settings(tmp_path / "data", admin_key=ADMIN_KEY)) as (url, _):
        page.goto(url + "/")
        expect(page.locator("#documents")).to_contain_text("needs the admin API key")
        page.set_input_files("#files", str(garden))
        page.click("#upload")
        expect(page.locator("#upload-status")).to_contain_text("Error: this endpoint needs the admin API key")

        page.locator("summary", has_text="Admin API key").click()
        page.fill("#admin-key", ADMIN_KEY)
        page.click("#upload")
        expect(page.locator("#upload-status")).to_contain_text("Done:", timeout=20_000)
        # the page gives the widget a token for this origin, never the admin key
        expect(page.locator("ragchat-widget")).to_have_attribute("token", re.compile(r"^rcw_"))
        page.locator("ragchat-widget .launcher").click()
        answer = ask(page, "How often do tomatoes need watering?")
        expect(answer.locator(".answer")).to_contain_text("twice a week")

        # a token for another site, from the form: the script tag to copy, and the token in the list
        page.fill("#origins", "https://shop.example")
        page.get_by_role("button", name="Create widget token").click()
        tag = f'<script src="{url}/widget.js" data-kb="demo" data-token="rcw_'
        expect(page.locator("#snippet")).to_contain_text(tag)
        expect(page.locator("#tokens li")).to_have_count(2)
        expect(page.locator("#tokens")).to_contain_text("https://shop.example")

"""The README's demo command: builds the demo knowledge base from samples/, searches, then serves the widget."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.model, pytest.mark.server]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_ingests_samples_searches_and_serves_the_widget(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "RAGCHAT_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ragchat", "demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 240
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Uvicorn running" in line or "Application startup complete" in line:
                break
        output = "".join(lines)
        assert "added 3, replaced 0, unchanged 0, skipped 0" in output, output
        assert "ragchat-guide-zh.md" in output and "混合检索与 RRF" in output  # the sample search's top hit
        url = re.search(r"Open (http://127\.0\.0\.1:\d+/)", output)
        assert url is not None and url.group(1) == f"http://127.0.0.1:{port}/", output
        page = httpx.get(url.group(1), timeout=30)
        assert page.status_code == 200 and 'data-kb="demo"' in page.text
        assert httpx.get(url.group(1) + "widget.js", timeout=30).status_code == 200
        answer = httpx.post(
            url.group(1) + "kbs/demo/chat", json={"question": "混合检索是怎么融合排名的？"}, timeout=60
        ).json()
        assert answer["refused"] is False and answer["citations"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()

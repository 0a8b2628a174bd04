"""A real ``ragchat serve`` in a subprocess on loopback, HTTP load against it, and its memory and CPU.

Latencies are measured by the client around each ``POST /kbs/{kb}/search`` (so they include HTTP, JSON and
the server's queueing). The server gets a clean ``RAGCHAT_*`` environment: the data dir, the embedder and
``RAGCHAT_EMBED_THREADS=1`` (what ``ragchat serve`` picks automatically: concurrent requests need a steady
embedding latency more than a parallel one).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from eval.bench_chat import percentile

_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of a process in MiB, from /proc (Linux)."""
    values: dict[str, float] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, all threads."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


class Server:
    """``python -m ragchat serve`` on a free loopback port; a context manager that stops it."""

    def __init__(self, data_dir: Path, *, embedder: str, log: Path, threads: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAGCHAT_")}
        env.update(
            RAGCHAT_DATA_DIR=str(data_dir),
            RAGCHAT_EMBEDDER=embedder,
            RAGCHAT_EMBED_THREADS=str(threads),
            HF_HUB_OFFLINE="1",
            PYTHONUNBUFFERED="1",
        )
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log, "w")  # noqa: SIM115 - closed in stop()
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ragchat", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.startup_s = self._wait_ready(started)

    def _wait_ready(self, started: float, timeout: float = 300.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}: see {self._log.name}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not answer /health within {timeout:.0f}s: see {self._log.name}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def memory(self) -> dict[str, float]:
        return proc_status(self.pid)

    def cpu_s(self) -> float:
        return proc_cpu_s(self.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class LoadResult:
    clients: int
    requests: int
    errors: int
    seconds: float
    server_cpu_s: float
    latencies_ms: list[float] = field(repr=False)
    load_1m: float = 0.0
    error_samples: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        ok = self.latencies_ms or [float("nan")]
        return {
            "clients": self.clients,
            "requests": self.requests,
            "errors": self.errors,
            "p50_ms": round(percentile(ok, 50), 1),
            "p95_ms": round(percentile(ok, 95), 1),
            "p99_ms": round(percentile(ok, 99), 1),
            "max_ms": round(max(ok), 1),
            "rps": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "seconds": round(self.seconds, 2),
            "server_cpu_ms_per_request": round(1000 * self.server_cpu_s / max(1, self.requests), 1),
            "load_1m": self.load_1m,
            "error_samples": self.error_samples[:5],
        }


def search_load(
    server: Server, kb: str, queries: Sequence[str], *, clients: int, requests: int, offset: int = 0
) -> LoadResult:
    """``requests`` searches split over ``clients`` threads (one keep-alive connection each), all started
    together; client ``c`` sends queries ``offset + c, offset + c + clients, ...`` of the pool, cycled."""
    if clients <= 0 or requests <= 0:
        raise ValueError(f"clients and requests must be > 0, got {clients} and {requests}")
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    barrier = threading.Barrier(clients + 1)
    lock = threading.Lock()

    def client(c: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            barrier.wait()
            for j in range(c, requests, clients):
                query = queries[(offset + j) % len(queries)]
                t0 = time.perf_counter()
                try:
                    response = http.post(f"/kbs/{kb}/search", json={"query": query})
                    elapsed = (time.perf_counter() - t0) * 1000
                    if response.status_code == 200 and response.json()["hits"] is not None:
                        latencies[c].append(elapsed)
                        continue
                    problem = f"HTTP {response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                with lock:
                    errors.append(problem)

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(clients)]
    for t in threads:
        t.start()
    cpu0 = server.cpu_s()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    return LoadResult(
        clients=clients,
        requests=requests,
        errors=len(errors),
        seconds=seconds,
        server_cpu_s=server.cpu_s() - cpu0,
        latencies_ms=[x for per_client in latencies for x in per_client],
        load_1m=round(os.getloadavg()[0], 2),
        error_samples=errors,
    )

"""A small HTTP/1.1 load generator: N POSTs over C keep-alive connections, with latencies.

Standard library only (asyncio streams), so a benchmark needs nothing installed beyond the
project. It runs on the same machine as the server, which it competes with for CPU; its own
cost is the same for every endpoint measured in one run, so comparisons within a run hold.
"""

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

BodyFactory = Callable[[int], bytes]


@dataclass(frozen=True)
class LoadResult:
    url: str
    requests: int
    concurrency: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def summary(self) -> dict[str, float | int | str]:
        return {
            "url": self.url,
            "requests": self.requests,
            "concurrency": self.concurrency,
            "throughput_per_s": round(self.throughput, 1),
            "p50_ms": round(self.percentile(0.50), 2),
            "p99_ms": round(self.percentile(0.99), 2),
            "max_ms": round(max(self.latencies_ms), 2),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 2),
            "slow_over_2900ms": sum(1 for latency in self.latencies_ms if latency > 2900),
            "statuses": str(dict(sorted(self.statuses.items()))),
        }


def run_load(*, url: str, requests: int, concurrency: int, body: BodyFactory, content_type: str) -> LoadResult:
    return asyncio.run(_run(url=url, requests=requests, concurrency=concurrency, body=body, content_type=content_type))


async def _run(*, url: str, requests: int, concurrency: int, body: BodyFactory, content_type: str) -> LoadResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    counter = iter(range(requests))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def connection_worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for number in counter:
                payload = body(number)
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: {content_type}\r\n"
                    f"Content-Length: {len(payload)}\r\nConnection: keep-alive\r\n\r\n"
                ).encode()
                started = time.perf_counter()
                writer.write(head + payload)
                await writer.drain()
                status, keep_alive = await _read_response(reader)
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
                if not keep_alive:
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, port)
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection_worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return LoadResult(url, requests, concurrency, elapsed, latencies, statuses)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    status_line = await reader.readline()
    status = int(status_line.split()[1])
    length = 0
    keep_alive = True
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "connection" and value.strip().lower() == "close":
            keep_alive = False
    if length:
        await reader.readexactly(length)
    return status, keep_alive

"""The HTTP endpoint Prometheus scrapes: ``prometheus_client``'s server, owned and closed like a map."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING

from ._address import ANY_HOST, DEFAULT_PORT
from ._collector import AnyMetric, MapCollector, _missing, registry

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client.registry import CollectorRegistry

__all__ = ["MetricsServer", "serve"]


class MetricsServer:
    """A running metrics endpoint (``GET /metrics``, any path answers): close it to stop serving.

    ``host`` and ``port`` are where it listens (the port the system chose
    when asked for port 0); ``url`` is its metrics URL; ``registry`` what it serves.
    """

    def __init__(self, server: WSGIServer, thread: threading.Thread, registry: CollectorRegistry) -> None:
        self._server, self._thread, self.registry = server, thread, registry
        address = server.server_address
        self.host, self.port = str(address[0]), int(address[1])
        self._lock = threading.Lock()
        self._closed = False

    @property
    def url(self) -> str:
        """``http://HOST:PORT/metrics`` (an IPv6 host in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and release the socket; the serving thread has ended when this returns.
        Closing twice does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<MetricsServer {self.url}{' closed' if self._closed else ''}>"


def serve(
    metrics: Iterable[AnyMetric] | MapCollector | CollectorRegistry,
    host: str = ANY_HOST,
    port: int = DEFAULT_PORT,
) -> MetricsServer:
    """Serve ``metrics`` over HTTP at ``host:port`` from a daemon thread, until the server is closed.

    ``metrics`` are metric descriptions, a `MapCollector`, or a registry of
    your own. Maps are read when a scrape comes, in the serving thread.
    ``parse_address("HOST:PORT")`` splits a command line's address.

    Raises:
        ImportError: prometheus-client is not installed.
        OSError: the address cannot be listened on (in use, not local...).
        ValueError: two metrics of one name.
    """
    try:
        from prometheus_client.exposition import start_http_server
        from prometheus_client.registry import CollectorRegistry
    except ImportError as exc:
        raise _missing() from exc
    served = metrics if isinstance(metrics, CollectorRegistry) else registry(metrics)
    server, thread = start_http_server(port, host, served)
    return MetricsServer(server, thread, served)

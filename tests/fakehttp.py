"""A Tornado application served on a free port of 127.0.0.1, for the fake platforms."""

from __future__ import annotations

from typing import Any

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application


class LocalServer:
    """Serve ``routes`` at :attr:`base_url` from :meth:`start` to :meth:`stop`."""

    def __init__(self) -> None:
        self._server: HTTPServer | None = None
        self.base_url = ""

    def start(self, routes: list[Any]) -> str:
        """Serve the routes on a free port; return the base URL."""
        sockets = bind_sockets(0, "127.0.0.1")
        self._server = HTTPServer(Application(routes))
        self._server.add_sockets(sockets)
        self.base_url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
        return self.base_url

    async def stop(self) -> None:
        """Stop serving and close open connections (a second call does nothing)."""
        if self._server is not None:
            server, self._server = self._server, None
            server.stop()
            await server.close_all_connections()

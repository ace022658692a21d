"""PTB's HTTP layer over aiohttp: every Bot API call of the bot and of the team side.

python-telegram-bot sends through ``HTTPXRequest`` by default. Measured against the fake Bot
API over HTTP on the benchmark machine, a ``sendMessage`` cost 1.3 ms of the bot's CPU through
httpx with one call in flight and 3.3 ms with 30 (httpcore's connection pool rescans its
connections and waiting requests on every call), against 0.6–0.7 ms through aiohttp at either
concurrency; under an outreach campaign the bot makes about three calls per update, so this
was most of its CPU (README, Performance). ``AiohttpRequest`` is PTB's documented extension
point (``telegram.request.BaseRequest``) with the same contract as ``HTTPXRequest``:

- timeouts: ``connect`` to open a connection, ``pool`` to wait for a free one, ``read`` to wait
  for each part of the answer; aiohttp has no write timeout, so ``write`` (``media_write`` when
  files are uploaded) bounds the whole call together with the others;
- a time-out becomes ``TimedOut``, any other transport failure ``NetworkError`` (PTB retries
  neither; the callers decide); a POST is never re-sent by aiohttp itself;
- parameters go as a form, files as ``multipart/form-data``; ``HTTP(S)_PROXY`` and
  ``NO_PROXY`` from the environment are honoured, as httpx does, read once per host (aiohttp's
  own ``trust_env`` reads them and ``~/.netrc`` again on every call, 8 % of the bot's CPU).
"""

from __future__ import annotations

import urllib.request

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput, UploadFileDict
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    """Send Bot API requests through one ``aiohttp.ClientSession`` (made on ``initialize``)."""

    def __init__(
        self,
        connection_pool_size: int = 1,
        *,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool = pool_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str | None] = {}  # "scheme://host" -> proxy URL or None

    @property
    def read_timeout(self) -> float | None:
        """Return the read timeout used when a call names none (PTB adds getUpdates' own)."""
        return self._read

    async def initialize(self) -> None:
        """Open the session (in the running event loop); a second call does nothing."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
            )
            self._proxies.clear()

    async def shutdown(self) -> None:
        """Close the session and its connections; a second call does nothing."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Make one call; return its HTTP status and body."""
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files: UploadFileDict = (
            request_data.multipart_data if request_data and request_data.contains_files else {}
        )
        read = self._read if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = self._connect if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = self._pool if isinstance(pool_timeout, DefaultValue) else pool_timeout
        default_write = self._media_write if files else self._write
        write = default_write if isinstance(write_timeout, DefaultValue) else write_timeout
        parts = (connect, pool, write, read)
        timeout = aiohttp.ClientTimeout(
            total=None if None in parts else sum(p for p in parts if p is not None),
            connect=None if connect is None or pool is None else connect + pool,
            sock_connect=connect,
            sock_read=read,
        )
        body = _body(request_data, files)
        try:
            async with self._session.request(
                method, url, data=body, timeout=timeout, proxy=self._proxy(url)
            ) as res:
                return res.status, await res.read()
        except TimeoutError as err:  # aiohttp.ServerTimeoutError is one too
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err

    def _proxy(self, url: str) -> str | None:
        """Return the proxy for ``url``'s host from the environment (read once per host)."""
        scheme, _, rest = url.partition("://")
        host = rest.split("/", 1)[0]
        key = f"{scheme}://{host}"
        if key not in self._proxies:
            proxies = urllib.request.getproxies_environment()
            bypass = urllib.request.proxy_bypass(host.rsplit(":", 1)[0])  # NO_PROXY
            self._proxies[key] = None if bypass else proxies.get(scheme)
        return self._proxies[key]


def _body(
    request_data: RequestData | None, files: UploadFileDict
) -> aiohttp.FormData | dict[str, str] | None:
    """Return the call's parameters as a form, or as multipart form data when it uploads."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    if not files:
        return fields
    form = aiohttp.FormData(quote_fields=False)
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (filename, content, mime_type) in files.items():
        form.add_field(name, content, filename=filename, content_type=mime_type)
    return form

"""A small asyncio HTTP/1.1 server (keep-alive, Content-Length or chunked bodies).

The standard library's ``http.server`` parses headers with the email package and spends a
thread per connection; this one is several times faster, which the sandbox needs to stand
in for the gateway at 1,000+ calls/s on a small machine. Requests on one connection are
answered in order; different connections run concurrently (latency is an ``await``).
"""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import unquote

from ali1688spider.sandbox.messages import BadRequest, Reply, Request, json_reply

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024
MAX_BODY = 16 * 1024 * 1024
SERVER_NAME = "ali1688spider-sandbox"


class HttpServer:
    def __init__(self, handler: Callable[[Request], Awaitable[Reply]], host: str, port: int):
        self.handler, self.host, self.port = handler, host, port
        self._server: asyncio.base_events.Server | None = None
        self._connections: dict[asyncio.Task, asyncio.StreamWriter] = {}

    async def start(self) -> int:
        """Listen; returns the bound port (useful with port 0)."""
        self._server = await asyncio.start_server(
            self._connection, self.host, self.port, limit=MAX_HEAD, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            tasks = list(self._connections)
            for task, writer in list(self._connections.items()):
                writer.transport.abort()
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            while True:
                request, keep_alive = await self._read_request(reader, writer)
                if request is None:
                    return
                try:
                    reply = await self.handler(request)
                except Exception:
                    logger.exception("Sandbox failed on %s %s", request.method, request.path)
                    reply = json_reply({"error_code": "gw.InternalError",
                                        "error_message": "sandbox internal error"}, 500)
                if reply.drop:
                    writer.transport.abort()
                    return
                writer.write(_serialize(reply, keep_alive, head_only=request.method == "HEAD"))
                await writer.drain()
                if not keep_alive:
                    return
        except BadRequest as exc:
            writer.write(_serialize(json_reply({"error_code": "gw.BadRequest",
                                                "error_message": str(exc)}, 400), False))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        except asyncio.CancelledError:
            # Only stop() cancels connections; ending quietly keeps asyncio's stream
            # callback from logging the cancellation as an error.
            pass
        finally:
            self._connections.pop(task, None)
            writer.close()

    async def _read_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                            ) -> tuple[Request | None, bool]:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None, False
        lines = head.lstrip(b"\r\n").decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ")
        except ValueError:
            raise BadRequest(f"malformed request line {lines[0][:100]!r}") from None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await self._read_body(reader, headers)
        path, _, query = target.partition("?")
        return Request(method.upper(), unquote(path), query, headers, body), keep_alive

    @staticmethod
    async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks = []
            total = 0
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while (await reader.readuntil(b"\r\n")) != b"\r\n":
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise BadRequest("request body too large")
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
        length = headers.get("content-length")
        if not length:
            return b""
        if not length.isdigit() or int(length) > MAX_BODY:
            raise BadRequest("bad or too large Content-Length")
        return await reader.readexactly(int(length))


def _serialize(reply: Reply, keep_alive: bool, head_only: bool = False) -> bytes:
    phrase = HTTPStatus(reply.status).phrase if reply.status in HTTPStatus._value2member_map_ else ""
    head = [
        f"HTTP/1.1 {reply.status} {phrase}",
        f"Content-Type: {reply.content_type}",
        f"Content-Length: {len(reply.body)}",
        f"Server: {SERVER_NAME}",
        "Connection: keep-alive" if keep_alive else "Connection: close",
    ]
    head.extend(f"{name}: {value}" for name, value in reply.headers.items())
    data = ("\r\n".join(head) + "\r\n\r\n").encode("utf-8")
    return data if head_only else data + reply.body

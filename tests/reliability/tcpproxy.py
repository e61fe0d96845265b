"""A plain TCP proxy (asyncio, in a background thread) that can black-hole traffic.

Placed between the worker and the rig's Cosmos front: TLS stays end to end (the proxy only copies
bytes), so the worker keeps verifying the rig's certificate (SAN IP:127.0.0.1).

    p = BlackholeProxy("127.0.0.1", front_port).start()   # p.port = the listening port
    p.cut()    # stop forwarding in both directions; connections stay open, new ones are accepted
               # but nothing reaches the other side (a black hole, not a refusal)
    p.heal()   # forward again (bytes held back while cut are then delivered)
    p.stop()
"""
import asyncio
import socket
import threading


class BlackholeProxy:
    def __init__(self, upstream_host, upstream_port, listen_host="127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.listen_host = listen_host
        self.port = None
        self.connections = 0
        self.bytes = 0
        self._loop = None
        self._gate = None  # asyncio.Event: set = forwarding, clear = black hole
        self._server = None
        self._thread = None
        self._writers = set()
        self._ready = threading.Event()

    # ---------- control (any thread) ----------
    def start(self):
        self._thread = threading.Thread(target=self._run, name="blackhole-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("proxy did not start")
        return self

    def cut(self):
        self._loop.call_soon_threadsafe(self._gate.clear)

    def heal(self):
        self._loop.call_soon_threadsafe(self._gate.set)

    @property
    def is_cut(self):
        return not self._gate.is_set()

    def stop(self):
        if self._loop is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        try:
            fut.result(5)
        except Exception:
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop = None

    # ---------- event loop ----------
    def _run(self):
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._gate = asyncio.Event()
        self._gate.set()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.listen_host, 0))
        self.port = sock.getsockname()[1]
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, sock=sock, backlog=256))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _shutdown(self):
        self._server.close()
        for w in list(self._writers):
            w.close()

    async def _handle(self, creader, cwriter):
        self.connections += 1
        self._writers.add(cwriter)
        try:
            await self._gate.wait()  # while cut, a new connection is accepted but never reaches upstream
            ureader, uwriter = await asyncio.open_connection(*self.upstream)
        except Exception:
            cwriter.close()
            self._writers.discard(cwriter)
            return
        self._writers.add(uwriter)
        await asyncio.gather(self._pipe(creader, uwriter), self._pipe(ureader, cwriter), return_exceptions=True)
        for w in (cwriter, uwriter):
            w.close()
            self._writers.discard(w)

    async def _pipe(self, reader, writer):
        try:
            while True:
                await self._gate.wait()  # cut: stop reading, so bytes stay in kernel buffers (not forwarded)
                data = await reader.read(65536)
                if not data:
                    break
                await self._gate.wait()  # cut while this chunk was in hand: hold it until healed
                writer.write(data)
                self.bytes += len(data)
                await writer.drain()
        finally:
            try:
                writer.write_eof()
            except Exception:
                writer.close()

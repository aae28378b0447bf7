"""An echo server on asyncio's streams: the Python peer of tandem's echo server.

    /usr/bin/python3 bench/net/asyncio_echo_server.py [--uvloop] [PORT [HOST]]

PORT defaults to 8888 (0: any free port), HOST to 0.0.0.0. One task per
client reads up to 64 KiB (reader.read(65536)), writes it back and awaits
drain(), until the client closes. TCP_NODELAY is set on every accepted
socket. With --uvloop the same code runs on uvloop's loop (Debian:
python3-uvloop). Prints "listening on HOST port PORT" once it accepts
connections, and on SIGINT or SIGTERM "shutting down (SIGNAL)"; then it
closes the server and exits 0.
"""

import argparse
import asyncio
import signal
import socket
import sys


async def echo(reader, writer):
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass  # the client reset its connection: nothing left to serve
    finally:
        writer.close()


async def serve(host, port):
    server = await asyncio.start_server(echo, host, port)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening on {host} port {bound}", flush=True)
    stop = asyncio.Event()
    received = []
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda s=sig: (received.append(s), stop.set()))
    await stop.wait()
    print(f"shutting down ({signal.Signals(received[0]).name})", flush=True)
    server.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("port", nargs="?", type=int, default=8888)
    parser.add_argument("host", nargs="?", default="0.0.0.0")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop's loop")
    args = parser.parse_args()
    if not 0 <= args.port <= 65535:
        parser.error(f"port {args.port} is not in 0-65535")
    if args.uvloop:
        import uvloop  # Debian: python3-uvloop, for /usr/bin/python3

        uvloop.install()
    asyncio.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The ctest for http_server: starts it on port 0, talks to it with curl and
with Python's http.client (persistent connections, bodies, 404 and 405,
HEAD, HTTP/1.0 with and without keep-alive), sends malformed requests over
raw sockets (each must get a 400 and a closed connection), then stops it
with SIGTERM and checks that it exits 0. Then starts it again with a 0.5 s
timeout, and checks that idle and stalled connections are closed, and that
a client that never reads its responses is let go.

Usage: http_test.py HTTP_SERVER CURL
Every wait is bounded; a failure kills the server.
"""
import contextlib
import http.client
import re
import select
import signal
import socket
import subprocess
import sys
import time

TIMEOUT = 20


def fail(message):
    raise AssertionError(message)


def expect(condition, message):
    if not condition:
        fail(message)


@contextlib.contextmanager
def running(server, *timeout):
    """Starts http_server on a free port of 127.0.0.1 and yields the port;
    then stops it with SIGTERM, which it must exit 0 on (killed if the
    checks failed first)."""
    proc = subprocess.Popen([server, "0", "127.0.0.1", *timeout], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        match = re.match(r"listening on \S+ port (\d+)", line)
        if not match:
            fail(f"http_server printed {line!r}, not 'listening on HOST port PORT'")
        yield int(match.group(1))
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(timeout=TIMEOUT)
        expect(status == 0, f"http_server {' '.join(timeout)} exited {status} on SIGTERM")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def check_curl(curl, port):
    # Two URLs in one curl run share one connection: the second makes no
    # new connect (num_connects 0).
    url = f"http://127.0.0.1:{port}/"
    out = subprocess.run(
        [curl, "-sS", "--max-time", str(TIMEOUT), "-w", "%{http_code} %{num_connects}\n", url,
         url + "?q=1"],
        capture_output=True, text=True, timeout=TIMEOUT, check=True).stdout
    expect(out == "hello\n200 1\nhello\n200 0\n", f"curl keep-alive: got {out!r}")
    out = subprocess.run(
        [curl, "-sS", "--max-time", str(TIMEOUT), "-w", "%{http_code}\n", url + "missing"],
        capture_output=True, text=True, timeout=TIMEOUT, check=True).stdout
    expect(out == "not found\n404\n", f"curl 404: got {out!r}")


def check_http_client(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    conn.request("GET", "/")
    first = conn.getresponse()
    expect(first.status == 200 and first.read() == b"hello\n", "GET / is not 200 hello")
    sock = conn.sock
    conn.request("POST", "/", body=b"x" * 100_000, headers={"Content-Type": "text/plain"})
    posted = conn.getresponse()
    expect(posted.status == 405 and posted.getheader("Allow") == "GET, HEAD",
           f"POST / gave {posted.status}, not 405 with Allow")
    posted.read()
    conn.request("GET", "/nowhere")
    missing = conn.getresponse()
    expect(missing.status == 404, f"GET /nowhere gave {missing.status}")
    missing.read()
    conn.request("HEAD", "/")
    head = conn.getresponse()
    expect(head.status == 200 and head.getheader("Content-Length") == "6" and head.read() == b"",
           "HEAD / is not 200 with Content-Length 6 and no body")
    expect(conn.sock is sock, "http.client had to reconnect: the connection was not kept alive")
    conn.close()


def raw_exchange(port, request):
    """Sends request bytes, returns everything up to the server's close."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(request)
        received = b""
        while chunk := s.recv(65536):
            received += chunk
        return received


def check_malformed(port):
    cases = {
        "no version": b"GET /\r\n\r\n",
        "garbage": b"\x00\x01\x02 nonsense\r\n\r\n",
        "bad version": b"GET / HTTP/9.9\r\n\r\n",
        "header without colon": b"GET / HTTP/1.1\r\nHost example\r\n\r\n",
        "bad Content-Length": b"POST / HTTP/1.1\r\nContent-Length: ten\r\n\r\n",
        "two Content-Lengths": b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "line over the limit": b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
        "head over 16 KiB": b"GET / HTTP/1.1\r\n" + (b"X-A: " + b"b" * 5000 + b"\r\n") * 4 + b"\r\n",
        "HTTP/1.1 without Host": b"GET / HTTP/1.1\r\n\r\n",
        "two Hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    }
    for name, request in cases.items():
        reply = raw_exchange(port, request)
        expect(reply.startswith(b"HTTP/1.1 400 "), f"{name}: got {reply[:40]!r}, not a 400")
        expect(b"Connection: close" in reply, f"{name}: the 400 does not close the connection")
    reply = raw_exchange(
        port, b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    expect(reply.startswith(b"HTTP/1.1 501 "), f"chunked: got {reply[:40]!r}, not a 501")
    # HTTP/1.0 closes after the response unless asked to keep alive.
    reply = raw_exchange(port, b"GET / HTTP/1.0\r\n\r\n")
    expect(reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(b"\r\n\r\nhello\n"),
           f"HTTP/1.0: got {reply!r}")
    # "close" among other Connection options closes (RFC 9112, 9.6); an
    # empty line before the request line is skipped; HTTP/1.2 is served.
    for name, request in {
        "Connection: TE, close": b"GET / HTTP/1.1\r\nHost: h\r\nConnection: TE, close\r\n\r\n",
        "empty line first": b"\r\nGET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        "HTTP/1.2": b"GET / HTTP/1.2\r\nHost: h\r\nConnection: close\r\n\r\n",
    }.items():
        reply = raw_exchange(port, request)
        expect(reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(b"\r\n\r\nhello\n"),
               f"{name}: got {reply!r}")
    # A response to HEAD has no body, a 404's included: the next response
    # of a pipeline follows its head at once.
    reply = raw_exchange(port, b"HEAD /missing HTTP/1.1\r\nHost: h\r\n\r\n"
                               b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    expect(reply.startswith(b"HTTP/1.1 404 ") and b"\r\n\r\nHTTP/1.1 200 " in reply,
           f"HEAD 404 then GET: got {reply!r}")


def read_response(s):
    """One response from socket s: (head, body), the body by its Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        expect(chunk, f"the connection closed in a response's head: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"\r\nContent-Length: (\d+)", head).group(1))
    while len(body) < length:
        chunk = s.recv(65536)
        expect(chunk, f"the connection closed in a response's body: {body!r}")
        body += chunk
    return head, body


def check_http10_keep_alive(port):
    """An HTTP/1.0 client assumes the connection closes unless the response
    says "Connection: keep-alive" (RFC 9112, 9.3): the server echoes it when
    it keeps the connection, and closes after a 1.0 request without it."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        for target in (b"/", b"/missing"):
            s.sendall(b"GET " + target + b" HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            head, _ = read_response(s)
            expect(re.search(rb"\r\nConnection: keep-alive(\r\n|$)", head),
                   f"HTTP/1.0 keep-alive {target!r}: no Connection: keep-alive in {head!r}")
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        head, body = read_response(s)
        expect(head.startswith(b"HTTP/1.1 200 ") and body == b"hello\n"
               and b"keep-alive" not in head, f"HTTP/1.0 after keep-alive: got {head!r} {body!r}")
        expect(s.recv(65536) == b"", "HTTP/1.0 without keep-alive: the connection stayed open")


def until_close(s, what):
    """What s receives up to the server's close, which must come in s's timeout."""
    received = b""
    try:
        while chunk := s.recv(65536):
            received += chunk
    except socket.timeout:
        fail(f"{what}: the connection is still open after {s.gettimeout()} s, with {received!r}")
    return received


def check_timeouts(server):
    """With a 0.5 s timeout: a connection idle before its first request or
    after a response is closed, with nothing sent; a request stopped in its
    head or its body gets a 408, as does a head trickled in a line at a time
    (its deadline is not moved by each line)."""
    with running(server, "0.5") as port:
        def connect():
            return socket.create_connection(("127.0.0.1", port), timeout=5)

        with connect() as s:
            began = time.monotonic()
            expect(until_close(s, "idle") == b"", "idle: the server sent something")
            expect(time.monotonic() - began >= 0.45, "idle: closed before its 0.5 s")
        with connect() as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            read_response(s)
            expect(until_close(s, "idle after a response") == b"",
                   "idle after a response: the server sent something")
        for name, request in {
            "stopped in the head": b"GET / HTTP/1.1\r\nHost: h\r\n",
            "stopped in the body": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc",
        }.items():
            with connect() as s:
                s.sendall(request)
                reply = until_close(s, name)
                expect(reply.startswith(b"HTTP/1.1 408 ") and b"Connection: close" in reply,
                       f"{name}: got {reply!r}, not a 408")
        with connect() as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n")
            began = time.monotonic()
            for i in range(15):  # 3 s of headers, one each 0.2 s
                if select.select([s], [], [], 0.2)[0]:
                    break
                s.sendall(b"X-Slow-%d: 1\r\n" % i)
            reply = until_close(s, "trickled head")
            expect(reply.startswith(b"HTTP/1.1 408 ") and time.monotonic() - began < 2.5,
                   f"trickled head: got {reply!r} after {time.monotonic() - began:.1f} s")


def check_unread_responses(server):
    """A client that pipelines requests and never reads the responses: once
    they fill the socket buffers, the server's write waits, for at most the
    timeout (0.5 s), then the server closes the connection, having answered
    only part of the requests. (A server that waited on would answer them
    all once the client reads.)"""
    request = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
    requests = memoryview(request * 1000)
    with running(server, "0.5") as port:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(TIMEOUT)
            s.connect(("127.0.0.1", port))
            # Send until the server has stopped reading (1 s without room to
            # send): its write of a response waits then, however slow the
            # machine.
            s.setblocking(False)
            sent = 0
            began = time.monotonic()
            while select.select([], [s], [], 1.0)[1]:
                expect(time.monotonic() - began < TIMEOUT,
                       f"unread responses: the server still reads after {TIMEOUT} s")
                with contextlib.suppress(BlockingIOError):
                    sent += s.send(requests[sent % len(requests):])
            time.sleep(2)  # the server's 0.5 s run out: it closes
            s.settimeout(TIMEOUT)
            received = b""
            with contextlib.suppress(ConnectionResetError):
                received = until_close(s, "unread responses")
            answered = received.count(b"HTTP/1.1 200 OK")
            whole = sent // len(request)
            # Some answers may be lost to the reset that a close with unread
            # requests sends: the point is that the server did not wait on.
            expect(answered < whole,
                   f"unread responses: {answered} of {whole} requests answered; "
                   "the server did not give up on a client that never reads")
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            expect(read_response(s)[0].startswith(b"HTTP/1.1 200 "),
                   "unread responses: the next client was not answered")


def check_endless_line(port):
    """A request line that passes the limit gets its 400 at once, while the
    client is still sending it (not when a newline comes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
        s.sendall(b"GET /" + b"a" * 20000)
        reply = s.recv(65536)
        expect(reply.startswith(b"HTTP/1.1 400 "), f"endless line: got {reply[:40]!r}, not a 400")


def main():
    server, curl = sys.argv[1], sys.argv[2]
    with running(server) as port:
        check_curl(curl, port)
        check_http_client(port)
        check_malformed(port)
        check_http10_keep_alive(port)
        check_endless_line(port)
    check_timeouts(server)
    check_unread_responses(server)
    print("http_server: curl, http.client, malformed requests, SIGTERM and timeouts all passed")


if __name__ == "__main__":
    main()

/* An echo server on libuv, the C event loop under Node.js: the C peer of
 * tandem's echo server in bench/net/compare.py.
 *
 *   libuv_echo_server [PORT [HOST]]
 *
 * PORT defaults to 8888 (0: any free port), HOST (IPv4) to 0.0.0.0. Each
 * client reads with uv_read_start into a 64 KiB buffer of its own and
 * writes what came back at once with uv_try_write; what the socket does
 * not take goes out with uv_write, and reading stops until it is written
 * (the buffer is in use, and a client that does not read its echo should
 * not make the server buffer without bound). TCP_NODELAY on every accepted
 * socket. Prints "listening on HOST port PORT" once it accepts connections,
 * and on SIGINT or SIGTERM "shutting down (SIGNAL)", then closes every
 * handle and exits 0. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

enum { buffer_size = 64 * 1024 };

typedef struct {
  uv_tcp_t tcp; /* first: a handle's address is its client's */
  uv_write_t write;
  char buffer[buffer_size];
} client_t;

static uv_tcp_t listener;
static uv_signal_t signals[2];

/* Every handle's close callback: a client's handle->data is the client to
 * free; the listener's and the signals' is NULL. */
static void on_closed(uv_handle_t* handle) { free(handle->data); }

static void close_client(client_t* client) {
  if (!uv_is_closing((uv_handle_t*)&client->tcp)) uv_close((uv_handle_t*)&client->tcp, on_closed);
}

static void give_buffer(uv_handle_t* handle, size_t suggested_size, uv_buf_t* buf) {
  (void)suggested_size;
  client_t* client = handle->data;
  *buf = uv_buf_init(client->buffer, buffer_size);
}

static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

static void on_written(uv_write_t* request, int status) {
  client_t* client = request->data;
  if (status < 0) { /* the peer went away, or the handle is closing */
    close_client(client);
    return;
  }
  uv_read_start((uv_stream_t*)&client->tcp, give_buffer, on_read);
}

static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  client_t* client = stream->data;
  if (nread < 0) { /* UV_EOF: the client is done; anything else: it is gone */
    close_client(client);
    return;
  }
  if (nread == 0) return; /* EAGAIN */
  uv_buf_t out = uv_buf_init(buf->base, (unsigned)nread);
  const int written = uv_try_write(stream, &out, 1);
  if (written == nread) return;
  if (written < 0 && written != UV_EAGAIN) {
    close_client(client);
    return;
  }
  if (written > 0) out = uv_buf_init(buf->base + written, (unsigned)(nread - written));
  uv_read_stop(stream);
  client->write.data = client;
  if (uv_write(&client->write, stream, &out, 1, on_written) != 0) close_client(client);
}

static void on_connection(uv_stream_t* server, int status) {
  if (status < 0) {
    fprintf(stderr, "libuv_echo_server: accept: %s\n", uv_strerror(status));
    return;
  }
  client_t* client = malloc(sizeof *client);
  if (client == NULL || uv_tcp_init(server->loop, &client->tcp) != 0) {
    free(client);
    fprintf(stderr, "libuv_echo_server: out of memory for a client\n");
    return;
  }
  client->tcp.data = client;
  if (uv_accept(server, (uv_stream_t*)&client->tcp) != 0) {
    close_client(client);
    return;
  }
  uv_tcp_nodelay(&client->tcp, 1);
  uv_read_start((uv_stream_t*)&client->tcp, give_buffer, on_read);
}

static void close_handle(uv_handle_t* handle, void* arg) {
  (void)arg;
  if (!uv_is_closing(handle)) uv_close(handle, on_closed);
}

static void on_signal(uv_signal_t* handle, int signo) {
  printf("shutting down (%s)\n", signo == SIGINT ? "SIGINT" : "SIGTERM");
  fflush(stdout);
  uv_walk(handle->loop, close_handle, NULL); /* uv_run returns once all are closed */
}

static int fail(const char* what, int error) {
  fprintf(stderr, "libuv_echo_server: %s: %s\n", what, uv_strerror(error));
  return 1;
}

int main(int argc, char** argv) {
  long port = 8888;
  if (argc > 1) {
    char* end = NULL;
    port = strtol(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0' || port < 0 || port > 65535) {
      fprintf(stderr, "usage: %s [PORT (0-65535, 0 = any) [IPv4 HOST]]\n", argv[0]);
      return 2;
    }
  }
  const char* host = argc > 2 ? argv[2] : "0.0.0.0";

  uv_loop_t* loop = uv_default_loop();
  struct sockaddr_in address;
  int error = uv_ip4_addr(host, (int)port, &address);
  if (error != 0) return fail("not an IPv4 address", error);
  uv_tcp_init(loop, &listener);
  listener.data = NULL;
  if ((error = uv_tcp_bind(&listener, (const struct sockaddr*)&address, 0)) != 0)
    return fail("bind", error);
  if ((error = uv_listen((uv_stream_t*)&listener, SOMAXCONN, on_connection)) != 0)
    return fail("listen", error);

  struct sockaddr_in bound;
  int length = sizeof bound;
  uv_tcp_getsockname(&listener, (struct sockaddr*)&bound, &length);
  printf("listening on %s port %u\n", host, (unsigned)ntohs(bound.sin_port));
  fflush(stdout);

  const int signos[2] = {SIGINT, SIGTERM};
  for (int i = 0; i < 2; ++i) {
    uv_signal_init(loop, &signals[i]);
    signals[i].data = NULL;
    uv_signal_start(&signals[i], on_signal, signos[i]);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  return uv_loop_close(loop) == 0 ? 0 : fail("uv_loop_close", UV_EBUSY);
}

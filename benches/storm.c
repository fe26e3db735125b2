/* benches/storm.c: a connection storm against an HTTP server, issue 76.
 *
 *   storm PORT N PATH [LATER]
 *
 * Opens N connections to 127.0.0.1:PORT at once (nonblocking connects,
 * as fast as they can be issued), from source addresses 127.0.1.1,
 * 127.0.1.2, ... (200 connections each, under ferry's per-address cap of
 * 256), and on each sends one `GET PATH` and reads the whole answer (or,
 * where PATH is `ftp`, logs in to an FTP server and quits: `USER`,
 * `PASS`, `QUIT`, everything read to the server's close, answered if a
 * `230` came):
 *
 * - without LATER, each as soon as its connect completes (devices
 *   reconnecting after an outage);
 * - with LATER (seconds), only once every connection is established,
 *   and LATER seconds after that (a pool or proxy that opens its
 *   connections first and uses them afterwards).
 *
 * Prints one line: connections established, GETs answered 200 with their
 * whole body, failures, and the seconds from the first connect to the
 * last answer. Bounded: gives up 120 s after the last GET was sent.
 * A level-triggered epoll loop in one thread, so the client is never
 * what makes a server look slow.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { CONNECTING, READY, SENT, HEADER, BODY, DONE, FAILED };
enum { PER_SOURCE = 200, HEAD_MAX = 4096 };

struct conn {
  int fd, state;
  size_t head_len;
  long long left; /* body bytes still to come */
  char head[HEAD_MAX];
};

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static char request[1024];
static size_t request_len;
static int failed;
static int ftp; /* FTP logins rather than GETs */

static void fail(struct conn *c) {
  if (c->state != FAILED && c->state != DONE) {
    close(c->fd);
    c->state = FAILED;
    failed++;
  }
}

static void send_get(int ep, struct conn *c, size_t i) {
  /* A fresh socket's buffer takes a request this short whole. */
  if (send(c->fd, request, request_len, MSG_NOSIGNAL) != (ssize_t)request_len) {
    fail(c);
    return;
  }
  c->state = SENT;
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Takes what the answer's head says once it is whole: its status and
 * Content-Length; what follows it counts towards the body. */
static void on_head(struct conn *c) {
  char *end = memmem(c->head, c->head_len, "\r\n\r\n", 4);
  if (!end) {
    if (c->head_len == HEAD_MAX) fail(c);
    return;
  }
  c->head[c->head_len < HEAD_MAX ? c->head_len : HEAD_MAX - 1] = 0;
  if (strncmp(c->head, "HTTP/1.1 200", 12) != 0) {
    fail(c);
    return;
  }
  char *field = strcasestr(c->head, "\r\ncontent-length:");
  if (!field || field > end) {
    fail(c);
    return;
  }
  long long length = atoll(field + 17);
  c->left = length - (long long)(c->head_len - (size_t)(end + 4 - c->head));
  c->state = BODY;
}

/* FTP: reads the replies until the server closes after QUIT; true if
 * the login was answered 230. A reply split across reads is kept whole:
 * only the first HEAD_MAX bytes are looked at, which hold the 230. */
static int on_ftp_readable(struct conn *c) {
  for (;;) {
    char sink[4096];
    size_t room = HEAD_MAX - 1 - c->head_len;
    char *into = room ? c->head + c->head_len : sink;
    ssize_t n = recv(c->fd, into, room ? room : sizeof sink, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    if (n < 0) {
      fail(c);
      return 0;
    }
    if (n == 0) {
      c->head[c->head_len] = 0;
      int in = strncmp(c->head, "230", 3) == 0 || strstr(c->head, "\n230") != NULL;
      if (!in) {
        fail(c);
        return 0;
      }
      close(c->fd);
      c->state = DONE;
      return 1;
    }
    if (room) c->head_len += (size_t)n;
  }
}

/* Reads what has arrived; true once the answer is whole. */
static int on_readable(struct conn *c, char *scratch, size_t room) {
  if (ftp) return on_ftp_readable(c);
  for (;;) {
    char *into = c->state == BODY ? scratch : c->head + c->head_len;
    size_t want = c->state == BODY ? room : HEAD_MAX - c->head_len;
    ssize_t n = recv(c->fd, into, want, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    if (n <= 0) {
      fail(c);
      return 0;
    }
    if (c->state == BODY) {
      c->left -= n;
    } else {
      c->head_len += (size_t)n;
      on_head(c);
      if (c->state == FAILED) return 0;
    }
    if (c->state == BODY && c->left <= 0) {
      close(c->fd);
      c->state = DONE;
      return 1;
    }
  }
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: storm PORT N PATH [LATER]\n");
    return 2;
  }
  int port = atoi(argv[1]);
  size_t n = (size_t)atol(argv[2]);
  double later = argc > 4 ? atof(argv[4]) : -1;
  ftp = strcmp(argv[3], "ftp") == 0;
  if (ftp)
    request_len = (size_t)snprintf(request, sizeof request, "USER storm\r\nPASS storm\r\nQUIT\r\n");
  else
    request_len = (size_t)snprintf(request, sizeof request,
                                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", argv[3]);
  struct conn *conns = calloc(n, sizeof *conns);
  static char scratch[1 << 20];
  int ep = epoll_create1(0);
  if (!conns || ep < 0) return 1;
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  double start = now();
  for (size_t i = 0; i < n; i++) {
    struct conn *c = &conns[i];
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in from = {.sin_family = AF_INET};
    from.sin_addr.s_addr = htonl(0x7f000100u + 1 + (uint32_t)(i / PER_SOURCE));
    if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&from, sizeof from) < 0) {
      perror("socket/bind");
      return 1;
    }
    if (connect(c->fd, (struct sockaddr *)&to, sizeof to) < 0 && errno != EINPROGRESS) {
      fail(c);
      continue;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = i};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  }
  size_t established = 0, answered = 0, sent = 0;
  double all_sent = 0;
  struct epoll_event events[1024];
  while (answered + (size_t)failed < n) {
    if (sent == n - (size_t)failed && all_sent == 0) all_sent = now();
    if (all_sent > 0 && now() - all_sent > 120) break;
    if (later >= 0 && established + (size_t)failed == n && sent == 0) {
      /* Every connection is up: wait, then use them all. */
      usleep((useconds_t)(later * 1e6));
      for (size_t i = 0; i < n; i++)
        if (conns[i].state == READY) {
          send_get(ep, &conns[i], i);
          sent += conns[i].state == SENT;
        }
      continue;
    }
    int k = epoll_wait(ep, events, 1024, 1000);
    for (int e = 0; e < k; e++) {
      size_t i = (size_t)events[e].data.u64;
      struct conn *c = &conns[i];
      if (c->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
          fail(c);
          continue;
        }
        established++;
        c->state = READY;
        if (later < 0) {
          send_get(ep, c, i);
          sent += c->state == SENT;
        } else {
          struct epoll_event ev = {.events = 0, .data.u64 = i};
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
      } else if (c->state == SENT || c->state == HEADER || c->state == BODY) {
        if (c->state == SENT) c->state = HEADER;
        answered += (size_t)on_readable(c, scratch, sizeof scratch);
      }
    }
  }
  printf("established %zu of %zu, answered %zu, failed %d, seconds %.3f\n", established, n,
         answered, failed, now() - start);
  return 0;
}

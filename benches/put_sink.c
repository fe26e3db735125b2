/* benches/put_sink.c: the bare recv+write loop that a PUT's server CPU is
 * compared with (benches/put_cpu.sh, issue 34). One thread, one
 * connection at a time: it reads an HTTP/1.1 request head, then receives
 * its Content-Length bytes with nonblocking recv(2) into a 256 KiB buffer
 * (epoll_wait when the socket has nothing), write(2)s each piece to
 * DIR/sink.bin, closes the file and answers 201. Nothing else: no
 * checksum, no temp file and rename, no event loop bookkeeping: what is
 * left is the kernel's copy in, the kernel's copy out and a system call
 * each way per buffer, the floor a server's receive path is measured
 * against.
 *
 *   cc -O2 -o put_sink benches/put_sink.c && ./put_sink DIR [OFFSET]
 *
 * The buffer starts OFFSET bytes (default 0) past a page boundary: 16 is
 * where a heap allocation this large lands with glibc (its mmap'd chunk
 * header comes first), which is what showed that the kernel's copies in
 * and out cost more from a misaligned buffer (benches/notes/put_cpu.md).
 *
 * Prints the port it listens on (127.0.0.1, chosen by the kernel), then
 * serves until killed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF (256 * 1024)
#define PAGE 4096
static char *buf;

/* Waits until fd is readable. */
static void wait_readable(int ep) {
  struct epoll_event ev;
  while (epoll_wait(ep, &ev, 1, -1) < 0 && errno == EINTR) {
  }
}

/* One request on c: returns 0 to go on, -1 when the connection is over. */
static int serve_one(int c, int ep, const char *path) {
  size_t held = 0;
  char *end = NULL;
  while (!end) {
    ssize_t n = recv(c, buf + held, BUF - 1 - held, 0);
    if (n == 0) return -1;
    if (n < 0) {
      if (errno == EAGAIN) { wait_readable(ep); continue; }
      if (errno == EINTR) continue;
      return -1;
    }
    held += (size_t)n;
    buf[held] = 0;
    end = strstr(buf, "\r\n\r\n");
    if (!end && held == BUF - 1) return -1;
  }
  char *cl = strcasestr(buf, "\r\ncontent-length:");
  long long left = cl ? atoll(cl + 17) : 0;
  size_t head = (size_t)(end + 4 - buf);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) { perror("open"); return -1; }
  /* Body bytes that came with the head. */
  size_t first = held - head;
  if ((long long)first > left) first = (size_t)left;
  if (first && write(fd, buf + head, first) != (ssize_t)first) { perror("write"); return -1; }
  left -= (long long)first;
  while (left > 0) {
    size_t want = left < BUF ? (size_t)left : BUF;
    ssize_t n = recv(c, buf, want, 0);
    if (n == 0) { close(fd); return -1; }
    if (n < 0) {
      if (errno == EAGAIN) { wait_readable(ep); continue; }
      if (errno == EINTR) continue;
      close(fd);
      return -1;
    }
    if (write(fd, buf, (size_t)n) != n) { perror("write"); close(fd); return -1; }
    left -= n;
  }
  close(fd);
  static const char ok[] = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
  return send(c, ok, sizeof ok - 1, MSG_NOSIGNAL) == sizeof ok - 1 ? 0 : -1;
}

int main(int argc, char **argv) {
  if (argc != 2 && argc != 3) { fprintf(stderr, "usage: put_sink DIR [OFFSET]\n"); return 2; }
  size_t offset = argc == 3 ? (size_t)atol(argv[2]) % PAGE : 0;
  char *pages = aligned_alloc(PAGE, BUF + PAGE);
  if (!pages) { perror("aligned_alloc"); return 1; }
  buf = pages + offset;
  char path[4096];
  snprintf(path, sizeof path, "%s/sink.bin", argv[1]);
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 16) ||
      getsockname(l, (struct sockaddr *)&a, &alen)) {
    perror("listen");
    return 1;
  }
  printf("%d\n", ntohs(a.sin_port));
  fflush(stdout);
  for (;;) {
    int c = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) continue;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
    while (serve_one(c, ep, path) == 0) {
    }
    close(ep);
    close(c);
  }
}

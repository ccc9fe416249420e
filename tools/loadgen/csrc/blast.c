/*
 * oma-blast: a rate-paced syslog sender fast enough to load a receiver beyond what one Node thread sends
 * (about 110-180k datagrams/s): messages are rendered once into a slab, then sent in batches with
 * sendmmsg (UDP, unix datagrams) or one write per batch (TCP, RFC 6587 octet counting). Only the
 * sequence number of each message is written in place before it goes.
 *
 *   oma-blast udp  127.0.0.1:PORT  RATE COUNT [options]
 *   oma-blast unix PATH            RATE COUNT [options]
 *   oma-blast tcp  127.0.0.1:PORT  RATE COUNT [options]
 *     --size BYTES       bytes per message (default 150)
 *     --duration-s S     stop after S seconds whatever the count (default 3600)
 *     --threads N        N sender threads, each with its own socket and an equal share of rate and count
 *     --batch N          messages per sendmmsg / write (default 64)
 *     --run-id WORD      a word in every message after the header (default "blast")
 *     --nonblocking      unix: a full receive queue drops (counted in "dropped") instead of blocking
 *
 * RATE 0 sends as fast as the target takes them. Messages alternate RFC 3164 and RFC 5424 headers;
 * every one carries "<run-id> <10-digit sequence>" so a receiver can count them. Targets are loopback
 * only. Prints one JSON line: sent, bytes, dropped (unix --nonblocking), errors, elapsedSec, achievedRate.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SEQ_DIGITS 10
#define MAX_BATCH 1024
#define MAX_THREADS 16
#define MAX_COUNT 100000000ULL
#define MAX_DURATION_S 3600.0

enum transport { T_UDP, T_UNIX, T_TCP };

struct options {
  enum transport transport;
  struct sockaddr_storage addr;
  socklen_t addrlen;
  double rate;
  uint64_t count;
  double duration_s;
  size_t size;
  int threads;
  int batch;
  int nonblocking;
  const char *run_id;
};

struct job {
  const struct options *o;
  uint64_t first_seq;
  uint64_t count;
  double rate;
  uint64_t sent, bytes, dropped, errors;
  double elapsed;
  char failure[160];
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s) {
  if (s <= 0) return;
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
}

/* Message `i` of a slab: RFC 3164 for even i, RFC 5424 for odd i, `size` bytes; *seq_at is where its digits go. */
static int render(char *out, size_t size, uint64_t i, const char *run_id, size_t *seq_at) {
  char head[256];
  int n;
  if (i % 2 == 0) {
    n = snprintf(head, sizeof head, "<134>Dec  3 17:00:00 benchhost app%u[%u]: %s ", (unsigned)(i % 7), 1000 + (unsigned)(i % 500), run_id);
  } else {
    n = snprintf(head, sizeof head, "<%u>1 2026-12-03T17:00:00.%03uZ benchhost svc%u %u - [m@1 k=\"v\"] %s ", 128 + (unsigned)(i % 8), (unsigned)(i % 1000),
                 (unsigned)(i % 5), 2000 + (unsigned)(i % 300), run_id);
  }
  if (n < 0 || (size_t)n + SEQ_DIGITS > size) return -1;
  memcpy(out, head, (size_t)n);
  memset(out + n, '0', SEQ_DIGITS);
  size_t at = (size_t)n + SEQ_DIGITS;
  static const char words[] = " request served status=200 path=/api/v1/items bytes=5120 user=alice";
  for (size_t k = 0; at < size; at++, k++) out[at] = words[k % (sizeof words - 1)];
  *seq_at = (size_t)n;
  return 0;
}

static void put_seq(char *at, uint64_t seq) {
  for (int d = SEQ_DIGITS - 1; d >= 0; d--) {
    at[d] = (char)('0' + seq % 10);
    seq /= 10;
  }
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void *run(void *arg) {
  struct job *j = arg;
  const struct options *o = j->o;
  const int batch = o->batch;
  /* Frame = "LEN " prefix (TCP) + message. One slab holds a batch. */
  char prefix[16] = "";
  int plen = o->transport == T_TCP ? snprintf(prefix, sizeof prefix, "%zu ", o->size) : 0;
  size_t frame = (size_t)plen + o->size;
  char *slab = malloc(frame * (size_t)batch);
  size_t *seq_at = malloc(sizeof(size_t) * (size_t)batch);
  struct mmsghdr *msgs = calloc((size_t)batch, sizeof *msgs);
  struct iovec *iov = calloc((size_t)batch, sizeof *iov);
  if (!slab || !seq_at || !msgs || !iov) {
    snprintf(j->failure, sizeof j->failure, "out of memory");
    goto out;
  }
  for (int i = 0; i < batch; i++) {
    memcpy(slab + (size_t)i * frame, prefix, (size_t)plen);
    if (render(slab + (size_t)i * frame + plen, o->size, (uint64_t)i, o->run_id, &seq_at[i]) != 0) {
      snprintf(j->failure, sizeof j->failure, "--size is too small for the header");
      goto out;
    }
    seq_at[i] += (size_t)plen;
    iov[i].iov_base = slab + (size_t)i * frame;
    iov[i].iov_len = o->size;
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  int type = o->transport == T_TCP ? SOCK_STREAM : SOCK_DGRAM;
  int fd = socket(o->addr.ss_family, type | SOCK_CLOEXEC | (o->nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0 || connect(fd, (const struct sockaddr *)&o->addr, o->addrlen) != 0) {
    snprintf(j->failure, sizeof j->failure, "cannot connect: %s", strerror(errno));
    if (fd >= 0) close(fd);
    goto out;
  }
  if (o->transport != T_TCP) {
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  }
  const double t0 = now_s();
  uint64_t sent = 0, attempted = 0;
  while (attempted < j->count) {
    double el = now_s() - t0;
    if (el >= o->duration_s) break;
    uint64_t want = j->count - attempted;
    if (want > (uint64_t)batch) want = (uint64_t)batch;
    if (j->rate > 0) {
      /* Send a batch once it is due: over a run the rate is exact, within a batch the messages leave in a burst. */
      double due = el * j->rate - (double)attempted;
      if (due < (double)want) {
        sleep_s((double)(attempted + want) / j->rate - el);
        continue;
      }
    }
    int n = want > (uint64_t)batch ? batch : (int)want;
    for (int i = 0; i < n; i++) put_seq(slab + (size_t)i * frame + seq_at[i], j->first_seq + attempted + (uint64_t)i);
    if (o->transport == T_TCP) {
      if (write_all(fd, slab, frame * (size_t)n) != 0) {
        snprintf(j->failure, sizeof j->failure, "write: %s", strerror(errno));
        break;
      }
      sent += (uint64_t)n;
      attempted += (uint64_t)n;
      continue;
    }
    int done = 0;
    while (done < n) {
      int r = sendmmsg(fd, msgs + done, (unsigned)(n - done), 0);
      if (r > 0) {
        done += r;
        sent += (uint64_t)r;
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
        /* Unix --nonblocking: the receiver's queue is full; this datagram is dropped. */
        j->dropped++;
        done++;
      } else {
        /* ECONNREFUSED (no UDP listener yet): that datagram is lost, counted. */
        j->errors++;
        done++;
      }
    }
    attempted += (uint64_t)n;
  }
  j->elapsed = now_s() - t0;
  j->sent = sent;
  j->bytes = sent * o->size;
  if (o->transport == T_TCP) shutdown(fd, SHUT_WR);
  close(fd);
out:
  free(slab);
  free(seq_at);
  free(msgs);
  free(iov);
  return NULL;
}

static int parse_target(struct options *o, const char *target) {
  memset(&o->addr, 0, sizeof o->addr);
  if (o->transport == T_UNIX) {
    struct sockaddr_un *un = (struct sockaddr_un *)&o->addr;
    if (strlen(target) >= sizeof un->sun_path) return -1;
    un->sun_family = AF_UNIX;
    strcpy(un->sun_path, target);
    o->addrlen = sizeof *un;
    return 0;
  }
  const char *colon = strrchr(target, ':');
  if (!colon) return -1;
  char host[64];
  size_t hl = (size_t)(colon - target);
  if (hl >= sizeof host) return -1;
  memcpy(host, target, hl);
  host[hl] = 0;
  if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
    memmove(host, host + 1, hl - 2);
    host[hl - 2] = 0;
  }
  long port = strtol(colon + 1, NULL, 10);
  if (port < 1 || port > 65535) return -1;
  struct sockaddr_in *in4 = (struct sockaddr_in *)&o->addr;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&o->addr;
  if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
    /* Loopback only: 127.0.0.0/8. */
    if ((ntohl(in4->sin_addr.s_addr) >> 24) != 127) return -2;
    in4->sin_family = AF_INET;
    in4->sin_port = htons((uint16_t)port);
    o->addrlen = sizeof *in4;
    return 0;
  }
  if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return -2;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    o->addrlen = sizeof *in6;
    return 0;
  }
  return -1;
}

static int usage(const char *why) {
  fprintf(stderr, "oma-blast: %s\nusage: oma-blast udp|unix|tcp TARGET RATE COUNT [--size B] [--duration-s S] [--threads N] [--batch N] [--run-id W] [--nonblocking]\n", why);
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 5) return usage("missing arguments");
  struct options o = {.size = 150, .duration_s = MAX_DURATION_S, .threads = 1, .batch = 64, .run_id = "blast"};
  if (strcmp(argv[1], "udp") == 0) o.transport = T_UDP;
  else if (strcmp(argv[1], "unix") == 0) o.transport = T_UNIX;
  else if (strcmp(argv[1], "tcp") == 0) o.transport = T_TCP;
  else return usage("the transport is udp, unix or tcp");
  int t = parse_target(&o, argv[2]);
  if (t == -2) return usage("targets are loopback only (127.0.0.0/8, ::1)");
  if (t != 0) return usage("TARGET is HOST:PORT (udp, tcp; a numeric loopback address) or a socket path (unix)");
  o.rate = strtod(argv[3], NULL);
  o.count = strtoull(argv[4], NULL, 10);
  if (!(o.rate >= 0) || o.count > MAX_COUNT) return usage("RATE is 0 or more, COUNT at most 100,000,000");
  for (int i = 5; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--nonblocking") == 0) {
      o.nonblocking = 1;
      continue;
    }
    if (!v) return usage("an option lacks its value");
    i++;
    if (strcmp(a, "--size") == 0) o.size = (size_t)strtoul(v, NULL, 10);
    else if (strcmp(a, "--duration-s") == 0) o.duration_s = strtod(v, NULL);
    else if (strcmp(a, "--threads") == 0) o.threads = atoi(v);
    else if (strcmp(a, "--batch") == 0) o.batch = atoi(v);
    else if (strcmp(a, "--run-id") == 0) o.run_id = v;
    else return usage("unknown option");
  }
  if (o.size < 64 || o.size > 65000) return usage("--size is 64 to 65000");
  if (!(o.duration_s > 0 && o.duration_s <= MAX_DURATION_S)) return usage("--duration-s is over 0 and at most 3600");
  if (o.threads < 1 || o.threads > MAX_THREADS) return usage("--threads is 1 to 16");
  if (o.batch < 1 || o.batch > MAX_BATCH) return usage("--batch is 1 to 1024");
  if (strlen(o.run_id) > 64) return usage("--run-id is at most 64 bytes");

  struct job jobs[MAX_THREADS];
  pthread_t tids[MAX_THREADS];
  uint64_t share = (o.count + (uint64_t)o.threads - 1) / (uint64_t)o.threads;
  for (int i = 0; i < o.threads; i++) {
    memset(&jobs[i], 0, sizeof jobs[i]);
    jobs[i].o = &o;
    jobs[i].first_seq = share * (uint64_t)i;
    uint64_t left = o.count > jobs[i].first_seq ? o.count - jobs[i].first_seq : 0;
    jobs[i].count = left < share ? left : share;
    jobs[i].rate = o.rate / o.threads;
    if (pthread_create(&tids[i], NULL, run, &jobs[i]) != 0) return usage("cannot start a thread");
  }
  uint64_t sent = 0, bytes = 0, dropped = 0, errors = 0;
  double elapsed = 0;
  const char *failure = NULL;
  for (int i = 0; i < o.threads; i++) {
    pthread_join(tids[i], NULL);
    sent += jobs[i].sent;
    bytes += jobs[i].bytes;
    dropped += jobs[i].dropped;
    errors += jobs[i].errors;
    if (jobs[i].elapsed > elapsed) elapsed = jobs[i].elapsed;
    if (jobs[i].failure[0] && !failure) failure = jobs[i].failure;
  }
  if (failure) {
    fprintf(stderr, "oma-blast: %s\n", failure);
    return 1;
  }
  printf("{\"sent\":%llu,\"bytes\":%llu,\"dropped\":%llu,\"errors\":%llu,\"elapsedSec\":%.6f,\"achievedRate\":%.1f}\n", (unsigned long long)sent,
         (unsigned long long)bytes, (unsigned long long)dropped, (unsigned long long)errors, elapsed, elapsed > 0 ? (double)sent / elapsed : 0.0);
  return 0;
}

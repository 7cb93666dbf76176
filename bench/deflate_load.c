/*
 * deflate_load: an echo load generator that speaks permessage-deflate (RFC 7692), for the
 * compression benchmark (bench/deflate.sh). One thread, epoll, non-blocking sockets; zlib for both
 * directions. Every echoed message is inflated and compared with what was sent.
 *
 *   cc -O2 -o deflate_load bench/deflate_load.c -lz
 *   deflate_load --port 9001 [-c 50] [-w 8] [--duration 3] [--warmup 1] [--pid SERVER_PID]
 *                [--plain] [--no-context-takeover] [--level N] [--label X]
 *   deflate_load --port 9001 --hold -c 1000 --pid SERVER_PID     # memory per idle connection
 *
 * The payload is a ~300-byte JSON document whose numbers change per message, so that context
 * takeover helps as it would with real traffic but no two messages are equal. --plain offers no
 * extension (the uncompressed baseline against the same server); --no-context-takeover offers
 * client_no_context_takeover and server_no_context_takeover. --level sets this client's zlib level
 * (default 6; deflate.sh uses 1, which costs this client about half the CPU per message).
 *
 * --hold opens the -c connections, echoes one message on each (so that both zlib contexts are in
 * use), then reports the server's RSS growth per connection (from /proc/PID/status) and exits.
 *
 * Output: one JSON line on stdout (messages/s, payload and wire MB/s each way, the ratio of wire to
 * payload bytes, the share of echoes that came compressed, latency percentiles, this process's CPU
 * and the server's, from /proc/PID/stat)
 * and one readable line on stderr. Exit 2 on a protocol error, 3 on an echo mismatch.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_MSG 4096
#define RBUF (1 << 20)
#define LAT_BUCKETS 200000 /* 10 us each: up to 2 s */

static struct {
    int port, conns, window, plain, nctx, pid, hold, level;
    double duration, warmup;
    const char *label;
} cfg = {9001, 50, 8, 0, 0, 0, 0, 6, 3, 1, ""};

typedef struct {
    int fd, open;
    z_stream def, inf;
    unsigned char *rbuf;
    size_t rlen;
    unsigned char *wbuf;
    size_t wlen, wcap;
    /* Messages in flight: their payloads and send times, in order (the server echoes in order). */
    unsigned char sent[16][MAX_MSG];
    size_t sent_len[16];
    uint64_t sent_at[16];
    int head, count;
    uint64_t seq, echoed;
} Conn;

static Conn *C;
static int ep;
static uint64_t lat[LAT_BUCKETS + 1];
static uint64_t msgs, msgs_compressed, payload_tx, payload_rx, wire_tx, wire_rx;
static int measuring;
/* The window the server lets this client compress with (RFC 7692 §7.1.2.2): 15 unless the
 * response names client_max_window_bits (zlib has no raw 8-bit window; no server tested asks for
 * 8). */
static int client_window = 15;
/* Whether the response asks this client to reset its compressor after each message. */
static int client_reset = 0;

static void die(int code, const char *what) {
    fprintf(stderr, "deflate_load: %s\n", what);
    exit(code);
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static double cpu_self(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double cpu_pid(int pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return -1;
    unsigned long ut = 0, st = 0;
    /* Fields after the command: state, then 10 more before utime (field 14) and stime (15). */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
    return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

/* A JSON document of about 300 bytes; `seq` changes a few numbers in it. */
static size_t make_payload(unsigned char *out, uint64_t seq) {
    return (size_t)snprintf((char *)out, MAX_MSG,
        "{\"type\":\"update\",\"seq\":%llu,\"user\":{\"id\":%llu,\"name\":\"user-%llu\",\"roles\":[\"reader\","
        "\"writer\"]},\"position\":{\"x\":%llu.25,\"y\":%llu.5,\"z\":0},\"status\":\"online\",\"tags\":"
        "[\"alpha\",\"beta\",\"gamma\",\"delta\"],\"message\":\"The quick brown fox jumps over the lazy dog\","
        "\"counters\":{\"sent\":%llu,\"received\":%llu,\"dropped\":0},\"ok\":true}",
        (unsigned long long)seq, (unsigned long long)(seq % 977), (unsigned long long)(seq % 977),
        (unsigned long long)(seq * 7 % 1000), (unsigned long long)(seq * 13 % 1000),
        (unsigned long long)seq, (unsigned long long)(seq / 2));
}

static void wappend(Conn *c, const void *p, size_t n) {
    if (c->wlen + n > c->wcap) {
        c->wcap = (c->wlen + n) * 2;
        c->wbuf = realloc(c->wbuf, c->wcap);
        if (!c->wbuf) die(1, "out of memory");
    }
    memcpy(c->wbuf + c->wlen, p, n);
    c->wlen += n;
}

static void flush(Conn *c) {
    while (c->wlen > 0) {
        ssize_t n = write(c->fd, c->wbuf, c->wlen);
        if (n < 0) {
            if (errno == EAGAIN) break;
            die(2, "write failed");
        }
        memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t)n);
        c->wlen -= (size_t)n;
    }
    struct epoll_event ev = {.events = EPOLLIN | (c->wlen ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Queues one masked text frame: compressed (RSV1) unless --plain. */
static void send_message(Conn *c) {
    int slot = (c->head + c->count) % 16;
    size_t len = make_payload(c->sent[slot], c->seq++);
    c->sent_len[slot] = len;
    c->sent_at[slot] = now_ns();
    c->count++;
    unsigned char body[MAX_MSG + 64];
    size_t blen;
    int rsv1 = 0;
    if (cfg.plain) {
        memcpy(body, c->sent[slot], len);
        blen = len;
    } else {
        c->def.next_in = c->sent[slot];
        c->def.avail_in = (uInt)len;
        c->def.next_out = body;
        c->def.avail_out = sizeof body;
        if (deflate(&c->def, Z_SYNC_FLUSH) != Z_OK || c->def.avail_in != 0) die(1, "deflate failed");
        blen = sizeof body - c->def.avail_out;
        /* RFC 7692 §7.2.1: drop the 00 00 ff ff that ends a sync flush. */
        if (blen < 4 || memcmp(body + blen - 4, "\x00\x00\xff\xff", 4) != 0) die(1, "no sync trailer");
        blen -= 4;
        if (client_reset) deflateReset(&c->def);
        rsv1 = 0x40;
    }
    unsigned char head[14];
    size_t h = 0;
    head[h++] = (unsigned char)(0x80 | rsv1 | 0x1);
    if (blen < 126) head[h++] = (unsigned char)(0x80 | blen);
    else {
        head[h++] = 0x80 | 126;
        head[h++] = (unsigned char)(blen >> 8);
        head[h++] = (unsigned char)blen;
    }
    uint32_t key = (uint32_t)rand();
    unsigned char *k = (unsigned char *)&key;
    memcpy(head + h, k, 4);
    h += 4;
    for (size_t i = 0; i < blen; i++) body[i] ^= k[i & 3];
    wappend(c, head, h);
    wappend(c, body, blen);
    if (measuring) {
        payload_tx += len;
        wire_tx += h + blen;
    }
}

/* One echoed message: inflate if compressed, compare with the oldest one in flight. */
static void on_message(Conn *c, int rsv1, unsigned char *p, size_t n) {
    unsigned char out[MAX_MSG];
    size_t olen;
    if (rsv1) {
        static unsigned char in[RBUF + 4];
        memcpy(in, p, n);
        memcpy(in + n, "\x00\x00\xff\xff", 4);
        c->inf.next_in = in;
        c->inf.avail_in = (uInt)(n + 4);
        c->inf.next_out = out;
        c->inf.avail_out = sizeof out;
        int r = inflate(&c->inf, Z_SYNC_FLUSH);
        if ((r != Z_OK && r != Z_BUF_ERROR) || c->inf.avail_in != 0) die(2, "inflate failed");
        olen = sizeof out - c->inf.avail_out;
        if (cfg.nctx) inflateReset(&c->inf);
    } else {
        if (n > sizeof out) die(3, "echo too long");
        memcpy(out, p, n);
        olen = n;
    }
    if (c->count == 0) die(3, "unexpected message");
    int slot = c->head;
    if (olen != c->sent_len[slot] || memcmp(out, c->sent[slot], olen) != 0) die(3, "echo mismatch");
    uint64_t us10 = (now_ns() - c->sent_at[slot]) / 10000;
    c->head = (c->head + 1) % 16;
    c->count--;
    if (measuring) {
        msgs++;
        msgs_compressed += rsv1 != 0;
        payload_rx += olen;
        lat[us10 > LAT_BUCKETS ? LAT_BUCKETS : us10]++;
    }
    c->echoed++;
    if (!cfg.hold) send_message(c);
}

static void on_readable(Conn *c) {
    for (;;) {
        ssize_t n = read(c->fd, c->rbuf + c->rlen, RBUF - c->rlen);
        if (n == 0) die(2, "server closed the connection");
        if (n < 0) {
            if (errno == EAGAIN) break;
            die(2, "read failed");
        }
        c->rlen += (size_t)n;
        if (measuring) wire_rx += (uint64_t)n;
        size_t off = 0;
        for (;;) {
            unsigned char *b = c->rbuf + off;
            size_t avail = c->rlen - off;
            if (avail < 2) break;
            size_t len = b[1] & 0x7f, h = 2;
            if (len == 126) {
                if (avail < 4) break;
                len = (size_t)b[2] << 8 | b[3];
                h = 4;
            } else if (len == 127) {
                die(2, "unexpected 64-bit length");
            }
            if (avail < h + len) break;
            int opcode = b[0] & 0x0f;
            if (opcode == 8) {
                fprintf(stderr, "deflate_load: the server closed with %d\n", len >= 2 ? b[h] << 8 | b[h + 1] : 1005);
                exit(2);
            }
            if (!(b[0] & 0x80) || (opcode != 1 && opcode != 2)) die(2, "unexpected frame (fragmented or control)");
            on_message(c, b[0] & 0x40, b + h, len);
            off += h + len;
        }
        memmove(c->rbuf, c->rbuf + off, c->rlen - off);
        c->rlen -= off;
    }
    flush(c);
}


static int handshake(Conn *c) {
    char req[512];
    const char *ext = cfg.plain ? ""
        : cfg.nctx ? "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; "
                     "server_no_context_takeover\r\n"
                   : "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    int n = snprintf(req, sizeof req,
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n", ext);
    if (write(c->fd, req, (size_t)n) != n) return -1;
    char resp[2048];
    size_t got = 0;
    while (got < sizeof resp - 1) {
        ssize_t r = read(c->fd, resp + got, sizeof resp - 1 - got);
        if (r <= 0) return -1;
        got += (size_t)r;
        resp[got] = 0;
        char *end = strstr(resp, "\r\n\r\n");
        if (!end) continue;
        if (strncmp(resp, "HTTP/1.1 101", 12) != 0) return -1;
        int agreed = strcasestr(resp, "permessage-deflate") != NULL;
        if (agreed != !cfg.plain) return -2;
        const char *bits = strcasestr(resp, "client_max_window_bits=");
        if (bits && bits < end) client_window = atoi(bits + strlen("client_max_window_bits="));
        const char *reset = strcasestr(resp, "client_no_context_takeover");
        if (reset && reset < end) client_reset = 1;
        if (client_window < 9 || client_window > 15) return -1;
        size_t rest = got - (size_t)(end + 4 - resp);
        memcpy(c->rbuf, end + 4, rest);
        c->rlen = rest;
        return 0;
    }
    return -1;
}

static long rss_kb(int pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
    fclose(f);
    return kb;
}

/* --hold: one message per connection, then the server's RSS growth per connection. */
static int hold(long rss0) {
    uint64_t deadline = now_ns() + 20000000000ull;
    struct epoll_event evs[64];
    for (;;) {
        int done = 1;
        for (int i = 0; i < cfg.conns; i++) done &= C[i].echoed > 0;
        if (done) break;
        if (now_ns() > deadline) die(2, "echoes did not arrive within 20 s");
        int n = epoll_wait(ep, evs, 64, 10);
        for (int i = 0; i < n; i++) {
            Conn *c = evs[i].data.ptr;
            if (evs[i].events & EPOLLIN) on_readable(c);
            else if (evs[i].events & EPOLLOUT) flush(c);
        }
    }
    usleep(500000);
    long rss1 = rss_kb(cfg.pid);
    double per = (rss1 - rss0) * 1024.0 / cfg.conns;
    printf("{\"tool\":\"deflate_load\",\"label\":\"%s\",\"hold\":true,\"compressed\":%s,"
           "\"context_takeover\":%s,\"conns\":%d,\"rss_before_kb\":%ld,\"rss_after_kb\":%ld,"
           "\"rss_per_conn_bytes\":%.0f}\n",
           cfg.label, cfg.plain ? "false" : "true", cfg.nctx ? "false" : "true", cfg.conns, rss0, rss1, per);
    fprintf(stderr, "%s %s hold: %.0f B per connection\n", cfg.label, cfg.plain ? "plain" : "deflate", per);
    return 0;
}

static double pct(double q) {
    uint64_t total = 0, seen = 0;
    for (int i = 0; i <= LAT_BUCKETS; i++) total += lat[i];
    for (int i = 0; i <= LAT_BUCKETS; i++) {
        seen += lat[i];
        if (seen >= q * total) return i * 10.0;
    }
    return 0;
}

int main(int argc, char **argv) {
    static struct option opts[] = {{"port", 1, 0, 'p'}, {"duration", 1, 0, 'd'}, {"warmup", 1, 0, 'u'},
        {"pid", 1, 0, 'P'}, {"plain", 0, 0, 'n'}, {"no-context-takeover", 0, 0, 'x'},
        {"label", 1, 0, 'l'}, {"hold", 0, 0, 'H'}, {"level", 1, 0, 'L'}, {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "c:w:", opts, NULL)) != -1) {
        switch (o) {
        case 'p': cfg.port = atoi(optarg); break;
        case 'c': cfg.conns = atoi(optarg); break;
        case 'w': cfg.window = atoi(optarg); break;
        case 'd': cfg.duration = atof(optarg); break;
        case 'u': cfg.warmup = atof(optarg); break;
        case 'P': cfg.pid = atoi(optarg); break;
        case 'n': cfg.plain = 1; break;
        case 'x': cfg.nctx = 1; break;
        case 'l': cfg.label = optarg; break;
        case 'H': cfg.hold = 1; break;
        case 'L': cfg.level = atoi(optarg); break;
        default: die(1, "usage: see the comment at the top of deflate_load.c");
        }
    }
    if (cfg.conns < 1 || cfg.window < 1 || cfg.window > 15) die(1, "bad -c or -w (1..15)");
    if (cfg.hold && !cfg.pid) die(1, "--hold needs --pid");
    if (cfg.hold) cfg.window = 1;
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    long rss0 = cfg.pid ? rss_kb(cfg.pid) : -1;
    srand((unsigned)now_ns());
    ep = epoll_create1(0);
    C = calloc((size_t)cfg.conns, sizeof *C);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    for (int i = 0; i < cfg.conns; i++) {
        Conn *c = &C[i];
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        /* A busy machine may refuse a connect now and then (a full backlog, ports in TIME_WAIT). */
        int tries = 0;
        while (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
            if (++tries == 20 || (errno != ECONNREFUSED && errno != EADDRNOTAVAIL && errno != EAGAIN)) {
                fprintf(stderr, "deflate_load: cannot connect: %s\n", strerror(errno));
                exit(2);
            }
            close(c->fd);
            usleep(50000);
            c->fd = socket(AF_INET, SOCK_STREAM, 0);
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        c->rbuf = malloc(RBUF);
        int h = handshake(c);
        if (h == -2) die(2, cfg.plain ? "server negotiated compression unasked" : "server declined permessage-deflate");
        if (h != 0) die(2, "handshake failed");
        if (deflateInit2(&c->def, cfg.level, Z_DEFLATED, -client_window, 8, Z_DEFAULT_STRATEGY) != Z_OK ||
            inflateInit2(&c->inf, -15) != Z_OK)
            die(1, "zlib init failed");
        fcntl(c->fd, F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
        for (int w = 0; w < cfg.window; w++) send_message(c);
        flush(c);
    }
    if (cfg.hold) return hold(rss0);
    uint64_t start = now_ns(), measure_at = start + (uint64_t)(cfg.warmup * 1e9),
             stop_at = measure_at + (uint64_t)(cfg.duration * 1e9);
    double cpu0 = 0, srv0 = 0;
    struct epoll_event evs[64];
    for (;;) {
        uint64_t t = now_ns();
        if (!measuring && t >= measure_at) {
            measuring = 1;
            cpu0 = cpu_self();
            srv0 = cfg.pid ? cpu_pid(cfg.pid) : 0;
        }
        if (t >= stop_at) break;
        int n = epoll_wait(ep, evs, 64, 10);
        for (int i = 0; i < n; i++) {
            Conn *c = evs[i].data.ptr;
            if (evs[i].events & EPOLLIN) on_readable(c);
            else if (evs[i].events & EPOLLOUT) flush(c);
            if (evs[i].events & (EPOLLERR | EPOLLHUP)) die(2, "connection failed");
        }
    }
    double secs = cfg.duration;
    double gen = (cpu_self() - cpu0) / secs;
    double srv = cfg.pid ? (cpu_pid(cfg.pid) - srv0) / secs : -1;
    printf("{\"tool\":\"deflate_load\",\"label\":\"%s\",\"compressed\":%s,\"context_takeover\":%s,"
           "\"conns\":%d,\"window\":%d,\"msgs\":%llu,\"msgs_per_s\":%.1f,\"payload_tx_MBps\":%.3f,"
           "\"payload_rx_MBps\":%.3f,\"wire_tx_MBps\":%.3f,\"wire_rx_MBps\":%.3f,\"wire_per_payload_rx\":%.4f,"
           "\"echo_compressed\":%.3f,\"lat_us\":{\"p50\":%.0f,\"p99\":%.0f},\"gen_cpu\":%.3f,\"srv_cpu\":%.3f}\n",
           cfg.label, cfg.plain ? "false" : "true", cfg.nctx ? "false" : "true", cfg.conns, cfg.window,
           (unsigned long long)msgs, msgs / secs, payload_tx / secs / 1e6, payload_rx / secs / 1e6,
           wire_tx / secs / 1e6, wire_rx / secs / 1e6, payload_rx ? (double)wire_rx / (double)payload_rx : 0,
           msgs ? (double)msgs_compressed / (double)msgs : 0, pct(.5), pct(.99), gen, srv);
    fprintf(stderr, "%s %s: %.0f msg/s, wire/payload %.2f (%.0f%% of echoes compressed), lat p50 %.0fus p99 %.0fus | cpu gen %.0f%% srv %.0f%%\n",
            cfg.label, cfg.plain ? "plain" : "deflate", msgs / secs,
            payload_rx ? (double)wire_rx / (double)payload_rx : 0, msgs ? 100.0 * msgs_compressed / msgs : 0,
            pct(.5), pct(.99), gen * 100, srv * 100);
    return 0;
}

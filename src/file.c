/*
 * file.c: atomic file writing, whole-file reading (plain or gzip, via zlib),
 * CRC-32, and a fast parser for delimited numeric text.
 *
 * A file is never left half-written: bytes go (through a 64 KB buffer: a
 * checkpoint's many small fields cost one write(2) per 64 KB, not one each)
 * to a temporary file next to the target, which is fsync'd and renamed over
 * it (POSIX rename is atomic), and the directory is fsync'd so that the
 * rename itself survives a crash.  Temporary files that a killed save left
 * are removed by the next save of the same path (see below).
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ------------------------------------------------------- atomic writing */

/*
 * Temporary files live next to the file they replace (a rename never crosses
 * file systems) under a name of bounded length that identifies the target:
 *
 *     .<up to 64 bytes of the name>.<crc32 of the whole name, 8 hex>.<pid>-<n>.gdtmp
 *
 * so a 255-byte file name still has a valid temporary name (NAME_MAX), and the
 * next save of the same path can find the ones a killed save left behind.  A
 * writer holds an exclusive flock on its temporary file for as long as it
 * lives (the kernel drops it when the process dies, however it dies): a
 * temporary file whose lock can be taken belongs to no live writer and is
 * removed; a live concurrent writer's is left alone.
 */
#define TMP_STEM_MAX 64
#define WRITER_BUFSIZE (64 * 1024) /* one write(2) per 64 KB instead of one per field */

struct gd_writer {
    int fd;
    char *path;   /* what the caller named (for messages) */
    char *target; /* the file replaced: path with symlinks followed */
    char *tmp;
    uint32_t crc;
    int failed;
    size_t used;
    uint8_t buf[WRITER_BUFSIZE];
};

static unsigned long tmp_counter;

/* The directory part of path ("." when none) and its last component. */
static int split_path(const char *path, char **dir, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *dir = strdup(".");
        *base = path;
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        *dir = strndup(path, n);
        *base = slash + 1;
    }
    return *dir ? GD_OK : gd_fail(GD_ENOMEM, "out of memory");
}

/* path with every symlink in its last component followed, so that a save
   through a link replaces the link's target (atomically, in the target's
   directory) and the link stays a link.  A dangling link names the file to
   create.  Directories on the way are left to the kernel. */
static int resolve_target(const char *path, char **out)
{
    char *cur = strdup(path);
    if (!cur) return gd_fail(GD_ENOMEM, "out of memory");
    for (int hops = 0;; hops++) {
        struct stat sb;
        if (lstat(cur, &sb) != 0 || !S_ISLNK(sb.st_mode)) break;
        if (hops >= 40) {
            free(cur);
            return gd_fail(GD_EIO, "cannot write '%s': too many levels of symbolic links", path);
        }
        size_t cap = (size_t)sb.st_size + 1 > 256 ? (size_t)sb.st_size + 1 : 256;
        char *link = NULL;
        ssize_t k;
        for (;;) {
            char *nl = realloc(link, cap);
            if (!nl) { free(link); free(cur); return gd_fail(GD_ENOMEM, "out of memory"); }
            link = nl;
            k = readlink(cur, link, cap);
            if (k < 0 || (size_t)k < cap) break;
            cap *= 2;
        }
        if (k < 0) { free(link); break; } /* replaced meanwhile: write cur itself */
        link[k] = 0;
        char *next;
        const char *slash = strrchr(cur, '/');
        if (link[0] == '/' || !slash) {
            next = link;
        } else {
            size_t dn = (size_t)(slash - cur) + 1;
            next = malloc(dn + (size_t)k + 1);
            if (next) { memcpy(next, cur, dn); memcpy(next + dn, link, (size_t)k + 1); }
            free(link);
            if (!next) { free(cur); return gd_fail(GD_ENOMEM, "out of memory"); }
        }
        free(cur);
        cur = next;
    }
    *out = cur;
    return GD_OK;
}

/* ".<stem>.<crc>." : what every temporary file of target's name starts with. */
static void tmp_prefix(char *out, size_t cap, const char *base)
{
    size_t len = strlen(base);
    uint32_t crc = gd_crc32((uint32_t)crc32(0L, Z_NULL, 0), base, len);
    snprintf(out, cap, ".%.*s.%08x.", (int)(len < TMP_STEM_MAX ? len : TMP_STEM_MAX), base, (unsigned)crc);
}

/* Removes the temporary files of base in dir that no live writer holds. */
static void remove_stale_tmp(const char *dir, const char *base, const char *own)
{
    char prefix[TMP_STEM_MAX + 16];
    tmp_prefix(prefix, sizeof prefix, base);
    size_t plen = strlen(prefix);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return;
    DIR *d = fdopendir(dfd);
    if (!d) { close(dfd); return; }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        size_t n = strlen(name);
        if (n <= plen + 6 || strncmp(name, prefix, plen) != 0 || strcmp(name + n - 6, ".gdtmp") != 0) continue;
        if (own && strcmp(name, own) == 0) continue;
        int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) continue;
        struct stat held, now;
        /* unlocked: its writer is dead.  Unlink only the file we locked (the
           name could have been reused since readdir). */
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &held) == 0 &&
            fstatat(dfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 && held.st_ino == now.st_ino &&
            held.st_dev == now.st_dev)
            unlinkat(dfd, name, 0);
        close(fd);
    }
    closedir(d);
}

static void writer_free(gd_writer *w)
{
    free(w->path);
    free(w->target);
    free(w->tmp);
    free(w);
}

int gd_writer_open(gd_writer **out, const char *path)
{
    if (!path || !*path) return gd_fail(GD_EINVAL, "empty file name");
    gd_writer *w = calloc(1, sizeof *w);
    if (!w) return gd_fail(GD_ENOMEM, "out of memory");
    w->fd = -1;
    w->path = strdup(path);
    if (!w->path) { writer_free(w); return gd_fail(GD_ENOMEM, "out of memory"); }
    int st = resolve_target(path, &w->target);
    if (st) { writer_free(w); return st; }
    char *dir;
    const char *base;
    st = split_path(w->target, &dir, &base);
    if (st) { writer_free(w); return st; }
    if (!*base) {
        free(dir); writer_free(w);
        return gd_fail(GD_EIO, "cannot write '%s': it names a directory", path);
    }
    /* keep the replaced file's permissions (a 0600 checkpoint stays 0600);
       a new file gets 0666 less the umask, as fopen's files do */
    struct stat old;
    int have_old = stat(w->target, &old) == 0 && S_ISREG(old.st_mode);
    char prefix[TMP_STEM_MAX + 16];
    tmp_prefix(prefix, sizeof prefix, base);
    size_t n = strlen(dir) + strlen(prefix) + 64;
    w->tmp = malloc(n);
    if (!w->tmp) { free(dir); writer_free(w); return gd_fail(GD_ENOMEM, "out of memory"); }
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned long k = __atomic_fetch_add(&tmp_counter, 1, __ATOMIC_RELAXED);
        snprintf(w->tmp, n, "%s/%s%ld-%lu.gdtmp", dir, prefix, (long)getpid(), k);
        w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, have_old ? 0600 : 0666);
        if (w->fd < 0 && errno == EEXIST) continue; /* a dead process's, with our pid */
        if (w->fd < 0) break;
        struct stat sb;
        /* a cleaner may have taken the name between open and flock: then the
           file is gone and we start over */
        if (flock(w->fd, LOCK_EX) == 0 && fstat(w->fd, &sb) == 0 && sb.st_nlink > 0) break;
        close(w->fd);
        w->fd = -1;
        errno = EEXIST;
    }
    if (w->fd < 0) {
        int e = errno;
        free(dir); writer_free(w);
        return gd_fail(GD_EIO, "cannot write '%s': %s", path, strerror(e));
    }
    if (have_old) {
        if (fchown(w->fd, old.st_uid, old.st_gid) != 0) { /* only root may give files away: keep ours */ }
        if (fchmod(w->fd, old.st_mode & 07777) != 0) {
            int e = errno;
            close(w->fd); unlink(w->tmp); free(dir); writer_free(w);
            return gd_fail(GD_EIO, "cannot write '%s': %s", path, strerror(e));
        }
    }
    remove_stale_tmp(dir, base, strrchr(w->tmp, '/') + 1);
    free(dir);
    w->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    *out = w;
    return GD_OK;
}

static int write_fully(gd_writer *w, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(w->fd, p, n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n);
        if (k < 0) {
            if (errno == EINTR) continue;
            w->failed = 1;
            return gd_fail(GD_EIO, "cannot write '%s': %s", w->path, strerror(errno));
        }
        p += k;
        n -= (size_t)k;
    }
    return GD_OK;
}

static int writer_flush(gd_writer *w)
{
    size_t n = w->used;
    w->used = 0;
    return write_fully(w, w->buf, n);
}

int gd_writer_write(gd_writer *w, const void *bytes, size_t n)
{
    if (!w) return gd_fail(GD_EINVAL, "writer is closed");
    if (w->failed) return gd_fail(GD_EIO, "an earlier write to '%s' failed", w->path);
    const uint8_t *p = bytes;
    w->crc = gd_crc32(w->crc, p, n);
    if (w->used + n <= WRITER_BUFSIZE) {
        memcpy(w->buf + w->used, p, n);
        w->used += n;
        return GD_OK;
    }
    GD_TRY(writer_flush(w));
    if (n < WRITER_BUFSIZE) {
        memcpy(w->buf, p, n);
        w->used = n;
        return GD_OK;
    }
    return write_fully(w, p, n); /* big blocks (tensor data) go straight out */
}

int gd_writer_write_tensor(gd_writer *w, const gd_tensor *t)
{
    GD_TRY(gd_check_tensor(t, "tensor"));
    size_t nbytes = (size_t)t->count * gd_dtype_size(t->scalar_type);
    if (t->device_kind == GD_CPU && t->is_contiguous) return gd_writer_write(w, t->data, nbytes);
    void *buf = malloc(nbytes ? nbytes : 1);
    if (!buf) return gd_fail(GD_ENOMEM, "out of memory staging a tensor of %zu bytes", nbytes);
    int st = gd_copy_to_bytes(t, buf, nbytes);
    if (!st) st = gd_writer_write(w, buf, nbytes);
    free(buf);
    return st;
}

uint32_t gd_writer_crc32(const gd_writer *w) { return w ? w->crc : 0; }

int gd_writer_commit(gd_writer *w)
{
    if (!w) return gd_fail(GD_EINVAL, "writer is closed");
    int st = GD_OK;
    if (w->failed) st = gd_fail(GD_EIO, "an earlier write to '%s' failed", w->path);
    if (!st) st = writer_flush(w);
    if (!st && fsync(w->fd) != 0) st = gd_fail(GD_EIO, "cannot sync '%s': %s", w->path, strerror(errno));
    /* the rename comes before close: the lock is held until the temporary
       name is gone, so no cleaner can mistake it for a dead writer's */
    if (!st && rename(w->tmp, w->target) != 0)
        st = gd_fail(GD_EIO, "cannot rename onto '%s': %s", w->path, strerror(errno));
    if (st) unlink(w->tmp);
    /* after a successful fsync and rename the new file is complete and in
       place: close cannot lose data then, and its status is not an error */
    close(w->fd);
    if (!st) {
        /* make the rename durable */
        char *dir;
        const char *base;
        if (split_path(w->target, &dir, &base) == GD_OK) {
            int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) { fsync(dfd); close(dfd); }
            free(dir);
        }
    }
    writer_free(w);
    return st;
}

void gd_writer_abort(gd_writer *w)
{
    if (!w) return;
    unlink(w->tmp);
    close(w->fd);
    writer_free(w);
}

/* A zip member compressed with method 8 (raw deflate, no zlib or gzip
   wrapper: windowBits -15): exactly dst_len bytes must come out and the
   deflate stream must end with the input, or the member is corrupt. */
int gd_inflate_raw(void *dst, size_t dst_len, const void *src, size_t src_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -15) != Z_OK) return gd_fail(GD_ENOMEM, "inflate: zlib could not start");
    const Bytef *in = src;
    Bytef *out = dst;
    size_t in_left = src_len, out_left = dst_len;
    int rc = Z_OK;
    while (rc == Z_OK) {
        /* zlib counts in uInt: feed at most 1 GB at a time */
        if (z.avail_in == 0 && in_left > 0) {
            z.avail_in = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
            z.next_in = (Bytef *)in;
            in += z.avail_in;
            in_left -= z.avail_in;
        }
        if (z.avail_out == 0 && out_left > 0) {
            z.avail_out = out_left > (1u << 30) ? (1u << 30) : (uInt)out_left;
            z.next_out = out;
            out += z.avail_out;
            out_left -= z.avail_out;
        }
        uInt before_in = z.avail_in, before_out = z.avail_out;
        rc = inflate(&z, Z_NO_FLUSH);
        if (rc == Z_BUF_ERROR && z.avail_in == before_in && z.avail_out == before_out) break;   /* no progress */
        if (rc == Z_BUF_ERROR) rc = Z_OK;
    }
    size_t produced = (size_t)z.total_out;
    bool consumed = z.avail_in == 0 && in_left == 0;
    inflateEnd(&z);
    if (rc == Z_STREAM_END && produced == dst_len && consumed) return GD_OK;
    if (rc == Z_STREAM_END && produced != dst_len)
        return gd_fail(GD_EFORMAT, "inflate: the member inflates to %zu bytes, its header says %zu", produced, dst_len);
    if (rc == Z_STREAM_END) return gd_fail(GD_EFORMAT, "inflate: bytes after the end of the compressed member");
    if (rc == Z_DATA_ERROR) return gd_fail(GD_EFORMAT, "inflate: corrupt compressed data (%s)", z.msg ? z.msg : "?");
    if (rc == Z_MEM_ERROR) return gd_fail(GD_ENOMEM, "inflate: out of memory");
    return gd_fail(GD_EFORMAT, "inflate: the compressed member is truncated or larger than its header says");
}

uint32_t gd_crc32(uint32_t crc, const void *bytes, size_t n)
{
    const Bytef *p = bytes;
    while (n > 0) {
        uInt len = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, p, len);
        p += len;
        n -= len;
    }
    return crc;
}

void gd_buffer_free(gd_buffer *b)
{
    if (!b) return;
    free(b->bytes);
    b->bytes = NULL;
    b->size = 0;
}

static int read_plain(gd_buffer *out, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return gd_fail(GD_EIO, "cannot read '%s': %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap + 1);
    while (buf) {
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0) break;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2 + 1);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    int err = ferror(f);
    fclose(f);
    if (!buf) return gd_fail(GD_ENOMEM, "out of memory reading '%s'", path);
    if (err) { free(buf); return gd_fail(GD_EIO, "cannot read '%s'", path); }
    buf[n] = 0; /* text parsers may rely on a terminator */
    out->bytes = buf;
    out->size = n;
    return GD_OK;
}

static int read_gzip(gd_buffer *out, const char *path)
{
    gzFile g = gzopen(path, "rb");
    if (!g) return gd_fail(GD_EIO, "cannot read '%s': %s", path, strerror(errno ? errno : EIO));
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap + 1);
    int st = GD_OK;
    while (buf) {
        int k = gzread(g, buf + n, (unsigned)(cap - n > (1u << 30) ? (1u << 30) : cap - n));
        if (k < 0) {
            int errnum;
            const char *msg = gzerror(g, &errnum);
            st = gd_fail(GD_EFORMAT, "'%s' is not a valid gzip file: %s", path, msg);
            break;
        }
        if (k == 0) break;
        n += (size_t)k;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2 + 1);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    if (!st && buf) {
        /* gzread's 0 is also what a truncated stream ends with: only gzerror
           tells a complete file from a cut one (zlib reports Z_BUF_ERROR,
           "unexpected end of file") */
        int errnum;
        const char *msg = gzerror(g, &errnum);
        if (errnum != Z_OK)
            st = gd_fail(GD_EFORMAT, "'%s' is not a valid gzip file: %s", path, errnum == Z_BUF_ERROR ?
                         "truncated (the compressed stream ends early)" : msg);
    }
    int closed = gzclose(g);
    if (!st && buf && closed != Z_OK)
        st = gd_fail(GD_EFORMAT, "'%s' is not a valid gzip file: %s", path,
                     closed == Z_BUF_ERROR ? "truncated (the compressed stream ends early)" : "cannot close it");
    if (!buf) return gd_fail(GD_ENOMEM, "out of memory reading '%s'", path);
    if (st) { free(buf); return st; }
    buf[n] = 0;
    out->bytes = buf;
    out->size = n;
    return GD_OK;
}

int gd_read_file(gd_buffer *out, const char *path, int gunzip)
{
    out->bytes = NULL;
    out->size = 0;
    if (!path || !*path) return gd_fail(GD_EINVAL, "empty file name");
    struct stat sb;
    if (stat(path, &sb) != 0) return gd_fail(GD_EIO, "cannot read '%s': %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return gd_fail(GD_EIO, "cannot read '%s': it is a directory", path);
    if (S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode) || S_ISSOCK(sb.st_mode))
        return gd_fail(GD_EIO, "cannot read '%s': it is a device or socket, not a file", path);
    return gunzip ? read_gzip(out, path) : read_plain(out, path);
}

/* ------------------------------------------------------- delimited numbers */

/*
 * Delimited numeric text (CSV, TSV, whitespace-free .dat files), as NumPy's
 * loadtxt reads it: one row per line, where a line ends at LF, CR or CRLF (old
 * Mac, Windows and Unix files alike); blank lines are skipped; each field is a
 * number with optional blanks around it.  A field is parsed in the result's
 * dtype: float32 with strtof and float64 with strtod (each correctly rounded
 * once), int64 with strtoll, exactly (through a double, 2^53 + 1 would read
 * as 2^53).  Refused: a value out of the dtype's range (1e400, 2^63), a
 * non-integer in an int64 column (1.7 is not silently 1), and NUL bytes (a
 * binary file, or a field that C would read only up to the NUL).
 */

/* The scratch copy of one field (strto* need a terminator); grows as needed,
   so a field has no length limit. */
typedef struct { char *p; size_t cap; } scratch;

static const char *field_text(scratch *s, const char *start, size_t len)
{
    if (len + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 64;
        while (cap < len + 1) cap *= 2;
        char *np = realloc(s->p, cap);
        if (!np) return NULL;
        s->p = np;
        s->cap = cap;
    }
    memcpy(s->p, start, len);
    s->p[len] = 0;
    return s->p;
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

/* "[+-]digits" and nothing else: what Python's int() and NumPy's loadtxt
   (dtype=int64) read. */
static bool is_integer_literal(const char *s)
{
    if (*s == '+' || *s == '-') s++;
    if (!*s) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

/* Parses one field's text into slot `i` of vals (of dtype).  Returns NULL or
   what is wrong with it. */
static const char *parse_number(const char *txt, int dtype, void *vals, size_t i)
{
    char *e;
    errno = 0;
    if (dtype == GD_INT64) {
        if (!is_integer_literal(txt)) return "is not an integer (the column is int64)";
        long long v = strtoll(txt, &e, 10);
        if (errno == ERANGE) return "is outside int64's range";
        ((int64_t *)vals)[i] = (int64_t)v;
        return NULL;
    }
    if (dtype == GD_FLOAT32) {
        float v = strtof(txt, &e);
        if (e == txt || *e) return "is not a number";
        if (errno == ERANGE && isinf(v)) return "is outside float32's range";
        ((float *)vals)[i] = v;
        return NULL;
    }
    double v = strtod(txt, &e);
    if (e == txt || *e) return "is not a number";
    /* ERANGE with a tiny result is gradual underflow (1e-400 is 0, as in
       NumPy); with an infinite one, overflow: refused */
    if (errno == ERANGE && isinf(v)) return "is outside float64's range";
    ((double *)vals)[i] = v;
    return NULL;
}

int gd_parse_delimited(gd_tensor **out, const char *text, size_t n, char sep, int skip_rows, int dtype)
{
    if (dtype != GD_FLOAT32 && dtype != GD_FLOAT64 && dtype != GD_INT64)
        return gd_fail(GD_EINVAL, "unknown dtype code %d", dtype);
    if (sep == '\n' || sep == '\r' || sep == 0)
        return gd_fail(GD_EINVAL, "the separator cannot be a line end or NUL");
    size_t esize = gd_dtype_size(dtype);
    const char *p = text, *end = text + n;
    const char *nul = memchr(text, 0, n);
    if (nul) {
        int64_t line = 1;
        for (const char *c = text; c < nul; c++)
            if (*c == '\n' || (*c == '\r' && !(c + 1 < nul && c[1] == '\n'))) line++;
        return gd_fail(GD_EFORMAT, "line %lld has a NUL byte (at byte %zu): not a text file", (long long)line,
                       (size_t)(nul - text) + 1);
    }
    int64_t line = 0, rows = 0, cols = -1;
    size_t cap = 1024, used = 0;
    uint8_t *vals = malloc(cap * esize);
    scratch s = {NULL, 0};
    if (!vals) return gd_fail(GD_ENOMEM, "out of memory");
    int st = GD_OK;
    while (p < end && !st) {
        line++;
        const char *eol = p;
        while (eol < end && *eol != '\n' && *eol != '\r') eol++;
        const char *next = eol;
        if (next < end) next += (*next == '\r' && next + 1 < end && next[1] == '\n') ? 2 : 1;
        /* blank lines (and the header rows) are skipped */
        bool blank = true;
        for (const char *c = p; c < eol; c++)
            if (!is_blank(*c)) { blank = false; break; }
        if (blank || line <= skip_rows) { p = next; continue; }
        int64_t k = 0;
        const char *q = p;
        for (;;) {
            const char *fs = q;
            while (fs < eol && is_blank(*fs) && *fs != sep) fs++;
            const char *fe = fs;
            while (fe < eol && *fe != sep) fe++;
            const char *stop = fe;
            while (stop > fs && is_blank(stop[-1]) && stop[-1] != sep) stop--;
            size_t len = (size_t)(stop - fs);
            if (used == cap) {
                uint8_t *nv = realloc(vals, cap * 2 * esize);
                if (!nv) { st = gd_fail(GD_ENOMEM, "out of memory"); break; }
                vals = nv;
                cap *= 2;
            }
            const char *txt = field_text(&s, fs, len);
            if (!txt) { st = gd_fail(GD_ENOMEM, "out of memory"); break; }
            const char *why = len == 0 ? "is not a number (an empty field)" : parse_number(txt, dtype, vals, used);
            if (why) {
                int flen = len > 40 ? 40 : (int)len;
                st = gd_fail(GD_EFORMAT, "line %lld, field %lld: '%.*s%s' %s", (long long)line, (long long)k + 1,
                             flen, fs, len > 40 ? "..." : "", why);
                break;
            }
            used++;
            k++;
            if (fe < eol) q = fe + 1; /* at sep */
            else break;
        }
        if (st) break;
        if (cols < 0) cols = k;
        else if (k != cols) {
            st = gd_fail(GD_EFORMAT, "line %lld has %lld fields, but the rows before it have %lld", (long long)line,
                         (long long)k, (long long)cols);
            break;
        }
        rows++;
        p = next;
    }
    free(s.p);
    if (!st && rows == 0) st = gd_fail(GD_EFORMAT, "no data rows");
    gd_tensor *t = NULL;
    if (!st) {
        int64_t sizes[2] = {rows, cols};
        st = gd_empty(&t, 2, sizes, dtype, GD_CPU);
        if (!st) memcpy(t->data, vals, used * esize);
    }
    free(vals);
    if (st) return st;
    *out = t;
    return GD_OK;
}

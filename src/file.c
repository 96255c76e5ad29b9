/*
 * file.c: atomic file writing, whole-file reading (plain or gzip, via zlib),
 * CRC-32, and a fast parser for delimited numeric text.
 *
 * A file is never left half-written: bytes go to a temporary file next to the
 * target, which is fsync'd and renamed over it (POSIX rename is atomic), and
 * the directory is fsync'd so that the rename itself survives a crash.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

struct gd_writer {
    int fd;
    char *path, *tmp;
    uint32_t crc;
    int failed;
};

int gd_writer_open(gd_writer **out, const char *path)
{
    if (!path || !*path) return gd_fail(GD_EINVAL, "empty file name");
    gd_writer *w = calloc(1, sizeof *w);
    if (!w) return gd_fail(GD_ENOMEM, "out of memory");
    w->path = strdup(path);
    size_t n = strlen(path) + 32;
    w->tmp = malloc(n);
    if (!w->path || !w->tmp) {
        free(w->path); free(w->tmp); free(w);
        return gd_fail(GD_ENOMEM, "out of memory");
    }
    snprintf(w->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int e = errno;
        free(w->path); free(w->tmp); free(w);
        return gd_fail(GD_EIO, "cannot write '%s': %s", path, strerror(e));
    }
    w->crc = (uint32_t)crc32(0L, Z_NULL, 0);
    *out = w;
    return GD_OK;
}

int gd_writer_write(gd_writer *w, const void *bytes, size_t n)
{
    if (!w) return gd_fail(GD_EINVAL, "writer is closed");
    if (w->failed) return gd_fail(GD_EIO, "an earlier write to '%s' failed", w->path);
    const char *p = bytes;
    /* zlib's crc32 takes a uInt length: feed it in chunks */
    for (size_t done = 0; done < n;) {
        size_t len = n - done > (1u << 30) ? (1u << 30) : n - done;
        w->crc = (uint32_t)crc32(w->crc, (const Bytef *)p + done, (uInt)len);
        done += len;
    }
    while (n > 0) {
        ssize_t k = write(w->fd, p, n);
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

static void writer_free(gd_writer *w)
{
    free(w->path);
    free(w->tmp);
    free(w);
}

int gd_writer_commit(gd_writer *w)
{
    if (!w) return gd_fail(GD_EINVAL, "writer is closed");
    int st = GD_OK;
    if (w->failed) st = gd_fail(GD_EIO, "an earlier write to '%s' failed", w->path);
    if (!st && fsync(w->fd) != 0) st = gd_fail(GD_EIO, "cannot sync '%s': %s", w->path, strerror(errno));
    if (close(w->fd) != 0 && !st) st = gd_fail(GD_EIO, "cannot close '%s': %s", w->path, strerror(errno));
    if (!st && rename(w->tmp, w->path) != 0)
        st = gd_fail(GD_EIO, "cannot rename onto '%s': %s", w->path, strerror(errno));
    if (st) {
        unlink(w->tmp);
    } else {
        /* make the rename durable */
        char *dir = strdup(w->path);
        if (dir) {
            int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
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
    close(w->fd);
    unlink(w->tmp);
    writer_free(w);
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
    gzclose(g);
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

/* One field: a number, with surrounding blanks allowed.  Returns the end of
   the field (at sep, newline or the end) or NULL when it is not a number. */
static const char *parse_field(const char *p, const char *end, char sep, double *v)
{
    while (p < end && (*p == ' ' || *p == '\t') && *p != sep) p++;
    const char *start = p;
    while (p < end && *p != sep && *p != '\n' && *p != '\r') p++;
    const char *stop = p;
    while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t') && stop[-1] != sep) stop--;
    if (stop == start) return NULL;
    char tmp[64];
    size_t len = (size_t)(stop - start);
    if (len >= sizeof tmp) return NULL;
    memcpy(tmp, start, len);
    tmp[len] = 0;
    char *e;
    *v = strtod(tmp, &e);
    if (*e != 0) return NULL;
    return p;
}

int gd_parse_delimited(gd_tensor **out, const char *text, size_t n, char sep, int skip_rows)
{
    const char *p = text, *end = text + n;
    int64_t line = 0, rows = 0, cols = -1;
    size_t cap = 1024, used = 0;
    double *vals = malloc(cap * sizeof *vals);
    if (!vals) return gd_fail(GD_ENOMEM, "out of memory");
    int st = GD_OK;
    while (p < end && !st) {
        line++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *q = p;
        /* blank lines (and the header rows) are skipped */
        bool blank = true;
        for (const char *c = p; c < eol; c++)
            if (*c != ' ' && *c != '\t' && *c != '\r') { blank = false; break; }
        if (blank || line <= skip_rows) { p = eol + 1; continue; }
        int64_t k = 0;
        while (q <= eol) {
            double v;
            const char *fe = parse_field(q, eol, sep, &v);
            if (!fe) {
                const char *fs = q;
                const char *fend = fs;
                while (fend < eol && *fend != sep && *fend != '\r') fend++;
                int flen = (int)(fend - fs) > 40 ? 40 : (int)(fend - fs);
                st = gd_fail(GD_EFORMAT, "line %lld, field %lld: '%.*s' is not a number", (long long)line,
                             (long long)k + 1, flen, fs);
                break;
            }
            if (used == cap) {
                double *nv = realloc(vals, cap * 2 * sizeof *vals);
                if (!nv) { st = gd_fail(GD_ENOMEM, "out of memory"); break; }
                vals = nv;
                cap *= 2;
            }
            vals[used++] = v;
            k++;
            if (fe < eol && *fe == sep) q = fe + 1;
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
        p = eol + 1;
    }
    if (!st && rows == 0) st = gd_fail(GD_EFORMAT, "no data rows");
    gd_tensor *t = NULL;
    if (!st) {
        int64_t sizes[2] = {rows, cols};
        st = gd_empty(&t, 2, sizes, GD_FLOAT64, GD_CPU);
        if (!st) memcpy(t->data, vals, used * sizeof *vals);
    }
    free(vals);
    if (st) return st;
    *out = t;
    return GD_OK;
}

/* Memory-mapped files, a gzip-aware byte stream over memory, and file
 * writing, shared by the format readers and writers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "io/io_internal.h"

/* gzip member header magic bytes (RFC 1952, section 2.3.1). */
static const unsigned char gzip_magic[2] = {0x1f, 0x8b};
/* zlib window bits: 15 (32 KiB window) + 16 selects gzip framing
 * (zlib manual, inflateInit2). */
#define GZIP_WINDOW_BITS (15 + 16)
/* Scratch size for skipping and draining gzip data. */
#define SKIP_CHUNK 65536

mrb_status mrb_io_map_file(const char *path, mrb_io_map *map)
{
    map->data = NULL;
    map->len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return mrb_error(MRB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return mrb_error(MRB_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return mrb_error(MRB_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return MRB_OK;
    }
    if ((uintmax_t)st.st_size > (uintmax_t)SIZE_MAX) {
        close(fd);
        return mrb_error(MRB_ERR_IO, "%s: file too large to map", path);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return mrb_error(MRB_ERR_IO, "%s: cannot map: %s", path, strerror(e));
    map->data = p;
    map->len = (size_t)st.st_size;
    return MRB_OK;
}

void mrb_io_unmap(mrb_io_map *map)
{
    if (map && map->data) munmap((void *)map->data, map->len);
    if (map) {
        map->data = NULL;
        map->len = 0;
    }
}

int mrb_io_is_gzip(const void *buf, size_t len)
{
    return len >= 2 && memcmp(buf, gzip_magic, 2) == 0;
}

mrb_status mrb_io_stream_open(mrb_io_stream *s, const void *buf, size_t len, const char *name)
{
    memset(s, 0, sizeof *s);
    s->name = name ? name : "(memory)";
    s->buf = buf;
    s->len = buf ? len : 0;
    if (!mrb_io_is_gzip(s->buf, s->len)) return MRB_OK;
    s->gz = 1;
    if (inflateInit2(&s->zs, GZIP_WINDOW_BITS) != Z_OK) {
        s->gz = 0;
        return mrb_error(MRB_ERR_NOMEM, "%s: cannot initialise zlib", s->name);
    }
    s->zs.next_in = (unsigned char *)s->buf;
    s->zs.avail_in = s->len > UINT_MAX ? UINT_MAX : (unsigned)s->len;
    return MRB_OK;
}

void mrb_io_stream_close(mrb_io_stream *s)
{
    if (s && s->gz) inflateEnd(&s->zs);
    if (s) s->gz = 0;
}

/* Bytes of compressed input not yet given to zlib plus those it holds. */
static size_t gz_input_left(const mrb_io_stream *s)
{
    size_t consumed = (size_t)(s->zs.next_in - s->buf);
    return s->len - consumed;
}

static void gz_refill(mrb_io_stream *s)
{
    size_t left = gz_input_left(s);
    s->zs.avail_in = left > UINT_MAX ? UINT_MAX : (unsigned)left;
}

static mrb_status gz_read(mrb_io_stream *s, unsigned char *dst, size_t n, size_t *got)
{
    *got = 0;
    while (*got < n && !s->gz_done) {
        size_t want = n - *got;
        s->zs.next_out = dst + *got;
        s->zs.avail_out = want > UINT_MAX ? UINT_MAX : (unsigned)want;
        gz_refill(s);
        unsigned before = s->zs.avail_out;
        int rc = inflate(&s->zs, Z_NO_FLUSH);
        *got += before - s->zs.avail_out;
        if (rc == Z_STREAM_END) {
            /* Another gzip member follows? Otherwise the data end here. */
            size_t left = gz_input_left(s);
            if (mrb_io_is_gzip(s->zs.next_in, left)) {
                if (inflateReset(&s->zs) != Z_OK)
                    return mrb_error(MRB_ERR_INVALID, "%s: gzip stream: cannot reset", s->name);
            } else {
                s->gz_done = 1;
            }
            continue;
        }
        if (rc == Z_OK) continue;
        /* All input and a non-empty output are offered on every call, so
         * "no progress possible" means the compressed data ran out. */
        if (rc == Z_BUF_ERROR)
            return mrb_error(MRB_ERR_INVALID, "%s: gzip stream truncated (unexpected end of file)", s->name);
        if (rc == Z_MEM_ERROR) return mrb_error(MRB_ERR_NOMEM, "%s: gzip: out of memory", s->name);
        return mrb_error(MRB_ERR_INVALID, "%s: corrupt gzip stream: %s", s->name, s->zs.msg ? s->zs.msg : "data error");
    }
    return MRB_OK;
}

mrb_status mrb_io_stream_read(mrb_io_stream *s, void *dst, size_t n, size_t *got)
{
    *got = 0;
    if (n == 0) return MRB_OK;
    if (s->gz) {
        mrb_status st = gz_read(s, dst, n, got);
        s->delivered += *got;
        return st;
    }
    size_t left = s->len - s->pos;
    size_t k = n < left ? n : left;
    if (k) memcpy(dst, s->buf + s->pos, k);
    s->pos += k;
    *got = k;
    s->delivered += k;
    return MRB_OK;
}

mrb_status mrb_io_stream_read_exact(mrb_io_stream *s, void *dst, size_t n, const char *what)
{
    size_t got = 0;
    MRB_TRY(mrb_io_stream_read(s, dst, n, &got));
    if (got != n)
        return mrb_error(MRB_ERR_INVALID, "%s: %s truncated (%zu of %zu bytes present)", s->name, what, got, n);
    return MRB_OK;
}

mrb_status mrb_io_stream_skip(mrb_io_stream *s, uint64_t n, const char *what)
{
    if (!s->gz) {
        size_t left = s->len - s->pos;
        if (n > left)
            return mrb_error(MRB_ERR_INVALID, "%s: %s truncated (%zu of %llu bytes present)", s->name, what, left,
                             (unsigned long long)n);
        s->pos += (size_t)n;
        s->delivered += n;
        return MRB_OK;
    }
    unsigned char scratch[SKIP_CHUNK];
    uint64_t done = 0;
    while (done < n) {
        size_t want = n - done > SKIP_CHUNK ? SKIP_CHUNK : (size_t)(n - done);
        size_t got = 0;
        MRB_TRY(mrb_io_stream_read(s, scratch, want, &got));
        done += got;
        if (got < want)
            return mrb_error(MRB_ERR_INVALID, "%s: %s truncated (%llu of %llu bytes present)", s->name, what,
                             (unsigned long long)done, (unsigned long long)n);
    }
    return MRB_OK;
}

uint64_t mrb_io_stream_max_left(const mrb_io_stream *s)
{
    if (!s->gz) return (uint64_t)(s->len - s->pos);
    if (s->gz_done) return 0;
    /* Pending output inside inflate is at most one match (258 bytes) plus a
     * stored block's remainder, both covered by the +1 input byte slack. */
    uint64_t in_left = (uint64_t)gz_input_left(s) + 1;
    if (in_left > UINT64_MAX / MRB_IO_DEFLATE_MAX_RATIO) return UINT64_MAX;
    return in_left * MRB_IO_DEFLATE_MAX_RATIO + SKIP_CHUNK;
}

mrb_status mrb_io_stream_finish(mrb_io_stream *s)
{
    if (!s->gz) return MRB_OK;
    unsigned char scratch[SKIP_CHUNK];
    while (!s->gz_done) {
        size_t got = 0;
        MRB_TRY(gz_read(s, scratch, sizeof scratch, &got));
    }
    return MRB_OK;
}

int mrb_io_host_is_le(void)
{
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

void mrb_io_swap(void *data, size_t n, size_t size)
{
    unsigned char *p = data;
    if (size < 2) return;
    for (size_t i = 0; i < n; i++, p += size) {
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
    }
}

int mrb_io_ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    if (lx > ls) return 0;
    const char *tail = s + ls - lx;
    for (size_t i = 0; i < lx; i++) {
        char a = tail[i], b = suffix[i];
        if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
        if (a != b) return 0;
    }
    return 1;
}

/* gzwrite takes an unsigned length: write in pieces of at most 1 GiB. */
#define GZ_WRITE_CHUNK ((size_t)1 << 30)
/* gzip level 1, nibabel's default for .nii.gz (nibabel/openers.py,
 * default_compresslevel): image data compress little better at higher
 * levels and several times slower. */
#define GZ_WRITE_MODE "wb1"
/* zlib's default 8 KiB buffer makes many small writes; 256 KiB does not. */
#define GZ_BUFFER_BYTES (256u << 10)

static mrb_status write_gz(const char *path, const mrb_io_piece *pieces, size_t npieces)
{
    gzFile gz = gzopen(path, GZ_WRITE_MODE);
    if (!gz) return mrb_error(MRB_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    gzbuffer(gz, GZ_BUFFER_BYTES);
    for (size_t i = 0; i < npieces; i++) {
        const unsigned char *p = pieces[i].data;
        size_t left = pieces[i].len;
        while (left > 0) {
            unsigned k = (unsigned)(left > GZ_WRITE_CHUNK ? GZ_WRITE_CHUNK : left);
            if (gzwrite(gz, p, k) != (int)k) {
                int errnum = 0;
                const char *msg = gzerror(gz, &errnum);
                mrb_status st = mrb_error(MRB_ERR_IO, "%s: gzip write failed: %s", path, msg);
                gzclose(gz);
                return st;
            }
            p += k;
            left -= k;
        }
    }
    if (gzclose(gz) != Z_OK) return mrb_error(MRB_ERR_IO, "%s: gzip close failed", path);
    return MRB_OK;
}

mrb_status mrb_io_write_file(const char *path, const mrb_io_piece *pieces, size_t npieces, int gz)
{
    for (size_t i = 0; i < npieces; i++)
        if (!pieces[i].data && pieces[i].len) return mrb_error(MRB_ERR_INVALID, "%s: nothing to write", path);
    if (gz) return write_gz(path, pieces, npieces);
    FILE *f = fopen(path, "wb");
    if (!f) return mrb_error(MRB_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    for (size_t i = 0; i < npieces; i++) {
        if (pieces[i].len && fwrite(pieces[i].data, 1, pieces[i].len, f) != pieces[i].len) {
            int e = errno;
            fclose(f);
            return mrb_error(MRB_ERR_IO, "%s: write failed: %s", path, strerror(e));
        }
    }
    if (fclose(f) != 0) return mrb_error(MRB_ERR_IO, "%s: close failed: %s", path, strerror(errno));
    return MRB_OK;
}

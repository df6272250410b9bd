/* Internal helpers shared by the mrbench file-format readers and writers. */
#ifndef MRBENCH_IO_INTERNAL_H
#define MRBENCH_IO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "mrbench/array.h"
#include "mrbench/status.h"

/* The largest expansion deflate can achieve: 1032:1 (zlib "technical
 * details", https://zlib.net/zlib_tech.html). Used to reject, before any
 * allocation, headers that claim more data than a gzip stream can hold. */
#define MRB_IO_DEFLATE_MAX_RATIO 1032u

/* A whole file mapped read-only into memory. */
typedef struct mrb_io_map {
    const unsigned char *data; /* NULL when len == 0 */
    size_t len;
} mrb_io_map;
mrb_status mrb_io_map_file(const char *path, mrb_io_map *map);
void mrb_io_unmap(mrb_io_map *map);

/* A byte stream over memory, gunzipped on the fly when the bytes start with
 * the gzip magic (concatenated gzip members are read as one stream, as
 * gzread does; bytes after the last member that are not a gzip header are
 * ignored, as gzip(1) does). */
typedef struct mrb_io_stream {
    const char *name;
    const unsigned char *buf;
    size_t len;
    size_t pos; /* raw: read position; gzip: unused (zs tracks input) */
    int gz;
    int gz_done; /* the last gzip member ended */
    z_stream zs;
    uint64_t delivered; /* bytes handed out so far */
} mrb_io_stream;

int mrb_io_is_gzip(const void *buf, size_t len);
mrb_status mrb_io_stream_open(mrb_io_stream *s, const void *buf, size_t len, const char *name);
/* Reads up to n bytes; *got < n only at the end of the data. Errors
 * (corrupt or truncated gzip) give MRB_ERR_INVALID naming the stream. */
mrb_status mrb_io_stream_read(mrb_io_stream *s, void *dst, size_t n, size_t *got);
/* Reads exactly n bytes, else MRB_ERR_INVALID "<name>: <what> truncated". */
mrb_status mrb_io_stream_read_exact(mrb_io_stream *s, void *dst, size_t n, const char *what);
/* Skips exactly n bytes (same error as read_exact). */
mrb_status mrb_io_stream_skip(mrb_io_stream *s, uint64_t n, const char *what);
/* An upper bound on the bytes left (exact for uncompressed data). */
uint64_t mrb_io_stream_max_left(const mrb_io_stream *s);
/* For gzip data: decompresses to the end of the last member so that a
 * truncated stream or a CRC mismatch is reported. No-op for raw data. */
mrb_status mrb_io_stream_finish(mrb_io_stream *s);
void mrb_io_stream_close(mrb_io_stream *s);

/* 1 when the host stores integers little-endian. */
int mrb_io_host_is_le(void);
/* Reverses the byte order of n items of `size` bytes each, in place. */
void mrb_io_swap(void *data, size_t n, size_t size);

/* 1 when `s` ends with `suffix` (ASCII case-insensitive). */
int mrb_io_ends_with(const char *s, const char *suffix);

/* Writes n bytes to `path` (created or truncated), gzip-compressed at
 * level 1 when gz is 1. Pieces are written in order; a NULL piece with a
 * non-zero length is an error. */
typedef struct mrb_io_piece {
    const void *data;
    size_t len;
} mrb_io_piece;
mrb_status mrb_io_write_file(const char *path, const mrb_io_piece *pieces, size_t npieces, int gz);

/* 1 when `path` is an HDF5 file holding a link named `name`, else 0. */
int mrb_io_h5_has_dataset(const char *path, const char *name);

#ifdef H5_VERS_MAJOR /* files that include <hdf5.h> first */
/* 1 when every member of the (nested) compound, array and vlen type lies
 * inside its parent; 0 for a type read from a corrupt file that libhdf5
 * 1.10.8 decodes anyway and would then convert out of bounds. */
int mrb_io_h5_type_sane(hid_t type);
/* Data read from a file without this check: below it, a header's sizes are
 * taken as they are (datasets never written, or filled with their fill
 * value, store nothing and are legitimate). */
#define MRB_IO_UNCHECKED_BYTES ((double)(512u << 20))
/* MRB_OK when `declared` bytes of dataset d (`what`, for the message) can
 * be its data: at most MRB_IO_UNCHECKED_BYTES, or at most what its stored
 * bytes expand to at deflate's maximum ratio; virtual datasets, whose data
 * live in other files, always. Refuses, before any allocation, a header of
 * a few bytes that asks for any amount of memory. */
mrb_status mrb_io_h5_check_declared(hid_t d, double declared, const char *path, const char *what);
#endif

#endif

/* Small utilities shared by the harness: SHA-256, atomic file writes,
 * monotonic time, string distance for "did you mean" suggestions. */
#ifndef MRBENCH_UTIL_H
#define MRBENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mrb_sha256 {
    uint32_t h[8];
    uint64_t bytes;
    uint8_t buf[64];
    size_t used;
} mrb_sha256;

void mrb_sha256_init(mrb_sha256 *s);
void mrb_sha256_update(mrb_sha256 *s, const void *data, size_t len);
/* Writes 64 lowercase hex digits and a NUL into hex[65]. */
void mrb_sha256_final(mrb_sha256 *s, char hex[65]);
void mrb_sha256_hex(const void *data, size_t len, char hex[65]);
mrb_status mrb_sha256_file(const char *path, char hex[65]);

/* Reads a whole file (NUL-terminated for convenience); caller frees. */
mrb_status mrb_read_file(const char *path, char **data, size_t *len);
/* Writes via a temporary file in the same folder, fsync, rename, fsync of
 * the folder: readers see the old or the new file, never a torn one. */
mrb_status mrb_write_file_atomic(const char *path, const void *data, size_t len);
/* mkdir -p */
mrb_status mrb_mkdirs(const char *path);

/* Threads worth running: `requested` (at least 1) capped at the processors
 * this process may run on. Beyond them OpenMP barriers wait for threads the
 * scheduler has parked (16 threads on 2 cores made cs-wavelet 30x slower). */
int mrb_threads_usable(int requested);

double mrb_now(void);       /* monotonic seconds */
double mrb_wall_time(void); /* seconds since the epoch */
/* ISO 8601 UTC time "2026-11-25T13:00:00Z" into buf[32]. */
void mrb_iso_time(double epoch_seconds, char buf[32]);

/* Levenshtein distance, for suggestions. */
size_t mrb_edit_distance(const char *a, const char *b);
/* The candidate nearest to `word` (or NULL if none is close enough). */
const char *mrb_nearest(const char *word, const char *const *candidates, size_t n);

#ifdef __cplusplus
}
#endif
#endif

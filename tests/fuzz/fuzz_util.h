/* Helpers shared by the fuzz targets (tests/fuzz/README.md): a private
 * folder for the readers that take a path, and the error contract of
 * mrbench/status.h checked on every call. */
#ifndef MRB_FUZZ_UTIL_H
#define MRB_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "mrbench/status.h"

/* libFuzzer's entry point, which replay_main.c also calls. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A folder made once per process (under /dev/shm when it exists, so that the
 * readers' and writers' fsyncs cost nothing; else $TMPDIR or /tmp) and
 * removed with its content at exit. */
const char *mrb_fuzz_dir(void);
/* Writes data[0..size) to <mrb_fuzz_dir()>/<name>, replacing it, and puts
 * that path into path[0..len). Aborts when the file cannot be written (a
 * broken set-up, not a finding). */
void mrb_fuzz_write(const char *name, const void *data, size_t size, char *path, size_t len);
/* A malloc'ed NUL-terminated copy of data[0..size). */
char *mrb_fuzz_strndup(const void *data, size_t size);
/* Clears the thread-local error message before a call under test. */
void mrb_fuzz_begin(void);
/* After the call: a failure must come with a message (the contract of every
 * reader); aborts, naming `call`, when it does not. Returns st. With
 * MRB_FUZZ_VERBOSE set in the environment, prints each call's outcome. */
mrb_status mrb_fuzz_check(mrb_status st, const char *call);

/* For the HDF5 targets: silences libhdf5's error printing (the readers do
 * it themselves; this keeps the fuzzer's output readable should one of them
 * not) and, at the first call, records how many HDF5 ids of each kind
 * exist. */
void mrb_fuzz_h5_begin(void);
/* Aborts, naming `call`, when more HDF5 ids (files, groups, datatypes,
 * dataspaces, datasets, attributes) are open than at the first
 * mrb_fuzz_h5_begin: a reader leaked one. */
void mrb_fuzz_h5_check(const char *call);

#endif

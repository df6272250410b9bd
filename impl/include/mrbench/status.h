/* mrbench status codes and the thread-local error message.
 *
 * Library functions return mrb_status (0 ok, negative on error) and set a
 * message naming the file, JSON path or tensor and the problem. Only the
 * command-line program turns a status into an exit code. */
#ifndef MRBENCH_STATUS_H
#define MRBENCH_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mrb_status {
    MRB_OK = 0,
    MRB_ERR_INVALID = -1,    /* bad input: file, suite, parameter, shape (exit 2) */
    MRB_ERR_IO = -2,         /* a file could not be read or written (exit 2) */
    MRB_ERR_NOMEM = -3,      /* allocation failed (exit 1) */
    MRB_ERR_DEVICE = -4,     /* requested device unavailable (exit 3) */
    MRB_ERR_RUN = -5,        /* a run failed: numerical failure, method error (exit 1) */
    MRB_ERR_UNSUPPORTED = -6 /* valid input that this build cannot handle (exit 2) */
} mrb_status;

/* Process exit codes of the mrbench program (documented in README.md). */
enum {
    MRB_EXIT_OK = 0,
    MRB_EXIT_RUN_FAILED = 1,
    MRB_EXIT_BAD_INPUT = 2,
    MRB_EXIT_DEVICE = 3,
    MRB_EXIT_INTERRUPTED = 130
};

/* Sets the thread-local message (printf format) and returns code. */
mrb_status mrb_error(mrb_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Prefixes the current message with "context: ". Returns code unchanged. */
mrb_status mrb_error_context(mrb_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
const char *mrb_error_message(void);
void mrb_error_clear(void);
const char *mrb_status_name(mrb_status code);
int mrb_status_exit_code(mrb_status code);

/* Programmer errors (never bad input): abort with file and line. */
#define MRB_ASSERT(cond)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) mrb_assert_fail(#cond, __FILE__, __LINE__);                                                       \
    } while (0)
void mrb_assert_fail(const char *expr, const char *file, int line);

#define MRB_TRY(expr)                                                                                                  \
    do {                                                                                                               \
        mrb_status mrb_try_status_ = (expr);                                                                           \
        if (mrb_try_status_ != MRB_OK) return mrb_try_status_;                                                         \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif

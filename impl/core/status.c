#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/status.h"

#define MRB_ERROR_MAX 1024

static _Thread_local char error_message[MRB_ERROR_MAX];

mrb_status mrb_error(mrb_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    return code;
}

mrb_status mrb_error_context(mrb_status code, const char *fmt, ...)
{
    char prefix[MRB_ERROR_MAX];
    char old[MRB_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_message, sizeof old);
    size_t plen = strnlen(prefix, sizeof prefix - 1);
    memcpy(error_message, prefix, plen);
    size_t pos = plen;
    if (pos + 2 < sizeof error_message) {
        error_message[pos++] = ':';
        error_message[pos++] = ' ';
    }
    size_t olen = strnlen(old, sizeof old);
    if (olen > sizeof error_message - 1 - pos) olen = sizeof error_message - 1 - pos;
    memcpy(error_message + pos, old, olen);
    error_message[pos + olen] = '\0';
    return code;
}

const char *mrb_error_message(void)
{
    return error_message[0] ? error_message : "no error message";
}

void mrb_error_clear(void)
{
    error_message[0] = '\0';
}

const char *mrb_status_name(mrb_status code)
{
    switch (code) {
    case MRB_OK: return "ok";
    case MRB_ERR_INVALID: return "invalid input";
    case MRB_ERR_IO: return "i/o error";
    case MRB_ERR_NOMEM: return "out of memory";
    case MRB_ERR_DEVICE: return "device unavailable";
    case MRB_ERR_RUN: return "run failed";
    case MRB_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

int mrb_status_exit_code(mrb_status code)
{
    switch (code) {
    case MRB_OK: return MRB_EXIT_OK;
    case MRB_ERR_INVALID:
    case MRB_ERR_IO:
    case MRB_ERR_UNSUPPORTED: return MRB_EXIT_BAD_INPUT;
    case MRB_ERR_DEVICE: return MRB_EXIT_DEVICE;
    case MRB_ERR_NOMEM:
    case MRB_ERR_RUN: return MRB_EXIT_RUN_FAILED;
    }
    return MRB_EXIT_RUN_FAILED;
}

void mrb_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "mrbench: internal error: assertion '%s' failed at %s:%d\n", expr, file, line);
    abort();
}

/* Provenance recorded in every results.json: build, libraries, machine,
 * environment, command line, and warnings that make timings less trustworthy. */
#include <cblas.h>
#include <cjson/cJSON.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zlib.h>

#include "mrb_build_info.h"
#include "mrbench/backend.h"
#include "mrbench/fft.h"
#include "mrbench/runner.h"
#include "mrbench/util.h"

#ifndef MRB_VERSION
#define MRB_VERSION "unknown"
#endif

/* OpenBLAS' own declaration (not in every cblas.h). */
char *openblas_get_config(void);

static void read_first_line(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (fgets(buf, (int)len, f)) buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
}

static void cpu_model(char *buf, size_t len)
{
    snprintf(buf, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');
            if (colon) {
                colon++;
                while (*colon == ' ') colon++;
                colon[strcspn(colon, "\n")] = '\0';
                snprintf(buf, len, "%s", colon);
            }
            break;
        }
    }
    fclose(f);
}

cJSON *mrb_provenance(const mrb_run_opts *opts)
{
    cJSON *ctx = cJSON_CreateObject();
    char buf[512];
    mrb_iso_time(mrb_wall_time(), buf);
    cJSON_AddStringToObject(ctx, "date", buf);
    if (gethostname(buf, sizeof buf) == 0) {
        buf[sizeof buf - 1] = '\0';
        cJSON_AddStringToObject(ctx, "host", buf);
    }

    cJSON *build = cJSON_AddObjectToObject(ctx, "build");
    cJSON_AddStringToObject(build, "mrbench_version", MRB_VERSION);
    cJSON_AddStringToObject(build, "git_commit", MRB_GIT_COMMIT);
    if (MRB_GIT_DIRTY < 0)
        cJSON_AddNullToObject(build, "git_dirty");
    else
        cJSON_AddBoolToObject(build, "git_dirty", MRB_GIT_DIRTY);
#ifdef MRB_COMPILER
    cJSON_AddStringToObject(build, "compiler", MRB_COMPILER);
#endif
#ifdef MRB_BUILD_TYPE
    cJSON_AddStringToObject(build, "build_type", MRB_BUILD_TYPE);
#endif
#ifdef MRB_C_FLAGS
    cJSON_AddStringToObject(build, "c_flags", MRB_C_FLAGS);
#endif
    cJSON_AddBoolToObject(build, "cuda", mrb_backend_find("cuda") != NULL);
#if defined(__SANITIZE_ADDRESS__)
    cJSON_AddBoolToObject(build, "sanitizers", 1);
#else
    cJSON_AddBoolToObject(build, "sanitizers", 0);
#endif

    cJSON *libs = cJSON_AddObjectToObject(ctx, "libraries");
    cJSON_AddStringToObject(libs, "fftw", mrb_fft_version());
    cJSON_AddStringToObject(libs, "openblas", openblas_get_config());
    cJSON_AddStringToObject(libs, "cjson", cJSON_Version());
    cJSON_AddStringToObject(libs, "zlib", zlibVersion());
    snprintf(buf, sizeof buf, "%d", _OPENMP);
    cJSON_AddStringToObject(libs, "openmp", buf);

    cJSON *machine = cJSON_AddObjectToObject(ctx, "machine");
    cpu_model(buf, sizeof buf);
    cJSON_AddStringToObject(machine, "cpu_model", buf);
    cJSON_AddNumberToObject(machine, "cpu_cores", (double)sysconf(_SC_NPROCESSORS_ONLN));
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(buf, sizeof buf, "%s %s %s", u.sysname, u.release, u.machine);
        cJSON_AddStringToObject(machine, "os", buf);
    }
    read_first_line("/proc/loadavg", buf, sizeof buf);
    cJSON_AddStringToObject(machine, "load_average", buf);
    read_first_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", buf, sizeof buf);
    if (buf[0]) cJSON_AddStringToObject(machine, "cpu_governor", buf);
    read_first_line("/proc/sys/kernel/randomize_va_space", buf, sizeof buf);
    if (buf[0]) cJSON_AddStringToObject(machine, "aslr", buf);
    cJSON *gpu = cJSON_AddObjectToObject(machine, "gpu");
    mrb_gpu_info_t gi;
    char why[512];
    if (mrb_gpu_available(why, sizeof why) == MRB_OK && mrb_gpu_info(&gi) == MRB_OK) {
        cJSON_AddStringToObject(gpu, "name", gi.name);
        cJSON_AddStringToObject(gpu, "uuid", gi.uuid);
        cJSON_AddStringToObject(gpu, "pci_bus_id", gi.pci_bus_id);
        cJSON_AddNumberToObject(gpu, "memory_bytes", (double)gi.memory_total);
        snprintf(buf, sizeof buf, "%d.%d", gi.cc_major, gi.cc_minor);
        cJSON_AddStringToObject(gpu, "compute_capability", buf);
        cJSON_AddNumberToObject(gpu, "clock_khz", gi.clock_khz);
        cJSON_AddNumberToObject(gpu, "memory_clock_khz", gi.memory_clock_khz);
        cJSON_AddBoolToObject(gpu, "ecc", gi.ecc_enabled);
        cJSON_AddNumberToObject(libs, "cuda_driver", gi.driver_version);
        cJSON_AddNumberToObject(libs, "cuda_runtime", gi.runtime_version);
        cJSON_AddNumberToObject(libs, "cufft", gi.cufft_version);
        cJSON_AddNumberToObject(libs, "cudnn", (double)gi.cudnn_version);
    } else {
        cJSON_AddStringToObject(gpu, "unavailable", why);
    }
    mrb_error_clear();

    cJSON *run = cJSON_AddObjectToObject(ctx, "run");
    cJSON_AddStringToObject(run, "device", opts->device == MRB_DEVICE_GPU ? "gpu" : "cpu");
    cJSON_AddNumberToObject(run, "threads", opts->nthreads);
    if (opts->command_line) cJSON_AddStringToObject(run, "command", opts->command_line);
    cJSON *env = cJSON_AddObjectToObject(run, "environment");
    /* what changes threads, memory or the GPU's arithmetic (gpu/README.md) */
    static const char *const vars[] = {
        "OMP_NUM_THREADS",  "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "CUDA_VISIBLE_DEVICES",
        "MALLOC_ARENA_MAX", "MRBENCH_TF32",         "MRBENCH_CUDNN_API", "MRBENCH_CUDNN_NONDETERMINISTIC"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v) cJSON_AddStringToObject(env, vars[i], v);
    }

    cJSON *warnings = cJSON_AddArrayToObject(ctx, "warnings");
#ifdef MRB_BUILD_TYPE
    if (strcmp(MRB_BUILD_TYPE, "Release") != 0 && strcmp(MRB_BUILD_TYPE, "RelWithDebInfo") != 0)
        cJSON_AddItemToArray(warnings, cJSON_CreateString("not a Release build: timings are not representative"));
#endif
#if defined(__SANITIZE_ADDRESS__)
    cJSON_AddItemToArray(warnings, cJSON_CreateString("built with sanitizers: timings are not representative"));
#endif
    if (MRB_GIT_DIRTY == 1)
        cJSON_AddItemToArray(warnings, cJSON_CreateString("source tree had uncommitted changes at build time"));
    read_first_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", buf, sizeof buf);
    if (buf[0] && strcmp(buf, "performance") != 0) {
        char w[128];
        snprintf(w, sizeof w, "CPU frequency scaling governor is '%.64s', not 'performance'", buf);
        cJSON_AddItemToArray(warnings, cJSON_CreateString(w));
    }
    return ctx;
}

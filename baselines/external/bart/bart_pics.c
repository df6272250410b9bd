/* bart-pics: BART's `pics` (Berkeley Advanced Reconstruction Toolbox,
 * Uecker et al.) run as an external program on the same input.
 *
 * Setup finds the bart program (PATH or the `bart` parameter) and makes a
 * private temporary folder. Each run writes the masked k-space [nx, ny, 1,
 * nc] and the coil maps (the item's maps; for multi-coil data without maps,
 * the maps mrbench's own methods estimate, mrb_cs_estimate_sens; ones for
 * single coil) as .cfl/.hdr, runs
 *   bart pics -S -i <iterations> -R W:3:0:<lambda> [-n] <extra> ksp sens out
 * (T:3:0:<lambda> for total variation: BART's anisotropic TV, jflags 0) with
 * OMP_NUM_THREADS set to the input's thread count, and reads `out` back.
 * `-S` keeps the image in the scale of the data, as mrbench's methods do.
 *
 * Timing: mrb_bart_pics_timing reports the wall time of the bart process,
 * which includes process start and BART's own .cfl reads and writes, its
 * CPU time (getrusage of the children), and the "Total Time" BART prints.
 * The phases (the report's time split) are disjoint parts of the run's wall
 * time: write_inputs (masked k-space, coil maps, the .cfl files),
 * bart_startup_io (the process's wall time less BART's Total Time: start,
 * BART's .cfl reads and writes, exit), bart_pics (BART's Total Time),
 * read_result; bart_process (the whole process) in place of the middle two
 * when BART printed no Total Time. The CPU time is not a phase: it overlaps
 * the wall time (and exceeds it with several threads).
 * Static images only (nt = 1): 2D+t data would need BART's time axis
 * (dimension 10). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "external/bart/bart.h"
#include "mrbench/io.h"
#include "mrbench/util.h"
#include "recon/cs/cs.h"

extern char **environ;

#define BART_MAX_ARGS 64
#define BART_PATH_MAX 4096
/* BART pics defaults (src/pics.c): 30 iterations; lambda as the suites use. */
#define BART_DEFAULT_ITERATIONS 30
#define BART_DEFAULT_LAMBDA 0.005

static const mrb_param_spec bart_params[] = {
    {"regulariser", MRB_PARAM_STRING, 0, 0, 0, "W", "W|T",
     "W: l1-wavelet (FISTA), T: total variation (ADMM), as pics -R"},
    {"lambda", MRB_PARAM_NUMBER, BART_DEFAULT_LAMBDA, 0, 1e6, NULL, NULL, "regularisation weight"},
    {"iterations", MRB_PARAM_INT, BART_DEFAULT_ITERATIONS, 1, 100000, NULL, NULL, "pics -i"},
    {"shifts", MRB_PARAM_BOOL, 1, 0, 1, NULL, NULL, "random wavelet shifts (0 passes -n)"},
    {"extra", MRB_PARAM_STRING, 0, 0, 0, "", NULL, "further pics arguments, space separated"},
    {"bart", MRB_PARAM_STRING, 0, 0, 0, "bart", NULL, "the bart program (name on PATH or a path)"},
};

typedef struct bart_state {
    mrb_cs_shape shape;
    char exe[BART_PATH_MAX];
    char dir[BART_PATH_MAX];
    char reg[64];
    char iters[32];
    char extra[MRB_PARAM_STR_MAX];
    int shifts;
    mrb_array *ksp, *sens;
    double process_s, cpu_s, reported_s;
    double write_s, read_s; /* the run's own file writes and read-back */
    char command[2048];
} bart_state;

static int find_program(const char *name, char *out, size_t len)
{
    if (strchr(name, '/')) {
        if (access(name, X_OK) != 0) return 0;
        snprintf(out, len, "%s", name);
        return 1;
    }
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        if (n > 0 && n + strlen(name) + 2 < len) {
            snprintf(out, len, "%.*s/%s", (int)n, path, name);
            if (access(out, X_OK) == 0) return 1;
        }
        path += n + (end ? 1 : 0);
    }
    return 0;
}

static void remove_dir(const char *dir)
{
    static const char *const files[] = {"ksp.cfl", "ksp.hdr", "sens.cfl", "sens.hdr", "out.cfl", "out.hdr", "log.txt"};
    char path[BART_PATH_MAX + 16];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void bart_teardown(void *p)
{
    bart_state *s = p;
    if (!s) return;
    if (s->dir[0]) remove_dir(s->dir);
    mrb_array_free(s->ksp);
    mrb_array_free(s->sens);
    free(s);
}

static mrb_status bart_setup(const mrb_params *p, const mrb_recon_input *in, void **state)
{
    *state = NULL;
    bart_state *s = calloc(1, sizeof *s);
    if (!s) return mrb_error(MRB_ERR_NOMEM, "bart-pics: out of memory");
    mrb_status st = mrb_cs_check_input(in, "bart-pics", &s->shape);
    if (st != MRB_OK) {
        free(s);
        return st;
    }
    if (s->shape.nt != 1) {
        free(s);
        return mrb_error(MRB_ERR_UNSUPPORTED, "bart-pics: %zu frames; the adapter handles static images (nt = 1) only",
                         in->kspace->dims[2]);
    }
    const char *prog = mrb_params_str(p, "bart");
    if (!find_program(prog, s->exe, sizeof s->exe)) {
        free(s);
        return mrb_error(MRB_ERR_UNSUPPORTED,
                         "bart-pics: the bart program '%s' was not found (install the Debian "
                         "package bart or set the parameter bart=PATH)",
                         prog);
    }
    const char *reg = mrb_params_str(p, "regulariser");
    snprintf(s->reg, sizeof s->reg, "%s:3:0:%.9g", reg, mrb_params_num(p, "lambda"));
    snprintf(s->iters, sizeof s->iters, "%ld", mrb_params_int(p, "iterations"));
    snprintf(s->extra, sizeof s->extra, "%s", mrb_params_str(p, "extra"));
    s->shifts = mrb_params_bool(p, "shifts");
    const char *tmp = getenv("TMPDIR");
    snprintf(s->dir, sizeof s->dir, "%s/mrbench-bart-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s->dir)) {
        int e = errno;
        s->dir[0] = 0;
        bart_teardown(s);
        return mrb_error(MRB_ERR_IO, "bart-pics: cannot make a temporary folder: %s", strerror(e));
    }
    size_t dims[4] = {s->shape.nx, s->shape.ny, 1, s->shape.nc};
    s->ksp = mrb_array_create(MRB_C64, 4, dims);
    s->sens = mrb_array_create(MRB_C64, 4, dims);
    if (!s->ksp || !s->sens) {
        bart_teardown(s);
        return mrb_error(MRB_ERR_NOMEM, "bart-pics: out of memory");
    }
    s->reported_s = -1;
    *state = s;
    return MRB_OK;
}

/* Runs argv with stdout and stderr into log; returns the exit status. */
static mrb_status spawn_wait(bart_state *s, char *const argv[], const char *log, int nthreads)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    /* environment: ours with OMP_NUM_THREADS replaced */
    size_t nenv = 0;
    while (environ && environ[nenv]) nenv++;
    char **envp = calloc(nenv + 2, sizeof *envp);
    char omp[64];
    snprintf(omp, sizeof omp, "OMP_NUM_THREADS=%d", nthreads > 0 ? nthreads : 1);
    if (!envp) {
        posix_spawn_file_actions_destroy(&fa);
        return mrb_error(MRB_ERR_NOMEM, "bart-pics: out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "OMP_NUM_THREADS=", 16) != 0) envp[k++] = environ[i];
    envp[k++] = omp;
    envp[k] = NULL;
    pid_t pid;
    struct rusage ru0, ru1;
    getrusage(RUSAGE_CHILDREN, &ru0);
    double t0 = mrb_now();
    int rc = posix_spawn(&pid, s->exe, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    free(envp);
    if (rc != 0) return mrb_error(MRB_ERR_RUN, "bart-pics: cannot start %s: %s", s->exe, strerror(rc));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return mrb_error(MRB_ERR_RUN, "bart-pics: waitpid: %s", strerror(errno));
    s->process_s = mrb_now() - t0;
    getrusage(RUSAGE_CHILDREN, &ru1);
    s->cpu_s = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
               1e-6 * (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) +
               (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
               1e-6 * (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char *text = NULL;
        size_t len = 0;
        const char *last = "";
        if (mrb_read_file(log, &text, &len) == MRB_OK && text) {
            while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' ')) text[--len] = 0;
            const char *nl = strrchr(text, '\n');
            last = nl ? nl + 1 : text;
        }
        mrb_status err = mrb_error(MRB_ERR_RUN, "bart-pics: '%s' failed (%s %d): %s", s->command,
                                   WIFEXITED(status) ? "exit status" : "signal",
                                   WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), last);
        free(text);
        return err;
    }
    return MRB_OK;
}

static mrb_status bart_run(void *p, const mrb_recon_input *in, mrb_array *out)
{
    bart_state *s = p;
    const mrb_cs_shape *sh = &s->shape;
    MRB_TRY(mrb_cs_check_output(out, sh, "bart-pics"));
    s->write_s = s->process_s = s->read_s = 0;
    s->cpu_s = 0;
    s->reported_s = -1;
    double t_write = mrb_now();
    size_t frame = sh->nx * sh->ny;
    /* masked k-space */
    const float complex *k = in->kspace->data;
    const float *m = in->mask->data;
    float complex *kv = s->ksp->data;
    for (size_t c = 0; c < sh->nc; c++)
        for (size_t i = 0; i < frame; i++) kv[c * frame + i] = m[i] * k[c * frame + i];
    /* coil maps */
    float complex *sv = s->sens->data;
    if (in->sens)
        memcpy(sv, in->sens->data, frame * sh->nc * sizeof *sv);
    else if (sh->nc > 1)
        MRB_TRY(mrb_cs_estimate_sens(in, sv));
    else
        for (size_t i = 0; i < frame; i++) sv[i] = 1;
    char ksp[BART_PATH_MAX + 8], sens[BART_PATH_MAX + 8], outp[BART_PATH_MAX + 8], log[BART_PATH_MAX + 16];
    snprintf(ksp, sizeof ksp, "%s/ksp", s->dir);
    snprintf(sens, sizeof sens, "%s/sens", s->dir);
    snprintf(outp, sizeof outp, "%s/out", s->dir);
    snprintf(log, sizeof log, "%s/log.txt", s->dir);
    MRB_TRY(mrb_cfl_write(ksp, s->ksp, "mrbench bart-pics: masked k-space"));
    MRB_TRY(mrb_cfl_write(sens, s->sens, "mrbench bart-pics: coil maps"));

    char *argv[BART_MAX_ARGS];
    int argc = 0;
    char extra[MRB_PARAM_STR_MAX];
    snprintf(extra, sizeof extra, "%s", s->extra);
    argv[argc++] = s->exe;
    argv[argc++] = "pics";
    argv[argc++] = "-S";
    argv[argc++] = "-i";
    argv[argc++] = s->iters;
    argv[argc++] = "-R";
    argv[argc++] = s->reg;
    if (!s->shifts) argv[argc++] = "-n";
    for (char *save = NULL, *tok = strtok_r(extra, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (argc >= BART_MAX_ARGS - 4) return mrb_error(MRB_ERR_INVALID, "bart-pics: too many extra arguments");
        argv[argc++] = tok;
    }
    argv[argc++] = ksp;
    argv[argc++] = sens;
    argv[argc++] = outp;
    argv[argc] = NULL;
    size_t pos = 0;
    for (int i = 0; i < argc && pos < sizeof s->command; i++)
        pos += (size_t)snprintf(s->command + pos, sizeof s->command - pos, "%s%s", i ? " " : "", argv[i]);
    s->write_s = mrb_now() - t_write;
    MRB_TRY(spawn_wait(s, argv, log, in->nthreads));

    double t_read = mrb_now();
    char *text = NULL;
    size_t len = 0;
    if (mrb_read_file(log, &text, &len) == MRB_OK && text) {
        const char *tt = strstr(text, "Total Time:");
        if (tt) s->reported_s = strtod(tt + strlen("Total Time:"), NULL);
    }
    free(text);

    mrb_array *res = NULL;
    mrb_status st = mrb_cfl_read(outp, &res);
    if (st != MRB_OK) return mrb_error_context(st, "bart-pics: reading the result");
    if (mrb_array_count(res) != frame) {
        char b[64];
        mrb_status e = mrb_error(MRB_ERR_RUN, "bart-pics: result is %s, expected %zux%zu",
                                 mrb_array_shape_str(res, b, sizeof b), sh->nx, sh->ny);
        mrb_array_free(res);
        return e;
    }
    memcpy(out->data, res->data, frame * sizeof(float complex));
    mrb_array_free(res);
    s->read_s = mrb_now() - t_read;
    return MRB_OK;
}

mrb_status mrb_bart_pics_timing(const void *state, double *process_s, double *cpu_s, double *reported_s)
{
    const bart_state *s = state;
    if (!s) return mrb_error(MRB_ERR_INVALID, "bart-pics: no state");
    *process_s = s->process_s;
    *cpu_s = s->cpu_s;
    *reported_s = s->reported_s;
    return MRB_OK;
}

const char *mrb_bart_pics_command(const void *state)
{
    const bart_state *s = state;
    return s ? s->command : "";
}

/* Disjoint parts of the last run's wall time (see the top of this file). */
static size_t bart_phases(void *state, const char **names, double *seconds, size_t max)
{
    const bart_state *s = state;
    if (!s || max < 4) return 0;
    size_t n = 0;
    names[n] = "write_inputs";
    seconds[n++] = s->write_s;
    if (s->reported_s >= 0) {
        /* BART's own clock runs inside the process: clamp rounding */
        double pics = s->reported_s < s->process_s ? s->reported_s : s->process_s;
        names[n] = "bart_startup_io";
        seconds[n++] = s->process_s - pics;
        names[n] = "bart_pics";
        seconds[n++] = pics;
    } else {
        names[n] = "bart_process";
        seconds[n++] = s->process_s;
    }
    names[n] = "read_result";
    seconds[n++] = s->read_s;
    return n;
}

const mrb_method_desc mrb_method_bart_pics = {
    .name = "bart-pics",
    .description = "BART pics (external program): l1-wavelet (-R W) or TV (-R T) compressed sensing",
    .params = bart_params,
    .nparams = sizeof bart_params / sizeof bart_params[0],
    .setup = bart_setup,
    .run = bart_run,
    .teardown = bart_teardown,
    .phases = bart_phases,
};

/* Times mrb_seg_evaluate (HD95 and the other surface distances) on two raw
 * uint8 masks, as tests/bench/metrics/bench_hd95.sh builds and runs it:
 *   hd95_driver REF.u8 PRED.u8 NX NY NZ SX SY SZ REPEATS NTHREADS
 * Prints "mrbench SPACING pooled max mean hd assd wall_s cpu_s" (medians). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mrbench/metrics.h"

static double now(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int load(const char *path, mrb_array *a)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(a->data, 1, mrb_array_bytes(a), f);
    fclose(f);
    return n == mrb_array_bytes(a);
}

int main(int argc, char **argv)
{
    if (argc != 11) {
        fprintf(stderr, "usage: %s REF PRED NX NY NZ SX SY SZ REPEATS NTHREADS\n", argv[0]);
        return 2;
    }
    size_t nx = strtoul(argv[3], NULL, 10), ny = strtoul(argv[4], NULL, 10);
    size_t nz = strtoul(argv[5], NULL, 10);
    double sp[3] = {atof(argv[6]), atof(argv[7]), atof(argv[8])};
    int repeats = atoi(argv[9]);
    mrb_array *ref = mrb_array_create3(MRB_U8, nx, ny, nz);
    mrb_array *pred = mrb_array_create3(MRB_U8, nx, ny, nz);
    if (!ref || !pred || repeats < 1 || !load(argv[1], ref) || !load(argv[2], pred)) {
        fprintf(stderr, "hd95_driver: cannot read the masks\n");
        return 2;
    }
    mrb_seg_opts o;
    mrb_seg_opts_default(&o);
    o.nthreads = atoi(argv[10]);
    mrb_seg_result r;
    double *t = malloc((size_t)repeats * sizeof *t), *c = malloc((size_t)repeats * sizeof *c);
    for (int i = 0; i < repeats; i++) {
        double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
        if (mrb_seg_evaluate(ref, pred, sp, &o, &r) != MRB_OK) {
            fprintf(stderr, "hd95_driver: %s\n", mrb_error_message());
            return 1;
        }
        t[i] = now(CLOCK_MONOTONIC) - t0;
        c[i] = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
    }
    qsort(t, (size_t)repeats, sizeof *t, cmp);
    qsort(c, (size_t)repeats, sizeof *c, cmp);
    printf("mrbench %gx%gx%g %.6f %.6f %.6f %.6f %.6f %.4f %.4f\n", sp[0], sp[1], sp[2], r.hd95_pooled, r.hd95_max,
           r.hd95_mean, r.hd, r.assd, t[repeats / 2], c[repeats / 2]);
    free(t);
    free(c);
    mrb_array_free(ref);
    mrb_array_free(pred);
    return 0;
}

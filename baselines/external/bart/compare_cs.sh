#!/usr/bin/env bash
# mrbench cs-wavelet and BART `pics -R W:3:0:lambda` side by side on the same
# Shepp-Logan k-space and Poisson-disc masks: PSNR of both and the time ratio
# on the same machine and thread count.
#
# usage: compare_cs.sh [BUILD_DIR]   (default: build; needs libmrbench.a there)
# environment: THREADS (2), LAMBDA (0.005), ITERS (100), N (256),
#   ACCELS ("4 8": poisson -y/-z = sqrt(R)), COILS ("1 8"), REPEATS (3),
#   REG (W; T compares bart-pics TV with cs-tv), MR_ITERS (mrbench's iterations;
#   default ITERS, ITERS/10 for T), KEEP (1 keeps the work folder)
#
# Data (all made by BART): reference image `bart phantom -x N`; single coil:
# k-space `bart fft -u 3` of it; 8 coils: `bart phantom -s 8` coil images,
# their RSS as reference, maps by `bart ecalib -m 1` on the undersampled
# k-space, given to both methods. Mask: `bart poisson` (uniform Poisson
# disc, 24x24 fully sampled centre, seed 1). Each method runs REPEATS times
# and the fastest wall time is kept; mrbench's time is setup + run of the
# registered method, BART's is the wall time of the bart process (process
# start and .cfl I/O included) with BART's own "Total Time" beside it. CPU
# times (user + system over all threads; for BART its process) are printed
# too: on a shared, loaded machine they are steadier than wall times.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../../.." && pwd)
BUILD=${1:-$SRC/build}
BUILD=$(cd "$BUILD" && pwd)
THREADS=${THREADS:-2}
LAMBDA=${LAMBDA:-0.005}
ITERS=${ITERS:-100}
N=${N:-256}
ACCELS=${ACCELS:-"4 8"}
COILS=${COILS:-"1 8"}
REPEATS=${REPEATS:-3}
REG=${REG:-W}

command -v bart >/dev/null || { echo "compare_cs.sh: bart not found (apt-get install bart)" >&2; exit 2; }
[ -f "$BUILD/libmrbench.a" ] || { echo "compare_cs.sh: $BUILD/libmrbench.a not found (build first)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/mrbench-compare-cs.XXXXXX")
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

# The link line of the mrbench program, minus its own objects.
LIBS=$(sed -e 's/.*libmrbench\.a//' "$BUILD/CMakeFiles/mrbench_cli.dir/link.txt")
RPATH=$(grep -o -- '-Wl,-rpath,[^ ]*' "$BUILD/CMakeFiles/mrbench_cli.dir/link.txt" || true)

cat > driver.c <<'EOF'
/* Runs two registered methods on .cfl inputs and prints PSNR and times. */
#include <complex.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "external/bart/bart.h"
#include "mrbench/io.h"
#include "mrbench/registry.h"
#include "mrbench/util.h"

#include <sys/resource.h>

static double cpu_self(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + 1e-6 * (double)r.ru_utime.tv_usec +
           (double)r.ru_stime.tv_sec + 1e-6 * (double)r.ru_stime.tv_usec;
}

static double psnr(const mrb_array *ref, const mrb_array *x)
{
    size_t n = mrb_array_count(ref);
    const float complex *r = ref->data, *t = x->data;
    double mse = 0, peak = 0;
    for (size_t i = 0; i < n; i++) {
        double a = cabsf(r[i]), b = cabsf(t[i]);
        mse += (a - b) * (a - b);
        if (a > peak) peak = a;
    }
    return 10 * log10(peak * peak / (mse / (double)n));
}

static void die(const char *what)
{
    fprintf(stderr, "driver: %s: %s\n", what, mrb_error_message());
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: driver ref ksp mask sens|- method threads repeats [key=value ...]\n");
        return 2;
    }
    mrb_array *ref, *ksp, *maskc, *sens = NULL;
    if (mrb_cfl_read(argv[1], &ref) || mrb_cfl_read(argv[2], &ksp) || mrb_cfl_read(argv[3], &maskc))
        die("reading inputs");
    if (strcmp(argv[4], "-") && mrb_cfl_read(argv[4], &sens)) die("reading maps");
    size_t nx = ref->dims[0], ny = ref->dims[1];
    size_t nc = ksp->ndim >= 4 ? ksp->dims[3] : 1;
    size_t kd[4] = {nx, ny, 1, nc};
    mrb_array *k4 = mrb_array_create(MRB_C64, 4, kd);
    memcpy(k4->data, ksp->data, mrb_array_bytes(k4));
    mrb_array *mask = mrb_array_create3(MRB_F32, nx, ny, 1);
    for (size_t i = 0; i < nx * ny; i++)
        ((float *)mask->data)[i] = crealf(((float complex *)maskc->data)[i]);
    mrb_array *s4 = NULL;
    if (sens) {
        s4 = mrb_array_create(MRB_C64, 4, kd);
        memcpy(s4->data, sens->data, mrb_array_bytes(s4));
    }
    mrb_recon_input in = {k4, mask, s4, atoi(argv[6]), 1};
    const mrb_method_desc *d = mrb_method_find(argv[5]);
    if (!d) { fprintf(stderr, "driver: no method %s\n", argv[5]); return 2; }
    mrb_params p;
    mrb_params_defaults(&p, d->params, d->nparams);
    for (int i = 8; i < argc; i++) {
        char key[64];
        const char *eq = strchr(argv[i], '=');
        if (!eq) continue;
        snprintf(key, sizeof key, "%.*s", (int)(eq - argv[i]), argv[i]);
        if (mrb_params_set_text(&p, d->params, d->nparams, key, eq + 1, argv[5])) die("parameter");
    }
    mrb_array *out = mrb_array_create3(MRB_C64, nx, ny, 1);
    double best = INFINITY, best_run = INFINITY, best_proc = INFINITY, best_rep = INFINITY;
    double best_cpu = INFINITY;
    for (int r = 0; r < atoi(argv[7]); r++) {
        void *state = NULL;
        double c0 = cpu_self();
        double t0 = mrb_now();
        if (d->setup(&p, &in, &state)) die("setup");
        double t1 = mrb_now();
        if (d->run(state, &in, out)) die("run");
        double t2 = mrb_now();
        double c2 = cpu_self();
        if (t2 - t0 < best) best = t2 - t0;
        if (t2 - t1 < best_run) best_run = t2 - t1;
        if (!strcmp(argv[5], "bart-pics")) {
            double proc, cpu, rep;
            mrb_bart_pics_timing(state, &proc, &cpu, &rep);
            if (proc < best_proc) best_proc = proc;
            if (rep < best_rep) best_rep = rep;
            if (cpu < best_cpu) best_cpu = cpu; /* the child's CPU time */
            if (r == 0) fprintf(stderr, "  command: %s\n", mrb_bart_pics_command(state));
        } else if (c2 - c0 < best_cpu) {
            best_cpu = c2 - c0;
        }
        d->teardown(state);
    }
    /* fields: psnr, wall time (mrbench: setup + run; bart: the process), CPU time */
    int bart = !strcmp(argv[5], "bart-pics");
    printf("%s psnr %.3f wall_s %.4f cpu_s %.4f run_s %.4f bart_total_time_s %.4f\n", argv[5],
           psnr(ref, out), bart ? best_proc : best, best_cpu, best_run, bart ? best_rep : -1.0);
    return 0;
}
EOF
# shellcheck disable=SC2086
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -fopenmp -I"$SRC/impl/include" -I"$SRC/baselines" \
    driver.c "$BUILD/libmrbench.a" $LIBS $RPATH -o driver

bart phantom -x "$N" ref1 >/dev/null
bart fft -u 3 ref1 kfull1 >/dev/null
if [[ " $COILS " == *" 8 "* ]]; then
    bart phantom -s 8 -x "$N" cimg8 >/dev/null
    bart rss 8 cimg8 ref8 >/dev/null
    bart fft -u 3 cimg8 kfull8 >/dev/null
fi

# BART's T:3:0 is anisotropic TV (jflags 0): compare it with cs-tv isotropic=0.
# BART's ADMM counts its CG steps (10 per outer iteration) against -i, so
# cs-tv gets ITERS/10 outer iterations, the same work (MR_ITERS overrides).
if [ "$REG" = T ]; then
    MR_METHOD=cs-tv; MR_EXTRA=isotropic=0
    MR_ITERS=${MR_ITERS:-$(( ITERS / 10 > 0 ? ITERS / 10 : 1 ))}
else
    MR_METHOD=cs-wavelet; MR_EXTRA=; MR_ITERS=${MR_ITERS:-$ITERS}
fi
printf "machine: %s, %s threads, lambda %s, %s iterations (%s: %s), %sx%s, best of %s\n" \
    "$(uname -m) $(nproc) cores" "$THREADS" "$LAMBDA" "$ITERS" "$MR_METHOD" "$MR_ITERS" "$N" "$N" "$REPEATS"
printf "%-5s %-3s %-6s %9s %9s %7s | %8s %8s %6s | %8s %8s %6s | %10s\n" coils R accel \
    psnr_mrb psnr_bart dB wall_mrb wall_bart ratio cpu_mrb cpu_bart ratio bart_total
for nc in $COILS; do
    for R in $ACCELS; do
        y=$(awk -v r="$R" 'BEGIN { printf "%.4f", sqrt(r) }')
        bart poisson -Y "$N" -Z "$N" -y "$y" -z "$y" -C 24 -s 1 pm >/dev/null 2>&1
        bart reshape 7 "$N" "$N" 1 pm mask >/dev/null
        acc=$(/usr/bin/python3 - <<PY
import numpy as np
d=[int(x) for x in open("mask.hdr").read().split("\n")[1].split()]
m=np.fromfile("mask.cfl",dtype=np.complex64)
print("%.2f" % (m.size/np.count_nonzero(m)))
PY
)
        bart fmac "kfull$nc" mask kus >/dev/null
        sens=-
        if [ "$nc" -gt 1 ]; then
            bart ecalib -m 1 kus maps >/dev/null 2>&1
            sens=maps
        fi
        # shellcheck disable=SC2086
        mr=$(./driver "ref$nc" kus mask $sens $MR_METHOD "$THREADS" "$REPEATS" lambda="$LAMBDA" iterations="$MR_ITERS" $MR_EXTRA)
        bt=$(./driver "ref$nc" kus mask $sens bart-pics "$THREADS" "$REPEATS" regulariser="$REG" lambda="$LAMBDA" iterations="$ITERS")
        echo "$mr" >>log.txt
        echo "$bt" >>log.txt
        pm=$(echo "$mr" | awk '{print $3}'); wm=$(echo "$mr" | awk '{print $5}'); cm=$(echo "$mr" | awk '{print $7}')
        pb=$(echo "$bt" | awk '{print $3}'); wb=$(echo "$bt" | awk '{print $5}'); cb=$(echo "$bt" | awk '{print $7}')
        tt=$(echo "$bt" | awk '{print $11}')
        awk -v nc="$nc" -v R="$R" -v acc="$acc" -v pm="$pm" -v pb="$pb" -v wm="$wm" -v wb="$wb" \
            -v cm="$cm" -v cb="$cb" -v tt="$tt" \
            'BEGIN { printf "%-5s %-3s %-6s %9.2f %9.2f %+7.2f | %8.3f %8.3f %6.2f | %8.3f %8.3f %6.2f | %10.3f\n", nc, R, acc, pm, pb, pm - pb, wm, wb, wm / wb, cm, cb, cm / cb, tt }'
    done
done

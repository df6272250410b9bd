#!/usr/bin/env bash
# Cross-check of mrbench's Deep Cascade against the PyTorch twin
# (baselines/external/pytorch/cascade.py): a small C driver linked against the
# build's libmrbench.a writes random weights (mrbench's He init), a random
# image, mask, k-space, mrbench's outputs, loss and parameter gradients of one
# training step; crosscheck.py loads the same weights into PyTorch and compares
# (output <= 1e-4, gradients <= 1e-3 max relative error).
# Configurations: 2D noiseless DC, 2D noisy DC with a trainable lambda, 2D+t
# with data sharing; 32x32 (x 6 frames), n_c 2, n_d 3, n_f 8.
# Usage: pytorch_crosscheck.sh MRBENCH_BINARY SOURCE_DIR
# Skips (exit 0) when python3-torch is not installed.
set -uo pipefail
bin=${1:?usage: pytorch_crosscheck.sh MRBENCH_BINARY SOURCE_DIR}
src=${2:?usage: pytorch_crosscheck.sh MRBENCH_BINARY SOURCE_DIR}
build=$(dirname "$bin")
name=pytorch_crosscheck
pass=0
fail=0
threads=2

py=""
for cand in ${PYTHON:-} /usr/bin/python3 python3; do
    if "$cand" -c 'import torch, numpy' >/dev/null 2>&1; then
        py=$cand
        break
    fi
done
if [ -z "$py" ]; then
    echo "skip: python3-torch (PyTorch) is not installed (apt-get install python3-torch)"
    echo "$name: 0 passed, 0 failed, 1 skipped"
    exit 0
fi
if [ ! -f "$build/libmrbench.a" ]; then
    echo "FAIL: $build/libmrbench.a not found next to the mrbench binary"
    echo "$name: 0 passed, 1 failed"
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -n "${KEEP_TMP:-}" ] && trap - EXIT && echo "kept $tmp"
cat > "$tmp/driver.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/fft.h"
#include "mrbench/nn.h"
#include "mrbench/rng.h"

#define MAX_PARAMS 256

static int fail(void)
{
    fprintf(stderr, "driver: %s\n", mrb_error_message());
    return 1;
}

/* usage: driver OUT_DIR TEMPORAL N_C N_D N_F LAMBDA TRAINABLE NX NY NT BATCH SEED THREADS */
int main(int argc, char **argv)
{
    if (argc != 14) {
        fprintf(stderr, "driver: expected 13 arguments\n");
        return 2;
    }
    const char *dir = argv[1];
    mrb_cascade_arch a = mrb_cascade_arch_default(atoi(argv[2]));
    a.n_c = atoi(argv[3]);
    a.n_d = atoi(argv[4]);
    a.n_f = atoi(argv[5]);
    a.lambda = atof(argv[6]);
    a.lambda_trainable = atoi(argv[7]);
    size_t nx = (size_t)atol(argv[8]), ny = (size_t)atol(argv[9]), nt = a.temporal ? (size_t)atol(argv[10]) : 1;
    size_t n = (size_t)atol(argv[11]);
    uint64_t seed = strtoull(argv[12], NULL, 10);
    mrb_nn_set_threads(atoi(argv[13]));
    size_t frame = nx * ny, vol = frame * nt, total = vol * n;
    mrb_cascade *c;
    if (mrb_cascade_create(&a, seed, &c) != MRB_OK) return fail();
    char path[4096];
    snprintf(path, sizeof path, "%s/weights.safetensors", dir);
    if (mrb_cascade_save(c, path) != MRB_OK) return fail();

    mrb_rng rng;
    mrb_rng_seed(&rng, seed + 1);
    float *img = calloc(2 * total, sizeof(float)), *ks = calloc(2 * total, sizeof(float));
    float *zf = calloc(2 * total, sizeof(float)), *mask = calloc(total, sizeof(float));
    for (size_t i = 0; i < 2 * total; i++) img[i] = (float)(0.5 * mrb_rng_normal(&rng));
    /* random phase-encode lines (axis y) per frame, always the centre line */
    for (size_t f = 0; f < n * nt; f++)
        for (size_t y = 0; y < ny; y++) {
            float m = (y == ny / 2 || mrb_rng_uniform(&rng) < 0.3) ? 1.0f : 0.0f;
            for (size_t x = 0; x < nx; x++) mask[f * frame + y * nx + x] = m;
        }
    memcpy(ks, img, 2 * total * sizeof(float));
    size_t dims[3] = {nx, ny, nt * n};
    if (mrb_fft_centered(MRB_FFT_FORWARD, 2, 3, dims, ks, 1) != MRB_OK) return fail();
    for (size_t i = 0; i < total; i++) ks[2 * i] *= mask[i], ks[2 * i + 1] *= mask[i];
    memcpy(zf, ks, 2 * total * sizeof(float));
    if (mrb_fft_centered(MRB_FFT_INVERSE, 2, 3, dims, zf, 1) != MRB_OK) return fail();

    mrb_tensor *x0 = a.temporal ? mrb_tensor_create5(n, 2, nt, ny, nx, 0) : mrb_tensor_create4(n, 2, ny, nx, 0);
    mrb_tensor *target = a.temporal ? mrb_tensor_create5(n, 2, nt, ny, nx, 0) : mrb_tensor_create4(n, 2, ny, nx, 0);
    mrb_tensor *oi = a.temporal ? mrb_tensor_create5(n, 2, nt, ny, nx, 0) : mrb_tensor_create4(n, 2, ny, nx, 0);
    mrb_tensor *ot = a.temporal ? mrb_tensor_create5(n, 2, nt, ny, nx, 1) : mrb_tensor_create4(n, 2, ny, nx, 1);
    mrb_tensor *kst = mrb_tensor_create5(n, nt, ny, nx, 2, 0), *mt = mrb_tensor_create4(n, nt, ny, nx, 0);
    size_t one = 1;
    mrb_tensor *lt = mrb_tensor_create(1, &one, 0);
    if (!x0 || !target || !oi || !ot || !kst || !mt || !lt) return fail();
    mrb_nn_complex_to_tensor(zf, x0);
    mrb_nn_complex_to_tensor(img, target);
    memcpy(kst->data, ks, 2 * total * sizeof(float));
    memcpy(mt->data, mask, total * sizeof(float));

    mrb_dc_data d = {.nx = nx, .ny = ny, .nt = nt, .n = n, .kspace = ks, .mask = mask};
    const mrb_tensor *out;
    if (mrb_cascade_forward(c, x0, &d, 0, &out) != MRB_OK) return fail();
    memcpy(oi->data, out->data, 2 * total * sizeof(float));
    if (mrb_cascade_forward(c, x0, &d, 1, &out) != MRB_OK) return fail();
    memcpy(ot->data, out->data, 2 * total * sizeof(float));
    double loss;
    /* mrbench's training loss: mean over complex pixels of |e|^2 */
    if (mrb_nn_mse_loss(ot, target, 2.0f, &loss) != MRB_OK) return fail();
    lt->data[0] = (float)loss;
    mrb_cascade_zero_grad(c);
    if (mrb_cascade_backward(c, ot->grad) != MRB_OK) return fail();

    mrb_named_tensor params[MAX_PARAMS], outs[MAX_PARAMS + 8];
    mrb_tensor views[MAX_PARAMS];
    static char names[MAX_PARAMS][96];
    size_t np = mrb_cascade_params(c, params, MAX_PARAMS), k = 0;
    if (np > MAX_PARAMS) return 2;
    outs[k++] = (mrb_named_tensor){"x0", x0};
    outs[k++] = (mrb_named_tensor){"target", target};
    outs[k++] = (mrb_named_tensor){"kspace", kst};
    outs[k++] = (mrb_named_tensor){"mask", mt};
    outs[k++] = (mrb_named_tensor){"out_infer", oi};
    outs[k++] = (mrb_named_tensor){"out_train", ot};
    outs[k++] = (mrb_named_tensor){"loss", lt};
    for (size_t i = 0; i < np; i++) {
        if (strstr(params[i].name, ".dc.") && !a.lambda_trainable) continue; /* fixed lambda: no gradient */
        views[i] = *params[i].t;
        views[i].data = params[i].t->grad;
        views[i].grad = NULL;
        snprintf(names[i], sizeof names[i], "grad.%s", params[i].name);
        outs[k++] = (mrb_named_tensor){names[i], &views[i]};
    }
    snprintf(path, sizeof path, "%s/data.safetensors", dir);
    if (mrb_safetensors_write(path, outs, k, NULL, 0) != MRB_OK) return fail();
    printf("driver: %s n_c %d n_d %d n_f %d %s DC, %zu x %zux%zux%zu, loss %.6g\n", a.temporal ? "2D+t" : "2D",
           a.n_c, a.n_d, a.n_f, a.lambda >= 0 ? "noisy" : "noiseless", n, nx, ny, nt, loss);
    mrb_tensor_free(x0);
    mrb_tensor_free(target);
    mrb_tensor_free(oi);
    mrb_tensor_free(ot);
    mrb_tensor_free(kst);
    mrb_tensor_free(mt);
    mrb_tensor_free(lt);
    mrb_cascade_free(c);
    free(img);
    free(ks);
    free(zf);
    free(mask);
    mrb_fft_cleanup();
    return 0;
}
EOF

# Link like the mrbench program (the build may add CUDA, HDF5, ...): the
# library list of its link line, else the pkg-config set.
linkfile="$build/CMakeFiles/mrbench_cli.dir/link.txt"
if [ -f "$linkfile" ]; then
    libs=$(sed -n 's/.* -o mrbench //p' "$linkfile" | tr ' ' '\n' | sed "s#^libmrbench.a\$#$build/libmrbench.a#" | tr '\n' ' ')
    # compiler flags of that line (sanitizers must match the library's)
    flags=$(sed 's/ -o mrbench .*//' "$linkfile" | tr ' ' '\n' | grep '^-' | tr '\n' ' ')
else
    libs="$build/libmrbench.a $(pkg-config --libs fftw3f fftw3 openblas libcjson zlib hdf5 2>/dev/null) -lfftw3f_threads -lm -lpthread"
fi
# shellcheck disable=SC2086
if ! cc ${flags:-} -std=c11 -O2 -fopenmp -I"$src/impl/include" "$tmp/driver.c" $libs -lm -o "$tmp/driver" 2>"$tmp/cc.log"; then
    cat "$tmp/cc.log"
    echo "FAIL: could not compile the C driver against $build/libmrbench.a"
    echo "$name: 0 passed, 1 failed"
    exit 1
fi

run_case() { # label, then driver arguments after OUT_DIR
    local label=$1
    shift
    mkdir -p "$tmp/$label"
    if "$tmp/driver" "$tmp/$label" "$@" "$threads"; then
        dirs+=("$tmp/$label")
    else
        echo "FAIL $label: the mrbench driver failed"
        fail=$((fail + 1))
    fi
}

dirs=()
#         label            temporal n_c n_d n_f lambda trainable nx ny nt batch seed
run_case  2d-noiseless     0        2   3   8   -1     0         32 32 1  2     11
run_case  2d-noisy-lambda  0        2   3   8   0.5    1         32 32 1  2     12
run_case  2dt-datasharing  1        2   3   8   -1     0         32 32 6  1     13

# one Python process for all cases (importing torch takes seconds)
if [ "${#dirs[@]}" -gt 0 ]; then
    (cd "$src/baselines/external/pytorch" && "$py" crosscheck.py --threads "$threads" "${dirs[@]}") | tee "$tmp/py.log"
    for d in "${dirs[@]}"; do
        if grep -q "^ok   $d:" "$tmp/py.log"; then
            echo "ok   $(basename "$d"): mrbench and PyTorch agree"
            pass=$((pass + 1))
        else
            echo "FAIL $(basename "$d"): mrbench and PyTorch disagree (or PyTorch failed)"
            fail=$((fail + 1))
        fi
    done
fi

echo "$name: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

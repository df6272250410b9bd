/* Batch OMP (baselines/recon/dl/dl_omp.c): exact recovery of sparse codes,
 * agreement with a plain OMP that recomputes the residual and solves the
 * least-squares problem from scratch in double precision, the error stopping
 * rule and independence from the thread count. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/dl.h"
#include "mrbench/rng.h"

/* Float batch OMP vs the double reference: coefficients agree to this
 * relative error (float Cholesky on well-conditioned 64 x 128 Gaussian
 * dictionaries keeps about 5 digits). */
#define COEF_REL_TOL 1e-4
/* Residual energy the error rule promises, relative slack for float sums. */
#define ERR_REL_SLACK 1e-3

static float *random_dict(size_t n, size_t K, uint64_t seed)
{
    float *D = malloc(n * K * sizeof *D);
    mrb_rng rng;
    mrb_rng_seed(&rng, seed);
    for (size_t k = 0; k < K; k++) {
        double s = 0;
        for (size_t a = 0; a < n; a++) {
            D[k * n + a] = (float)mrb_rng_normal(&rng);
            s += (double)D[k * n + a] * D[k * n + a];
        }
        for (size_t a = 0; a < n; a++) D[k * n + a] /= (float)sqrt(s);
    }
    return D;
}

/* Plain OMP in double: residual recomputed, normal equations solved by
 * Gaussian elimination each step. Returns the atom count. */
static int reference_omp(const float *D, size_t n, size_t K, const float *x, int T, int *atoms, double *coefs)
{
    double *r = malloc(n * sizeof *r), *A = malloc((size_t)T * (size_t)T * sizeof *A),
           *rhs = malloc((size_t)T * sizeof *rhs);
    for (size_t a = 0; a < n; a++) r[a] = x[a];
    int k = 0;
    while (k < T) {
        size_t best = 0;
        double best_abs = -1;
        for (size_t m = 0; m < K; m++) {
            int used = 0;
            for (int q = 0; q < k; q++) used |= atoms[q] == (int)m;
            if (used) continue;
            double c = 0;
            for (size_t a = 0; a < n; a++) c += D[m * n + a] * r[a];
            if (fabs(c) > best_abs) {
                best_abs = fabs(c);
                best = m;
            }
        }
        atoms[k++] = (int)best;
        for (int i = 0; i < k; i++) {
            rhs[i] = 0;
            for (size_t a = 0; a < n; a++) rhs[i] += (double)D[(size_t)atoms[i] * n + a] * x[a];
            for (int j = 0; j < k; j++) {
                double g = 0;
                for (size_t a = 0; a < n; a++) g += (double)D[(size_t)atoms[i] * n + a] * D[(size_t)atoms[j] * n + a];
                A[i * k + j] = g;
            }
        }
        for (int p = 0; p < k; p++) /* elimination without pivoting: SPD */
            for (int i = p + 1; i < k; i++) {
                double f = A[i * k + p] / A[p * k + p];
                for (int j = p; j < k; j++) A[i * k + j] -= f * A[p * k + j];
                rhs[i] -= f * rhs[p];
            }
        for (int i = k - 1; i >= 0; i--) {
            double v = rhs[i];
            for (int j = i + 1; j < k; j++) v -= A[i * k + j] * coefs[j];
            coefs[i] = v / A[i * k + i];
        }
        for (size_t a = 0; a < n; a++) {
            r[a] = x[a];
            for (int i = 0; i < k; i++) r[a] -= coefs[i] * D[(size_t)atoms[i] * n + a];
        }
    }
    free(r);
    free(A);
    free(rhs);
    return k;
}

static double residual_energy(const float *D, size_t n, const float *x, const mrb_dl_codes *c, size_t j)
{
    double e = 0;
    for (size_t a = 0; a < n; a++) {
        double r = x[a];
        for (int q = 0; q < c->count[j]; q++)
            r -= (double)c->coefs[j * (size_t)c->slots + (size_t)q] *
                 D[(size_t)c->atoms[j * (size_t)c->slots + (size_t)q] * n + a];
        e += r * r;
    }
    return e;
}

Test(dl_omp, recovers_known_sparse_codes_exactly)
{
    /* property: x = D g with 5 nonzeros of magnitude >= 0.5 on an incoherent
     * 64 x 128 dictionary; OMP with T = 5 finds the same support and values */
    const size_t n = 64, K = 128, N = 300;
    const int T = 5;
    float *D = random_dict(n, K, 11);
    float *X = calloc(n * N, sizeof *X);
    int *supp = malloc(N * (size_t)T * sizeof *supp);
    float *val = malloc(N * (size_t)T * sizeof *val);
    mrb_rng rng;
    mrb_rng_seed(&rng, 12);
    for (size_t j = 0; j < N; j++) {
        for (int q = 0; q < T; q++) {
            int dup;
            do {
                supp[j * T + q] = (int)mrb_rng_below(&rng, K);
                dup = 0;
                for (int p = 0; p < q; p++) dup |= supp[j * T + p] == supp[j * T + q];
            } while (dup);
            double mag = 0.5 + mrb_rng_uniform(&rng);
            val[j * T + q] = (float)(mrb_rng_uniform(&rng) < 0.5 ? -mag : mag);
            for (size_t a = 0; a < n; a++) X[j * n + a] += val[j * T + q] * D[(size_t)supp[j * T + q] * n + a];
        }
    }
    mrb_dl_codes *c = mrb_dl_codes_create(N, T);
    cr_assert_not_null(c);
    mrb_dl_omp_opts o = {.max_atoms = T, .err_sq = 0, .nthreads = 2};
    cr_assert_eq(mrb_dl_omp(D, n, K, X, N, &o, c, 0), MRB_OK, "%s", mrb_error_message());
    for (size_t j = 0; j < N; j++) {
        cr_assert_eq(c->count[j], T, "signal %zu: %d atoms", j, c->count[j]);
        for (int q = 0; q < T; q++) {
            int found = -1;
            for (int p = 0; p < T; p++)
                if (c->atoms[j * T + (size_t)p] == supp[j * T + q]) found = p;
            cr_assert_geq(found, 0, "signal %zu: atom %d missed", j, supp[j * T + q]);
            cr_assert_leq(fabsf(c->coefs[j * T + (size_t)found] - val[j * T + q]), COEF_REL_TOL * fabsf(val[j * T + q]),
                          "signal %zu coefficient", j);
        }
    }
    /* the error rule stops at the exact support too */
    mrb_dl_codes *c2 = mrb_dl_codes_create(N, 10);
    /* a target far above float rounding of the energy (about 1e-6 here) */
    mrb_dl_omp_opts o2 = {.max_atoms = 10, .err_sq = 1e-3, .nthreads = 1};
    cr_assert_eq(mrb_dl_omp(D, n, K, X, N, &o2, c2, 0), MRB_OK);
    for (size_t j = 0; j < N; j++) cr_assert_eq(c2->count[j], T, "signal %zu: %d atoms", j, c2->count[j]);
    mrb_dl_codes_free(c);
    mrb_dl_codes_free(c2);
    free(D);
    free(X);
    free(supp);
    free(val);
}

Test(dl_omp, matches_plain_omp_on_dense_signals)
{
    /* property: same atom sequence and coefficients as a plain OMP */
    const size_t n = 64, K = 128, N = 100;
    const int T = 8;
    float *D = random_dict(n, K, 21);
    float *X = malloc(n * N * sizeof *X);
    mrb_rng rng;
    mrb_rng_seed(&rng, 22);
    for (size_t i = 0; i < n * N; i++) X[i] = (float)mrb_rng_normal(&rng);
    mrb_dl_codes *c = mrb_dl_codes_create(N, T);
    mrb_dl_omp_opts o = {.max_atoms = T, .err_sq = 0, .nthreads = 2};
    cr_assert_eq(mrb_dl_omp(D, n, K, X, N, &o, c, 0), MRB_OK);
    int atoms[8];
    double coefs[8];
    for (size_t j = 0; j < N; j++) {
        int k = reference_omp(D, n, K, X + j * n, T, atoms, coefs);
        cr_assert_eq(c->count[j], k);
        for (int q = 0; q < k; q++) {
            cr_assert_eq(c->atoms[j * T + (size_t)q], atoms[q], "signal %zu step %d", j, q);
            cr_assert_leq(fabs(c->coefs[j * T + (size_t)q] - coefs[q]), COEF_REL_TOL * (1 + fabs(coefs[q])),
                          "signal %zu coef %d: %g vs %g", j, q, c->coefs[j * T + (size_t)q], coefs[q]);
        }
    }
    mrb_dl_codes_free(c);
    free(D);
    free(X);
}

Test(dl_omp, error_rule_stops_at_the_target_or_the_sparsity_level)
{
    /* property: fewer than T atoms only when ||x - D g||^2 <= err_sq, and
     * stopping one atom earlier would not have met the target */
    const size_t n = 36, K = 72, N = 400;
    const int T = 10;
    float *D = random_dict(n, K, 31);
    float *X = malloc(n * N * sizeof *X);
    mrb_rng rng;
    mrb_rng_seed(&rng, 32);
    for (size_t i = 0; i < n * N; i++) X[i] = (float)mrb_rng_normal(&rng);
    const double err_sq = 0.3 * (double)n; /* 30% of the expected energy */
    mrb_dl_codes *c = mrb_dl_codes_create(N, T);
    mrb_dl_omp_opts o = {.max_atoms = T, .err_sq = err_sq, .nthreads = 2};
    cr_assert_eq(mrb_dl_omp(D, n, K, X, N, &o, c, 0), MRB_OK);
    mrb_dl_codes *prefix = mrb_dl_codes_create(1, T);
    int below_T = 0;
    for (size_t j = 0; j < N; j++) {
        double e = residual_energy(D, n, X + j * n, c, j);
        if (c->count[j] < T) {
            below_T++;
            cr_assert_leq(e, err_sq * (1 + ERR_REL_SLACK), "signal %zu: %g > %g", j, e, err_sq);
        }
        if (c->count[j] > 1) {
            mrb_dl_omp_opts op = {.max_atoms = c->count[j] - 1, .err_sq = 0, .nthreads = 1};
            cr_assert_eq(mrb_dl_omp(D, n, K, X + j * n, 1, &op, prefix, 0), MRB_OK);
            cr_assert_gt(residual_energy(D, n, X + j * n, prefix, 0), err_sq * (1 - ERR_REL_SLACK),
                         "signal %zu stopped late", j);
        }
    }
    cr_assert_gt(below_T, 0, "the target was never reached: the test checks nothing");
    mrb_dl_codes_free(c);
    mrb_dl_codes_free(prefix);
    free(D);
    free(X);
}

Test(dl_omp, codes_do_not_depend_on_the_thread_count)
{
    /* property: bitwise identical codes with 1 and 2 threads */
    const size_t n = 64, K = 64, N = 3000;
    float *D = random_dict(n, K, 41);
    float *X = malloc(n * N * sizeof *X);
    mrb_rng rng;
    mrb_rng_seed(&rng, 42);
    for (size_t i = 0; i < n * N; i++) X[i] = (float)mrb_rng_normal(&rng);
    mrb_dl_codes *c1 = mrb_dl_codes_create(N, 10), *c2 = mrb_dl_codes_create(N, 10);
    mrb_dl_omp_opts o = {.max_atoms = 10, .err_sq = 0.5 * (double)n, .nthreads = 1};
    cr_assert_eq(mrb_dl_omp(D, n, K, X, N, &o, c1, 0), MRB_OK);
    o.nthreads = 2;
    cr_assert_eq(mrb_dl_omp(D, n, K, X, N, &o, c2, 0), MRB_OK);
    cr_assert_eq(memcmp(c1->count, c2->count, N * sizeof *c1->count), 0);
    for (size_t j = 0; j < N; j++)
        for (int q = 0; q < c1->count[j]; q++) {
            cr_assert_eq(c1->atoms[j * 10 + (size_t)q], c2->atoms[j * 10 + (size_t)q]);
            cr_assert_eq(c1->coefs[j * 10 + (size_t)q], c2->coefs[j * 10 + (size_t)q]);
        }
    mrb_dl_codes_free(c1);
    mrb_dl_codes_free(c2);
    free(D);
    free(X);
}

Test(dl_omp, rejects_bad_options)
{
    /* property: invalid sparsity or code range is an error with a message */
    float D[4] = {1, 0, 0, 1}, X[2] = {1, 1};
    mrb_dl_codes *c = mrb_dl_codes_create(1, 2);
    mrb_dl_omp_opts o = {.max_atoms = 3, .err_sq = 0, .nthreads = 1};
    cr_assert_eq(mrb_dl_omp(D, 2, 2, X, 1, &o, c, 0), MRB_ERR_INVALID);
    cr_assert_not_null(strstr(mrb_error_message(), "max_atoms"));
    o.max_atoms = 2;
    cr_assert_eq(mrb_dl_omp(D, 2, 2, X, 1, &o, c, 1), MRB_ERR_INVALID);
    cr_assert_eq(mrb_dl_omp(D, 2, 2, X, 1, &o, c, 0), MRB_OK);
    cr_assert_eq(c->count[0], 2);
    mrb_dl_codes_free(c);
}

/* Dictionary initialisation (DLMRI: principal directions plus random
 * training patches) and approximate K-SVD (Rubinstein, Zibulevsky, Elad,
 * Technion CS-2008-08, algorithm 5; Aharon, Elad, Bruckstein, IEEE TSP 2006
 * for K-SVD itself).
 *
 * The residual R = Y - D Gamma of the training set is kept up to date, so an
 * atom update touches only the columns of the signals that use the atom:
 * E = R_I + d g^T, then `power_iters` steps of d = E g / ||E g||, g = E^T d,
 * then R_I = E - d g^T. Each step minimises ||E - d g^T||_F over one factor,
 * so no update increases the error. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/dl.h"
#include "mrbench/rng.h"

/* Jacobi sweeps stop when the off-diagonal mass falls below this fraction of
 * the total (double precision; Golub and Van Loan, section 8.5). */
#define JACOBI_REL_TOL 1e-13
#define JACOBI_MAX_SWEEPS 60
/* A training signal with squared norm below this is not used as an atom. */
#define ATOM_MIN_SQNORM 1e-20

/* Eigen-decomposition of the symmetric n x n matrix A (destroyed) by cyclic
 * Jacobi rotations: eigenvalues into w, eigenvectors into columns of V. */
static void jacobi_eigen(double *A, size_t n, double *w, double *V)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) V[i * n + j] = i == j ? 1.0 : 0.0;
    double total = 0;
    for (size_t i = 0; i < n * n; i++) total += A[i] * A[i];
    for (int sweep = 0; sweep < JACOBI_MAX_SWEEPS; sweep++) {
        double off = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++) off += 2 * A[i * n + j] * A[i * n + j];
        if (off <= JACOBI_REL_TOL * JACOBI_REL_TOL * total || off == 0) break;
        for (size_t p = 0; p < n; p++)
            for (size_t q = p + 1; q < n; q++) {
                double apq = A[p * n + q];
                if (apq == 0) continue;
                double theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (size_t k = 0; k < n; k++) { /* columns p, q */
                    double akp = A[k * n + p], akq = A[k * n + q];
                    A[k * n + p] = c * akp - s * akq;
                    A[k * n + q] = s * akp + c * akq;
                }
                for (size_t k = 0; k < n; k++) { /* rows p, q */
                    double apk = A[p * n + k], aqk = A[q * n + k];
                    A[p * n + k] = c * apk - s * aqk;
                    A[q * n + k] = s * apk + c * aqk;
                }
                for (size_t k = 0; k < n; k++) {
                    double vkp = V[k * n + p], vkq = V[k * n + q];
                    V[k * n + p] = c * vkp - s * vkq;
                    V[k * n + q] = s * vkp + c * vkq;
                }
            }
    }
    for (size_t i = 0; i < n; i++) w[i] = A[i * n + i];
}

mrb_status mrb_dl_dict_init(float *dict, size_t n, size_t natoms, const float *train, size_t ntrain, uint64_t seed)
{
    if (!dict || !train || n == 0 || natoms == 0 || ntrain == 0)
        return mrb_error(MRB_ERR_INVALID, "dl dictionary init: empty dictionary or training set");
    double *C = calloc(n * n, sizeof *C), *w = malloc(n * sizeof *w), *V = malloc(n * n * sizeof *V);
    size_t *order = malloc((n > ntrain ? n : ntrain) * sizeof *order);
    if (!C || !w || !V || !order) {
        free(C);
        free(w);
        free(V);
        free(order);
        return mrb_error(MRB_ERR_NOMEM, "dl dictionary init: out of memory (n = %zu)", n);
    }
    for (size_t j = 0; j < ntrain; j++) {
        const float *y = train + j * n;
        for (size_t a = 0; a < n; a++) {
            double ya = y[a];
            for (size_t b = a; b < n; b++) C[a * n + b] += ya * y[b];
        }
    }
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < a; b++) C[a * n + b] = C[b * n + a];
    jacobi_eigen(C, n, w, V);
    for (size_t i = 0; i < n; i++) order[i] = i;
    for (size_t i = 1; i < n; i++) { /* insertion sort by decreasing eigenvalue, stable */
        size_t v = order[i], k = i;
        while (k > 0 && w[order[k - 1]] < w[v]) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = v;
    }
    size_t npca = natoms < n ? natoms : n;
    for (size_t k = 0; k < npca; k++)
        for (size_t a = 0; a < n; a++) dict[k * n + a] = (float)V[a * n + order[k]];
    if (natoms > npca) {
        mrb_rng rng;
        mrb_rng_seed(&rng, seed);
        for (size_t j = 0; j < ntrain; j++) order[j] = j;
        size_t k = npca;
        for (size_t j = 0; j < ntrain && k < natoms; j++) { /* partial Fisher-Yates */
            size_t r = j + (size_t)mrb_rng_below(&rng, ntrain - j);
            size_t tmp = order[j];
            order[j] = order[r];
            order[r] = tmp;
            const float *y = train + order[j] * n;
            double s = 0;
            for (size_t a = 0; a < n; a++) s += (double)y[a] * y[a];
            if (s < ATOM_MIN_SQNORM) continue;
            float inv = (float)(1 / sqrt(s));
            for (size_t a = 0; a < n; a++) dict[k * n + a] = y[a] * inv;
            k++;
        }
        for (; k < natoms; k++) { /* too few usable signals: random unit atoms */
            double s = 0;
            for (size_t a = 0; a < n; a++) {
                dict[k * n + a] = (float)mrb_rng_normal(&rng);
                s += (double)dict[k * n + a] * dict[k * n + a];
            }
            float inv = (float)(1 / sqrt(s));
            for (size_t a = 0; a < n; a++) dict[k * n + a] *= inv;
        }
    }
    free(C);
    free(w);
    free(V);
    free(order);
    return MRB_OK;
}

/* Float sums in SIMD lanes (a fixed order for a given build, so results stay
 * deterministic); n is at most a few hundred, well within float accuracy. */
static float dot(const float *a, const float *b, size_t n)
{
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static double sqnorm(const float *a, size_t n)
{
    return dot(a, a, n);
}

/* r = y - D code; returns ||r||^2. */
static double residual(const float *dict, size_t n, const float *y, const int32_t *atoms, const float *coefs, int count,
                       float *r)
{
    memcpy(r, y, n * sizeof *r);
    for (int q = 0; q < count; q++) {
        const float *d = dict + (size_t)atoms[q] * n;
        float c = coefs[q];
        for (size_t a = 0; a < n; a++) r[a] -= c * d[a];
    }
    return sqnorm(r, n);
}

typedef struct ksvd_ws {
    mrb_dl_codes *codes, *fresh;
    float *R, *Rnew, *E, *g;
    double *err, *errnew;
    size_t *start, *users, *slot_of; /* atom -> users (CSR), slot of the atom in each user */
    unsigned char *replaced;
} ksvd_ws;

static void ws_free(ksvd_ws *w)
{
    mrb_dl_codes_free(w->codes);
    mrb_dl_codes_free(w->fresh);
    mrb_free(w->R);
    mrb_free(w->Rnew);
    mrb_free(w->E);
    free(w->g);
    free(w->err);
    free(w->errnew);
    free(w->start);
    free(w->users);
    free(w->slot_of);
    free(w->replaced);
}

mrb_status mrb_dl_ksvd(float *dict, size_t n, size_t natoms, const float *train, size_t ntrain,
                       const mrb_dl_ksvd_opts *opts, double *err_history)
{
    if (!dict || !train || !opts || n == 0 || natoms == 0 || ntrain == 0)
        return mrb_error(MRB_ERR_INVALID, "dl ksvd: empty dictionary or training set");
    if (opts->iters < 0 || opts->sparsity < 1 || opts->power_iters < 1)
        return mrb_error(MRB_ERR_INVALID, "dl ksvd: iterations %d (>= 0), sparsity %d and power_iters %d (>= 1)",
                         opts->iters, opts->sparsity, opts->power_iters);
    const int T = opts->sparsity < (int)natoms ? opts->sparsity : (int)natoms;
    const int nthreads = opts->nthreads > 0 ? opts->nthreads : 1;
    const size_t slots = (size_t)T;
    ksvd_ws w = {0};
    w.codes = mrb_dl_codes_create(ntrain, T);
    w.fresh = mrb_dl_codes_create(ntrain, T);
    w.R = mrb_malloc(n * ntrain * sizeof *w.R);
    w.Rnew = mrb_malloc(n * ntrain * sizeof *w.Rnew);
    w.E = mrb_malloc(n * ntrain * sizeof *w.E);
    w.g = malloc(ntrain * sizeof *w.g);
    w.err = malloc(ntrain * sizeof *w.err);
    w.errnew = malloc(ntrain * sizeof *w.errnew);
    w.start = malloc((natoms + 1) * sizeof *w.start);
    w.users = malloc(ntrain * slots * sizeof *w.users);
    w.slot_of = malloc(ntrain * slots * sizeof *w.slot_of);
    w.replaced = malloc(ntrain);
    if (!w.codes || !w.fresh || !w.R || !w.Rnew || !w.E || !w.g || !w.err || !w.errnew || !w.start || !w.users ||
        !w.slot_of || !w.replaced) {
        ws_free(&w);
        return mrb_error(MRB_ERR_NOMEM, "dl ksvd: out of memory for %zu training signals", ntrain);
    }
    mrb_dl_omp_opts oo = {.max_atoms = T, .err_sq = 0, .nthreads = nthreads};
    mrb_status st = MRB_OK;
    for (int it = 0; it <= opts->iters; it++) {
        /* sparse coding; a signal keeps its previous code if that is better */
        st = mrb_dl_omp(dict, n, natoms, train, ntrain, &oo, w.fresh, 0);
        if (st != MRB_OK) break;
#pragma omp parallel for schedule(static) num_threads(nthreads)
        for (size_t j = 0; j < ntrain; j++) {
            w.errnew[j] = residual(dict, n, train + j * n, w.fresh->atoms + j * slots, w.fresh->coefs + j * slots,
                                   w.fresh->count[j], w.Rnew + j * n);
            if (it == 0 || w.errnew[j] < w.err[j]) {
                w.err[j] = w.errnew[j];
                memcpy(w.R + j * n, w.Rnew + j * n, n * sizeof *w.R);
                w.codes->count[j] = w.fresh->count[j];
                memcpy(w.codes->atoms + j * slots, w.fresh->atoms + j * slots, slots * sizeof *w.codes->atoms);
                memcpy(w.codes->coefs + j * slots, w.fresh->coefs + j * slots, slots * sizeof *w.codes->coefs);
            }
        }
        if (it == 0) {
            if (err_history) {
                double s = 0;
                for (size_t j = 0; j < ntrain; j++) s += w.err[j];
                err_history[0] = s / (double)ntrain;
            }
            if (opts->iters == 0) break;
        }
        /* users of every atom (compressed rows, in signal order) */
        memset(w.start, 0, (natoms + 1) * sizeof *w.start);
        for (size_t j = 0; j < ntrain; j++)
            for (int32_t q = 0; q < w.codes->count[j]; q++) w.start[w.codes->atoms[j * slots + (size_t)q] + 1]++;
        for (size_t k = 0; k < natoms; k++) w.start[k + 1] += w.start[k];
        for (size_t j = 0; j < ntrain; j++)
            for (int32_t q = 0; q < w.codes->count[j]; q++) {
                size_t k = (size_t)w.codes->atoms[j * slots + (size_t)q];
                size_t pos = w.start[k]++;
                w.users[pos] = j;
                w.slot_of[pos] = (size_t)q;
            }
        for (size_t k = natoms; k > 0; k--) w.start[k] = w.start[k - 1];
        w.start[0] = 0;
        memset(w.replaced, 0, ntrain);
        /* dictionary update, atom by atom */
        for (size_t k = 0; k < natoms; k++) {
            float *d = dict + k * n;
            size_t u0 = w.start[k], nu = w.start[k + 1] - u0;
            if (nu == 0) {
                /* unused atom: the worst-represented signal not yet used */
                size_t worst = ntrain;
                double worst_err = -1;
                for (size_t j = 0; j < ntrain; j++)
                    if (!w.replaced[j] && w.err[j] > worst_err) {
                        worst_err = w.err[j];
                        worst = j;
                    }
                if (worst == ntrain) continue;
                w.replaced[worst] = 1;
                const float *y = train + worst * n;
                double s = 0;
                for (size_t a = 0; a < n; a++) s += (double)y[a] * y[a];
                if (s < ATOM_MIN_SQNORM) continue;
                float inv = (float)(1 / sqrt(s));
                for (size_t a = 0; a < n; a++) d[a] = y[a] * inv;
                continue;
            }
            for (size_t u = 0; u < nu; u++) {
                size_t j = w.users[u0 + u];
                float gj = w.codes->coefs[j * slots + w.slot_of[u0 + u]];
                w.g[u] = gj;
                float *e = w.E + u * n;
                const float *r = w.R + j * n;
                for (size_t a = 0; a < n; a++) e[a] = r[a] + d[a] * gj;
            }
            int degenerate = 0;
            for (int pi = 0; pi < opts->power_iters && !degenerate; pi++) {
                double dn = 0;
                float *dn_vec = d;
                memset(dn_vec, 0, n * sizeof *dn_vec);
                for (size_t u = 0; u < nu; u++) {
                    const float *e = w.E + u * n;
                    float gu = w.g[u];
                    for (size_t a = 0; a < n; a++) dn_vec[a] += e[a] * gu;
                }
                for (size_t a = 0; a < n; a++) dn += (double)d[a] * d[a];
                if (!(dn > 0)) {
                    degenerate = 1;
                    break;
                }
                float inv = (float)(1 / sqrt(dn));
                for (size_t a = 0; a < n; a++) d[a] *= inv;
                for (size_t u = 0; u < nu; u++) {
                    const float *e = w.E + u * n;
                    w.g[u] = dot(e, d, n);
                }
            }
            if (degenerate) {
                /* E g = 0: the users' residual carries nothing along any
                 * direction; keep the coefficients, restore a unit atom */
                d[0] = 1;
                for (size_t u = 0; u < nu; u++) w.g[u] = 0;
            }
            for (size_t u = 0; u < nu; u++) {
                size_t j = w.users[u0 + u];
                float gj = w.g[u];
                w.codes->coefs[j * slots + w.slot_of[u0 + u]] = gj;
                const float *e = w.E + u * n;
                float *r = w.R + j * n;
                for (size_t a = 0; a < n; a++) r[a] = e[a] - d[a] * gj;
                w.err[j] = sqnorm(r, n);
            }
        }
        if (err_history) {
            double s = 0;
            for (size_t j = 0; j < ntrain; j++) s += w.err[j];
            err_history[it + 1] = s / (double)ntrain;
        }
        if (it + 1 == opts->iters) break;
    }
    ws_free(&w);
    return st;
}

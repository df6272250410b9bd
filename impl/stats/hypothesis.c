/* Rank tests (Wilcoxon signed-rank, Mann-Whitney U) with scipy.stats'
 * conventions, and the Benjamini-Hochberg adjustment. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrbench/stats.h"

double mrb_normal_sf(double z)
{
    return 0.5 * erfc(z / sqrt(2.0));
}

typedef struct idx_val {
    double v;
    size_t i;
} idx_val;

static int cmp_idx_val(const void *a, const void *b)
{
    const idx_val *x = a, *y = b;
    if (x->v < y->v) return -1;
    if (x->v > y->v) return 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Average ranks; *tie_term (if given) receives sum(t^3 - t) over tie groups. */
static mrb_status rank_average(const double *x, size_t n, double *ranks, double *tie_term)
{
    if (tie_term) *tie_term = 0;
    if (n == 0) return MRB_OK;
    idx_val *s = malloc(n * sizeof *s);
    if (!s) return mrb_error(MRB_ERR_NOMEM, "ranks: out of memory");
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i])) {
            free(s);
            return mrb_error(MRB_ERR_INVALID, "ranks: value %zu is NaN", i);
        }
        s[i].v = x[i];
        s[i].i = i;
    }
    qsort(s, n, sizeof *s, cmp_idx_val);
    for (size_t a = 0; a < n;) {
        size_t b = a + 1;
        while (b < n && s[b].v == s[a].v) b++;
        double avg = 0.5 * ((double)(a + 1) + (double)b); /* ranks a+1..b */
        for (size_t k = a; k < b; k++) ranks[s[k].i] = avg;
        double t = (double)(b - a);
        if (tie_term) *tie_term += t * t * t - t;
        a = b;
    }
    free(s);
    return MRB_OK;
}

mrb_status mrb_rank_average(const double *x, size_t n, double *ranks)
{
    return rank_average(x, n, ranks, NULL);
}

static void test_none(mrb_test_result *out)
{
    memset(out, 0, sizeof *out);
    out->pvalue = 1.0;
    out->min_pvalue = 1.0;
    out->z = NAN;
    out->mode = MRB_TEST_NONE;
}

/* Exact two-sided p of the signed-rank statistic r_plus for n differences,
 * as scipy.stats.wilcoxon(method='exact'): counts of subsets of {1..n} per
 * rank sum (exact in double up to n = 50: counts < 2^53). */
static double wilcoxon_exact_p(size_t n, double r_plus)
{
    size_t top = n * (n + 1) / 2;
    double *c = calloc(top + 1, sizeof *c);
    if (!c) return NAN;
    c[0] = 1;
    for (size_t k = 1; k <= n; k++)
        for (size_t s = top; s >= k; s--) {
            c[s] += c[s - k];
            if (s == k) break;
        }
    double total = ldexp(1.0, (int)n);
    size_t r = (size_t)r_plus;
    double p;
    if (r == top / 2)
        p = 1.0;
    else {
        double less = 0, greater = 0;
        for (size_t s = 0; s <= top; s++) {
            if (s <= r) less += c[s];
            if (s >= r) greater += c[s];
        }
        p = 2.0 * fmin(less, greater) / total;
    }
    free(c);
    return p > 1.0 ? 1.0 : p;
}

mrb_status mrb_wilcoxon(const double *d, size_t n, mrb_test_result *out)
{
    test_none(out);
    for (size_t i = 0; i < n; i++)
        if (isnan(d[i])) return mrb_error(MRB_ERR_INVALID, "wilcoxon: difference %zu is NaN", i);
    double *nz = malloc((n ? n : 1) * sizeof *nz);
    double *ab = malloc((n ? n : 1) * sizeof *ab);
    double *r = malloc((n ? n : 1) * sizeof *r);
    if (!nz || !ab || !r) {
        free(nz), free(ab), free(r);
        return mrb_error(MRB_ERR_NOMEM, "wilcoxon: out of memory");
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] == 0)
            out->n_zero++;
        else
            nz[m++] = d[i];
    }
    out->n = m;
    if (m == 0) {
        free(nz), free(ab), free(r);
        return MRB_OK;
    }
    for (size_t i = 0; i < m; i++) ab[i] = fabs(nz[i]);
    double tie_term = 0;
    mrb_status st = rank_average(ab, m, r, &tie_term);
    if (st != MRB_OK) {
        free(nz), free(ab), free(r);
        return st;
    }
    double r_plus = 0, r_minus = 0;
    for (size_t i = 0; i < m; i++) {
        if (nz[i] > 0)
            r_plus += r[i];
        else
            r_minus += r[i];
    }
    free(nz), free(ab), free(r);
    double T = fmin(r_plus, r_minus);
    double dn = (double)m;
    out->statistic = T;
    if (m <= MRB_WILCOXON_EXACT_MAX_N && tie_term == 0) {
        out->mode = MRB_TEST_EXACT;
        out->pvalue = wilcoxon_exact_p(m, r_plus);
        out->min_pvalue = fmin(1.0, ldexp(1.0, 1 - (int)m));
        if (isnan(out->pvalue)) return mrb_error(MRB_ERR_NOMEM, "wilcoxon: out of memory");
        return MRB_OK;
    }
    double mn = dn * (dn + 1) * 0.25;
    double var = (dn * (dn + 1) * (2 * dn + 1) - 0.5 * tie_term) / 24.0;
    double se = sqrt(var);
    double corr = 0.5 * (T > mn ? 1.0 : T < mn ? -1.0 : 0.0);
    out->mode = MRB_TEST_APPROX;
    out->z = (T - mn - corr) / se;
    out->pvalue = fmin(1.0, 2.0 * mrb_normal_sf(fabs(out->z)));
    double zmin = (0 - mn + 0.5) / sqrt(dn * (dn + 1) * (2 * dn + 1) / 24.0);
    out->min_pvalue = fmin(1.0, 2.0 * mrb_normal_sf(fabs(zmin)));
    return MRB_OK;
}

/* Exact upper tail P(U >= u) for sample sizes m, n: the counts of U are the
 * coefficients of the Gaussian binomial [m+n choose m]_q, built as
 * prod_{i=1..k} (1 - q^(big+i)) / (1 - q^i) with k = min(m, n). */
static double mannwhitney_exact_sf(size_t m, size_t n, double u)
{
    size_t k = m < n ? m : n, big = m < n ? n : m;
    size_t deg = k * big;
    double *p = calloc(deg + big + k + 2, sizeof *p);
    if (!p) return NAN;
    p[0] = 1;
    size_t cur = 0; /* degree of p */
    for (size_t i = 1; i <= k; i++) {
        size_t sh = big + i;
        for (size_t s = cur + sh + 1; s-- > sh;) p[s] -= p[s - sh];
        cur += sh;
        for (size_t s = i; s <= cur; s++) p[s] += p[s - i];   /* divide by (1 - q^i) */
        for (size_t s = cur - i + 1; s <= cur; s++) p[s] = 0; /* exact division leaves no remainder */
        cur -= i;
    }
    double total = 0, tail = 0;
    for (size_t s = 0; s <= deg; s++) {
        total += p[s];
        if ((double)s >= u) tail += p[s];
    }
    free(p);
    return tail / total;
}

mrb_status mrb_mannwhitney(const double *x, size_t nx, const double *y, size_t ny, mrb_test_result *out)
{
    test_none(out);
    if (nx == 0 || ny == 0) return MRB_OK;
    size_t n = nx + ny;
    double *xy = malloc(n * sizeof *xy), *r = malloc(n * sizeof *r);
    if (!xy || !r) {
        free(xy), free(r);
        return mrb_error(MRB_ERR_NOMEM, "mann-whitney: out of memory");
    }
    memcpy(xy, x, nx * sizeof *xy);
    memcpy(xy + nx, y, ny * sizeof *xy);
    double tie_term = 0;
    mrb_status st = rank_average(xy, n, r, &tie_term);
    if (st != MRB_OK) {
        free(xy), free(r);
        return mrb_error_context(st, "mann-whitney");
    }
    double r1 = 0;
    for (size_t i = 0; i < nx; i++) r1 += r[i];
    free(xy), free(r);
    double dnx = (double)nx, dny = (double)ny, dn = (double)n;
    double u1 = r1 - dnx * (dnx + 1) / 2, u2 = dnx * dny - u1;
    double u = fmax(u1, u2);
    out->statistic = u1;
    out->n = n;
    int small = nx <= MRB_MANNWHITNEY_EXACT_MAX_N || ny <= MRB_MANNWHITNEY_EXACT_MAX_N;
    if (small && tie_term == 0) {
        out->mode = MRB_TEST_EXACT;
        double sf = mannwhitney_exact_sf(nx, ny, floor(u));
        double sfmin = mannwhitney_exact_sf(nx, ny, dnx * dny);
        if (isnan(sf) || isnan(sfmin)) return mrb_error(MRB_ERR_NOMEM, "mann-whitney: out of memory");
        out->pvalue = fmin(1.0, 2.0 * sf);
        out->min_pvalue = fmin(1.0, 2.0 * sfmin);
        return MRB_OK;
    }
    out->mode = MRB_TEST_APPROX;
    double mu = dnx * dny / 2;
    double s = sqrt(dnx * dny / 12 * ((dn + 1) - tie_term / (dn * (dn - 1))));
    double s0 = sqrt(dnx * dny / 12 * (dn + 1));
    out->z = (u - mu - 0.5) / s;
    out->pvalue = s > 0 ? fmin(1.0, 2.0 * mrb_normal_sf(out->z)) : 1.0;
    out->min_pvalue = fmin(1.0, 2.0 * mrb_normal_sf((dnx * dny - mu - 0.5) / s0));
    return MRB_OK;
}

static int cmp_idx_val_desc(const void *a, const void *b)
{
    return -cmp_idx_val(a, b);
}

mrb_status mrb_bh_adjust(const double *p, size_t n, double *q)
{
    idx_val *s = malloc((n ? n : 1) * sizeof *s);
    if (!s) return mrb_error(MRB_ERR_NOMEM, "benjamini-hochberg: out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(p[i])) {
            s[m].v = p[i];
            s[m].i = i;
            m++;
        }
    for (size_t i = 0; i < n; i++)
        if (isnan(p[i])) q[i] = NAN;
    /* Step-up: q_(k) = min_{j >= k} p_(j) m / j, taken from the largest p down. */
    qsort(s, m, sizeof *s, cmp_idx_val_desc);
    double running = 1.0;
    for (size_t k = 0; k < m; k++) {
        double rank = (double)(m - k);
        double v = s[k].v * (double)m / rank;
        if (v < running) running = v;
        q[s[k].i] = running;
    }
    free(s);
    return MRB_OK;
}

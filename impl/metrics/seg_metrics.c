/* Label-map metrics for one label group: confusion counts, overlap ratios,
 * volumes, and surface distances (HD, HD95 variants, ASSD, ASD, NSD).
 *
 * Surfaces follow MedPy (medpy.metric.binary.__surface_distances): mask XOR
 * binary_erosion(mask, cross structuring element) with SciPy's default
 * border_value=0, so foreground voxels on the array border are surface.
 * Directed distances: exact EDT of the complement of one surface, read at
 * the other surface's voxels. The EDT domain is the bounding box of both
 * masks: every surface voxel lies in it, and the nearest surface voxel of B
 * to any point lies in B's own bounding box, so restricting the separable
 * transform to the box loses nothing. */
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "edt_internal.h"
#include "mrbench/metrics.h"

/* HD95's percentile (MedPy hd95, MONAI compute_hausdorff_distance(percentile=95)). */
#define SEG_PERCENTILE_DEFAULT 95.0
/* NSD tolerance default in mm; DeepMind surface-distance takes it as an
 * argument with no default, 1 mm is the common choice in its examples. */
#define SEG_TAU_DEFAULT_MM 1.0
#define MM3_PER_ML 1000.0
/* Below this many voxels a parallel region costs more than it saves. */
#define SEG_PARALLEL_MIN_VOXELS (1u << 16)

void mrb_seg_opts_default(mrb_seg_opts *o)
{
    memset(o, 0, sizeof *o);
    o->group[1] = 1;
    o->hd95 = MRB_HD95_MAX;
    o->empty = MRB_EMPTY_BRATS;
    o->percentile_mode = MRB_PERCENTILE_LINEAR;
    o->percentile = SEG_PERCENTILE_DEFAULT;
    o->tau = SEG_TAU_DEFAULT_MM;
    o->distances = 1;
    o->nthreads = 0;
}

mrb_status mrb_seg_opts_set_group(mrb_seg_opts *o, const char *labels)
{
    if (!labels) return mrb_error(MRB_ERR_INVALID, "labels: NULL label group");
    uint8_t group[256] = {0};
    const char *c = labels;
    int count = 0;
    for (;;) {
        while (*c == ' ') c++;
        char *end;
        errno = 0;
        long v = strtol(c, &end, 10);
        if (end == c || errno || v < 0 || v > 255)
            return mrb_error(MRB_ERR_INVALID, "labels: '%s' is not a comma-separated list of label values 0..255",
                             labels);
        group[v] = 1;
        count++;
        c = end;
        while (*c == ' ') c++;
        if (*c == '\0') break;
        if (*c != ',')
            return mrb_error(MRB_ERR_INVALID, "labels: '%s' is not a comma-separated list of label values 0..255",
                             labels);
        c++;
    }
    if (count == 0) return mrb_error(MRB_ERR_INVALID, "labels: empty label group");
    memcpy(o->group, group, sizeof group);
    return MRB_OK;
}

mrb_status mrb_seg_parse_hd95(const char *text, mrb_hd95_variant *out)
{
    if (text && strcmp(text, "max") == 0)
        *out = MRB_HD95_MAX;
    else if (text && strcmp(text, "pooled") == 0)
        *out = MRB_HD95_POOLED;
    else if (text && strcmp(text, "mean") == 0)
        *out = MRB_HD95_MEAN;
    else
        return mrb_error(MRB_ERR_INVALID, "hd95: expected max, pooled or mean, got '%s'", text ? text : "(null)");
    return MRB_OK;
}

mrb_status mrb_seg_parse_empty(const char *text, mrb_empty_policy *out)
{
    if (text && strcmp(text, "brats") == 0)
        *out = MRB_EMPTY_BRATS;
    else if (text && strcmp(text, "nan") == 0)
        *out = MRB_EMPTY_NAN;
    else if (text && strcmp(text, "worst") == 0)
        *out = MRB_EMPTY_WORST;
    else
        return mrb_error(MRB_ERR_INVALID, "empty: expected brats, nan or worst, got '%s'", text ? text : "(null)");
    return MRB_OK;
}

mrb_status mrb_seg_parse_percentile(const char *text, mrb_percentile_mode *out)
{
    if (text && strcmp(text, "linear") == 0)
        *out = MRB_PERCENTILE_LINEAR;
    else if (text && strcmp(text, "nearest") == 0)
        *out = MRB_PERCENTILE_NEAREST;
    else
        return mrb_error(MRB_ERR_INVALID, "percentile: expected linear or nearest, got '%s'", text ? text : "(null)");
    return MRB_OK;
}

/* ------------------------------------------------------------ helpers -- */

/* k-th smallest (0-based) of a[0..n-1], reordering a: Wirth's selection
 * with a median-of-three pivot; duplicates (common among distances) split
 * evenly. After the call a[0..k-1] <= a[k] <= a[k+1..n-1]. */
static double select_kth(double *a, size_t n, size_t k)
{
    ptrdiff_t l = 0, m = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    while (l < m) {
        ptrdiff_t mid = l + (m - l) / 2;
        double p0 = a[l], p1 = a[mid], p2 = a[m];
        double x = p0 < p1 ? (p1 < p2 ? p1 : (p0 < p2 ? p2 : p0)) : (p0 < p2 ? p0 : (p1 < p2 ? p2 : p1));
        ptrdiff_t i = l, j = m;
        do {
            while (a[i] < x) i++;
            while (x < a[j]) j--;
            if (i <= j) {
                double t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        } while (i <= j);
        if (j < kk) l = i;
        if (kk < i) m = j;
    }
    return a[k];
}

/* q-th percentile (0..100) of a[0..n-1], n > 0; reorders a. */
static double percentile(double *a, size_t n, double q, mrb_percentile_mode mode)
{
    if (mode == MRB_PERCENTILE_NEAREST) {
        /* Nearest rank: the ceil(q n / 100)-th smallest value (1-based),
         * numpy method='inverted_cdf'. */
        double r = ceil(q * (double)n / 100.0);
        size_t rank = r < 1.0 ? 1 : (r > (double)n ? n : (size_t)r);
        return select_kth(a, n, rank - 1);
    }
    /* numpy.percentile default ('linear', Hyndman & Fan type 7): virtual
     * index h = (n - 1) q / 100, interpolated as numpy's _lerp. */
    double h = (double)(n - 1) * (q / 100.0);
    size_t lo = (size_t)floor(h);
    if (lo >= n - 1) return select_kth(a, n, n - 1);
    double t = h - (double)lo;
    double va = select_kth(a, n, lo);
    double vb = a[lo + 1];
    for (size_t i = lo + 2; i < n; i++)
        if (a[i] < vb) vb = a[i];
    double diff = vb - va;
    return t >= 0.5 ? vb - diff * (1.0 - t) : va + diff * t;
}

typedef struct bbox {
    size_t lo[3], hi[3]; /* inclusive */
    int any;
} bbox;

static void bbox_add(bbox *b, size_t x, size_t y, size_t z)
{
    size_t p[3] = {x, y, z};
    if (!b->any) {
        for (int d = 0; d < 3; d++) b->lo[d] = b->hi[d] = p[d];
        b->any = 1;
        return;
    }
    for (int d = 0; d < 3; d++) {
        if (p[d] < b->lo[d]) b->lo[d] = p[d];
        if (p[d] > b->hi[d]) b->hi[d] = p[d];
    }
}

static void bbox_merge(bbox *into, const bbox *b)
{
    if (!b->any) return;
    bbox_add(into, b->lo[0], b->lo[1], b->lo[2]);
    bbox_add(into, b->hi[0], b->hi[1], b->hi[2]);
}

typedef struct slice_stats {
    uint64_t tp, fp, fn, nref, npred;
    bbox box; /* of ref OR pred */
} slice_stats;

/* 0/0 under the empty-mask policy: brats scores agreement (1 when the masks
 * are identical, 0 otherwise), worst scores 0, nan gives NaN. */
static double ratio(uint64_t num, uint64_t den, int identical, mrb_empty_policy policy, int *applied)
{
    if (den > 0) return (double)num / (double)den;
    *applied = 1;
    switch (policy) {
    case MRB_EMPTY_BRATS: return identical ? 1.0 : 0.0;
    case MRB_EMPTY_WORST: return 0.0;
    case MRB_EMPTY_NAN: break;
    }
    return NAN;
}

static void set_distances(mrb_seg_result *r, double v)
{
    r->hd = r->hd95 = r->hd95_max = r->hd95_pooled = r->hd95_mean = v;
    r->hd95_ref_to_pred = r->hd95_pred_to_ref = v;
    r->assd = r->asd = v;
}

/* Marks the surface voxels of a mask given in box coordinates (mask values
 * 0/1, box of extent n[3]); `twod` drops the z neighbours. Voxels beyond the
 * box are background (the box holds every foreground voxel, and SciPy's
 * erosion treats beyond-array voxels as background). */
static void surface_in_box(const uint8_t *m, const size_t n[3], int twod, uint8_t *surf, int nt)
{
    size_t sx = 1, sy = n[0], sz = n[0] * n[1];
#pragma omp parallel for schedule(static) num_threads(nt) if (sz * n[2] >= SEG_PARALLEL_MIN_VOXELS)
    for (size_t z = 0; z < n[2]; z++)
        for (size_t y = 0; y < n[1]; y++)
            for (size_t x = 0; x < n[0]; x++) {
                size_t i = z * sz + y * sy + x * sx;
                if (!m[i]) {
                    surf[i] = 0;
                    continue;
                }
                int interior =
                    x > 0 && x + 1 < n[0] && m[i - sx] && m[i + sx] && y > 0 && y + 1 < n[1] && m[i - sy] && m[i + sy];
                if (interior && !twod) interior = z > 0 && z + 1 < n[2] && m[i - sz] && m[i + sz];
                surf[i] = (uint8_t)!interior;
            }
}

typedef struct directed {
    double *d; /* distances in mm, scan order (reordered by percentiles) */
    size_t n;
    double max, sum, within_tau;
} directed;

/* Distances from the voxels of `from` to the nearest feature of `to_sq`
 * (the squared EDT of the other surface). */
static void collect(const uint8_t *from, const double *to_sq, size_t count, double tau, directed *out)
{
    size_t k = 0;
    double mx = 0.0, sum = 0.0, within = 0.0;
    for (size_t i = 0; i < count; i++) {
        if (!from[i]) continue;
        double d = sqrt(to_sq[i]);
        out->d[k++] = d;
        if (d > mx) mx = d;
        sum += d;
        if (d <= tau) within += 1.0;
    }
    out->n = k;
    out->max = mx;
    out->sum = sum;
    out->within_tau = within;
}

static mrb_status surface_distances(const mrb_array *ref, const mrb_array *pred, const double sp[3], int twod,
                                    const bbox *box, const mrb_seg_opts *o, int nt, mrb_seg_result *r)
{
    size_t nx = ref->dims[0], ny = ref->dims[1];
    size_t n[3];
    for (int d = 0; d < 3; d++) n[d] = box->hi[d] - box->lo[d] + 1;
    size_t count = n[0] * n[1] * n[2];
    uint8_t *ma = malloc(count), *mb = malloc(count), *sa = malloc(count), *sb = malloc(count);
    double *dsq = malloc(count * sizeof *dsq);
    double *pool = NULL;
    mrb_status st = MRB_OK;
    if (!ma || !mb || !sa || !sb || !dsq) {
        st = mrb_error(MRB_ERR_NOMEM, "surface distances: out of memory for a %zux%zux%zu box", n[0], n[1], n[2]);
        goto done;
    }
    const uint8_t *la = ref->data, *lb = pred->data;
#pragma omp parallel for schedule(static) num_threads(nt) if (count >= SEG_PARALLEL_MIN_VOXELS)
    for (size_t z = 0; z < n[2]; z++)
        for (size_t y = 0; y < n[1]; y++) {
            size_t src = ((z + box->lo[2]) * ny + y + box->lo[1]) * nx + box->lo[0];
            size_t dst = (z * n[1] + y) * n[0];
            for (size_t x = 0; x < n[0]; x++) {
                ma[dst + x] = o->group[la[src + x]];
                mb[dst + x] = o->group[lb[src + x]];
            }
        }
    surface_in_box(ma, n, twod, sa, nt);
    surface_in_box(mb, n, twod, sb, nt);
    uint64_t na = 0, nb = 0;
    for (size_t i = 0; i < count; i++) {
        na += sa[i];
        nb += sb[i];
    }
    r->n_surface_ref = na;
    r->n_surface_pred = nb;
    if (na == 0 || nb == 0) goto done; /* one mask empty: surfaces counted only */
    pool = malloc((na + nb) * sizeof *pool);
    if (!pool) {
        st = mrb_error(MRB_ERR_NOMEM, "surface distances: out of memory for %llu distances",
                       (unsigned long long)(na + nb));
        goto done;
    }
    int ndim = twod ? 2 : 3;
    directed ab = {pool, 0, 0, 0, 0}, ba = {pool + na, 0, 0, 0, 0};
    st = mrb_edt_squared_query(sb, sa, ndim, n, sp, nt, dsq);
    if (st != MRB_OK) goto done;
    collect(sa, dsq, count, o->tau, &ab);
    st = mrb_edt_squared_query(sa, sb, ndim, n, sp, nt, dsq);
    if (st != MRB_OK) goto done;
    collect(sb, dsq, count, o->tau, &ba);

    r->hd = ab.max > ba.max ? ab.max : ba.max;
    r->assd = (ab.sum + ba.sum) / (double)(na + nb);
    r->asd = 0.5 * (ab.sum / (double)na + ba.sum / (double)nb);
    r->nsd = (ab.within_tau + ba.within_tau) / (double)(na + nb);
    r->hd95_ref_to_pred = percentile(ab.d, na, o->percentile, o->percentile_mode);
    r->hd95_pred_to_ref = percentile(ba.d, nb, o->percentile, o->percentile_mode);
    r->hd95_pooled = percentile(pool, na + nb, o->percentile, o->percentile_mode);
    r->hd95_max = r->hd95_ref_to_pred > r->hd95_pred_to_ref ? r->hd95_ref_to_pred : r->hd95_pred_to_ref;
    r->hd95_mean = 0.5 * (r->hd95_ref_to_pred + r->hd95_pred_to_ref);
done:
    free(ma);
    free(mb);
    free(sa);
    free(sb);
    free(dsq);
    free(pool);
    return st;
}

static mrb_status check_labels(const mrb_array *ref, const mrb_array *pred)
{
    if (!ref || !pred) return mrb_error(MRB_ERR_INVALID, "label metrics: reference or prediction is NULL");
    const mrb_array *both[2] = {ref, pred};
    const char *names[2] = {"reference", "prediction"};
    for (int k = 0; k < 2; k++) {
        if (both[k]->dtype != MRB_U8)
            return mrb_error(MRB_ERR_INVALID, "label metrics: %s must be an MRB_U8 label map, got %s", names[k],
                             mrb_dtype_name(both[k]->dtype));
        if (both[k]->ndim != 2 && both[k]->ndim != 3)
            return mrb_error(MRB_ERR_INVALID, "label metrics: %s must be [nx, ny] or [nx, ny, nz], got %d axes",
                             names[k], both[k]->ndim);
    }
    if (!mrb_array_same_shape(ref, pred)) {
        char a[64], b[64];
        return mrb_error(MRB_ERR_INVALID, "label metrics: shape mismatch, reference %s vs prediction %s",
                         mrb_array_shape_str(ref, a, sizeof a), mrb_array_shape_str(pred, b, sizeof b));
    }
    if (mrb_array_count(ref) == 0) return mrb_error(MRB_ERR_INVALID, "label metrics: empty label maps");
    return MRB_OK;
}

int mrb_seg_is_label_dtype(mrb_dtype t)
{
    return t == MRB_U8 || t == MRB_I16 || t == MRB_I32;
}

mrb_status mrb_seg_labels_u8(const mrb_array *a, const char *name, mrb_array **out)
{
    *out = NULL;
    if (!mrb_seg_is_label_dtype(a->dtype) && a->dtype != MRB_F32)
        return mrb_error(MRB_ERR_INVALID, "%s: %s data cannot be a label map (integers or whole-number floats)", name,
                         mrb_dtype_name(a->dtype));
    mrb_array *u = mrb_array_create(MRB_U8, a->ndim, a->dims);
    if (!u) return mrb_error(MRB_ERR_NOMEM, "%s: out of memory", name);
    size_t n = mrb_array_count(a);
    uint8_t *d = u->data;
    for (size_t i = 0; i < n; i++) {
        double v = a->dtype == MRB_U8    ? ((const uint8_t *)a->data)[i]
                   : a->dtype == MRB_I16 ? ((const int16_t *)a->data)[i]
                   : a->dtype == MRB_I32 ? ((const int32_t *)a->data)[i]
                                         : ((const float *)a->data)[i];
        if (!(v >= 0 && v <= 255 && v == floor(v))) {
            mrb_array_free(u);
            return mrb_error(MRB_ERR_INVALID, "%s: label %g at voxel %zu is %s", name, v, i,
                             v == floor(v) ? "outside 0..255" : "not a whole number");
        }
        d[i] = (uint8_t)v;
    }
    *out = u;
    return MRB_OK;
}

mrb_status mrb_seg_evaluate(const mrb_array *ref, const mrb_array *pred, const double spacing[3],
                            const mrb_seg_opts *opts, mrb_seg_result *out)
{
    MRB_TRY(check_labels(ref, pred));
    mrb_seg_opts o;
    if (opts)
        o = *opts;
    else
        mrb_seg_opts_default(&o);
    double sp[3] = {1.0, 1.0, 1.0};
    for (int d = 0; d < 3; d++) {
        if (spacing) sp[d] = spacing[d];
        if (!(sp[d] > 0.0) || !isfinite(sp[d]))
            return mrb_error(MRB_ERR_INVALID, "label metrics: spacing[%d] must be a finite number > 0 mm, got %g", d,
                             sp[d]);
    }
    if (!(o.percentile >= 0.0 && o.percentile <= 100.0))
        return mrb_error(MRB_ERR_INVALID, "label metrics: percentile must be in [0, 100], got %g", o.percentile);
    if (!(o.tau >= 0.0) || !isfinite(o.tau))
        return mrb_error(MRB_ERR_INVALID, "label metrics: tau must be a finite number >= 0 mm, got %g", o.tau);
    if ((unsigned)o.hd95 > MRB_HD95_MEAN || (unsigned)o.empty > MRB_EMPTY_WORST ||
        (unsigned)o.percentile_mode > MRB_PERCENTILE_NEAREST)
        return mrb_error(MRB_ERR_INVALID, "label metrics: unknown HD95 variant, empty policy or percentile mode");
    int nt = o.nthreads > 0 ? o.nthreads : omp_get_max_threads();

    size_t nx = ref->dims[0], ny = ref->dims[1], nz = ref->ndim == 3 ? ref->dims[2] : 1;
    int twod = nz == 1;
    slice_stats *ss = calloc(nz, sizeof *ss);
    if (!ss) return mrb_error(MRB_ERR_NOMEM, "label metrics: out of memory");
    const uint8_t *la = ref->data, *lb = pred->data;
    uint8_t g[256]; /* 0/1 membership, whatever nonzero values opts used */
    for (int v = 0; v < 256; v++) g[v] = o.group[v] != 0;
#pragma omp parallel for schedule(static) num_threads(nt) if (nx * ny * nz >= SEG_PARALLEL_MIN_VOXELS)
    for (size_t z = 0; z < nz; z++) {
        slice_stats s;
        memset(&s, 0, sizeof s);
        for (size_t y = 0; y < ny; y++) {
            const uint8_t *ra = la + (z * ny + y) * nx, *rb = lb + (z * ny + y) * nx;
            /* Branch-free counting; the bounding box only for rows with foreground. */
            uint64_t tp = 0, na = 0, nb = 0;
            size_t x = 0;
            if (!g[0]) {
                /* Background (label 0) dominates label maps: skip 8 zero
                 * labels of both maps at a time. */
                for (; x + 8 <= nx; x += 8) {
                    uint64_t wa, wb;
                    memcpy(&wa, ra + x, 8);
                    memcpy(&wb, rb + x, 8);
                    if (!(wa | wb)) continue;
                    for (size_t k = x; k < x + 8; k++) {
                        unsigned a = g[ra[k]], b = g[rb[k]];
                        tp += a & b;
                        na += a;
                        nb += b;
                    }
                }
            }
            for (; x < nx; x++) {
                unsigned a = g[ra[x]], b = g[rb[x]];
                tp += a & b;
                na += a;
                nb += b;
            }
            if (na + nb == 0) continue;
            s.tp += tp;
            s.fn += na - tp;
            s.fp += nb - tp;
            s.nref += na;
            s.npred += nb;
            size_t xlo = 0, xhi = nx - 1;
            while (!(g[ra[xlo]] | g[rb[xlo]])) xlo++;
            while (!(g[ra[xhi]] | g[rb[xhi]])) xhi--;
            bbox_add(&s.box, xlo, y, z);
            bbox_add(&s.box, xhi, y, z);
        }
        ss[z] = s;
    }
    memset(out, 0, sizeof *out);
    bbox box = {{0, 0, 0}, {0, 0, 0}, 0};
    uint64_t nref = 0, npred = 0;
    for (size_t z = 0; z < nz; z++) {
        out->tp += ss[z].tp;
        out->fp += ss[z].fp;
        out->fn += ss[z].fn;
        nref += ss[z].nref;
        npred += ss[z].npred;
        bbox_merge(&box, &ss[z].box);
    }
    free(ss);
    uint64_t total = (uint64_t)nx * ny * nz;
    out->tn = total - out->tp - out->fp - out->fn;
    out->ref_empty = nref == 0;
    out->pred_empty = npred == 0;
    int identical = out->fp == 0 && out->fn == 0;
    int applied = 0;
    out->dice = ratio(2 * out->tp, 2 * out->tp + out->fp + out->fn, identical, o.empty, &applied);
    out->jaccard = ratio(out->tp, out->tp + out->fp + out->fn, identical, o.empty, &applied);
    out->sensitivity = ratio(out->tp, out->tp + out->fn, identical, o.empty, &applied);
    out->specificity = ratio(out->tn, out->tn + out->fp, identical, o.empty, &applied);
    out->precision = ratio(out->tp, out->tp + out->fp, identical, o.empty, &applied);
    double voxel_ml = sp[0] * sp[1] * sp[2] / MM3_PER_ML;
    out->vol_ref_ml = (double)nref * voxel_ml;
    out->vol_pred_ml = (double)npred * voxel_ml;
    out->voldiff_ml = out->vol_pred_ml - out->vol_ref_ml;
    double ext[3] = {(double)nx * sp[0], (double)ny * sp[1], twod ? 0.0 : (double)nz * sp[2]};
    out->diagonal_mm = sqrt(ext[0] * ext[0] + ext[1] * ext[1] + ext[2] * ext[2]);

    mrb_status st = MRB_OK;
    if (!o.distances) {
        set_distances(out, NAN);
        out->nsd = NAN;
    } else if (out->ref_empty && out->pred_empty) {
        applied = 1;
        set_distances(out, o.empty == MRB_EMPTY_BRATS ? 0.0 : o.empty == MRB_EMPTY_WORST ? out->diagonal_mm : NAN);
        out->nsd = o.empty == MRB_EMPTY_BRATS ? 1.0 : o.empty == MRB_EMPTY_WORST ? 0.0 : NAN;
    } else if (out->ref_empty || out->pred_empty) {
        /* Surface voxels are still counted; distances follow the policy. */
        st = surface_distances(ref, pred, sp, twod, &box, &o, nt, out);
        applied = 1;
        set_distances(out, o.empty == MRB_EMPTY_BRATS   ? MRB_BRATS_EMPTY_DISTANCE_MM
                           : o.empty == MRB_EMPTY_WORST ? out->diagonal_mm
                                                        : NAN);
        /* One surface empty: none of the other lies within tau of it, NSD 0. */
        out->nsd = 0.0;
    } else {
        st = surface_distances(ref, pred, sp, twod, &box, &o, nt, out);
    }
    if (st == MRB_OK && o.distances)
        out->hd95 = o.hd95 == MRB_HD95_MAX      ? out->hd95_max
                    : o.hd95 == MRB_HD95_POOLED ? out->hd95_pooled
                                                : out->hd95_mean;
    out->policy_applied = applied;
    return st;
}

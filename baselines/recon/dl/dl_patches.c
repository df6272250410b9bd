/* Overlapping patches on a periodic grid (DLMRI's wrap-around assumption,
 * Ravishankar and Bresler 2011, section III) and their averaging.
 *
 * Averaging is shared out by image rows: the thread that owns a row adds up
 * every patch segment that crosses it in a fixed order, so threads never
 * write to the same voxel and the result does not depend on the number of
 * threads. */
#include <stdlib.h>
#include <string.h>

#include "mrbench/dl.h"

mrb_status mrb_dl_patches_init(mrb_dl_patches *g, const size_t dims[3], const size_t size[3], const size_t stride[3])
{
    static const char axis[3] = {'x', 'y', 't'};
    memset(g, 0, sizeof *g);
    for (int d = 0; d < 3; d++) {
        if (dims[d] == 0 || size[d] == 0 || stride[d] == 0)
            return mrb_error(MRB_ERR_INVALID, "dl patches: %c axis: image %zu, patch %zu, stride %zu must be >= 1",
                             axis[d], dims[d], size[d], stride[d]);
        if (size[d] > dims[d])
            return mrb_error(MRB_ERR_INVALID, "dl patches: patch size %zu along %c exceeds the image size %zu", size[d],
                             axis[d], dims[d]);
        if (stride[d] > size[d])
            return mrb_error(MRB_ERR_INVALID,
                             "dl patches: stride %zu along %c exceeds the patch size %zu "
                             "(voxels between patches would be lost)",
                             stride[d], axis[d], size[d]);
        g->dims[d] = dims[d];
        g->size[d] = size[d];
        g->stride[d] = stride[d];
        g->count[d] = (dims[d] + stride[d] - 1) / stride[d];
    }
    return MRB_OK;
}

size_t mrb_dl_patches_total(const mrb_dl_patches *g)
{
    return g->count[0] * g->count[1] * g->count[2];
}

size_t mrb_dl_patches_length(const mrb_dl_patches *g)
{
    return g->size[0] * g->size[1] * g->size[2];
}

void mrb_dl_patches_extract(const mrb_dl_patches *g, const float *img, size_t first, size_t count, float *out,
                            float *means)
{
    const size_t nx = g->dims[0], ny = g->dims[1], nt = g->dims[2];
    const size_t px = g->size[0], py = g->size[1], pt = g->size[2];
    const size_t n = px * py * pt;
    for (size_t j = 0; j < count; j++) {
        size_t p = first + j;
        size_t ax = (p % g->count[0]) * g->stride[0];
        size_t ay = (p / g->count[0] % g->count[1]) * g->stride[1];
        size_t at = (p / (g->count[0] * g->count[1])) * g->stride[2];
        float *o = out + j * n;
        for (size_t ot = 0; ot < pt; ot++) {
            const float *frame = img + ((at + ot) % nt) * nx * ny;
            for (size_t oy = 0; oy < py; oy++) {
                const float *row = frame + ((ay + oy) % ny) * nx;
                if (ax + px <= nx) {
                    memcpy(o, row + ax, px * sizeof *o);
                } else {
                    for (size_t ox = 0; ox < px; ox++) o[ox] = row[(ax + ox) % nx];
                }
                o += px;
            }
        }
        if (means) {
            float *v = out + j * n;
            double s = 0;
            for (size_t i = 0; i < n; i++) s += v[i];
            float m = (float)(s / (double)n);
            for (size_t i = 0; i < n; i++) v[i] -= m;
            means[p] = m;
        }
    }
}

/* Per axis and coordinate v: the offsets o in the patch whose anchor
 * (v - o) mod N lies on the stride grid, and that anchor's index. */
typedef struct axis_table {
    size_t *count;  /* [N] */
    size_t *offset; /* [N * size] */
    size_t *anchor; /* [N * size] */
} axis_table;

static void axis_table_free(axis_table *a)
{
    free(a->count);
    free(a->offset);
    free(a->anchor);
}

static int axis_table_make(axis_table *a, size_t N, size_t size, size_t stride)
{
    a->count = malloc(N * sizeof *a->count);
    a->offset = malloc(N * size * sizeof *a->offset);
    a->anchor = malloc(N * size * sizeof *a->anchor);
    if (!a->count || !a->offset || !a->anchor) return 0;
    for (size_t v = 0; v < N; v++) {
        size_t k = 0;
        for (size_t o = 0; o < size; o++) {
            size_t an = (v + N - o) % N;
            if (an % stride != 0) continue;
            a->offset[v * size + k] = o;
            a->anchor[v * size + k] = an / stride;
            k++;
        }
        a->count[v] = k;
    }
    return 1;
}

mrb_status mrb_dl_patches_average(const mrb_dl_patches *g, const float *dict, size_t natoms, const mrb_dl_codes *codes,
                                  const float *means, float *img, int nthreads)
{
    const size_t nx = g->dims[0], ny = g->dims[1], nt = g->dims[2];
    const size_t px = g->size[0], py = g->size[1], pt = g->size[2];
    const size_t n = px * py * pt, cx = g->count[0], cy = g->count[1];
    if (codes->nsignals != mrb_dl_patches_total(g))
        return mrb_error(MRB_ERR_INVALID, "dl patches: %zu codes for %zu patches", codes->nsignals,
                         mrb_dl_patches_total(g));
    const size_t slots = (size_t)codes->slots;
    for (size_t p = 0; p < codes->nsignals; p++)
        for (int32_t r = 0; r < codes->count[p]; r++)
            if (codes->atoms[p * slots + (size_t)r] < 0 || (size_t)codes->atoms[p * slots + (size_t)r] >= natoms)
                return mrb_error(MRB_ERR_INVALID, "dl patches: code %zu uses atom %d of %zu", p,
                                 (int)codes->atoms[p * slots + (size_t)r], natoms);
    axis_table tx = {0}, ty = {0}, tt = {0};
    if (!axis_table_make(&tx, nx, px, g->stride[0]) || !axis_table_make(&ty, ny, py, g->stride[1]) ||
        !axis_table_make(&tt, nt, pt, g->stride[2])) {
        axis_table_free(&tx);
        axis_table_free(&ty);
        axis_table_free(&tt);
        return mrb_error(MRB_ERR_NOMEM, "dl patches: out of memory for offset tables");
    }
    /* Each thread owns whole image rows (y, t): for every patch row that
     * crosses it, the patches' segments (mean + D code, px values) are added
     * in a fixed order (t offset, y offset, anchor x, x offset). */
    const size_t rows = ny * nt, sx = g->stride[0];
    int failed = 0;
#pragma omp parallel num_threads(nthreads > 0 ? nthreads : 1)
    {
        double *acc = malloc(nx * sizeof *acc);
        float *seg = malloc(px * sizeof *seg);
        int ok = acc && seg;
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (size_t r = 0; r < rows; r++) {
            if (!ok) continue;
            size_t y = r % ny, t = r / ny;
            memset(acc, 0, nx * sizeof *acc);
            for (size_t it = 0; it < tt.count[t]; it++) {
                size_t ot = tt.offset[t * pt + it], at = tt.anchor[t * pt + it];
                for (size_t iy = 0; iy < ty.count[y]; iy++) {
                    size_t oy = ty.offset[y * py + iy], ay = ty.anchor[y * py + iy];
                    size_t prow = cx * (ay + cy * at), orow = px * (oy + py * ot);
                    for (size_t ax = 0; ax < cx; ax++) {
                        size_t p = prow + ax;
                        const int32_t *ai = codes->atoms + p * slots;
                        const float *cf = codes->coefs + p * slots;
                        float mean = means ? means[p] : 0.0f;
                        for (size_t ox = 0; ox < px; ox++) seg[ox] = mean;
                        for (int32_t q = 0; q < codes->count[p]; q++) {
                            const float *d = dict + (size_t)ai[q] * n + orow;
                            float c = cf[q];
                            for (size_t ox = 0; ox < px; ox++) seg[ox] += c * d[ox];
                        }
                        size_t x = ax * sx;
                        for (size_t ox = 0; ox < px; ox++, x++) {
                            if (x >= nx) x -= nx;
                            acc[x] += seg[ox];
                        }
                    }
                }
            }
            size_t cover_ty = tt.count[t] * ty.count[y];
            for (size_t x = 0; x < nx; x++) {
                size_t cover = cover_ty * tx.count[x];
                img[r * nx + x] = cover ? (float)(acc[x] / (double)cover) : 0.0f;
            }
        }
        free(acc);
        free(seg);
    }
    axis_table_free(&tx);
    axis_table_free(&ty);
    axis_table_free(&tt);
    if (failed) return mrb_error(MRB_ERR_NOMEM, "dl patches: out of memory for thread workspaces");
    return MRB_OK;
}

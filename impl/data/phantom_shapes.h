/* Signed distances of simple shapes and soft painting, for the textured
 * phantoms (brain, cine). Internal to impl/data. */
#ifndef MRBENCH_PHANTOM_SHAPES_H
#define MRBENCH_PHANTOM_SHAPES_H

#include <math.h>

/* Ellipse with centre (x0, y0), semi-axes a (along the rotated x axis) and
 * b, rotated counter-clockwise by an angle with cosine c and sine s. */
typedef struct mrb_shape_ellipse {
    double x0, y0, a, b, c, s;
} mrb_shape_ellipse;

static inline mrb_shape_ellipse mrb_shape_ellipse_make(double x0, double y0, double a, double b, double angle_rad)
{
    mrb_shape_ellipse e = {x0, y0, a, b, cos(angle_rad), sin(angle_rad)};
    return e;
}

/* Signed distance (negative inside) to first order: (rho - 1) / |grad rho|
 * with rho the elliptical radius; exact for circles. rho_out and the
 * gradient of rho (grad_out, 2 values; may be NULL) in global axes. */
static inline double mrb_shape_ellipse_sd(const mrb_shape_ellipse *e, double x, double y, double *rho_out,
                                          double *grad_out)
{
    double dx = x - e->x0, dy = y - e->y0;
    double u = dx * e->c + dy * e->s, v = -dx * e->s + dy * e->c;
    double ia2 = 1.0 / (e->a * e->a), ib2 = 1.0 / (e->b * e->b);
    double rho = sqrt(u * u * ia2 + v * v * ib2);
    double gu, gv;
    if (rho > 1e-12) {
        gu = u * ia2 / rho;
        gv = v * ib2 / rho;
    } else {
        /* at the centre: distance to the nearest edge */
        gu = 1.0 / (e->a < e->b ? e->a : e->b);
        gv = 0.0;
    }
    if (rho_out) *rho_out = rho;
    if (grad_out) {
        grad_out[0] = gu * e->c - gv * e->s;
        grad_out[1] = gu * e->s + gv * e->c;
    }
    double g = sqrt(gu * gu + gv * gv);
    return (rho - 1.0) / g;
}

/* Circle: exact signed distance. */
static inline double mrb_shape_circle_sd(double x0, double y0, double r, double x, double y)
{
    return sqrt((x - x0) * (x - x0) + (y - y0) * (y - y0)) - r;
}

/* v <- v (1 - w) + value w */
static inline double mrb_shape_paint(double v, double value, double w)
{
    return v + w * (value - v);
}

#endif

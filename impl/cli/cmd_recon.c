/* mrbench recon: one reconstruction of the user's own files with any
 * registered method, the way `bart pics` is used. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "mrbench/backend.h"
#include "mrbench/io.h"
#include "mrbench/registry.h"
#include "mrbench/util.h"

#define MAX_PARAMS 32

static const char help[] =
    "usage: mrbench recon METHOD --kspace F [--mask F] [--sens F] [--param KEY=VALUE ...] --out F\n"
    "\n"
    "Reconstructs k-space with a registered method ('mrbench list methods') and writes the image.\n"
    "Files: BART .cfl/.hdr (base name), NIfTI (.nii, .nii.gz), HDF5 (.h5, .h5#dataset; fastMRI\n"
    "files give their 'kspace' as [height (readout), width (phase), slices, coils]). A name\n"
    "without one of these extensions (or .png for --out) is a BART base name, dots included:\n"
    "--out recon_0.001 writes recon_0.001.cfl and .hdr.\n"
    "\n"
    "  --kspace F        complex k-space [nx, ny, nt, nc]: readout, phase encoding, frames or slices,\n"
    "                    coils (BART order: coils on axis 3); the centred orthonormal DFT of the image\n"
    "  --mask F          sampling mask [nx, ny, nt], [nx, ny] (same for every frame) or [ny]\n"
    "                    (lines, fastMRI style: a fastMRI file's mask is F.h5#mask), sampled where\n"
    "                    non-zero (NaN or Inf refused); default: where coil 0 of the k-space is non-zero\n"
    "  --sens F          coil maps [nx, ny, 1, nc] (e.g. from 'bart ecalib'); needed by SENSE methods\n"
    "  --param KEY=VALUE a method parameter (repeatable), checked against the method's schema\n"
    "  --out F           output image [nx, ny, nt] (complex; .png writes the magnitude of frame 0;\n"
    "                    the BART header records the command line)\n"
    "  --magnitude       write the magnitude instead of the complex image\n"
    "  --device cpu|gpu  where the method runs (default cpu); gpu takes the method's GPU twin\n"
    "                    ('mrbench list methods' marks them), exits 3 without a usable GPU\n"
    "  --threads N       threads (default: all cores; more than the cores available are not used)\n"
    "  --seed N          seed for methods that draw random numbers (default 0)\n"
    "  -h, --help        this help\n";

static mrb_status read_complex(const char *path, const char *what, mrb_array **out)
{
    double sp[3];
    MRB_TRY(mrb_image_read(path, out, sp));
    if ((*out)->dtype != MRB_C64) {
        mrb_array *m = *out;
        mrb_array *c = mrb_array_create(MRB_C64, m->ndim, m->dims);
        if (!c) {
            mrb_array_free(m);
            return MRB_ERR_NOMEM;
        }
        size_t n = mrb_array_count(m);
        float *cd = c->data;
        for (size_t i = 0; i < n; i++) {
            double v;
            switch (m->dtype) {
            case MRB_F32: v = ((const float *)m->data)[i]; break;
            case MRB_F64: v = ((const double *)m->data)[i]; break;
            case MRB_U8: v = ((const uint8_t *)m->data)[i]; break;
            case MRB_I16: v = ((const int16_t *)m->data)[i]; break;
            case MRB_I32: v = ((const int32_t *)m->data)[i]; break;
            default: v = 0; break;
            }
            cd[2 * i] = (float)v;
        }
        mrb_array_free(m);
        *out = c;
    }
    if ((*out)->ndim > 4)
        return mrb_error(MRB_ERR_INVALID, "%s: %s has %d axes, expected at most 4 [nx, ny, nt, nc]", path, what,
                         (*out)->ndim);
    return mrb_array_check_finite(*out, path);
}

/* Reshapes to exactly 4 axes [nx, ny, nt, nc] (missing trailing axes are 1). */
static void as4(mrb_array *a)
{
    for (int i = a->ndim; i < 4; i++) a->dims[i] = 1;
    a->ndim = 4;
}

static mrb_status make_mask(const char *path, const mrb_array *ks, mrb_array **mask)
{
    size_t nx = ks->dims[0], ny = ks->dims[1], nt = ks->dims[2];
    mrb_array *m = mrb_array_create3(MRB_F32, nx, ny, nt);
    if (!m) return MRB_ERR_NOMEM;
    float *md = m->data;
    if (!path) {
        const float *k = ks->data;
        for (size_t i = 0; i < nx * ny * nt; i++) md[i] = (k[2 * i] != 0 || k[2 * i + 1] != 0) ? 1.0f : 0.0f;
        *mask = m;
        return MRB_OK;
    }
    mrb_array *src = NULL;
    double sp[3];
    mrb_status st = mrb_image_read(path, &src, sp);
    /* NaN != 0 would count as sampled: refuse it (and Inf) by name and index */
    if (st == MRB_OK && (st = mrb_array_check_finite(src, path)) != MRB_OK) {
        mrb_error_context(st, "mask");
        mrb_array_free(src);
    }
    if (st != MRB_OK) {
        mrb_array_free(m);
        return st;
    }
    mrb_array *mag = mrb_array_magnitude(src);
    size_t n = mrb_array_count(src);
    const float *s = mag ? mag->data : NULL;
    if (!s)
        st = MRB_ERR_NOMEM;
    else if (n == nx * ny * nt) {
        for (size_t i = 0; i < n; i++) md[i] = s[i] != 0 ? 1.0f : 0.0f;
    } else if (n == nx * ny) {
        for (size_t t = 0; t < nt; t++)
            for (size_t i = 0; i < n; i++) md[t * n + i] = s[i] != 0 ? 1.0f : 0.0f;
    } else if (n == ny) {
        for (size_t t = 0; t < nt; t++)
            for (size_t y = 0; y < ny; y++)
                for (size_t x = 0; x < nx; x++) md[(t * ny + y) * nx + x] = s[y] != 0 ? 1.0f : 0.0f;
    } else {
        char a[64], b[64];
        st = mrb_error(
            MRB_ERR_INVALID,
            "%s: mask shape %s fits neither the k-space frames %zux%zux%zu nor %zux%zu nor %zu lines (k-space %s)",
            path, mrb_array_shape_str(src, a, sizeof a), nx, ny, nt, nx, ny, ny, mrb_array_shape_str(ks, b, sizeof b));
    }
    mrb_array_free(mag);
    mrb_array_free(src);
    if (st != MRB_OK) {
        mrb_array_free(m);
        return st;
    }
    *mask = m;
    return MRB_OK;
}

static int ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && strncmp(s + len - n, suffix, n) == 0;
}

/* Whether mrb_image_write picks the format of `path` by its extension
 * (NIfTI, PNG, HDF5 with an optional "#dataset"); any other name is a BART
 * base name, which may hold dots ("recon_0.001"). */
static int has_image_extension(const char *path)
{
    size_t len = strlen(path);
    if (ends_with(path, len, ".nii") || ends_with(path, len, ".nii.gz") || ends_with(path, len, ".png") ||
        ends_with(path, len, ".h5") || ends_with(path, len, ".hdf5"))
        return 1;
    const char *hash = strrchr(path, '#');
    if (!hash) return 0;
    len = (size_t)(hash - path);
    return ends_with(path, len, ".h5") || ends_with(path, len, ".hdf5");
}

int mrb_cmd_recon(int argc, char **argv)
{
    static const struct option longopts[] = {{"kspace", required_argument, 0, 'k'},
                                             {"mask", required_argument, 0, 'm'},
                                             {"sens", required_argument, 0, 's'},
                                             {"param", required_argument, 0, 'p'},
                                             {"out", required_argument, 0, 'o'},
                                             {"magnitude", no_argument, 0, 'M'},
                                             {"threads", required_argument, 0, 't'},
                                             {"seed", required_argument, 0, 'S'},
                                             {"device", required_argument, 0, 'd'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    /* before getopt_long permutes argv: the lineage in the BART header */
    char cmdline[2048];
    mrb_cli_command_line(argc, argv, cmdline, sizeof cmdline);
    const char *kpath = NULL, *mpath = NULL, *spath = NULL, *out = NULL;
    const char *params[MAX_PARAMS];
    size_t nparams = 0;
    long threads = sysconf(_SC_NPROCESSORS_ONLN), seed = 0;
    int magnitude = 0, gpu = 0;
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'k': kpath = optarg; break;
        case 'm': mpath = optarg; break;
        case 's': spath = optarg; break;
        case 'o': out = optarg; break;
        case 'M': magnitude = 1; break;
        case 'd': {
            int rc = mrb_cli_parse_device("recon", optarg, &gpu);
            if (rc) return rc;
            break;
        }
        case 'p':
            if (nparams == MAX_PARAMS) return mrb_cli_usage("recon", "at most %d --param options", MAX_PARAMS);
            params[nparams++] = optarg;
            break;
        case 't':
            if (mrb_cli_parse_int(optarg, 1, 1024, &threads) != 0)
                return mrb_cli_usage("recon", "--threads takes an integer from 1 to 1024, not '%s'", optarg);
            break;
        case 'S':
            if (mrb_cli_parse_int(optarg, 0, 2147483647L, &seed) != 0)
                return mrb_cli_usage("recon", "--seed takes a non-negative integer, not '%s'", optarg);
            break;
        case 'h': fputs(help, stdout); return 0;
        default: return mrb_cli_usage("recon", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1) return mrb_cli_usage("recon", "expected one METHOD ('mrbench list methods')");
    if (!kpath) return mrb_cli_usage("recon", "--kspace is required");
    if (!out) return mrb_cli_usage("recon", "--out is required");
    const mrb_method_desc *m = mrb_method_find(argv[optind]);
    if (!m) {
        const char *near = mrb_method_nearest(argv[optind]);
        if (near) return mrb_cli_usage("recon", "unknown method '%s' (did you mean '%s'?)", argv[optind], near);
        return mrb_cli_usage("recon", "unknown method '%s'", argv[optind]);
    }
    mrb_params p;
    int prc = mrb_cli_params("recon", m->name, m->params, m->nparams, params, nparams, &p);
    if (prc != 0) return prc;
    if (gpu) {
        /* the twin shares the CPU method's name and parameter table */
        const mrb_method_desc *twin = mrb_method_find_gpu(m->name);
        mrb_status dst = mrb_gpu_require("--device gpu");
        if (dst != MRB_OK) return mrb_cli_fail("recon", dst);
        if (!twin)
            return mrb_cli_usage("recon",
                                 "method '%s' has no GPU twin ('mrbench list methods' marks those "
                                 "that have one); use --device cpu",
                                 m->name);
        m = twin;
    }

    mrb_array *ks = NULL, *mask = NULL, *sens = NULL, *img = NULL;
    void *state = NULL;
    int rc = 0;
    mrb_status st = read_complex(kpath, "k-space", &ks);
    if (st == MRB_OK) {
        as4(ks);
        st = make_mask(mpath, ks, &mask);
    }
    if (st == MRB_OK && spath) {
        st = read_complex(spath, "coil maps", &sens);
        if (st == MRB_OK) {
            as4(sens);
            if (sens->dims[0] != ks->dims[0] || sens->dims[1] != ks->dims[1] || sens->dims[2] != 1 ||
                sens->dims[3] != ks->dims[3]) {
                char a[64], b[64];
                st = mrb_error(MRB_ERR_INVALID, "%s: coil maps are %s, expected %zux%zux1x%zu for k-space %s", spath,
                               mrb_array_shape_str(sens, a, sizeof a), ks->dims[0], ks->dims[1], ks->dims[3],
                               mrb_array_shape_str(ks, b, sizeof b));
            }
        }
    }
    if (st == MRB_OK) {
        size_t sampled = 0, n = mrb_array_count(mask);
        const float *md = mask->data;
        for (size_t i = 0; i < n; i++) sampled += md[i] != 0;
        if (sampled == 0) st = mrb_error(MRB_ERR_INVALID, "%s: the mask samples nothing", mpath ? mpath : kpath);
    }
    if (st == MRB_OK) {
        img = mrb_array_create3(MRB_C64, ks->dims[0], ks->dims[1], ks->dims[2]);
        if (!img) st = MRB_ERR_NOMEM;
    }
    double t_setup = 0, t_run = 0;
    if (st == MRB_OK) {
        mrb_recon_input in = {ks, mask, sens, mrb_threads_usable((int)threads), (uint64_t)seed};
        double t0 = mrb_now();
        st = m->setup(&p, &in, &state);
        t_setup = mrb_now() - t0;
        if (st == MRB_OK) {
            t0 = mrb_now();
            st = m->run(state, &in, img);
            t_run = mrb_now() - t0;
        }
        if (m->teardown) m->teardown(state);
        /* methods name themselves in their messages; add the name once */
        if (st != MRB_OK && strncmp(mrb_error_message(), m->name, strlen(m->name)) != 0)
            mrb_error_context(st, "%s", m->name);
    }
    if (st == MRB_OK) st = mrb_array_check_finite(img, "reconstruction");
    if (st == MRB_OK) {
        mrb_array *w = img;
        mrb_array *mag = NULL;
        size_t len = strlen(out);
        int png = len > 4 && strcmp(out + len - 4, ".png") == 0;
        if (magnitude || png) {
            mag = mrb_array_magnitude(img);
            if (!mag)
                st = MRB_ERR_NOMEM;
            else if (png)
                mag->ndim = 2; /* frame 0: the first nx*ny values */
            w = mag;
        }
        double sp[3] = {1, 1, 1};
        if (st == MRB_OK && has_image_extension(out)) {
            st = mrb_image_write(out, w, sp);
        } else if (st == MRB_OK) {
            st = mrb_cfl_write(out, w, cmdline);
        }
        mrb_array_free(mag);
    }
    if (st != MRB_OK)
        rc = mrb_cli_fail("recon", st);
    else
        fprintf(stderr,
                "mrbench recon: %s on %zux%zux%zu, %zu coil(s), %s: setup %.3f s, run %.3f s, %ld thread(s) -> %s\n",
                m->name, ks->dims[0], ks->dims[1], ks->dims[2], ks->dims[3], gpu ? "GPU" : "CPU", t_setup, t_run,
                threads, out);
    mrb_array_free(ks);
    mrb_array_free(mask);
    mrb_array_free(sens);
    mrb_array_free(img);
    return rc;
}

/* mrbench export: writes one item of a registered dataset (ground truth,
 * labels, coil maps) to files, so that methods outside mrbench can use the
 * same phantoms and people can look at them. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "mrbench/io.h"
#include "mrbench/registry.h"
#include "mrbench/rng.h"
#include "mrbench/suite.h"
#include "mrbench/util.h"

#define MAX_PARAMS 32

static const char help[] =
    "usage: mrbench export DATASET [--param KEY=VALUE ...] [--item N] [--seed S] --out PREFIX\n"
    "\n"
    "Generates item N of a registered dataset ('mrbench list datasets') exactly as a suite with\n"
    "seed S would, and writes:\n"
    "  PREFIX_image.nii.gz   the ground truth (complex images as complex64, others as stored; a cine\n"
    "                        as x, y, 1, t with the frame interval in ms, nominal 60 bpm)\n"
    "  PREFIX_labels.nii.gz  the label map, when the dataset has one\n"
    "  PREFIX_sens.cfl/.hdr  the coil maps, when the dataset has them\n"
    "  PREFIX.png            magnitude of the first frame (or slice / channel), labels overlaid\n"
    "\n"
    "  --param KEY=VALUE  a dataset parameter (repeatable)\n"
    "  --item N           item index (default 0)\n"
    "  --seed S           suite seed (default 0)\n"
    "  -h, --help         this help\n";

/* NIfTI units (xyzt_units): millimetres and milliseconds. */
#define NIFTI_UNITS_MM 2
#define NIFTI_UNITS_MSEC 16

/* A cine's time axis goes where NIfTI keeps time, the 4th: [nx, ny, 1, nt]
 * with pixdim[4] the frame interval in ms, so that readers (and mrbench
 * score) do not take frames for slices. Other items as they are. */
static mrb_status write_item_array(const char *path, const mrb_array *a, const mrb_item *it)
{
    if (it->frame_ms <= 0 || a->ndim != 3) return mrb_image_write(path, a, it->spacing);
    mrb_array t = *a;
    t.ndim = 4;
    t.dims[2] = 1;
    t.dims[3] = a->dims[2];
    mrb_nifti_meta meta;
    mrb_nifti_meta_default(&meta, it->spacing);
    meta.pixdim[4] = it->frame_ms;
    meta.xyzt_units = NIFTI_UNITS_MM | NIFTI_UNITS_MSEC;
    return mrb_nifti_write(path, &t, &meta);
}

int mrb_cmd_export(int argc, char **argv)
{
    static const struct option longopts[] = {{"param", required_argument, 0, 'p'}, {"item", required_argument, 0, 'i'},
                                             {"seed", required_argument, 0, 's'},  {"out", required_argument, 0, 'o'},
                                             {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    const char *params[MAX_PARAMS], *out = NULL;
    size_t nparams = 0;
    long item = 0, seed = 0;
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'p':
            if (nparams == MAX_PARAMS) return mrb_cli_usage("export", "at most %d --param options", MAX_PARAMS);
            params[nparams++] = optarg;
            break;
        case 'i':
            if (mrb_cli_parse_int(optarg, 0, 1000000, &item) != 0)
                return mrb_cli_usage("export", "--item takes an integer >= 0, not '%s'", optarg);
            break;
        case 's':
            if (mrb_cli_parse_int(optarg, 0, (long)MRB_SUITE_SEED_MAX, &seed) != 0)
                return mrb_cli_usage("export", "--seed takes a suite seed, an integer in [0, 2^53 - 1], not '%s'",
                                     optarg);
            break;
        case 'o': out = optarg; break;
        case 'h': fputs(help, stdout); return 0;
        default: return mrb_cli_usage("export", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1) return mrb_cli_usage("export", "expected one DATASET ('mrbench list datasets')");
    if (!out) return mrb_cli_usage("export", "--out is required");
    const mrb_dataset_desc *d = mrb_dataset_find(argv[optind]);
    if (!d) {
        const char *near = mrb_dataset_nearest(argv[optind]);
        if (near) return mrb_cli_usage("export", "unknown dataset '%s' (did you mean '%s'?)", argv[optind], near);
        return mrb_cli_usage("export", "unknown dataset '%s'", argv[optind]);
    }
    mrb_params p;
    int prc = mrb_cli_params("export", d->name, d->params, d->nparams, params, nparams, &p);
    if (prc != 0) return prc;
    size_t count = d->count(&p);
    if ((size_t)item >= count)
        return mrb_cli_usage("export", "--item %ld: the dataset has %zu item(s) with these parameters", item, count);

    mrb_item it = {0};
    /* The runner's seed derivation: the same item as in a suite with this seed. */
    mrb_status st = d->generate(&p, mrb_seed_derive((uint64_t)seed, d->name, 0), (size_t)item, &it);
    char path[1200];
    if (st == MRB_OK) {
        snprintf(path, sizeof path, "%s_image.nii.gz", out);
        st = write_item_array(path, it.image, &it);
        if (st == MRB_OK) printf("image:  %s\n", path);
    }
    if (st == MRB_OK && it.labels) {
        snprintf(path, sizeof path, "%s_labels.nii.gz", out);
        st = write_item_array(path, it.labels, &it);
        if (st == MRB_OK) printf("labels: %s\n", path);
    }
    if (st == MRB_OK && it.sens) {
        snprintf(path, sizeof path, "%s_sens", out);
        st = mrb_cfl_write(path, it.sens, "mrbench export");
        if (st == MRB_OK) printf("coils:  %s.cfl/.hdr\n", path);
    }
    if (st == MRB_OK) {
        mrb_array *mag = mrb_array_magnitude(it.image);
        if (!mag)
            st = MRB_ERR_NOMEM;
        else {
            size_t w = mag->dims[0], h = mag->ndim > 1 ? mag->dims[1] : 1, n = w * h;
            /* volumes and cines: the middle slice or frame */
            size_t slice = mag->ndim > 2 && mag->dims[2] > 1 ? mag->dims[2] / 2 : 0;
            const float *f = (const float *)mag->data + slice * n;
            const uint8_t *lab = it.labels ? (const uint8_t *)it.labels->data + slice * n : NULL;
            float hi = 0;
            for (size_t i = 0; i < n; i++)
                if (f[i] > hi) hi = f[i];
            snprintf(path, sizeof path, "%s.png", out);
            if (lab && mrb_array_count(it.labels) >= (slice + 1) * n)
                st = mrb_png_overlay_labels(path, f, lab, w, h, 0, hi > 0 ? hi : 1, 0.35f);
            else
                st = mrb_png_write_gray(path, f, w, h, 0, hi > 0 ? hi : 1);
            if (st == MRB_OK) printf("png:    %s\n", path);
            mrb_array_free(mag);
        }
    }
    mrb_item_clear(&it);
    if (st != MRB_OK) return mrb_cli_fail("export", st);
    return 0;
}

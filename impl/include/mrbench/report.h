/* Reports derived from results.json: Markdown tables (mean (std) per
 * method x setting, timing medians) and gnuplot plots (metric vs
 * acceleration). Without gnuplot the tables are still written and the
 * missing plots are named. */
#ifndef MRBENCH_REPORT_H
#define MRBENCH_REPORT_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MRB_REPORT_MAX_PLOTS 16

typedef struct mrb_report_outcome {
    char markdown[1100];
    char plots[MRB_REPORT_MAX_PLOTS][1100];
    size_t nplots;
    char skipped[512]; /* why plots were not drawn ("" if they were) */
} mrb_report_outcome;

struct cJSON;
mrb_status mrb_report_write(const struct cJSON *results, const char *out_dir, mrb_report_outcome *outcome);
/* Path of the gnuplot executable on PATH (or $MRBENCH_GNUPLOT), NULL if none. */
const char *mrb_gnuplot_path(void);

#ifdef __cplusplus
}
#endif
#endif

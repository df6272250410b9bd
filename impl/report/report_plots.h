/* gnuplot plots of a report (PNG and SVG). Not a public header. */
#ifndef MRBENCH_REPORT_PLOTS_H
#define MRBENCH_REPORT_PLOTS_H

#include "report/report_internal.h"

/* Writes the plots' data (.dat) and scripts (.gp) into out_dir, runs
 * gnuplot when found, records the PNGs in oc and links them from md. */
mrb_status rp_plots_write(const rp_set *set, const char *out_dir, mrb_report_outcome *oc, rp_buf *md);

#endif

/* The bart-pics adapter: runs BART's `pics` side by side with mrbench's own
 * compressed sensing. Internal to baselines/ (not a public header). */
#ifndef MRBENCH_BASELINES_BART_H
#define MRBENCH_BASELINES_BART_H

#include <stddef.h>

#include "mrbench/status.h"

/* Timings of the state's last run: wall time of the bart process (process
 * start, .cfl reads and writes inside bart, the reconstruction), its CPU
 * time (user + system, all its threads) and the "Total Time" BART prints
 * itself (negative when it printed none). */
mrb_status mrb_bart_pics_timing(const void *state, double *process_s, double *cpu_s, double *reported_s);
/* The last command line run (for logs and reports). */
const char *mrb_bart_pics_command(const void *state);

#endif

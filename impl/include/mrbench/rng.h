/* Deterministic random numbers: xoshiro256** seeded by splitmix64.
 * The same seed gives the same stream on every machine. */
#ifndef MRBENCH_RNG_H
#define MRBENCH_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mrb_rng {
    uint64_t s[4];
} mrb_rng;

void mrb_rng_seed(mrb_rng *rng, uint64_t seed);
uint64_t mrb_rng_next(mrb_rng *rng);
double mrb_rng_uniform(mrb_rng *rng);             /* [0, 1) with 53 bits */
double mrb_rng_normal(mrb_rng *rng);              /* standard normal (Box-Muller) */
uint64_t mrb_rng_below(mrb_rng *rng, uint64_t n); /* uniform in [0, n), unbiased */
/* Seed derivation: mixes a base seed with a string and an index (FNV-1a +
 * splitmix64), so that e.g. each (dataset, item) pair has its own stream. */
uint64_t mrb_seed_derive(uint64_t base, const char *tag, uint64_t index);

#ifdef __cplusplus
}
#endif
#endif

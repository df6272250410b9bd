#include <math.h>

#include "mrbench/rng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void mrb_rng_seed(mrb_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

uint64_t mrb_rng_next(mrb_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double mrb_rng_uniform(mrb_rng *rng)
{
    return (double)(mrb_rng_next(rng) >> 11) * 0x1.0p-53;
}

double mrb_rng_normal(mrb_rng *rng)
{
    /* Box-Muller, one value per call: deterministic and platform independent
     * up to libm's log/cos (correctly rounded in glibc for these). */
    double u1 = mrb_rng_uniform(rng);
    double u2 = mrb_rng_uniform(rng);
    if (u1 < 0x1.0p-60) u1 = 0x1.0p-60;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

uint64_t mrb_rng_below(mrb_rng *rng, uint64_t n)
{
    if (n == 0) return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t r;
    do r = mrb_rng_next(rng);
    while (r >= limit);
    return r % n;
}

uint64_t mrb_seed_derive(uint64_t base, const char *tag, uint64_t index)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)tag; p && *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    uint64_t x = base ^ h;
    uint64_t a = splitmix64(&x);
    x = a ^ (index * 0xd1342543de82ef95ULL);
    return splitmix64(&x);
}

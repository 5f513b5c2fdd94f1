/* Threefry-2x32 with 20 rounds (Random123; the counter-based PRNG JAX uses), as one
 * scalar function shared by the reference interpreter and the JIT runtime. */
#ifndef JX_THREEFRY_H
#define JX_THREEFRY_H

#include <stdint.h>

/* Rotates x left by r (0 < r < 32). */
static inline uint32_t rng_rotl32(uint32_t x, unsigned r) {
    return (x << r) | (x >> (32u - r));
}

/* Encrypts the counter (x[0], x[1]) in place under key (k0, k1): 20 rounds with the
 * rotations 13,15,26,6 / 17,29,16,24, the key schedule k0, k1, k0^k1^0x1BD11BDA injected
 * every 4 rounds together with the injection count. */
static inline void rng_threefry2x32(uint32_t k0, uint32_t k1, uint32_t x[2]) {
    static const unsigned rot[8] = {13, 15, 26, 6, 17, 29, 16, 24};
    const uint32_t ks[3] = {k0, k1, k0 ^ k1 ^ 0x1BD11BDAu};
    uint32_t x0 = x[0] + ks[0], x1 = x[1] + ks[1];
    for (unsigned inj = 1; inj <= 5; inj++) {
        const unsigned *r = &rot[((inj - 1) & 1u) * 4];
        for (int i = 0; i < 4; i++) {
            x0 += x1;
            x1 = rng_rotl32(x1, r[i]);
            x1 ^= x0;
        }
        x0 += ks[inj % 3];
        x1 += ks[(inj + 1) % 3] + inj;
    }
    x[0] = x0;
    x[1] = x1;
}

#endif

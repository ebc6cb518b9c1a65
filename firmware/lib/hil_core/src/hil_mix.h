// MurmurHash3's 32-bit finaliser: spreads every input bit over the output. The boot ids of the
// board (board_support.cpp) and of the emulated board (src/emu/board_support_emu.cpp) use it.
#ifndef HIL_MIX_H
#define HIL_MIX_H

#include <stdint.h>

static inline uint32_t hil_mix(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return h;
}

#endif  // HIL_MIX_H

/* libFuzzer target: bytes from the link into the protocol core (hil_core.c). Besides what
 * ASan and UBSan catch, every reply the core sends must be a well-formed frame: COBS between
 * delimiters, a length field that matches, a correct CRC-32. Input: one byte choosing the
 * device's shape (fuzz_device.h), then link bytes, fed in pieces whose sizes the second byte
 * picks (a receive loop hands the core whatever arrived). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_device.h"
#include "hil_core.h"

static hil_core_t core;

/* The body of one COBS-encoded frame in enc[0..n); returns its length, or -1 if malformed. */
static long cobs_decode(const uint8_t *enc, uint32_t n, uint8_t *out) {
  uint32_t i = 0, o = 0;
  while (i < n) {
    uint8_t code = enc[i++];
    if (code == 0 || i + code - 1u > n) return -1;
    for (uint32_t k = 1; k < code; k++) out[o++] = enc[i++];
    if (code != 0xFFu && i < n) out[o++] = 0;
  }
  return (long)o;
}

static uint8_t body[FUZZ_SINK_CAP];

static void check_replies(void) {
  uint32_t start = 0;
  for (uint32_t i = 0; i <= fuzz_sink_len; i++) {
    if (i < fuzz_sink_len && fuzz_sink[i] != 0) continue;
    if (i > start) {
      long n = cobs_decode(fuzz_sink + start, i - start, body);
      if (n < (long)HIL_FRAME_OVERHEAD) abort();
      uint32_t len = (uint32_t)body[2] | ((uint32_t)body[3] << 8);
      if (len + HIL_FRAME_OVERHEAD != (uint32_t)n) abort();
      uint32_t crc = (uint32_t)body[n - 4] | ((uint32_t)body[n - 3] << 8) |
                     ((uint32_t)body[n - 2] << 16) | ((uint32_t)body[n - 1] << 24);
      if (hil_crc32(0, body, (uint32_t)n - 4u) != crc) abort();
      if (!(body[0] & HIL_REPLY_BIT)) abort(); /* the device only sends replies and notices */
    }
    start = i + 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  data = fuzz_setup(data, &size);
  uint32_t piece = size ? 1u + data[0] % 97u : 1u;
  hil_info_t info = fuzz_info();
  hil_platform_t plat = fuzz_platform();
  hil_backend_t be = fuzz_backend();
  hil_core_init(&core, &info, &plat, &be);
  hil_core_announce(&core);
  for (size_t at = 0; at < size; at += piece) {
    size_t n = size - at < piece ? size - at : piece;
    hil_core_feed(&core, data + at, (uint32_t)n);
  }
  if (size % 5u == 0u) hil_core_note_overflow(&core, (uint32_t)size);
  if (fuzz_sink_len < FUZZ_SINK_CAP) check_replies();
  return 0;
}

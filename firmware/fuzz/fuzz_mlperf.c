/* libFuzzer target: bytes from the link into the MLPerf Tiny text protocol (hil_mlperf.c).
 * Input: one byte choosing the device's shape (fuzz_device.h), then link bytes. Every reply
 * must be text: printable ASCII, CR and LF. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_device.h"
#include "hil_mlperf.h"

static hil_mlperf_t mlperf;
static uint8_t db[FUZZ_IN_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  data = fuzz_setup(data, &size);
  hil_info_t info = fuzz_info();
  hil_platform_t plat = fuzz_platform();
  hil_backend_t be = fuzz_backend();
  /* the input's size picks the buffer, the decimals, the conversion and what results print */
  hil_mlperf_config_t cfg = {"fuzz",    "fuzz01",
                             db,        size % 3u ? FUZZ_IN_MAX : 50u,
                             size % 4u, (uint8_t)(size / 4u % 3u),
                             (uint8_t)(size / 12u % 2u)};
  hil_mlperf_init(&mlperf, &info, &cfg, &plat, &be);
  hil_mlperf_announce(&mlperf);
  hil_mlperf_feed(&mlperf, data, (uint32_t)size);
  if (size % 7u == 0u) {
    hil_mlperf_note_overflow(&mlperf, 3u);
    hil_mlperf_feed(&mlperf, data, (uint32_t)size);
  }
  for (uint32_t i = 0; i < fuzz_sink_len; i++) {
    uint8_t ch = fuzz_sink[i];
    if (!(ch == '\r' || ch == '\n' || (ch >= 0x20u && ch < 0x7Fu))) abort();
  }
  return 0;
}

/* libFuzzer target: the data forwarder (hil_forwarder.c) driven by a glue gone wrong. The
 * input is a configuration, then calls: 0 begin(label), 1 sample(values), 2 end, 3 abort,
 * 4 done, 5 announce, each with its arguments taken from the following bytes. Every line
 * written must be text and end in a newline. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_device.h"
#include "hil_forwarder.h"

static hil_forwarder_t fwd;

static uint32_t take(const uint8_t **p, size_t *n) {
  if (*n == 0) return 0;
  uint8_t b = **p;
  (*p)++;
  (*n)--;
  return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_sink_len = 0;
  char names[64];
  hil_fwd_config_t cfg;
  cfg.axes = take(&data, &size) % 20u;
  cfg.window = take(&data, &size) % 9u;
  cfg.rate_hz = take(&data, &size) * 10u;
  cfg.decimals = take(&data, &size) % 9u;
  uint32_t nlen = take(&data, &size) % sizeof names;
  for (uint32_t i = 0; i < nlen; i++) names[i] = (char)(take(&data, &size) | 1u);
  names[nlen] = '\0';
  cfg.names = nlen ? names : NULL;
  hil_fwd_link_t link = {NULL, fuzz_write};
  if (hil_fwd_init(&fwd, &cfg, &link) != HIL_FWD_OK) return 0;
  hil_fwd_announce(&fwd);
  for (uint32_t calls = 0; size && calls < 4096u; calls++) {
    switch (take(&data, &size) % 6u) {
      case 0: {
        char label[40];
        uint32_t n = take(&data, &size) % sizeof label;
        for (uint32_t i = 0; i < n; i++) label[i] = (char)take(&data, &size);
        label[n] = '\0';
        hil_fwd_begin(&fwd, label);
        break;
      }
      case 1: {
        float values[HIL_FWD_MAX_AXES + 2];
        uint32_t n = take(&data, &size) % (HIL_FWD_MAX_AXES + 2u);
        for (uint32_t i = 0; i < n; i++) {
          uint32_t bits = 0;
          for (int k = 0; k < 4; k++) bits = bits << 8 | take(&data, &size);
          memcpy(&values[i], &bits, 4); /* NaN, infinities, huge values included */
        }
        hil_fwd_sample(&fwd, values, n);
        break;
      }
      case 2:
        hil_fwd_end(&fwd);
        break;
      case 3:
        hil_fwd_abort(&fwd);
        break;
      case 4:
        hil_fwd_done(&fwd);
        break;
      default:
        hil_fwd_announce(&fwd);
    }
  }
  for (uint32_t i = 0; i < fuzz_sink_len; i++) {
    uint8_t ch = fuzz_sink[i];
    if (!(ch == '\n' || (ch >= 0x20u && ch < 0x7Fu))) abort();
  }
  if (fuzz_sink_len && fuzz_sink[fuzz_sink_len - 1] != '\n') abort();
  return 0;
}

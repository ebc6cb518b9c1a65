// Runs the firmware's TFLM backend, generated sources and device core on QEMU: the requests
// in requests.h go through hil_core_feed() in odd-sized chunks; every reply byte is printed as
// hex for the host to decode. Only the Arduino glue (Serial, board_support) is left out.
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "generated/hil_image.h"
#include "hil_core.h"
#include "requests.h"
#include "tflm_backend.h"

// TFLM's clock (micro_time.cpp) comes from the library's Arduino peripherals, not built here.
namespace peripherals {
uint32_t MicrosecondsCounter() {
  static uint32_t t;
  return t += 10;
}
}  // namespace peripherals

namespace {
uint8_t g_out[512 * 1024];
uint32_t g_out_len;
hil_core_t g_core;

void write_bytes(void *, const uint8_t *data, uint32_t len) {
  if (g_out_len + len <= sizeof g_out) {
    memcpy(g_out + g_out_len, data, len);
    g_out_len += len;
  }
}

uint32_t cycles(void *) {
  static uint32_t c;
  return c += 1000;
}
}  // namespace

int main() {
  hil_backend_t be;
  tflm_backend_init(&be);
  static const uint8_t model_hash[32] = HIL_MODEL_HASH_BYTES;
  static const uint8_t image_hash[32] = HIL_IMAGE_HASH_BYTES;
  hil_info_t info;
  memset(&info, 0, sizeof info);
  info.fw_version = HIL_FW_VERSION;
  info.board = HIL_BOARD_ID;
  info.cpu = HIL_BOARD_CPU;
  info.tflm_version = "qemu";
  info.core_version = "qemu";
  memcpy(info.model_hash, model_hash, 32);
  memcpy(info.image_hash, image_hash, 32);
  info.arena_size = HIL_ARENA_SIZE;
  info.clock_hz = 25000000u;
  info.rx_window = HIL_RX_WINDOW;
  info.boot_id = 0x1234567u;
  hil_platform_t plat = {nullptr, write_bytes, cycles, nullptr, nullptr};
  hil_core_init(&g_core, &info, &plat, &be);
  hil_core_announce(&g_core);
  for (uint32_t at = 0; at < kRequestsLen; at += 37) {
    uint32_t n = kRequestsLen - at < 37 ? kRequestsLen - at : 37;
    hil_core_feed(&g_core, kRequests + at, n);
  }
  const char *err = be.init_error(nullptr);
  printf("ARENA_USED %u\nINIT_ERROR %s\nOUT ", static_cast<unsigned>(arena_used_bytes()),
         err ? err : "none");
  for (uint32_t i = 0; i < g_out_len; i++) printf("%02x", g_out[i]);
  printf("\n");
  return 0;
}

// tflm-hil test firmware: Serial glue around the portable device core (lib/hil_core), in
// every test image: a board's (with src/arduino/ and src/tflm/) and the emulated board's.
// The core does the protocol; this file gives it bytes, a clock, a boot id and a backend.
#include <Arduino.h>
#include <string.h>

#include "board_support.h"
#include "hil_abi.h"
#include "hil_core.h"
#include "backend.h"

#if defined(__has_include)
#if !__has_include("generated/hil_image.h")
#error "src/generated/ is missing: build a copy made by `tflm-hil firmware generate` (docs/firmware.md)"
#endif
#endif
#include "generated/hil_image.h"

#ifndef HIL_TFLM_VERSION
#error "HIL_TFLM_VERSION is not defined: platformio.ini sets it from HIL_TFLM_REF"
#endif
#ifndef HIL_CORE_VERSION
#error "HIL_CORE_VERSION is not defined: platformio.ini sets it from HIL_ARDUINO_CORE"
#endif

namespace {

hil_core_t g_core;  // static: it holds the receive buffer, too big for the stack
hil_info_t g_info;
hil_platform_t g_platform;
hil_backend_t g_backend;

// Replies leave in few large USB transfers rather than one per byte: bytes gather here and
// go out when the buffer fills or a frame ends. A frame ends with a 0x00 written after other
// bytes; a frame's leading 0x00 arrives in an empty buffer.
uint8_t g_tx[256];
uint32_t g_tx_len = 0;

void tx_flush() {
  if (g_tx_len > 0) {
    Serial.write(g_tx, g_tx_len);
    g_tx_len = 0;
  }
}

void link_write(void *, const uint8_t *data, uint32_t len) {
  for (uint32_t i = 0; i < len; ++i) {
    if (g_tx_len == sizeof g_tx) tx_flush();
    g_tx[g_tx_len++] = data[i];
  }
  if (len == 1 && data[0] == 0 && g_tx_len > 1) tx_flush();
}

uint32_t cycles(void *) { return hil_board_cycles(); }

uint32_t stack_used(void *) { return hil_board_stack_used(); }

void reset(void *) {
  tx_flush();
  Serial.flush();
  hil_board_reset();
}

const uint8_t kModelHash[32] = HIL_MODEL_HASH_BYTES;
const uint8_t kImageHash[32] = HIL_IMAGE_HASH_BYTES;

void describe_image() {
  g_info.fw_version = HIL_FW_VERSION;
  g_info.board = HIL_BOARD_ID;
  g_info.cpu = HIL_BOARD_CPU;
  g_info.tflm_version = HIL_TFLM_VERSION;
  g_info.core_version = HIL_CORE_VERSION " float-abi=" HIL_FLOAT_ABI;  // hil_abi.h
  memcpy(g_info.model_hash, kModelHash, sizeof kModelHash);
  memcpy(g_info.image_hash, kImageHash, sizeof kImageHash);
  g_info.arena_size = HIL_ARENA_SIZE;
  g_info.clock_hz = hil_board_counter_hz();
  g_info.rx_window = HIL_RX_WINDOW;
  g_info.boot_id = hil_board_boot_id();
  g_info.flags = hil_board_flags();
}

}  // namespace

void setup() {
  hil_board_begin();  // first: the stack is painted from here down
  // USB CDC ignores the rate. No wait for the host: it opens the port when it is ready, and
  // its HELLO, not the BOOT frame, is what it synchronises on.
  Serial.begin(115200);
  describe_image();
  g_platform.ctx = nullptr;
  g_platform.write = link_write;
  g_platform.cycles = cycles;
  g_platform.stack_used = stack_used;
  g_platform.reset = reset;
  hil_backend_init(&g_backend);
  hil_core_init(&g_core, &g_info, &g_platform, &g_backend);
  hil_core_announce(&g_core);
  tx_flush();
}

void loop() {
  uint8_t rx[64];
  int avail = Serial.available();
  while (avail > 0) {
    // Never ask for more than is there: readBytes() would wait for the rest.
    size_t want = avail < static_cast<int>(sizeof rx) ? static_cast<size_t>(avail) : sizeof rx;
    size_t got = Serial.readBytes(rx, want);
    if (got == 0) break;
    hil_core_feed(&g_core, rx, static_cast<uint32_t>(got));
    avail = Serial.available();
  }
  tx_flush();
}

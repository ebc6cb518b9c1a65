// MLPerf Tiny DUT firmware (env nano33ble_mlperf, image mlperf): the model and TFLM backend of
// the test firmware behind MLPerf Tiny's text protocol (lib/hil_mlperf), so
// that the MLPerf Tiny runner, EEMBC's EnergyRunner (performance mode) or tflm-hil's
// `--board=mlperf:PORT` drive the same image. The benchmark settings (id, input conversion,
// results, db buffer, baud) come from the generated image header (harness/firmware/codegen.py).
#include <Arduino.h>
#include <string.h>

#include "backend.h"
#include "board_support.h"
#include "hil_abi.h"
#include "hil_mlperf.h"

#if defined(__has_include)
#if !__has_include("generated/hil_image.h")
#error "src/generated/ is missing: build a copy made by `tflm-hil firmware generate` (docs/firmware.md)"
#endif
#endif
#include "generated/hil_image.h"

#ifndef HIL_MLPERF_MODEL_VERSION
#error "the generated image header has no HIL_MLPERF_* settings: regenerate src/generated/"
#endif
#ifndef HIL_TFLM_VERSION
#error "HIL_TFLM_VERSION is not defined: platformio.ini sets it from HIL_TFLM_REF"
#endif
#ifndef HIL_CORE_VERSION
#error "HIL_CORE_VERSION is not defined: platformio.ini sets it from HIL_ARDUINO_CORE"
#endif

namespace {

hil_mlperf_t g_dut;  // static: it holds the command buffer
uint8_t g_db[HIL_MLPERF_DB_BYTES];  // `db load` bytes: the benchmark's sample (two for ad01)
hil_info_t g_info;
hil_platform_t g_platform;
hil_backend_t g_backend;

void link_write(void *, const uint8_t *data, uint32_t len) { Serial.write(data, len); }

uint32_t cycles(void *) { return hil_board_cycles(); }

uint32_t stack_used(void *) { return hil_board_stack_used(); }

void reset(void *) { hil_board_reset(); }

const uint8_t kModelHash[32] = HIL_MODEL_HASH_BYTES;
const uint8_t kImageHash[32] = HIL_IMAGE_HASH_BYTES;

}  // namespace

void setup() {
  hil_board_begin();
  // The reference DUTs' rates: 115200, 921600 for ad01 (USB CDC ignores it).
  Serial.begin(HIL_MLPERF_BAUD);
  g_info.fw_version = HIL_FW_VERSION " (MLPerf Tiny DUT, TFLM " HIL_TFLM_VERSION ")";
  g_info.board = HIL_BOARD_ID;
  g_info.cpu = HIL_BOARD_CPU;
  g_info.tflm_version = HIL_TFLM_VERSION;
  g_info.core_version = HIL_CORE_VERSION " float-abi=" HIL_FLOAT_ABI;  // hil_abi.h
  memcpy(g_info.model_hash, kModelHash, sizeof kModelHash);
  memcpy(g_info.image_hash, kImageHash, sizeof kImageHash);
  g_info.arena_size = HIL_ARENA_SIZE;
  g_info.clock_hz = hil_board_counter_hz();  // m-lap-us from the DWT cycle counter
  g_info.boot_id = hil_board_boot_id();
  g_info.flags = hil_board_flags();
  g_platform.ctx = nullptr;
  g_platform.write = link_write;
  g_platform.cycles = cycles;
  g_platform.stack_used = stack_used;
  g_platform.reset = reset;
  hil_backend_init(&g_backend);
  hil_mlperf_config_t cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.vendor = "tflm-hil";
  cfg.model_version = HIL_MLPERF_MODEL_VERSION;
  cfg.db = g_db;
  cfg.db_cap = sizeof g_db;
  cfg.convert = HIL_MLPERF_CONVERT;
  cfg.results = HIL_MLPERF_RESULTS;
  hil_mlperf_init(&g_dut, &g_info, &cfg, &g_platform, &g_backend);
  hil_mlperf_announce(&g_dut);
}

void loop() {
  uint8_t rx[64];
  int avail = Serial.available();
  while (avail > 0) {
    // Never ask for more than is there: readBytes() would wait for the rest.
    size_t want = avail < static_cast<int>(sizeof rx) ? static_cast<size_t>(avail) : sizeof rx;
    size_t got = Serial.readBytes(rx, want);
    if (got == 0) break;
    hil_mlperf_feed(&g_dut, rx, static_cast<uint32_t>(got));
    avail = Serial.available();
  }
  hil_mlperf_micros(&g_dut);  // samples the 32-bit counter often enough to extend it
}

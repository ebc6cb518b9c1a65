// tflm-hil test firmware: Serial glue around the portable device core (lib/hil_core), in
// every test image: a board's (with src/arduino/ and src/tflm/) and the emulated board's.
// The core does the protocol; this file gives it bytes, a clock, a boot id and a backend.
#include <Arduino.h>
#include <string.h>

#include "board_support.h"
#include "hil_abi.h"
#include "hil_core.h"
#include "hil_ring.h"
#include "backend.h"

// The mbed cores run an RTOS: a thread fills the receive ring, also while the model runs (the
// next vector uploads during an invoke). The emulated board's Arduino.h (firmware/emu) has
// none: loop() fills the ring there, between requests, so that an invoke's instruction count
// never depends on when the host's bytes arrived (its UART holds them back meanwhile).
#if defined(ARDUINO_ARCH_MBED) && !defined(HIL_EMU_ARDUINO_H)
#define HIL_PUMP_THREAD 1
#include <mbed.h>  // the mbed core's: rtos::Thread
#endif

#if defined(__has_include)
#if !__has_include("generated/hil_image.h")
#error "src/generated/ is missing: build a copy made by `tflm-hil firmware generate` (docs/firmware.md)"
#endif
#endif
#include "generated/hil_image.h"

#ifndef HIL_TFLM_VERSION
#error "HIL_TFLM_VERSION is not defined: platformio.ini sets it from HIL_TFLM_REF"
#endif
#ifndef HIL_STAGING_BYTES
#define HIL_STAGING_BYTES 0u  // an image generated before staging: no overlap
#endif

#ifndef HIL_CORE_VERSION
#error "HIL_CORE_VERSION is not defined: platformio.ini sets it from HIL_ARDUINO_CORE"
#endif

namespace {

hil_core_t g_core;  // static: it holds the receive buffer, too big for the stack
hil_info_t g_info;
hil_platform_t g_platform;
hil_backend_t g_backend;

// The receive window: every byte the host may have unanswered fits here (hil_ring.h), the
// staging part included, so the next vector uploads while the model runs.
uint8_t g_rx_mem[HIL_RX_WINDOW];
hil_ring_t g_rx;

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
  g_info.staging = HIL_STAGING_BYTES;
  g_info.boot_id = hil_board_boot_id();
  g_info.flags = hil_board_flags();
}

// Moves what the link's driver holds into the ring: the ring's only producer.
void pump_once() {
  uint8_t buf[64];
  for (int i = 0; i < 64; ++i) {  // bounded: at most 4 KiB per call
    uint32_t room = hil_ring_room(&g_rx);
    int avail = Serial.available();
    if (avail <= 0 || room == 0) return;
    // Never ask for more than is there: readBytes() would wait for the rest.
    size_t want = static_cast<size_t>(avail) < sizeof buf ? static_cast<size_t>(avail) : sizeof buf;
    if (want > room) want = room;
    size_t got = Serial.readBytes(buf, want);
    if (got == 0) return;
    hil_ring_push(&g_rx, buf, static_cast<uint32_t>(got));
  }
}

#if defined(HIL_PUMP_THREAD)
// On the mbed cores the USB driver holds 256 bytes and then makes the host wait; this thread
// drains it into the ring every millisecond, also while the model runs in the main thread
// (USBSerial's available() and readBytes() take the driver's lock).
// 2 KiB of stack: USBSerial::available() alone puts a 256-byte buffer on it.
rtos::Thread g_pump_thread(osPriorityAboveNormal, 2048);

void pump_forever() {
  for (;;) {
    pump_once();
    rtos::ThisThread::sleep_for(std::chrono::milliseconds(1));
  }
}
#endif

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
  hil_ring_init(&g_rx, g_rx_mem, sizeof g_rx_mem);
  hil_core_init(&g_core, &g_info, &g_platform, &g_backend);
  hil_core_announce(&g_core);
  tx_flush();
#if defined(HIL_PUMP_THREAD)
  g_pump_thread.start(pump_forever);
#endif
}

void loop() {
#if !defined(HIL_PUMP_THREAD)
  pump_once();  // the ring's only producer where there is no pump thread
#endif
  uint8_t rx[64];
  uint32_t got;
  while ((got = hil_ring_pop(&g_rx, rx, sizeof rx)) > 0) hil_core_feed(&g_core, rx, got);
  tx_flush();
}

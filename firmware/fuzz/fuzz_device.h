/*
 * What the fuzz targets give the device modules: a backend over static tensors and a
 * platform whose write() keeps what the module sends, so that a target can check it.
 * Test code for libFuzzer (firmware/fuzz/README.md); never part of an image.
 */
#ifndef HIL_FUZZ_DEVICE_H
#define HIL_FUZZ_DEVICE_H

#include <stdint.h>
#include <string.h>

#include "hil_core.h"

/* Input sizes the first byte of an input picks from: one block, a short last block, several
 * block sizes (the core doubles the block past 1024 blocks of 16 bytes). */
static const uint32_t fuzz_in_sizes[8] = {1u, 16u, 100u, 1040u, 4096u, 16385u, 20000u, 65u};
#define FUZZ_IN_MAX 20000u
#define FUZZ_OUT 10u

static uint8_t fuzz_in[FUZZ_IN_MAX];
static uint8_t fuzz_out[FUZZ_OUT];
static uint32_t fuzz_in_bytes = 100u;
static int fuzz_model_ok = 1;
static uint32_t fuzz_cycles = 0;

/* Everything the module wrote during one input, up to a bound. */
#define FUZZ_SINK_CAP (1u << 20)
static uint8_t fuzz_sink[FUZZ_SINK_CAP];
static uint32_t fuzz_sink_len = 0;

static const char *fuzz_init_error(void *ctx) {
  (void)ctx;
  return fuzz_model_ok ? NULL : "fuzz: no model";
}

static uint32_t fuzz_tensor_count(void *ctx, int output) {
  (void)ctx;
  (void)output;
  return 1u;
}

static int fuzz_tensor(void *ctx, int output, uint32_t index, hil_tensor_t *t) {
  (void)ctx;
  (void)index;
  memset(t, 0, sizeof *t);
  t->dtype = 9; /* int8 */
  t->ndims = 2;
  t->dims[0] = 1;
  t->dims[1] = (int32_t)(output ? FUZZ_OUT : fuzz_in_bytes);
  t->scale = 0.5f;
  t->bytes = output ? FUZZ_OUT : fuzz_in_bytes;
  t->data = output ? fuzz_out : fuzz_in;
  return 0;
}

static int fuzz_invoke(void *ctx) {
  (void)ctx;
  uint32_t sum = 0;
  for (uint32_t i = 0; i < fuzz_in_bytes; i++) sum = sum * 31u + fuzz_in[i];
  for (uint32_t i = 0; i < FUZZ_OUT; i++) fuzz_out[i] = (uint8_t)(sum >> (i % 4u * 8u));
  fuzz_cycles += 1000u;
  return (sum & 0xFFu) == 0x5Au ? 3 : 0; /* now and then the interpreter "fails" */
}

static const char *fuzz_last_error(void *ctx) {
  (void)ctx;
  return "fuzz: invoke failed";
}

static uint32_t fuzz_arena_used(void *ctx) {
  (void)ctx;
  return 1234u;
}

static uint32_t fuzz_op_count(void *ctx) {
  (void)ctx;
  return 2u;
}

static int fuzz_op_profile(void *ctx, uint32_t index, const char **name, uint32_t *cycles) {
  (void)ctx;
  *name = index == 0u ? "FULLY_CONNECTED" : NULL; /* a NULL name must be survived too */
  *cycles = 100u * (index + 1u);
  return 0;
}

static void fuzz_write(void *ctx, const uint8_t *data, uint32_t len) {
  (void)ctx;
  for (uint32_t i = 0; i < len && fuzz_sink_len < FUZZ_SINK_CAP; i++)
    fuzz_sink[fuzz_sink_len++] = data[i];
}

static uint32_t fuzz_read_cycles(void *ctx) {
  (void)ctx;
  return fuzz_cycles += 7u;
}

static void fuzz_reset(void *ctx) { (void)ctx; }

static inline hil_backend_t fuzz_backend(void) {
  hil_backend_t be = {NULL,           fuzz_init_error, fuzz_tensor_count, fuzz_tensor,
                      fuzz_invoke,    fuzz_last_error, fuzz_arena_used,   fuzz_op_count,
                      fuzz_op_profile};
  return be;
}

static inline hil_platform_t fuzz_platform(void) {
  hil_platform_t p = {NULL, fuzz_write, fuzz_read_cycles, NULL, fuzz_reset};
  return p;
}

static inline hil_info_t fuzz_info(void) {
  hil_info_t info;
  memset(&info, 0, sizeof info);
  info.fw_version = "fuzz";
  info.board = "fuzz";
  info.cpu = "host";
  info.tflm_version = "none";
  info.core_version = "none";
  info.arena_size = 4096u;
  info.clock_hz = 1000000u;
  info.rx_window = 4096u;
  info.boot_id = 0x12345678u;
  return info;
}

/* Picks the device's shape from an input's first byte; returns the bytes after it. */
static inline const uint8_t *fuzz_setup(const uint8_t *data, size_t *size) {
  uint8_t head = *size ? data[0] : 0u;
  fuzz_in_bytes = fuzz_in_sizes[head & 7u];
  fuzz_model_ok = (head & 0x80u) == 0u;
  fuzz_sink_len = 0;
  fuzz_cycles = 0;
  memset(fuzz_in, 0, sizeof fuzz_in);
  if (*size) {
    data++;
    (*size)--;
  }
  return data;
}

#endif /* HIL_FUZZ_DEVICE_H */

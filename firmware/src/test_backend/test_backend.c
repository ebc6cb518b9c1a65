/* The protocol-only image's backend: no TFLM, fixed tensors whose answers the host predicts
 * exactly (harness/emu/protocol_image.py mirrors this file).
 *
 * Input int8[1, 64] (scale 1/128, zero point 0); output int8[1, 10] (scale 1, zero point 0):
 *   out[j] = j + sum of x[i] over i = j (mod 10), wrapped to int8.
 * Each invoke also runs a two-instruction loop (subs, bne) 1000 * (uint8)x[0] times, so the
 * host can check the emulated instruction counts: they differ by exactly 2000 per unit of x[0].
 * Its profile has two operators: SUM (the output) and SPIN (the loop).
 */
#include <string.h>

#include "backend.h"
#include "board_support.h"

#define TEST_IN 64u
#define TEST_OUT 10u
#define TEST_SPIN_PER_UNIT 1000u

static int8_t g_in[TEST_IN];
static int8_t g_out[TEST_OUT];
static const char *const g_op_names[2] = {"SUM", "SPIN"};
static uint32_t g_op_cycles[2];
static uint32_t g_ops_done;

static const char *init_error(void *ctx) {
  (void)ctx;
  return NULL;
}

static uint32_t tensor_count(void *ctx, int output) {
  (void)ctx;
  (void)output;
  return 1u;
}

static int tensor(void *ctx, int output, uint32_t index, hil_tensor_t *t) {
  (void)ctx;
  if (index != 0u) return -1;
  t->dtype = 9u; /* kTfLiteInt8 */
  t->ndims = 2u;
  t->dims[0] = 1;
  t->dims[1] = output ? (int32_t)TEST_OUT : (int32_t)TEST_IN;
  t->scale = output ? 1.0f : 1.0f / 128.0f;
  t->zero_point = 0;
  t->bytes = output ? TEST_OUT : TEST_IN;
  t->data = output ? (uint8_t *)g_out : (uint8_t *)g_in;
  return 0;
}

static void spin(uint32_t n) {
  if (n == 0u) return;
  __asm__ volatile("1: subs %0, %0, #1\n bne 1b" : "+r"(n) : : "cc");
}

static int invoke(void *ctx) {
  (void)ctx;
  int32_t sums[TEST_OUT];
  uint32_t t0 = hil_board_cycles();
  for (uint32_t j = 0; j < TEST_OUT; j++) sums[j] = (int32_t)j;
  for (uint32_t i = 0; i < TEST_IN; i++) sums[i % TEST_OUT] += g_in[i];
  for (uint32_t j = 0; j < TEST_OUT; j++) g_out[j] = (int8_t)(uint8_t)(sums[j] & 0xFF);
  uint32_t t1 = hil_board_cycles();
  spin(TEST_SPIN_PER_UNIT * (uint8_t)g_in[0]);
  g_op_cycles[0] = t1 - t0;
  g_op_cycles[1] = hil_board_cycles() - t1;
  g_ops_done = 2u;
  return 0;
}

static uint32_t op_count(void *ctx) {
  (void)ctx;
  return g_ops_done;
}

static int op_profile(void *ctx, uint32_t index, const char **name, uint32_t *cycles) {
  (void)ctx;
  if (index >= g_ops_done) return -1;
  *name = g_op_names[index];
  *cycles = g_op_cycles[index];
  return 0;
}

static const char *last_error(void *ctx) {
  (void)ctx;
  return "";
}

static uint32_t arena_used(void *ctx) {
  (void)ctx;
  return (uint32_t)(sizeof g_in + sizeof g_out);
}

void hil_backend_init(hil_backend_t *be) {
  memset(be, 0, sizeof *be);
  be->init_error = init_error;
  be->tensor_count = tensor_count;
  be->tensor = tensor;
  be->invoke = invoke;
  be->last_error = last_error;
  be->arena_used = arena_used;
  be->op_count = op_count;
  be->op_profile = op_profile;
}

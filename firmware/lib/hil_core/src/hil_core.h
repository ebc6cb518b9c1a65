/*
 * The portable device core of tflm-hil: framing, checksums, command dispatch,
 * input/output streaming and statistics. Plain C99, no heap, no Arduino
 * headers: the same file runs on a board (with TFLM and Serial behind it) and
 * in the simulated twin (compiled for the host, with the TFLM host runtime).
 *
 * The glue gives the core three things: a description of the image
 * (hil_info_t), a platform (write bytes, read a cycle counter) and a backend
 * (the model's tensors and an invoke function). It then feeds every received
 * byte to hil_core_feed(); replies are written through the platform.
 */
#ifndef HIL_CORE_H
#define HIL_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "hil_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest decoded frame body the device accepts (header + payload + CRC).
 * A board with little RAM can lower it; the handshake reports it. */
#ifndef HIL_MAX_FRAME
#define HIL_MAX_FRAME 1040u
#endif

/* Input blocks the device tracks: a vector's input byte space is split into at most this many
 * blocks of HIL_MIN_BLOCK * 2^k bytes, one bit each (the bitmap costs HIL_MAX_BLOCKS / 8 bytes
 * of RAM). Chunks start on a block and cover whole blocks, except the space's last block. */
#ifndef HIL_MAX_BLOCKS
#define HIL_MAX_BLOCKS 1024u
#endif
#ifndef HIL_MIN_BLOCK
#define HIL_MIN_BLOCK 16u
#endif

/* Largest runs + warmup of one INVOKE: a request beyond it gets ERROR LIMIT rather than
 * occupying the device for hours (65535 + 65535 invokes of a 0.2 s model). */
#ifndef HIL_MAX_RUNS
#define HIL_MAX_RUNS 10000u
#endif

/* Per-run cycle samples returned by one INVOKE. */
#ifndef HIL_MAX_SAMPLES
#define HIL_MAX_SAMPLES 32u
#endif

typedef struct {
  uint8_t dtype; /* TfLiteType value: 9 = int8, 3 = uint8, 1 = float32 ... */
  uint8_t ndims;
  int32_t dims[HIL_MAX_DIMS];
  float scale;
  int32_t zero_point;
  uint32_t bytes;
  uint8_t *data;
} hil_tensor_t;

typedef struct {
  void *ctx;
  /* NULL when the model is ready, else why it is not (static string). */
  const char *(*init_error)(void *ctx);
  uint32_t (*tensor_count)(void *ctx, int output);
  /* Fills *t for input (output = 0) or output (output = 1) tensor `index`. */
  int (*tensor)(void *ctx, int output, uint32_t index, hil_tensor_t *t);
  int (*invoke)(void *ctx); /* 0 on success */
  const char *(*last_error)(void *ctx);
  uint32_t (*arena_used)(void *ctx);
  /* Per-operator counts of the last invoke, in the platform's cycles; both may be NULL (the
   * backend keeps no profile: PROFILE then answers with no operator). */
  uint32_t (*op_count)(void *ctx);
  /* Operator `index` of the last invoke, in execution order: its name (static) and count. */
  int (*op_profile)(void *ctx, uint32_t index, const char **name, uint32_t *cycles);
} hil_backend_t;

typedef struct {
  void *ctx;
  void (*write)(void *ctx, const uint8_t *data, uint32_t len);
  uint32_t (*cycles)(void *ctx);     /* free-running counter at clock_hz */
  uint32_t (*stack_used)(void *ctx); /* may be NULL: reported as 0 */
  void (*reset)(void *ctx);          /* may be NULL: RESET is then refused */
} hil_platform_t;

typedef struct {
  const char *fw_version;
  const char *board;
  const char *cpu;
  const char *tflm_version;
  const char *core_version;
  uint8_t model_hash[32];
  uint8_t image_hash[32];
  uint32_t arena_size;
  uint32_t clock_hz;
  uint32_t rx_window;   /* the glue's receive buffer, staging included */
  uint32_t staging;     /* of rx_window, bytes meant for the next vector during an invoke */
  uint32_t boot_id;
  uint32_t flags; /* HIL_FLAG_SIMULATED | HIL_FLAG_CLOCK_ESTIMATED | HIL_FLAG_EMULATED */
} hil_info_t;

typedef struct {
  uint32_t frames_ok;
  uint32_t frames_bad;
  uint32_t bytes_dropped;
  uint32_t invokes;
  uint32_t errors_sent;
  uint32_t overflows;
} hil_stats_t;

typedef struct {
  hil_info_t info;
  hil_platform_t plat;
  hil_backend_t be;
  hil_stats_t stats;
  /* receive side: streaming COBS decoder into rx[] */
  uint8_t rx[HIL_MAX_FRAME];
  uint32_t rx_len;
  uint8_t cobs_left; /* bytes left in the current COBS block */
  uint8_t cobs_code; /* code byte of the current block; 0 = none yet */
  uint8_t rx_overflow;
  /* input upload state: which blocks of vector in_vec the device holds */
  uint32_t in_total;
  uint32_t in_block;  /* bytes per block */
  uint32_t in_blocks; /* blocks in the input byte space */
  uint32_t in_held;   /* blocks held */
  uint8_t in_map[HIL_MAX_BLOCKS / 8u];
  uint8_t in_vec; /* id of the vector being uploaded */
  uint32_t out_total;
  /* transmit side: streaming COBS encoder */
  uint8_t tx_block[255];
  uint8_t tx_n;
  uint32_t tx_crc;
  uint32_t samples[HIL_MAX_SAMPLES];
} hil_core_t;

void hil_core_init(hil_core_t *c, const hil_info_t *info, const hil_platform_t *plat,
                   const hil_backend_t *be);
/* Sends the unsolicited BOOT frame: call once after init. */
void hil_core_announce(hil_core_t *c);
/* Feeds received bytes; replies are written before it returns. */
void hil_core_feed(hil_core_t *c, const uint8_t *data, uint32_t len);
/* The glue calls this when its receive buffer dropped bytes. */
void hil_core_note_overflow(hil_core_t *c, uint32_t bytes_lost);

/* CRC-32 (IEEE 802.3, as zlib.crc32): exposed for the host tests. */
uint32_t hil_crc32(uint32_t crc, const uint8_t *data, uint32_t len);

/* Struct sizes, so that a host binding can check its layout. */
uint32_t hil_sizeof_core(void);
uint32_t hil_sizeof_info(void);
uint32_t hil_sizeof_platform(void);
uint32_t hil_sizeof_backend(void);
uint32_t hil_sizeof_tensor(void);
uint32_t hil_max_frame(void);

#ifdef __cplusplus
}
#endif

#endif /* HIL_CORE_H */

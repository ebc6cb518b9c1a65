/*
 * The MLPerf Tiny text protocol on the device side: the command set that the MLPerf Tiny
 * (EEMBC-derived) host runner sends, implemented from its published description on the
 * same backend and platform interfaces as the tflm-hil core (hil_core.h). It serves as
 * the peer our binary protocol is measured against, and lets a board answer that runner.
 *
 * Wire format (text, both directions):
 *   host -> device: a command terminated by '%' (no line ending), e.g. "db load 1024%".
 *                   CR, LF and NUL are ignored so that terminals and line-based hosts work.
 *   device -> host: lines ending in "\r\n"; every command's reply ends with "m-ready".
 *                   Messages start with "m-", errors with "e-[reason]".
 * Commands:
 *   name                 m-name-dut-[VENDOR]
 *   profile              m-profile-[FIRMWARE] and m-model-[MODEL]
 *   help                 the command list
 *   timestamp            m-lap-us-MICROSECONDS (cycle counter / clock, extended to 64 bits)
 *   db load N            m-[Expecting N bytes]: the next N bytes of input come as hex
 *   db HH[HH]*           up to N bytes as hex digits; m-load-done when the N-th arrives
 *   db print [N [OFF]]   m-buffer-HH-HH-... (8 bytes per line) of the loaded bytes
 *   infer [N [W]]        converts the loaded bytes into the inputs (cfg.convert: copied,
 *                        shifted by 128, or float32 quantized), runs W warmups (default
 *                        10, as the reference parser) then N timed inferences bracketed
 *                        by two m-lap-us- lines, and prints the results
 *   results              m-results-[v0,v1,...]: every output element (or, with
 *                        HIL_MLPERF_RESULTS_MSE, the one anomaly score), dequantized with
 *                        the tensor's scale and zero point, at least 3 decimals (more when
 *                        the scale is below 0.002, so that the host can recover the exact
 *                        quantized value: 10^-d <= scale / 2)
 * The reference firmware accepts some malformed commands silently (atoi on garbage, a
 * partly stored hex line, bytes past the load size); here each gets an e-[...] line and
 * stores nothing, so that a wrong input is never inferred on.
 *
 * No heap: the glue gives the db buffer (at least the model's input bytes).
 */
#ifndef HIL_MLPERF_H
#define HIL_MLPERF_H

#include <stddef.h>
#include <stdint.h>

#include "hil_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest command, terminator excluded (EE_CMD_SIZE in the reference: 80). A 31-byte
 * hex line, as the runner sends, takes 65 characters. */
#ifndef HIL_MLPERF_CMD_SIZE
#define HIL_MLPERF_CMD_SIZE 80u
#endif

/* Largest N + W of one `infer N W`: beyond it the device answers an e-[...] line instead of
 * running for days (`infer 2147483647 2147483647`). MLPerf Tiny's runner asks for enough runs
 * to last about 10 s: 100,000 covers a model of 0.1 ms. */
#ifndef HIL_MLPERF_MAX_RUNS
#define HIL_MLPERF_MAX_RUNS 100000u
#endif

/* Reply bytes gathered before one platform write. */
#ifndef HIL_MLPERF_TX_SIZE
#define HIL_MLPERF_TX_SIZE 64u
#endif

/* How `infer` turns the loaded bytes into the int8 input tensor, per MLPerf Tiny benchmark,
 * as the reference DUT API's th_load_tensor does (harness/data/mlperf_benchmarks.toml). */
enum {
  HIL_MLPERF_CONVERT_NONE = 0,     /* bytes copied as they are (kws01; any other model) */
  HIL_MLPERF_CONVERT_SHIFT128 = 1, /* uint8 pixels: int8 = byte - 128 (ic01, vww01) */
  HIL_MLPERF_CONVERT_QUANTIZE = 2  /* float32 LE values: round(x / scale) + zero point,
                                      clamped to int8, the input's own parameters (ad01) */
};
/* What `infer` and `results` print. */
enum {
  HIL_MLPERF_RESULTS_OUTPUTS = 0, /* every output element, dequantized */
  HIL_MLPERF_RESULTS_MSE = 1      /* one value: mean over the input of (dequantized output -
                                     float input)^2, ad01's anomaly score */
};

typedef struct {
  const char *vendor;        /* m-name-dut-[vendor]; NULL: "tflm-hil" */
  const char *model_version; /* m-model-[...]: e.g. ic01, kws01, or the model's name */
  uint8_t *db;               /* buffer for `db load`; owned by the glue */
  uint32_t db_cap;           /* its size in bytes */
  uint32_t min_decimals;     /* decimals of result values; 0 means 3, as the reference */
  uint8_t convert;           /* HIL_MLPERF_CONVERT_* */
  uint8_t results;           /* HIL_MLPERF_RESULTS_* */
} hil_mlperf_config_t;

typedef struct {
  uint32_t commands;
  uint32_t errors;
  uint32_t invokes;
  uint32_t overflows;
  uint32_t bytes_dropped;
} hil_mlperf_stats_t;

typedef struct {
  hil_info_t info;
  hil_mlperf_config_t cfg;
  hil_platform_t plat;
  hil_backend_t be;
  hil_mlperf_stats_t stats;
  char cmd[HIL_MLPERF_CMD_SIZE + 1];
  uint32_t cmd_len;
  uint8_t cmd_too_long; /* the command outgrew cmd[]: it is refused at its terminator */
  uint8_t cmd_lost;     /* bytes were lost while it arrived: it is refused too */
  uint8_t have_results; /* the outputs hold the results of the last infer */
  uint32_t db_size;     /* N of the last `db load`; 0 = none */
  uint32_t db_pos;      /* bytes loaded so far */
  uint32_t in_total;    /* bytes of all input tensors */
  /* The 32-bit cycle counter extended to 64 bits: it is sampled at every command and
   * after every inference, so a wrap between two samples is never missed as long as
   * one inference is shorter than the wrap period (67 s at 64 MHz). */
  uint32_t cycles_last;
  uint64_t cycles;
  char tx[HIL_MLPERF_TX_SIZE];
  uint32_t tx_len;
} hil_mlperf_t;

void hil_mlperf_init(hil_mlperf_t *m, const hil_info_t *info, const hil_mlperf_config_t *cfg,
                     const hil_platform_t *plat, const hil_backend_t *be);
/* Prints the boot banner ending in m-ready: call once after init. */
void hil_mlperf_announce(hil_mlperf_t *m);
/* Feeds received bytes; replies are written before it returns. */
void hil_mlperf_feed(hil_mlperf_t *m, const uint8_t *data, uint32_t len);
/* The glue calls this when its receive buffer dropped bytes: the command they belonged to
 * is answered with an error instead of being run. */
void hil_mlperf_note_overflow(hil_mlperf_t *m, uint32_t bytes_lost);
/* Samples the cycle counter: a glue whose device idles longer than the counter's wrap
 * period calls it from its main loop. Returns microseconds since init. */
uint64_t hil_mlperf_micros(hil_mlperf_t *m);
/* The counters (for the glue's diagnostics and the host tests). */
const hil_mlperf_stats_t *hil_mlperf_stats(const hil_mlperf_t *m);

/* Struct sizes, so that a host binding can check its layout. */
uint32_t hil_mlperf_sizeof(void);
uint32_t hil_mlperf_sizeof_config(void);
uint32_t hil_mlperf_sizeof_stats(void);
uint32_t hil_mlperf_cmd_size(void);

#ifdef __cplusplus
}
#endif

#endif /* HIL_MLPERF_H */

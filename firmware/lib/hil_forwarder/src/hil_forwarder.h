/*
 * Data-forwarder mode: the device streams labelled windows of sensor values over its serial
 * link as text lines, for `tflm-hil model collect --source serial:PORT`. Plain C99, no
 * heap, no Arduino headers; the glue samples its sensors and calls hil_fwd_sample() at its
 * fixed rate. Each sample is one line of comma-separated values, as Edge Impulse's data
 * forwarder expects, framed by window lines that carry the label and a CRC so that the host
 * can drop a window damaged by lost bytes (docs/maintenance.md, "data-forwarder format"):
 *
 *   #hilfwd 1 axes=3 window=4 rate=100 decimals=3 names=ax,ay,az   (header, at start)
 *   @W 0 walk                  window 0 starts, its label
 *   0.012,-0.981,0.103         one sample: `axes` values, `decimals` digits after the point
 *   ...                        (`window` sample lines)
 *   @E 0 4 1a2b3c4d            window 0 ends: sample count, CRC-32 of its sample lines
 *   @A 1                       window 1 was aborted (a sensor fault): the host drops it
 *   @D 1                       end of stream: windows sent
 *
 * Lines end in "\n". The CRC-32 (IEEE, as zlib.crc32) covers the sample lines' bytes,
 * newlines included. Values are printed in fixed point (no printf %f, which small libcs
 * lack), rounded half away from zero. NaN and infinities are refused, never printed.
 */
#ifndef HIL_FORWARDER_H
#define HIL_FORWARDER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef HIL_FWD_MAX_AXES
#define HIL_FWD_MAX_AXES 16u
#endif
#define HIL_FWD_MAX_DECIMALS 6u
#define HIL_FWD_LABEL_MAX 32u /* label characters: A-Z a-z 0-9 _ . - */
#define HIL_FWD_NAMES_MAX 128u
/* One value: sign, 13 integer digits, point, 6 decimals, comma; plus the newline. */
#define HIL_FWD_LINE_MAX (HIL_FWD_MAX_AXES * 22u + 2u)

typedef enum {
  HIL_FWD_OK = 0,
  HIL_FWD_E_CONFIG = 1, /* axes, window or decimals out of range, bad names */
  HIL_FWD_E_STATE = 2,  /* begin inside a window, sample or end outside one, too many samples */
  HIL_FWD_E_LABEL = 3,  /* empty, too long, or a character outside A-Z a-z 0-9 _ . - */
  HIL_FWD_E_VALUE = 4,  /* NaN, infinite, or too large for the fixed-point format */
  HIL_FWD_E_COUNT = 5   /* a sample with a number of values other than axes; end too early */
} hil_fwd_status_t;

typedef struct {
  uint32_t axes;     /* values per sample: 1..HIL_FWD_MAX_AXES */
  uint32_t window;   /* samples per window: >= 1 */
  uint32_t rate_hz;  /* the glue's sampling rate, reported in the header (0: unknown) */
  uint32_t decimals; /* digits after the point: 0..HIL_FWD_MAX_DECIMALS */
  const char *names; /* "ax,ay,az" (axes names, comma-separated) or NULL */
} hil_fwd_config_t;

typedef struct {
  void *ctx;
  void (*write)(void *ctx, const uint8_t *data, uint32_t len);
} hil_fwd_link_t;

typedef struct {
  uint32_t windows;  /* windows completed */
  uint32_t samples;  /* sample lines written */
  uint32_t refused;  /* calls refused with an error status */
} hil_fwd_stats_t;

typedef struct {
  hil_fwd_config_t cfg;
  hil_fwd_link_t link;
  hil_fwd_stats_t stats;
  uint32_t seq;        /* number of the current (or next) window */
  uint32_t in_window;  /* samples written in the open window */
  uint8_t open;        /* a window is open */
  uint32_t crc;        /* running CRC-32 of the open window's sample lines */
  char line[HIL_FWD_LINE_MAX];
  uint32_t line_len;
} hil_forwarder_t;

/* Checks the configuration; on HIL_FWD_OK the forwarder is ready. */
hil_fwd_status_t hil_fwd_init(hil_forwarder_t *f, const hil_fwd_config_t *cfg,
                              const hil_fwd_link_t *link);
/* Writes the header line: call at start, and again whenever a host may have just connected. */
void hil_fwd_announce(hil_forwarder_t *f);
/* Opens a window with its label. */
hil_fwd_status_t hil_fwd_begin(hil_forwarder_t *f, const char *label);
/* One sample of `n` values (n must equal axes). Nothing is written when it is refused. */
hil_fwd_status_t hil_fwd_sample(hil_forwarder_t *f, const float *values, uint32_t n);
/* Closes the window after exactly `window` samples; writes its count and CRC. */
hil_fwd_status_t hil_fwd_end(hil_forwarder_t *f);
/* Drops the open window (a sensor fault): writes "@A <seq>" and the host discards it. */
void hil_fwd_abort(hil_forwarder_t *f);
/* End of stream: writes "@D <windows>". */
void hil_fwd_done(hil_forwarder_t *f);
const hil_fwd_stats_t *hil_fwd_stats(const hil_forwarder_t *f);

/* Struct sizes, so that a host binding can check its layout. */
uint32_t hil_fwd_sizeof(void);
uint32_t hil_fwd_sizeof_config(void);
uint32_t hil_fwd_sizeof_stats(void);

#ifdef __cplusplus
}
#endif

#endif /* HIL_FORWARDER_H */

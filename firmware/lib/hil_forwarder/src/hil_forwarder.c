/* Data-forwarder mode: labelled windows of sensor values as text lines (see hil_forwarder.h). */
#include "hil_forwarder.h"

#include "hil_text.h"

#include <string.h>

#include "hil_core.h" /* hil_crc32 */

/* Largest |value * 10^decimals| printed: 13 integer digits fit the line budget. */
#define MAX_FIXED 9.0e18

static const char HEX[] = "0123456789abcdef";

static void flush_line(hil_forwarder_t *f) {
  if (f->line_len) f->link.write(f->link.ctx, (const uint8_t *)f->line, f->line_len);
  f->line_len = 0;
}

static void put_char(hil_forwarder_t *f, char ch) {
  if (f->line_len == sizeof f->line) flush_line(f); /* only control lines can get here */
  f->line[f->line_len++] = ch;
}

static void put_str(hil_forwarder_t *f, const char *s) {
  while (s && *s) put_char(f, *s++);
}

static void put_chars(hil_forwarder_t *f, const char *s, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) put_char(f, s[i]);
}

static void put_u64(hil_forwarder_t *f, uint64_t v) {
  char digits[20];
  put_chars(f, digits, hil_text_u64(digits, v));
}

static void put_hex32(hil_forwarder_t *f, uint32_t v) {
  for (int shift = 28; shift >= 0; shift -= 4) put_char(f, HEX[(v >> shift) & 15u]);
}

static int label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '.' || c == '-';
}

static uint64_t pow10u(uint32_t d) {
  uint64_t p = 1;
  while (d--) p *= 10u;
  return p;
}

/* Checks one value and returns its fixed-point magnitude (rounded half away from zero). */
static hil_fwd_status_t fixed(double v, uint32_t decimals, uint64_t *mag, int *neg) {
  if (v != v) return HIL_FWD_E_VALUE; /* NaN */
  *neg = v < 0.0;
  double a = (*neg ? -v : v) * (double)pow10u(decimals);
  if (!(a < MAX_FIXED)) return HIL_FWD_E_VALUE; /* infinite or too large */
  *mag = (uint64_t)(a + 0.5);
  return HIL_FWD_OK;
}

static void put_fixed(hil_forwarder_t *f, uint64_t mag, int neg, uint32_t decimals) {
  char text[HIL_TEXT_FIXED_MAX];
  put_chars(f, text, hil_text_fixed(text, mag, neg, decimals));
}

static hil_fwd_status_t refuse(hil_forwarder_t *f, hil_fwd_status_t status) {
  f->stats.refused++;
  return status;
}

static int names_valid(const char *names, uint32_t axes) {
  uint32_t count = 1, len = 0, part = 0;
  for (const char *p = names; *p; p++, len++) {
    if (len >= HIL_FWD_NAMES_MAX) return 0;
    if (*p == ',') {
      if (!part) return 0; /* an empty name */
      count++;
      part = 0;
    } else if (label_char(*p)) {
      part++;
    } else {
      return 0;
    }
  }
  return part && count == axes;
}

hil_fwd_status_t hil_fwd_init(hil_forwarder_t *f, const hil_fwd_config_t *cfg,
                              const hil_fwd_link_t *link) {
  memset(f, 0, sizeof *f);
  if (!cfg || !link || !link->write) return HIL_FWD_E_CONFIG;
  if (cfg->axes < 1u || cfg->axes > HIL_FWD_MAX_AXES || cfg->window < 1u ||
      cfg->decimals > HIL_FWD_MAX_DECIMALS)
    return HIL_FWD_E_CONFIG;
  if (cfg->names && !names_valid(cfg->names, cfg->axes)) return HIL_FWD_E_CONFIG;
  f->cfg = *cfg;
  f->link = *link;
  return HIL_FWD_OK;
}

void hil_fwd_announce(hil_forwarder_t *f) {
  put_str(f, "#hilfwd 1 axes=");
  put_u64(f, f->cfg.axes);
  put_str(f, " window=");
  put_u64(f, f->cfg.window);
  put_str(f, " rate=");
  put_u64(f, f->cfg.rate_hz);
  put_str(f, " decimals=");
  put_u64(f, f->cfg.decimals);
  if (f->cfg.names) {
    put_str(f, " names=");
    put_str(f, f->cfg.names);
  }
  put_char(f, '\n');
  flush_line(f);
}

hil_fwd_status_t hil_fwd_begin(hil_forwarder_t *f, const char *label) {
  if (f->open) return refuse(f, HIL_FWD_E_STATE);
  size_t n = label ? strlen(label) : 0u;
  if (n == 0u || n > HIL_FWD_LABEL_MAX) return refuse(f, HIL_FWD_E_LABEL);
  for (size_t i = 0; i < n; i++)
    if (!label_char(label[i])) return refuse(f, HIL_FWD_E_LABEL);
  f->open = 1;
  f->in_window = 0;
  f->crc = 0;
  put_str(f, "@W ");
  put_u64(f, f->seq);
  put_char(f, ' ');
  put_str(f, label);
  put_char(f, '\n');
  flush_line(f);
  return HIL_FWD_OK;
}

hil_fwd_status_t hil_fwd_sample(hil_forwarder_t *f, const float *values, uint32_t n) {
  if (!f->open || f->in_window >= f->cfg.window) return refuse(f, HIL_FWD_E_STATE);
  if (!values || n != f->cfg.axes) return refuse(f, HIL_FWD_E_COUNT);
  uint64_t mag[HIL_FWD_MAX_AXES];
  int neg[HIL_FWD_MAX_AXES];
  /* Check every value before writing any, so a refused sample leaves no partial line. */
  for (uint32_t i = 0; i < n; i++)
    if (fixed((double)values[i], f->cfg.decimals, &mag[i], &neg[i]) != HIL_FWD_OK)
      return refuse(f, HIL_FWD_E_VALUE);
  for (uint32_t i = 0; i < n; i++) {
    if (i) put_char(f, ',');
    put_fixed(f, mag[i], neg[i], f->cfg.decimals);
  }
  put_char(f, '\n');
  f->crc = hil_crc32(f->crc, (const uint8_t *)f->line, f->line_len);
  flush_line(f);
  f->in_window++;
  f->stats.samples++;
  return HIL_FWD_OK;
}

hil_fwd_status_t hil_fwd_end(hil_forwarder_t *f) {
  if (!f->open) return refuse(f, HIL_FWD_E_STATE);
  if (f->in_window != f->cfg.window) return refuse(f, HIL_FWD_E_COUNT);
  put_str(f, "@E ");
  put_u64(f, f->seq);
  put_char(f, ' ');
  put_u64(f, f->in_window);
  put_char(f, ' ');
  put_hex32(f, f->crc);
  put_char(f, '\n');
  flush_line(f);
  f->open = 0;
  f->seq++;
  f->stats.windows++;
  return HIL_FWD_OK;
}

void hil_fwd_abort(hil_forwarder_t *f) {
  if (!f->open) return;
  put_str(f, "@A ");
  put_u64(f, f->seq);
  put_char(f, '\n');
  flush_line(f);
  f->open = 0;
  f->seq++;
}

void hil_fwd_done(hil_forwarder_t *f) {
  hil_fwd_abort(f);
  put_str(f, "@D ");
  put_u64(f, f->stats.windows);
  put_char(f, '\n');
  flush_line(f);
}

const hil_fwd_stats_t *hil_fwd_stats(const hil_forwarder_t *f) { return &f->stats; }

uint32_t hil_fwd_sizeof(void) { return (uint32_t)sizeof(hil_forwarder_t); }
uint32_t hil_fwd_sizeof_config(void) { return (uint32_t)sizeof(hil_fwd_config_t); }
uint32_t hil_fwd_sizeof_stats(void) { return (uint32_t)sizeof(hil_fwd_stats_t); }

/* The MLPerf Tiny text protocol on the device side (see hil_mlperf.h). */
#include "hil_mlperf.h"

#include "hil_text.h"

#include <string.h>

#define MAX_ARGS 4u
#define HEX_PER_LINE 8u /* bytes per m-buffer- line, as the reference prints them */

/* ---- Output: replies are gathered in tx[] and written in pieces. */
static void out_flush(hil_mlperf_t *m) {
  if (m->tx_len) m->plat.write(m->plat.ctx, (const uint8_t *)m->tx, m->tx_len);
  m->tx_len = 0;
}

static void out_char(hil_mlperf_t *m, char ch) {
  if (m->tx_len == sizeof m->tx) out_flush(m);
  m->tx[m->tx_len++] = ch;
}

static void out_str(hil_mlperf_t *m, const char *s) {
  while (s && *s) out_char(m, *s++);
}

/* At most n characters of s: for echoing a token back in an error. Bytes outside printable
 * ASCII go out as '?': an echoed CR or LF would split the error line at the host (found by
 * fuzzing, firmware/fuzz). */
static void out_strn(hil_mlperf_t *m, const char *s, uint32_t n) {
  for (uint32_t i = 0; s && s[i] && i < n; i++)
    out_char(m, s[i] >= 0x20 && s[i] < 0x7F ? s[i] : '?');
}

static void out_chars(hil_mlperf_t *m, const char *s, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) out_char(m, s[i]);
}

static void out_u64(hil_mlperf_t *m, uint64_t v) {
  char digits[20];
  out_chars(m, digits, hil_text_u64(digits, v));
}

static void out_hex(hil_mlperf_t *m, uint8_t b) {
  static const char hex[] = "0123456789abcdef";
  out_char(m, hex[b >> 4]);
  out_char(m, hex[b & 15u]);
}

static void out_eol(hil_mlperf_t *m) { out_str(m, "\r\n"); }

static void out_line(hil_mlperf_t *m, const char *s) {
  out_str(m, s);
  out_eol(m);
}

/* Starts an error line: the caller writes the reason and calls err_end. */
static void err_begin(hil_mlperf_t *m) {
  m->stats.errors++;
  out_str(m, "e-[");
}

static void err_end(hil_mlperf_t *m) { out_str(m, "]\r\n"); }

static void err_line(hil_mlperf_t *m, const char *reason) {
  err_begin(m);
  out_str(m, reason);
  err_end(m);
}

/* Fixed-point decimal of v with `decimals` digits after the point; 0.5 ulp rounds away
 * from zero. Written here because printf's %f is often missing from embedded libcs. */
static void out_fixed(hil_mlperf_t *m, double v, uint32_t decimals) {
  uint64_t scale = 1;
  for (uint32_t i = 0; i < decimals; i++) scale *= 10u;
  if (v != v) {
    out_str(m, "nan");
    return;
  }
  int neg = v < 0.0;
  double a = neg ? -v : v;
  if (a * (double)scale >= 1.8e19) { /* beyond uint64: not a value a tensor holds sanely */
    out_str(m, neg ? "-inf" : "inf");
    return;
  }
  char text[HIL_TEXT_FIXED_MAX];
  out_chars(m, text, hil_text_fixed(text, (uint64_t)(a * (double)scale + 0.5), neg, decimals));
}

/* ---- Time: the platform's 32-bit cycle counter, extended, in microseconds. */
static uint64_t sample_cycles(hil_mlperf_t *m) {
  uint32_t now = m->plat.cycles(m->plat.ctx);
  m->cycles += (uint32_t)(now - m->cycles_last);
  m->cycles_last = now;
  return m->cycles;
}

uint64_t hil_mlperf_micros(hil_mlperf_t *m) {
  uint64_t c = sample_cycles(m);
  uint64_t hz = m->info.clock_hz ? m->info.clock_hz : 1000000u;
  /* split so that c * 1e6 cannot overflow */
  return (c / hz) * 1000000u + ((c % hz) * 1000000u) / hz;
}

static void out_timestamp(hil_mlperf_t *m) {
  out_str(m, "m-lap-us-");
  out_u64(m, hil_mlperf_micros(m));
  out_eol(m);
}

/* ---- Parsing. */
static int parse_u31(const char *s, uint32_t *value) {
  uint32_t v = 0;
  if (!s || !*s) return 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return 0;
    uint32_t d = (uint32_t)(*s - '0');
    if (v > (0x7FFFFFFFu - d) / 10u) return 0;
    v = v * 10u + d;
  }
  *value = v;
  return 1;
}

static int hex_value(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Splits cmd[] in place on spaces; returns the token count, or MAX_ARGS + 1 if more. */
static uint32_t tokenize(char *s, char *argv[MAX_ARGS]) {
  uint32_t n = 0;
  while (*s) {
    while (*s == ' ') *s++ = '\0';
    if (!*s) break;
    if (n == MAX_ARGS) return MAX_ARGS + 1u;
    argv[n++] = s;
    while (*s && *s != ' ') s++;
  }
  return n;
}

static int model_ready(const hil_mlperf_t *m) {
  return m->be.init_error == NULL || m->be.init_error(m->be.ctx) == NULL;
}

static uint32_t inputs_total(const hil_mlperf_t *m) {
  uint32_t n = m->be.tensor_count(m->be.ctx, 0), total = 0;
  for (uint32_t i = 0; i < n; i++) {
    hil_tensor_t t;
    memset(&t, 0, sizeof t);
    m->be.tensor(m->be.ctx, 0, i, &t);
    total += t.bytes;
  }
  return total;
}

/* ---- Commands. */
static void cmd_help(hil_mlperf_t *m) {
  out_line(m, m->info.fw_version ? m->info.fw_version : "tflm-hil");
  out_line(m, "");
  out_line(m, "help            : this list");
  out_line(m, "name            : the device's name");
  out_line(m, "profile         : firmware and model");
  out_line(m, "timestamp       : m-lap-us-N, microseconds from the cycle counter");
  out_line(m, "db load N       : expect N input bytes");
  out_line(m, "db HH[HH]*      : input bytes as hex, until N arrived");
  out_line(m, "db print [N [O]]: N loaded bytes from offset O as hex");
  out_line(m, "infer N [W=10]  : N timed inferences after W warmups, then results");
  out_line(m, "results         : the outputs of the last inference");
}

static void cmd_db(hil_mlperf_t *m, uint32_t argc, char *argv[MAX_ARGS]) {
  uint32_t n, off;
  if (argc < 2u) {
    err_line(m, "Command 'db' requires a subcommand");
    return;
  }
  if (strcmp(argv[1], "load") == 0) {
    if (argc != 3u || !parse_u31(argv[2], &n)) {
      err_line(m, "Command 'db load' requires the # of bytes");
      return;
    }
    if (n == 0u) {
      err_line(m, "Command 'db load' must be >0 bytes");
      return;
    }
    if (n > m->cfg.db_cap) {
      err_begin(m);
      out_str(m, "db load ");
      out_u64(m, n);
      out_str(m, " exceeds the buffer of ");
      out_u64(m, m->cfg.db_cap);
      out_str(m, " bytes");
      err_end(m);
      return;
    }
    m->db_size = n;
    m->db_pos = 0;
    out_str(m, "m-[Expecting ");
    out_u64(m, n);
    out_line(m, " bytes]");
    return;
  }
  if (strcmp(argv[1], "print") == 0) {
    n = m->db_pos;
    off = 0;
    if (argc > 4u || (argc > 2u && !parse_u31(argv[2], &n)) ||
        (argc > 3u && !parse_u31(argv[3], &off))) {
      err_line(m, "Command 'db print' takes [N [offset]] as numbers");
      return;
    }
    if (off > m->db_pos || n > m->db_pos - off) {
      err_line(m, "db print: range past the loaded bytes");
      return;
    }
    for (uint32_t i = 0; i < n; i++) {
      if (i % HEX_PER_LINE == 0u) out_str(m, "m-buffer-");
      out_hex(m, m->cfg.db[off + i]);
      out_str(m, (i + 1u) % HEX_PER_LINE == 0u || i + 1u == n ? "\r\n" : "-");
    }
    return;
  }
  /* db HH[HH]*: validated whole before anything is stored */
  if (argc != 2u) {
    err_line(m, "Command 'db' takes one run of hex digits");
    return;
  }
  const char *hex = argv[1];
  uint32_t digits = (uint32_t)strlen(hex);
  if (m->db_size == 0u) {
    err_line(m, "No 'db load N' before the data");
    return;
  }
  if (digits & 1u) {
    err_line(m, "Odd number of hex digits");
    return;
  }
  for (uint32_t i = 0; i < digits; i++) {
    if (hex_value(hex[i]) < 0) {
      err_begin(m);
      out_str(m, "Invalid hex digit '");
      out_strn(m, hex + i, 1u);
      out_char(m, '\'');
      err_end(m);
      return;
    }
  }
  if (digits / 2u > m->db_size - m->db_pos) {
    err_begin(m);
    out_str(m, "db: ");
    out_u64(m, digits / 2u);
    out_str(m, " bytes but only ");
    out_u64(m, m->db_size - m->db_pos);
    out_str(m, " of the load remain");
    err_end(m);
    return;
  }
  for (uint32_t i = 0; i < digits; i += 2u) {
    m->cfg.db[m->db_pos++] = (uint8_t)((hex_value(hex[i]) << 4) | hex_value(hex[i + 1u]));
  }
  if (m->db_pos == m->db_size) out_line(m, "m-load-done");
}

/* Value i of an output tensor as a double; 0 when the type is not handled. */
static int element(const hil_tensor_t *t, uint32_t i, double *v) {
  const uint8_t *p = t->data;
  switch (t->dtype) {
    case 9: /* int8 */
      *v = (double)(int8_t)p[i];
      return 1;
    case 3: /* uint8 */
      *v = (double)p[i];
      return 1;
    case 7: { /* int16 */
      int16_t x;
      memcpy(&x, p + 2u * i, 2);
      *v = (double)x;
      return 1;
    }
    case 2: { /* int32 */
      int32_t x;
      memcpy(&x, p + 4u * i, 4);
      *v = (double)x;
      return 1;
    }
    case 1: { /* float32 */
      float x;
      memcpy(&x, p + 4u * i, 4);
      *v = (double)x;
      return 1;
    }
    default:
      return 0;
  }
}

static uint32_t element_size(uint8_t dtype) {
  switch (dtype) {
    case 9:
    case 3:
      return 1u;
    case 7:
      return 2u;
    default:
      return 4u;
  }
}

static int output_types_ok(hil_mlperf_t *m) {
  uint32_t n = m->be.tensor_count(m->be.ctx, 1);
  for (uint32_t k = 0; k < n; k++) {
    hil_tensor_t t;
    double v;
    memset(&t, 0, sizeof t);
    m->be.tensor(m->be.ctx, 1, k, &t);
    if (!element(&t, 0, &v) && t.bytes) {
      err_begin(m);
      out_str(m, "Output type ");
      out_u64(m, t.dtype);
      out_str(m, " cannot be printed");
      err_end(m);
      return 0;
    }
  }
  return 1;
}

static float anomaly_score(hil_mlperf_t *m);

static void print_results(hil_mlperf_t *m) {
  uint32_t n = m->be.tensor_count(m->be.ctx, 1), first = 1;
  uint32_t min_dec = m->cfg.min_decimals ? m->cfg.min_decimals : 3u;
  out_str(m, "m-results-[");
  if (m->cfg.results == HIL_MLPERF_RESULTS_MSE) {
    out_fixed(m, (double)anomaly_score(m), min_dec);
    out_line(m, "]");
    return;
  }
  for (uint32_t k = 0; k < n; k++) {
    hil_tensor_t t;
    memset(&t, 0, sizeof t);
    m->be.tensor(m->be.ctx, 1, k, &t);
    int quantized = t.dtype != 1u && t.scale > 0.0f;
    uint32_t dec = t.dtype == 1u ? (min_dec > 6u ? min_dec : 6u) : min_dec;
    if (quantized) { /* enough decimals that rounding stays under half a step */
      double step = 1.0;
      for (uint32_t i = 0; i < dec; i++) step /= 10.0;
      while (dec < 9u && step > (double)t.scale / 2.0) {
        step /= 10.0;
        dec++;
      }
    } else if (t.dtype != 1u) {
      dec = 0;
    }
    uint32_t count = t.bytes / element_size(t.dtype);
    for (uint32_t i = 0; i < count; i++) {
      double v = 0.0;
      element(&t, i, &v);
      if (quantized) v = (v - (double)t.zero_point) * (double)t.scale;
      if (!first) out_char(m, ',');
      first = 0;
      out_fixed(m, v, dec);
    }
  }
  out_line(m, "]");
}

/* QuantizeFloatToInt8 of the reference (benchmark/util/quantization_helpers.h): the division
 * in float, C's round() (half away from zero) in double, clamped to int8. Written out
 * because libm's round is not on every board's link line; NaN gives the zero point. */
static int8_t quantize_like_reference(float x, float scale, int32_t zero_point) {
  float v = x / scale;
  double a = v < 0.0f ? -(double)v : (double)v;
  if (a != a) a = 0.0;
  if (a > 1000.0) a = 1000.0; /* far past the clamp: keeps the cast defined */
  int32_t r = (int32_t)(a + 0.5);
  if (v < 0.0f) r = -r;
  r += zero_point;
  return (int8_t)(r < -128 ? -128 : r > 127 ? 127 : r);
}

/* th_load_tensor: the loaded bytes into the input tensors, converted as cfg.convert says.
 * The db buffer stays intact, so `infer` can be repeated on it and the anomaly score can
 * read the float input. */
static void load_tensors(hil_mlperf_t *m) {
  uint32_t count = m->be.tensor_count(m->be.ctx, 0), off = 0;
  for (uint32_t k = 0; k < count; k++) {
    hil_tensor_t t;
    memset(&t, 0, sizeof t);
    m->be.tensor(m->be.ctx, 0, k, &t);
    uint8_t *dst = (uint8_t *)t.data;
    for (uint32_t i = 0; i < t.bytes; i++) {
      if (m->cfg.convert == HIL_MLPERF_CONVERT_QUANTIZE) {
        float x;
        memcpy(&x, m->cfg.db + off + 4u * i, 4); /* little-endian, as every target is */
        dst[i] = (uint8_t)quantize_like_reference(x, t.scale, t.zero_point);
      } else if (m->cfg.convert == HIL_MLPERF_CONVERT_SHIFT128) {
        dst[i] = (uint8_t)(m->cfg.db[off + i] ^ 0x80u); /* byte - 128, as int8 */
      } else {
        dst[i] = m->cfg.db[off + i];
      }
    }
    off += m->cfg.convert == HIL_MLPERF_CONVERT_QUANTIZE ? 4u * t.bytes : t.bytes;
  }
}

/* ad01's score (the reference's calculate_result): mean over the first output's elements of
 * (dequantized output - float input)^2, accumulated in float as there. */
static float anomaly_score(hil_mlperf_t *m) {
  hil_tensor_t t;
  memset(&t, 0, sizeof t);
  m->be.tensor(m->be.ctx, 1, 0, &t);
  uint32_t n = t.bytes < m->db_size / 4u ? t.bytes : m->db_size / 4u;
  float sum = 0.0f;
  for (uint32_t i = 0; i < n; i++) {
    float x, y = (float)((int32_t)((const int8_t *)t.data)[i] - t.zero_point) * t.scale;
    memcpy(&x, m->cfg.db + 4u * i, 4);
    sum += (y - x) * (y - x);
  }
  return n ? sum / (float)n : 0.0f;
}

static int run_n(hil_mlperf_t *m, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    int rc = m->be.invoke(m->be.ctx);
    m->stats.invokes++;
    sample_cycles(m); /* keeps the 64-bit extension across counter wraps */
    if (rc != 0) {
      m->have_results = 0;
      err_begin(m);
      out_str(m, "Inference failed: ");
      out_strn(m, m->be.last_error ? m->be.last_error(m->be.ctx) : "invoke failed", 120u);
      err_end(m);
      return 0;
    }
  }
  return 1;
}

static void cmd_infer(hil_mlperf_t *m, uint32_t argc, char *argv[MAX_ARGS]) {
  uint32_t n = 1, w = 10; /* the reference parser's defaults */
  if (argc > 3u) {
    err_line(m, "Command 'infer' takes N [W]");
    return;
  }
  if (argc > 1u && (!parse_u31(argv[1], &n) || n == 0u)) {
    err_line(m, "Inference iterations must be >0");
    return;
  }
  if (argc > 2u && !parse_u31(argv[2], &w)) {
    err_line(m, "Inference warmup must be >=0");
    return;
  }
  if (n > HIL_MLPERF_MAX_RUNS || w > HIL_MLPERF_MAX_RUNS - n) {
    err_begin(m);
    out_str(m, "Inference iterations + warmup must be <= ");
    out_u64(m, HIL_MLPERF_MAX_RUNS);
    err_end(m);
    return;
  }
  if (!model_ready(m)) {
    err_begin(m);
    out_str(m, "Model not ready: ");
    out_strn(m, m->be.init_error(m->be.ctx), 120u);
    err_end(m);
    return;
  }
  if (m->db_size == 0u || m->db_pos != m->db_size) {
    err_begin(m);
    out_str(m, "Input incomplete: ");
    out_u64(m, m->db_pos);
    out_str(m, " of ");
    out_u64(m, m->db_size);
    out_str(m, " bytes loaded");
    err_end(m);
    return;
  }
  uint32_t want = m->cfg.convert == HIL_MLPERF_CONVERT_QUANTIZE ? 4u * m->in_total : m->in_total;
  if (m->db_size != want) {
    err_begin(m);
    out_str(m, "Loaded ");
    out_u64(m, m->db_size);
    out_str(m, " bytes; the model's inputs take ");
    out_u64(m, want);
    err_end(m);
    return;
  }
  if (!output_types_ok(m)) return;
  load_tensors(m);
  m->have_results = 0;
  out_str(m, "m-warmup-start-");
  out_u64(m, w);
  out_eol(m);
  out_flush(m); /* the host sees progress before a long warmup */
  if (!run_n(m, w)) return;
  out_line(m, "m-warmup-done");
  out_str(m, "m-infer-start-");
  out_u64(m, n);
  out_eol(m);
  out_timestamp(m);
  out_flush(m);
  if (!run_n(m, n)) return;
  out_timestamp(m);
  out_line(m, "m-infer-done");
  m->have_results = 1;
  print_results(m);
}

static void execute(hil_mlperf_t *m) {
  char *argv[MAX_ARGS] = {0};
  m->stats.commands++;
  sample_cycles(m);
  if (m->cmd_lost) {
    err_line(m, "Bytes of this command were lost: receive buffer overflow");
  } else if (m->cmd_too_long) {
    err_begin(m);
    out_str(m, "Command longer than ");
    out_u64(m, HIL_MLPERF_CMD_SIZE);
    out_str(m, " characters");
    err_end(m);
  } else {
    m->cmd[m->cmd_len] = '\0';
    uint32_t argc = tokenize(m->cmd, argv);
    if (argc == 0u) {
      /* a lone '%' is how hosts flush a half-sent command: only m-ready */
    } else if (argc > MAX_ARGS) {
      err_line(m, "Too many arguments");
    } else if (strcmp(argv[0], "name") == 0) {
      out_str(m, "m-name-dut-[");
      out_str(m, m->cfg.vendor ? m->cfg.vendor : "tflm-hil");
      out_line(m, "]");
    } else if (strcmp(argv[0], "timestamp") == 0) {
      out_timestamp(m);
    } else if (strcmp(argv[0], "profile") == 0) {
      out_str(m, "m-profile-[");
      out_str(m, m->info.fw_version ? m->info.fw_version : "tflm-hil");
      out_line(m, "]");
      out_str(m, "m-model-[");
      out_str(m, m->cfg.model_version ? m->cfg.model_version : "unknown");
      out_line(m, "]");
    } else if (strcmp(argv[0], "help") == 0) {
      cmd_help(m);
    } else if (strcmp(argv[0], "db") == 0) {
      cmd_db(m, argc, argv);
    } else if (strcmp(argv[0], "infer") == 0) {
      cmd_infer(m, argc, argv);
    } else if (strcmp(argv[0], "results") == 0) {
      if (m->have_results)
        print_results(m);
      else
        err_line(m, "No results: run 'infer' first");
    } else {
      err_begin(m);
      out_str(m, "Unknown command: ");
      out_strn(m, argv[0], 32u);
      err_end(m);
    }
  }
  out_line(m, "m-ready");
  out_flush(m);
  m->cmd_len = 0;
  m->cmd_too_long = 0;
  m->cmd_lost = 0;
}

void hil_mlperf_feed(hil_mlperf_t *m, const uint8_t *data, uint32_t len) {
  for (uint32_t i = 0; i < len; i++) {
    char ch = (char)data[i];
    if (ch == '%') {
      execute(m);
    } else if (ch == '\r' || ch == '\n' || ch == '\0') {
      continue;
    } else if (m->cmd_len < HIL_MLPERF_CMD_SIZE) {
      m->cmd[m->cmd_len++] = ch;
    } else {
      m->cmd_too_long = 1;
    }
  }
}

void hil_mlperf_note_overflow(hil_mlperf_t *m, uint32_t bytes_lost) {
  m->stats.overflows++;
  m->stats.bytes_dropped += bytes_lost;
  m->cmd_lost = 1;
}

void hil_mlperf_announce(hil_mlperf_t *m) {
  out_line(m, "m-timestamp-mode-performance");
  if (!model_ready(m)) {
    err_begin(m);
    out_str(m, "Model not ready: ");
    out_strn(m, m->be.init_error(m->be.ctx), 120u);
    err_end(m);
  }
  out_line(m, "m-init-done");
  out_line(m, "m-ready");
  out_flush(m);
}

void hil_mlperf_init(hil_mlperf_t *m, const hil_info_t *info, const hil_mlperf_config_t *cfg,
                     const hil_platform_t *plat, const hil_backend_t *be) {
  memset(m, 0, sizeof *m);
  m->info = *info;
  m->cfg = *cfg;
  m->plat = *plat;
  m->be = *be;
  if (model_ready(m)) m->in_total = inputs_total(m);
  m->cycles_last = m->plat.cycles(m->plat.ctx);
}

const hil_mlperf_stats_t *hil_mlperf_stats(const hil_mlperf_t *m) { return &m->stats; }

uint32_t hil_mlperf_sizeof(void) { return (uint32_t)sizeof(hil_mlperf_t); }
uint32_t hil_mlperf_sizeof_config(void) { return (uint32_t)sizeof(hil_mlperf_config_t); }
uint32_t hil_mlperf_sizeof_stats(void) { return (uint32_t)sizeof(hil_mlperf_stats_t); }
uint32_t hil_mlperf_cmd_size(void) { return HIL_MLPERF_CMD_SIZE; }

/* The device side of the tflm-hil protocol (docs/protocol.md). */
#include "hil_core.h"

#include <string.h>

/* ---- CRC-32, nibble table: 64 bytes of ROM, about 2x the bitwise speed. */
static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
    0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};

static uint32_t crc_step(uint32_t crc, uint8_t b) {
  crc ^= b;
  crc = (crc >> 4) ^ crc_nibble[crc & 15u];
  return (crc >> 4) ^ crc_nibble[crc & 15u];
}

uint32_t hil_crc32(uint32_t crc, const uint8_t *data, uint32_t len) {
  crc = ~crc;
  for (uint32_t i = 0; i < len; i++) crc = crc_step(crc, data[i]);
  return ~crc;
}

static uint32_t rd_u32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint16_t rd_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/* ---- Transmit: a reply is streamed through a COBS encoder, so that large
 * outputs go straight from the tensor to the link without a reply buffer. */
static void tx_flush(hil_core_t *c, uint8_t code) {
  c->plat.write(c->plat.ctx, &code, 1);
  if (c->tx_n) c->plat.write(c->plat.ctx, c->tx_block, c->tx_n);
  c->tx_n = 0;
}

static void tx_raw(hil_core_t *c, uint8_t b) {
  if (b == 0) {
    tx_flush(c, (uint8_t)(c->tx_n + 1u));
    return;
  }
  c->tx_block[c->tx_n++] = b;
  if (c->tx_n == 254u) tx_flush(c, 0xFFu);
}

static void tx_byte(hil_core_t *c, uint8_t b) {
  c->tx_crc = crc_step(c->tx_crc, b);
  tx_raw(c, b);
}

static void tx_bytes(hil_core_t *c, const uint8_t *p, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) tx_byte(c, p[i]);
}

static void tx_u16(hil_core_t *c, uint32_t v) {
  tx_byte(c, (uint8_t)v);
  tx_byte(c, (uint8_t)(v >> 8));
}

static void tx_u32(hil_core_t *c, uint32_t v) {
  tx_u16(c, v & 0xFFFFu);
  tx_u16(c, v >> 16);
}

static void tx_begin(hil_core_t *c, uint8_t type, uint8_t seq, uint32_t len) {
  static const uint8_t delim = 0;
  c->plat.write(c->plat.ctx, &delim, 1);
  c->tx_n = 0;
  c->tx_crc = 0xFFFFFFFFu;
  tx_byte(c, type);
  tx_byte(c, seq);
  tx_u16(c, len);
}

static void tx_end(hil_core_t *c) {
  uint32_t crc = ~c->tx_crc;
  for (int i = 0; i < 4; i++) tx_raw(c, (uint8_t)(crc >> (8 * i)));
  tx_flush(c, (uint8_t)(c->tx_n + 1u));
  static const uint8_t delim = 0;
  c->plat.write(c->plat.ctx, &delim, 1);
}

static void send_error(hil_core_t *c, uint8_t req_type, uint8_t seq, uint8_t code, uint32_t detail,
                       const char *reason) {
  uint32_t n = reason ? (uint32_t)strlen(reason) : 0u;
  if (n > 200u) n = 200u;
  tx_begin(c, HIL_MSG_ERROR, seq, 10u + n);
  tx_u32(c, c->info.boot_id);
  tx_byte(c, code);
  tx_byte(c, req_type);
  tx_u32(c, detail);
  tx_bytes(c, (const uint8_t *)reason, n);
  tx_end(c);
  c->stats.errors_sent++;
}

/* ---- TLV replies are written twice: once to measure, once to send. */
typedef struct {
  hil_core_t *c;
  uint32_t len;
  int send;
} tlv_t;

static void tlv_raw(tlv_t *w, const uint8_t *p, uint32_t n) {
  w->len += n;
  if (w->send) tx_bytes(w->c, p, n);
}

static void tlv_put(tlv_t *w, uint8_t tag, const void *value, uint32_t n) {
  uint8_t head[2] = {tag, (uint8_t)n};
  tlv_raw(w, head, 2);
  tlv_raw(w, (const uint8_t *)value, n);
}

static void tlv_u32(tlv_t *w, uint8_t tag, uint32_t v) {
  uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
  tlv_put(w, tag, b, 4);
}

static void tlv_str(tlv_t *w, uint8_t tag, const char *s) {
  if (!s) return;
  uint32_t n = (uint32_t)strlen(s);
  tlv_put(w, tag, s, n > 255u ? 255u : n);
}

static void put_le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void tlv_tensor(tlv_t *w, uint8_t tag, uint32_t index, const hil_tensor_t *t) {
  /* index u8 | dtype u8 | ndims u8 | reserved u8 | bytes u32 | scale f32 |
   * zero_point i32 | dims i32[ndims] */
  uint8_t b[16 + 4 * HIL_MAX_DIMS];
  uint32_t nd = t->ndims > HIL_MAX_DIMS ? HIL_MAX_DIMS : t->ndims;
  uint32_t scale_bits;
  memcpy(&scale_bits, &t->scale, 4);
  b[0] = (uint8_t)index;
  b[1] = t->dtype;
  b[2] = (uint8_t)nd;
  b[3] = 0;
  put_le32(b + 4, t->bytes);
  put_le32(b + 8, scale_bits);
  put_le32(b + 12, (uint32_t)t->zero_point);
  for (uint32_t i = 0; i < nd; i++) put_le32(b + 16 + 4 * i, (uint32_t)t->dims[i]);
  tlv_put(w, tag, b, 16 + 4 * nd);
}

static int model_ready(const hil_core_t *c) {
  return c->be.init_error == NULL || c->be.init_error(c->be.ctx) == NULL;
}

static void hello_tlvs(tlv_t *w, uint32_t nonce) {
  hil_core_t *c = w->c;
  uint8_t pv[2] = {(uint8_t)HIL_PROTO_VERSION, (uint8_t)(HIL_PROTO_VERSION >> 8)};
  int ready = model_ready(c);
  tlv_put(w, HIL_TAG_PROTO_VERSION, pv, 2);
  tlv_str(w, HIL_TAG_FW_VERSION, c->info.fw_version);
  tlv_str(w, HIL_TAG_BOARD, c->info.board);
  tlv_str(w, HIL_TAG_CPU, c->info.cpu);
  tlv_str(w, HIL_TAG_TFLM_VERSION, c->info.tflm_version);
  tlv_str(w, HIL_TAG_CORE_VERSION, c->info.core_version);
  tlv_put(w, HIL_TAG_MODEL_HASH, c->info.model_hash, 32);
  tlv_put(w, HIL_TAG_IMAGE_HASH, c->info.image_hash, 32);
  tlv_u32(w, HIL_TAG_ARENA_SIZE, c->info.arena_size);
  tlv_u32(w, HIL_TAG_ARENA_USED, ready && c->be.arena_used ? c->be.arena_used(c->be.ctx) : 0u);
  tlv_u32(w, HIL_TAG_CLOCK_HZ, c->info.clock_hz);
  tlv_u32(w, HIL_TAG_RX_WINDOW, c->info.rx_window);
  tlv_u32(w, HIL_TAG_MAX_FRAME, HIL_MAX_FRAME);
  tlv_u32(w, HIL_TAG_STAGING, c->info.staging);
  tlv_u32(w, HIL_TAG_MAX_RUNS, HIL_MAX_RUNS);
  tlv_u32(w, HIL_TAG_BOOT_ID, c->info.boot_id);
  tlv_u32(w, HIL_TAG_NONCE, nonce);
  tlv_u32(w, HIL_TAG_FLAGS, c->info.flags | (ready ? HIL_FLAG_MODEL_READY : 0u));
  tlv_u32(w, HIL_TAG_STACK_USED, c->plat.stack_used ? c->plat.stack_used(c->plat.ctx) : 0u);
  tlv_u32(w, HIL_TAG_INPUT_BLOCK, c->in_block);
  if (!ready) {
    tlv_str(w, HIL_TAG_MODEL_ERROR, c->be.init_error(c->be.ctx));
    return;
  }
  for (int out = 0; out < 2; out++) {
    uint32_t n = c->be.tensor_count(c->be.ctx, out);
    for (uint32_t i = 0; i < n; i++) {
      hil_tensor_t t;
      memset(&t, 0, sizeof t);
      c->be.tensor(c->be.ctx, out, i, &t);
      tlv_tensor(w, out ? HIL_TAG_OUTPUT : HIL_TAG_INPUT, i, &t);
    }
  }
}

static void stats_tlvs(tlv_t *w) {
  const hil_stats_t *s = &w->c->stats;
  tlv_u32(w, HIL_TAG_BOOT_ID, w->c->info.boot_id);
  tlv_u32(w, HIL_TAG_FRAMES_OK, s->frames_ok);
  tlv_u32(w, HIL_TAG_FRAMES_BAD, s->frames_bad);
  tlv_u32(w, HIL_TAG_BYTES_DROPPED, s->bytes_dropped);
  tlv_u32(w, HIL_TAG_INVOKES, s->invokes);
  tlv_u32(w, HIL_TAG_ERRORS_SENT, s->errors_sent);
  tlv_u32(w, HIL_TAG_OVERFLOWS, s->overflows);
}

static void send_tlvs(hil_core_t *c, uint8_t type, uint8_t seq, void (*fill)(tlv_t *, uint32_t),
                      uint32_t arg) {
  tlv_t w = {c, 0, 0};
  fill(&w, arg);
  tx_begin(c, type, seq, w.len);
  w.send = 1;
  w.len = 0;
  fill(&w, arg);
  tx_end(c);
}

static void stats_fill(tlv_t *w, uint32_t unused) {
  (void)unused;
  stats_tlvs(w);
}

/* ---- Tensor byte spaces: all inputs (or outputs) concatenated in order. */
static uint32_t space_total(hil_core_t *c, int out) {
  uint32_t n = c->be.tensor_count(c->be.ctx, out), total = 0;
  for (uint32_t i = 0; i < n; i++) {
    hil_tensor_t t;
    memset(&t, 0, sizeof t);
    c->be.tensor(c->be.ctx, out, i, &t);
    total += t.bytes;
  }
  return total;
}

/* Copies between the byte space and the tensors; to_tensor selects direction. */
static void space_copy(hil_core_t *c, int out, uint32_t offset, uint8_t *buf, uint32_t len,
                       int to_tensor) {
  uint32_t n = c->be.tensor_count(c->be.ctx, out), base = 0;
  for (uint32_t i = 0; i < n && len; i++) {
    hil_tensor_t t;
    memset(&t, 0, sizeof t);
    c->be.tensor(c->be.ctx, out, i, &t);
    if (offset < base + t.bytes) {
      uint32_t at = offset - base, k = t.bytes - at;
      if (k > len) k = len;
      if (to_tensor)
        memcpy(t.data + at, buf, k);
      else
        memcpy(buf, t.data + at, k);
      buf += k;
      offset += k;
      len -= k;
    }
    base += t.bytes;
  }
}

/* Streams output bytes [offset, offset+len) straight from the tensors. */
static void tx_space(hil_core_t *c, uint32_t offset, uint32_t len) {
  uint8_t chunk[32];
  while (len) {
    uint32_t k = len > sizeof chunk ? (uint32_t)sizeof chunk : len;
    space_copy(c, 1, offset, chunk, k, 0);
    tx_bytes(c, chunk, k);
    offset += k;
    len -= k;
  }
}

/* ---- The input byte space in blocks: a chunk may arrive in any order; the device keeps one
 * bit per block it holds, so a resend carries only what is missing (docs/protocol.md). */
static void in_clear(hil_core_t *c) {
  memset(c->in_map, 0, sizeof c->in_map);
  c->in_held = 0;
}

static int in_has(const hil_core_t *c, uint32_t b) {
  return (c->in_map[b >> 3] >> (b & 7u)) & 1u;
}

static uint32_t in_held_bytes(const hil_core_t *c) {
  if (c->in_held == c->in_blocks) return c->in_total;
  uint32_t bytes = c->in_held * c->in_block;
  /* the last block may be short */
  if (c->in_blocks && in_has(c, c->in_blocks - 1u)) bytes -= c->in_blocks * c->in_block - c->in_total;
  return bytes;
}

/* First byte not held, or in_total when the vector is complete. */
static uint32_t in_first_missing(const hil_core_t *c) {
  for (uint32_t b = 0; b < c->in_blocks; b++)
    if (!in_has(c, b)) return b * c->in_block;
  return c->in_total;
}

/* Largest payload a reply can carry (the length field is 16 bits). */
#define HIL_MAX_REPLY_PAYLOAD 0xFFFFu

static void run_model(hil_core_t *c, uint8_t req_type, uint8_t seq, uint32_t runs,
                      uint32_t warmup) {
  uint32_t ns = runs < HIL_MAX_SAMPLES ? runs : HIL_MAX_SAMPLES;
  in_clear(c); /* inputs are consumed: TFLM may reuse their memory */
  for (uint32_t i = 0; i < warmup + runs; i++) {
    uint32_t t0 = c->plat.cycles(c->plat.ctx);
    int rc = c->be.invoke(c->be.ctx);
    uint32_t dt = c->plat.cycles(c->plat.ctx) - t0;
    c->stats.invokes++;
    if (rc != 0) {
      send_error(c, req_type, seq, HIL_E_INVOKE, (uint32_t)rc,
                 c->be.last_error ? c->be.last_error(c->be.ctx) : "invoke failed");
      return;
    }
    if (i >= warmup && i - warmup < ns) c->samples[i - warmup] = dt;
  }
  uint32_t head = 12u + 4u * ns;
  uint32_t data = c->out_total;
  if (data > HIL_MAX_REPLY_PAYLOAD - head) data = HIL_MAX_REPLY_PAYLOAD - head;
  tx_begin(c, HIL_MSG_RESULT, seq, head + data);
  tx_u32(c, c->info.boot_id);
  tx_u16(c, runs);
  tx_u16(c, ns);
  for (uint32_t i = 0; i < ns; i++) tx_u32(c, c->samples[i]);
  tx_u32(c, c->out_total);
  tx_space(c, 0, data);
  tx_end(c);
}

/* Operator i of the last invoke: its name (never NULL), its count; the name's length sent. */
static uint32_t profile_entry(hil_core_t *c, uint32_t i, const char **name, uint32_t *cycles) {
  *name = "";
  *cycles = 0u;
  c->be.op_profile(c->be.ctx, i, name, cycles);
  if (*name == NULL) *name = "";
  uint32_t n = (uint32_t)strlen(*name);
  return n > HIL_PROFILE_NAME_MAX ? HIL_PROFILE_NAME_MAX : n;
}

/* PROFILE_R: boot_id u32 | ops u16 | per operator: cycles u32 | name_len u8 | name. As many
 * operators as fit in one reply, in execution order. */
static void on_profile(hil_core_t *c, uint8_t seq, uint32_t len) {
  if (len != 0u) {
    send_error(c, HIL_MSG_PROFILE, seq, HIL_E_BAD_ARG, len, "PROFILE takes no payload");
    return;
  }
  uint32_t ops = c->be.op_count && c->be.op_profile ? c->be.op_count(c->be.ctx) : 0u;
  uint32_t total = 6u, sent = 0u, cycles;
  const char *name;
  while (sent < ops && sent < 0xFFFFu) {
    uint32_t n = profile_entry(c, sent, &name, &cycles);
    if (total + 5u + n > HIL_MAX_REPLY_PAYLOAD) break;
    total += 5u + n;
    sent++;
  }
  tx_begin(c, HIL_MSG_PROFILE_R, seq, total);
  tx_u32(c, c->info.boot_id);
  tx_u16(c, sent);
  for (uint32_t i = 0; i < sent; i++) {
    uint32_t n = profile_entry(c, i, &name, &cycles);
    tx_u32(c, cycles);
    tx_byte(c, (uint8_t)n);
    tx_bytes(c, (const uint8_t *)name, n);
  }
  tx_end(c);
}

static void on_set_input(hil_core_t *c, uint8_t seq, uint8_t *p, uint32_t len) {
  if (len < 6u) {
    send_error(c, HIL_MSG_SET_INPUT, seq, HIL_E_BAD_ARG, len,
               "SET_INPUT needs flags, vector id and offset");
    return;
  }
  uint8_t flags = p[0], vec = p[1];
  uint32_t offset = rd_u32(p + 2), n = len - 6u;
  if (offset > c->in_total || n > c->in_total - offset) {
    send_error(c, HIL_MSG_SET_INPUT, seq, HIL_E_RANGE, c->in_total, "input chunk past the end");
    return;
  }
  /* Whole blocks only, so that a held bit always means every byte of its block arrived. */
  if (offset % c->in_block != 0u || (n % c->in_block != 0u && offset + n != c->in_total)) {
    send_error(c, HIL_MSG_SET_INPUT, seq, HIL_E_BAD_ARG, c->in_block,
               "input chunk not aligned to the input block");
    return;
  }
  /* Another vector id starts a vector: chunks of two vectors never mix into one input. */
  if (vec != c->in_vec) {
    in_clear(c);
    c->in_vec = vec;
  }
  space_copy(c, 0, offset, p + 6, n, 1);
  for (uint32_t b = offset / c->in_block; n && b * c->in_block < offset + n; b++) {
    if (!in_has(c, b)) {
      c->in_map[b >> 3] |= (uint8_t)(1u << (b & 7u));
      c->in_held++;
    }
  }
  if (flags & HIL_INPUT_FLAG_INVOKE) {
    if (c->in_held != c->in_blocks) {
      send_error(c, HIL_MSG_SET_INPUT, seq, HIL_E_INCOMPLETE, in_first_missing(c),
                 "invoke before the whole input arrived");
      return;
    }
    run_model(c, HIL_MSG_SET_INPUT, seq, 1, 0);
    return;
  }
  tx_begin(c, HIL_MSG_ACK, seq, 8);
  tx_u32(c, c->info.boot_id);
  tx_u32(c, in_held_bytes(c));
  tx_end(c);
}

/* INPUT_STATE_R: boot_id u32 | vector u8 | block u32 | total u32 | held u32 | blocks u16 |
 * bitmap (one bit per block, LSB first). */
static void on_input_state(hil_core_t *c, uint8_t seq, uint32_t len) {
  if (len != 0u) {
    send_error(c, HIL_MSG_INPUT_STATE, seq, HIL_E_BAD_ARG, len, "INPUT_STATE takes no payload");
    return;
  }
  uint32_t map_bytes = (c->in_blocks + 7u) / 8u;
  tx_begin(c, HIL_MSG_INPUT_STATE_R, seq, 19u + map_bytes);
  tx_u32(c, c->info.boot_id);
  tx_byte(c, c->in_vec);
  tx_u32(c, c->in_block);
  tx_u32(c, c->in_total);
  tx_u32(c, in_held_bytes(c));
  tx_u16(c, c->in_blocks);
  tx_bytes(c, c->in_map, map_bytes);
  tx_end(c);
}

static void on_invoke(hil_core_t *c, uint8_t seq, const uint8_t *p, uint32_t len) {
  uint32_t runs = len >= 2u ? rd_u16(p) : 0u, warmup = len >= 4u ? rd_u16(p + 2) : 0u;
  if (len != 4u || runs == 0u) {
    send_error(c, HIL_MSG_INVOKE, seq, HIL_E_BAD_ARG, len, "INVOKE needs runs >= 1 and warmup");
    return;
  }
  if (runs + warmup > HIL_MAX_RUNS) {
    send_error(c, HIL_MSG_INVOKE, seq, HIL_E_LIMIT, HIL_MAX_RUNS,
               "runs + warmup beyond the device's bound");
    return;
  }
  if (c->in_held != c->in_blocks) {
    send_error(c, HIL_MSG_INVOKE, seq, HIL_E_INCOMPLETE, in_first_missing(c),
               "invoke before the whole input arrived");
    return;
  }
  run_model(c, HIL_MSG_INVOKE, seq, runs, warmup);
}

static void on_get_output(hil_core_t *c, uint8_t seq, const uint8_t *p, uint32_t len) {
  if (len != 6u) {
    send_error(c, HIL_MSG_GET_OUTPUT, seq, HIL_E_BAD_ARG, len, "GET_OUTPUT needs offset, length");
    return;
  }
  uint32_t offset = rd_u32(p), n = rd_u16(p + 4);
  if (offset > c->out_total || n > c->out_total - offset || n > HIL_MAX_REPLY_PAYLOAD - 8u) {
    send_error(c, HIL_MSG_GET_OUTPUT, seq, HIL_E_RANGE, c->out_total, "output range past the end");
    return;
  }
  tx_begin(c, HIL_MSG_OUTPUT, seq, 8u + n);
  tx_u32(c, c->info.boot_id);
  tx_u32(c, offset);
  tx_space(c, offset, n);
  tx_end(c);
}

static void dispatch(hil_core_t *c, uint8_t type, uint8_t seq, uint8_t *p, uint32_t len) {
  int needs_model = type == HIL_MSG_SET_INPUT || type == HIL_MSG_INVOKE ||
                    type == HIL_MSG_GET_OUTPUT || type == HIL_MSG_PROFILE ||
                    type == HIL_MSG_INPUT_STATE;
  if (needs_model && !model_ready(c)) {
    send_error(c, type, seq, HIL_E_NO_MODEL, 0, c->be.init_error(c->be.ctx));
    return;
  }
  switch (type) {
    case HIL_MSG_HELLO:
      if (len != 4u) {
        send_error(c, type, seq, HIL_E_BAD_ARG, len, "HELLO needs a 4-byte nonce");
        return;
      }
      send_tlvs(c, HIL_MSG_HELLO_R, seq, hello_tlvs, rd_u32(p));
      return;
    case HIL_MSG_SET_INPUT:
      on_set_input(c, seq, p, len);
      return;
    case HIL_MSG_INVOKE:
      on_invoke(c, seq, p, len);
      return;
    case HIL_MSG_GET_OUTPUT:
      on_get_output(c, seq, p, len);
      return;
    case HIL_MSG_STATS:
      send_tlvs(c, HIL_MSG_STATS_R, seq, stats_fill, 0);
      return;
    case HIL_MSG_PROFILE:
      on_profile(c, seq, len);
      return;
    case HIL_MSG_INPUT_STATE:
      on_input_state(c, seq, len);
      return;
    case HIL_MSG_ECHO:
      tx_begin(c, HIL_MSG_ECHO_R, seq, len);
      tx_bytes(c, p, len);
      tx_end(c);
      return;
    case HIL_MSG_RESET:
      if (!c->plat.reset) {
        send_error(c, type, seq, HIL_E_BAD_ARG, 0, "this device cannot reset itself");
        return;
      }
      tx_begin(c, HIL_MSG_RESET_R, seq, 4);
      tx_u32(c, c->info.boot_id);
      tx_end(c);
      c->plat.reset(c->plat.ctx);
      return;
    default:
      send_error(c, type, seq, HIL_E_UNKNOWN_TYPE, type, "unknown message type");
  }
}

/* A complete frame body is in rx[0..rx_len). */
static void on_frame(hil_core_t *c) {
  uint8_t type = c->rx_len > 0 ? c->rx[0] : 0, seq = c->rx_len > 1 ? c->rx[1] : 0;
  if (c->rx_len < HIL_FRAME_OVERHEAD) {
    c->stats.frames_bad++;
    send_error(c, type, seq, HIL_E_LENGTH, c->rx_len, "frame shorter than its header");
    return;
  }
  uint32_t len = rd_u16(c->rx + 2);
  if (len + HIL_FRAME_OVERHEAD != c->rx_len) {
    c->stats.frames_bad++;
    send_error(c, type, seq, HIL_E_LENGTH, c->rx_len, "length field does not match the frame");
    return;
  }
  uint32_t want = rd_u32(c->rx + HIL_HEADER_LEN + len);
  if (hil_crc32(0, c->rx, HIL_HEADER_LEN + len) != want) {
    c->stats.frames_bad++;
    send_error(c, type, seq, HIL_E_CRC, 0, "checksum mismatch");
    return;
  }
  c->stats.frames_ok++;
  dispatch(c, type, seq, c->rx + HIL_HEADER_LEN, len);
}

static void rx_reset(hil_core_t *c) {
  c->rx_len = 0;
  c->cobs_left = 0;
  c->cobs_code = 0;
  c->rx_overflow = 0;
}

static void rx_append(hil_core_t *c, uint8_t b) {
  if (c->rx_len >= HIL_MAX_FRAME) {
    c->rx_overflow = 1;
    return;
  }
  c->rx[c->rx_len++] = b;
}

static void rx_delimiter(hil_core_t *c) {
  if (c->cobs_code == 0) return; /* empty frame: leading delimiter */
  if (c->rx_overflow) {
    c->stats.frames_bad++;
    /* the buffer holds the frame's first bytes: its type and seq, a best guess (a burst of
     * noise may have made an ordinary frame too large), let the host resend it at once */
    send_error(c, c->rx[0], c->rx[1], HIL_E_TOO_LARGE, HIL_MAX_FRAME,
               "frame larger than the device buffer");
  } else if (c->cobs_left != 0) {
    c->stats.frames_bad++;
    c->stats.bytes_dropped += c->rx_len;
    send_error(c, c->rx_len ? c->rx[0] : 0, c->rx_len > 1 ? c->rx[1] : 0, HIL_E_COBS, c->rx_len,
               "truncated or malformed frame");
  } else {
    on_frame(c);
  }
}

void hil_core_feed(hil_core_t *c, const uint8_t *data, uint32_t len) {
  for (uint32_t i = 0; i < len; i++) {
    uint8_t b = data[i];
    if (b == 0) {
      rx_delimiter(c);
      rx_reset(c);
    } else if (c->cobs_left == 0) {
      /* b is a COBS code byte; a block shorter than 254 stood for a zero */
      if (c->cobs_code != 0 && c->cobs_code != 0xFFu) rx_append(c, 0);
      c->cobs_code = b;
      c->cobs_left = (uint8_t)(b - 1u);
    } else {
      rx_append(c, b);
      c->cobs_left--;
    }
  }
}

void hil_core_note_overflow(hil_core_t *c, uint32_t bytes_lost) {
  c->stats.overflows++;
  c->stats.bytes_dropped += bytes_lost;
}

void hil_core_announce(hil_core_t *c) {
  tx_begin(c, HIL_MSG_BOOT, 0, 6);
  tx_u32(c, c->info.boot_id);
  tx_u16(c, HIL_PROTO_VERSION);
  tx_end(c);
}

void hil_core_init(hil_core_t *c, const hil_info_t *info, const hil_platform_t *plat,
                   const hil_backend_t *be) {
  memset(c, 0, sizeof *c);
  c->info = *info;
  c->plat = *plat;
  c->be = *be;
  c->in_block = HIL_MIN_BLOCK;
  if (model_ready(c)) {
    c->in_total = space_total(c, 0);
    c->out_total = space_total(c, 1);
  }
  /* the smallest power-of-two multiple of HIL_MIN_BLOCK whose blocks cover the input: at most
   * 32 doublings, since in_total < 2^32 */
  while (c->in_block < 0x80000000u && c->in_total > c->in_block * HIL_MAX_BLOCKS) c->in_block <<= 1;
  c->in_blocks = (c->in_total + c->in_block - 1u) / c->in_block;
}

uint32_t hil_sizeof_core(void) { return (uint32_t)sizeof(hil_core_t); }
uint32_t hil_sizeof_info(void) { return (uint32_t)sizeof(hil_info_t); }
uint32_t hil_sizeof_platform(void) { return (uint32_t)sizeof(hil_platform_t); }
uint32_t hil_sizeof_backend(void) { return (uint32_t)sizeof(hil_backend_t); }
uint32_t hil_sizeof_tensor(void) { return (uint32_t)sizeof(hil_tensor_t); }
uint32_t hil_max_frame(void) { return HIL_MAX_FRAME; }

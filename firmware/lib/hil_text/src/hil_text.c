#include "hil_text.h"

uint32_t hil_text_u64(char *out, uint64_t v) {
  char rev[20];
  uint32_t n = 0;
  do {
    rev[n++] = (char)('0' + (int)(v % 10u));
    v /= 10u;
  } while (v);
  for (uint32_t i = 0; i < n; i++) out[i] = rev[n - 1u - i];
  return n;
}

uint32_t hil_text_fixed(char *out, uint64_t scaled, int negative, uint32_t decimals) {
  uint64_t scale = 1;
  for (uint32_t i = 0; i < decimals; i++) scale *= 10u;
  uint32_t len = 0;
  if (negative && scaled) out[len++] = '-';
  len += hil_text_u64(out + len, scaled / scale);
  if (!decimals) return len;
  out[len++] = '.';
  uint64_t frac = scaled % scale;
  for (uint64_t div = scale / 10u; div; div /= 10u) {
    out[len++] = (char)('0' + (int)(frac / div));
    frac %= div;
  }
  return len;
}

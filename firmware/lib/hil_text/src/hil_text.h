/* Number formatting for the text-speaking modules (the MLPerf peer, the data forwarder).
 * Written here because printf's %f and %llu are often missing from embedded libcs. */
#ifndef HIL_TEXT_H
#define HIL_TEXT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest output of hil_text_fixed: sign, 20 digits, point, 20 digits. */
#define HIL_TEXT_FIXED_MAX 42u

/* Decimal digits of v into out (at most 20, no terminator); returns how many. */
uint32_t hil_text_u64(char *out, uint64_t v);

/* "[-]int.frac" of a magnitude already scaled by 10^decimals (decimals <= 19) into out (at
 * most HIL_TEXT_FIXED_MAX, no terminator); no sign for a zero. Returns the length. */
uint32_t hil_text_fixed(char *out, uint64_t scaled, int negative, uint32_t decimals);

#ifdef __cplusplus
}
#endif

#endif /* HIL_TEXT_H */

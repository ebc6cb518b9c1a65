// What the device core needs from the board besides bytes: a cycle counter, a boot id, the
// stack high-water mark and a reset. Everything chip-specific of the firmware is in here.
#ifndef HIL_BOARD_SUPPORT_H
#define HIL_BOARD_SUPPORT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Call first in setup(): enables the counter, counts the boot, paints the free stack.
void hil_board_begin(void);

// Free-running counter (wraps at 2^32) and its rate: the CPU clock where the core has a
// DWT cycle counter, else a 1 MHz microsecond counter.
uint32_t hil_board_cycles(void);
uint32_t hil_board_counter_hz(void);

// HIL_FLAG_* bits the board's figures carry in the handshake: 0 on a board (its counter is
// measured); HIL_FLAG_EMULATED on QEMU, whose counter counts emulated instructions.
uint32_t hil_board_flags(void);

// Differs at every boot (hil_boot.h): a boot record in RAM, a hardware random word and a
// retained boot counter, mixed with the chip's unique id. Never 0.
uint32_t hil_board_boot_id(void);

// Deepest stack use since boot in bytes (0 when the stack bounds are unknown).
uint32_t hil_board_stack_used(void);

void hil_board_reset(void);

#ifdef __cplusplus
}
#endif

#endif  // HIL_BOARD_SUPPORT_H

/* The emulated board's machine: QEMU's MPS2 FPGA images (AN385/AN386/AN500) share these
 * peripherals (QEMU hw/arm/mps2.c; ARM's Cortex-M System Design Kit, CMSDK). */
#ifndef HIL_EMU_H
#define HIL_EMU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CMSDK APB UART0: the link to the host (QEMU's -serial). */
#define HIL_EMU_UART0 0x40004000u
/* CMSDK APB timer 0: a 32-bit down-counter at the peripheral clock. */
#define HIL_EMU_TIMER0 0x40000000u
/* The MPS2 images' peripheral clock (QEMU hw/arm/mps2.c: SYSCLK_FRQ, 25 MHz). */
#ifndef HIL_EMU_TIMER_HZ
#define HIL_EMU_TIMER_HZ 25000000u
#endif
/* QEMU runs with -icount shift=N: every instruction advances virtual time by 2^N ns. The
 * driver passes the N it starts QEMU with, so the two cannot drift apart. */
#ifndef HIL_EMU_ICOUNT_SHIFT
#error "HIL_EMU_ICOUNT_SHIFT must be the -icount shift QEMU runs with (the driver sets both)"
#endif

/* Exit status of QEMU when the firmware hits a CPU fault: this plus the exception number. */
#define HIL_EMU_FAULT_EXIT 0x80u

/* Timer ticks since boot (HIL_EMU_TIMER_HZ), extended to 64 bits; call at least once per
 * 2^32 ticks (171 s of emulated time) or a wrap goes unseen. */
uint64_t hil_emu_ticks(void);

/* Ends QEMU with this exit status (semihosting). */
void hil_emu_exit(uint32_t code) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif

#endif /* HIL_EMU_H */

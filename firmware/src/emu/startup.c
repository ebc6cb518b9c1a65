/* Start-up of the emulated board: QEMU's MPS2 machines (mps2-an386 is a Cortex-M4 with FPU).
 *
 * The vector table, the reset handler (FPU on, .data copied, .bss zeroed, constructors, main)
 * and the way out: exit() and every CPU fault end QEMU through semihosting with a status the
 * driver reports (faults: 0x80 + the exception number, so 0x83 is a HardFault). On a board the
 * Arduino core's start-up does this part.
 */
#include <stdint.h>

#include "hil_emu.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern void __libc_init_array(void);
extern int main(void);

/* Semihosting SYS_EXIT_EXTENDED (0x20): QEMU exits with `code` as its status. */
void hil_emu_exit(uint32_t code) {
  uint32_t block[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, code};
  register uint32_t r0 __asm__("r0") = 0x20u;
  register uint32_t *r1 __asm__("r1") = block;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  for (;;) {
  }
}

/* newlib's exit() and abort() end here. */
void _exit(int status) { hil_emu_exit((uint32_t)status); }

static void fault(void) {
  uint32_t ipsr;
  __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
  hil_emu_exit(HIL_EMU_FAULT_EXIT + (ipsr & 0x1FFu));
}

void Reset_Handler(void) {
  *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20; /* CPACR: CP10/CP11 (the FPU) on */
  __asm__ volatile("dsb\n isb");
  uint32_t *src = &_sidata, *dst = &_sdata;
  while (dst < &_edata) *dst++ = *src++;
  for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
  __libc_init_array();
  _exit(main());
}

__attribute__((section(".isr_vector"), used)) void *const hil_emu_vectors[16] = {
    &_estack, (void *)Reset_Handler, (void *)fault, (void *)fault, (void *)fault,
    (void *)fault, (void *)fault, 0, 0, 0, 0, (void *)fault, (void *)fault, 0,
    (void *)fault, (void *)fault};

/* What crt0 and crti provide on a hosted build; -nostartfiles leaves them out. */
void *__dso_handle = 0;
void _init(void) {}
void _fini(void) {}

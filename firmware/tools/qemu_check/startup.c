/* Bare-metal start for QEMU mps2-an386 (Cortex-M4F): data/bss, FPU, C++ constructors, main,
 * then exit through semihosting so that QEMU ends with main's status. A fault exits with 99. */
#include <stdint.h>
#include <stdlib.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern int main(void);
extern void __libc_init_array(void);
extern void initialise_monitor_handles(void);

void Reset_Handler(void) {
  *(volatile uint32_t *)0xE000ED88 |= (0xFu << 20); /* CPACR: full access to CP10/CP11 */
  __asm volatile("dsb\n isb");
  uint32_t *src = &_sidata, *dst = &_sdata;
  while (dst < &_edata) *dst++ = *src++;
  for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
  initialise_monitor_handles();
  __libc_init_array();
  exit(main());
}

void Fault_Handler(void) { exit(99); }

__attribute__((section(".isr_vector"), used)) void *const vectors[16] = {
    &_estack,      Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, 0,             0,             0,             0,             Fault_Handler,
    Fault_Handler, 0,             Fault_Handler, Fault_Handler};

/* What crt0/crti would provide; -nostartfiles leaves them out. */
void *__dso_handle = 0;
void _init(void) {}
void _fini(void) {}

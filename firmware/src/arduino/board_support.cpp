// Board support for the Arduino mbed cores (Nano 33 BLE, Nano RP2040 Connect, Portenta H7,
// Nicla Vision): cycle counter, boot id, stack high-water mark, reset.
#include "board_support.h"

#include <Arduino.h>

#include "cmsis.h"
#include "hil_boot.h"
#include "hil_mix.h"

#if defined(__has_include)
#if __has_include("cmsis_os2.h") && __has_include("rtx_os.h")
#include "cmsis_os2.h"
#include "rtx_os.h"
#define HIL_HAVE_RTX 1
#endif
#endif

// Cortex-M3/M4/M7 have the DWT cycle counter; the M0+ of the RP2040 has none.
#if defined(DWT_CTRL_CYCCNTENA_Msk)
#define HIL_HAVE_DWT 1
#endif

#ifndef HIL_NOINIT_SECTION
#error "HIL_NOINIT_SECTION must name the linker script's no-init RAM section (platformio.ini)"
#endif

namespace {

// ---- Boot id (hil_boot.h): a record in RAM the startup code does not clear, plus what survives
// where a bootloader zeroes that RAM (the Nano 33 BLE's does): a hardware random word and a
// retained register counting boots. Register addresses and fields: nRF52840 Product
// Specification v1.7 (RNG 6.22: TASKS_START, EVENTS_VALRDY, VALUE; POWER 6.21: GPREGRET2, 8
// bits, kept over a reset but not a power-off); RP2040 datasheet (ROSC 2.17.8: RANDOMBIT at
// 0x4006001c; watchdog 4.7.6: SCRATCH0 at 0x4005800c, which the boot ROM leaves alone, it uses
// SCRATCH4-7); STM32H747 RM0399 (RNG 34: CR.RNGEN, SR.DRDY, DR).
hil_boot_record_t g_boot __attribute__((section(HIL_NOINIT_SECTION)));
uint32_t g_boot_id = 1;
constexpr uint32_t kRngPolls = 100000;  // a random word takes microseconds: never hang on one

uint32_t chip_uid_hash() {
#if defined(NRF52840_XXAA)
  return hil_mix(NRF_FICR->DEVICEID[0] ^ hil_mix(NRF_FICR->DEVICEID[1]));
#elif defined(UID_BASE)  // STM32: 96-bit unique device id
  const volatile uint32_t *uid = reinterpret_cast<const volatile uint32_t *>(UID_BASE);
  return hil_mix(uid[0] ^ hil_mix(uid[1] ^ hil_mix(uid[2])));
#else
  return 0;  // the counter and the power-on seed still change the id at every boot
#endif
}

uint32_t hardware_entropy() {
  uint32_t word = 0;
#if defined(NRF52840_XXAA)
  NRF_RNG->CONFIG = RNG_CONFIG_DERCEN_Msk;  // bias correction: uniform bytes
  for (int byte = 0; byte < 4; ++byte) {
    NRF_RNG->EVENTS_VALRDY = 0;
    NRF_RNG->TASKS_START = 1;
    for (uint32_t n = 0; n < kRngPolls && NRF_RNG->EVENTS_VALRDY == 0; ++n) {
    }
    word = (word << 8) | (NRF_RNG->VALUE & 0xFFu);
  }
  NRF_RNG->TASKS_STOP = 1;
#elif defined(TARGET_RP2040)
  const volatile uint32_t *randombit = reinterpret_cast<const volatile uint32_t *>(0x4006001Cu);
  for (int bit = 0; bit < 32; ++bit) word = (word << 1) | (*randombit & 1u);
#elif defined(RNG) && defined(RCC_AHB2ENR_RNGEN)
  RCC->AHB2ENR |= RCC_AHB2ENR_RNGEN;
  RNG->CR |= RNG_CR_RNGEN;
  for (uint32_t n = 0; n < kRngPolls && (RNG->SR & RNG_SR_DRDY) == 0; ++n) {
  }
  if (RNG->SR & RNG_SR_DRDY) word = RNG->DR;
#endif
  return word;
}

// The retained boot counter, incremented here; its value after the increment (0: none).
uint32_t count_retained() {
#if defined(NRF52840_XXAA)
  uint32_t next = (NRF_POWER->GPREGRET2 + 1u) & 0xFFu;  // 8 retained bits
  NRF_POWER->GPREGRET2 = next;
  return next;
#elif defined(TARGET_RP2040)
  volatile uint32_t *scratch0 = reinterpret_cast<volatile uint32_t *>(0x4005800Cu);
  *scratch0 = *scratch0 + 1u;
  return *scratch0;
#else
  return 0;  // STM32H7: the RNG alone (its RTC backup registers belong to the bootloader)
#endif
}

void count_boot() {
  const hil_boot_inputs_t inputs = {hardware_entropy(), count_retained(), chip_uid_hash()};
  g_boot_id = hil_boot_next(&g_boot, &inputs);
}

// ---- Stack high-water mark: paint the free part of this thread's stack at boot, later find
// the deepest word that no longer holds the paint.
constexpr uint32_t kPaint = 0xC5C5C5C5u;
constexpr uint32_t kLiveMarginWords = 64;  // left unpainted below the painter's own frame
uint32_t *g_stack_lo = nullptr;
uint32_t *g_stack_hi = nullptr;

__attribute__((noinline)) void paint_stack() {
#if defined(HIL_HAVE_RTX)
  // setup() runs in mbed's main thread; RTX knows its stack bounds.
  const osRtxThread_t *thread = reinterpret_cast<const osRtxThread_t *>(osThreadGetId());
  if (thread == nullptr || thread->stack_mem == nullptr) return;
  uint32_t *lo = static_cast<uint32_t *>(thread->stack_mem) + 1;  // word 0: RTX's magic
  uint32_t *hi = reinterpret_cast<uint32_t *>(static_cast<uint8_t *>(thread->stack_mem) +
                                              thread->stack_size);
  uint32_t sp_value;
  __asm volatile("mov %0, sp" : "=r"(sp_value));
  uint32_t *sp = reinterpret_cast<uint32_t *>(sp_value);
  if (sp <= lo + kLiveMarginWords || sp > hi) return;  // not this thread's stack: hands off
  for (uint32_t *p = lo; p < sp - kLiveMarginWords; ++p) *p = kPaint;
  g_stack_lo = lo;
  g_stack_hi = hi;
#endif
}

void enable_cycle_counter() {
#if defined(HIL_HAVE_DWT)
  CoreDebug->DEMCR |= CoreDebug_DEMCR_TRCENA_Msk;
#if defined(__CORTEX_M) && (__CORTEX_M == 7U)
  DWT->LAR = 0xC5ACCE55u;  // the M7's DWT ignores writes until this key unlocks it
#endif
  DWT->CYCCNT = 0;
  DWT->CTRL |= DWT_CTRL_CYCCNTENA_Msk;
#endif
}

}  // namespace

void hil_board_begin(void) {
  count_boot();
  enable_cycle_counter();
  paint_stack();
}

uint32_t hil_board_cycles(void) {
#if defined(HIL_HAVE_DWT)
  return DWT->CYCCNT;
#else
  return micros();
#endif
}

uint32_t hil_board_counter_hz(void) {
#if defined(HIL_HAVE_DWT)
  return SystemCoreClock;
#else
  return 1000000u;
#endif
}

uint32_t hil_board_flags(void) { return 0; }

uint32_t hil_board_boot_id(void) { return g_boot_id; }

uint32_t hil_board_stack_used(void) {
  if (g_stack_lo == nullptr) return 0;
  const uint32_t *p = g_stack_lo;
  while (p < g_stack_hi && *p == kPaint) ++p;
  return static_cast<uint32_t>(g_stack_hi - p) * 4u;
}

void hil_board_reset(void) {
  delay(20);  // lets the USB stack send the RESET reply before the link drops
  NVIC_SystemReset();
}

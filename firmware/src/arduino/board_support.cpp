// Board support for the Arduino mbed cores (Nano 33 BLE, Nano RP2040 Connect, Portenta H7,
// Nicla Vision): cycle counter, boot id, stack high-water mark, reset.
#include "board_support.h"

#include <Arduino.h>

#include "cmsis.h"
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

// ---- Boot id: a counter in RAM that the startup code does not clear, so it survives a reset.
// At power-on the record holds SRAM noise: it fails its check, and that noise becomes the seed,
// so two power-ons do not repeat the same ids either.
constexpr uint32_t kBootMagic = 0x48494C42u;  // "HILB"

struct BootRecord {
  uint32_t magic;
  uint32_t seed;
  uint32_t count;
  uint32_t check;
};

BootRecord g_boot __attribute__((section(HIL_NOINIT_SECTION)));
uint32_t g_boot_id = 1;

uint32_t boot_check(const BootRecord &r) {
  return ~(r.magic ^ hil_mix(r.seed) ^ hil_mix(r.count));
}

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

void count_boot() {
  if (g_boot.magic != kBootMagic || g_boot.check != boot_check(g_boot)) {
    uint32_t noise = hil_mix(g_boot.seed ^ hil_mix(g_boot.count ^ g_boot.check));
    g_boot.seed = hil_mix(g_boot.magic ^ noise);
    g_boot.magic = kBootMagic;
    g_boot.count = 0;
  }
  g_boot.count++;
  g_boot.check = boot_check(g_boot);
  g_boot_id = hil_mix(g_boot.seed ^ hil_mix(g_boot.count ^ chip_uid_hash()));
  if (g_boot_id == 0) g_boot_id = 1;  // 0 means "unknown" to the host
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

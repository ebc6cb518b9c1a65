// board_support.h for the emulated board (QEMU MPS2): what src/arduino/board_support.cpp does on a
// board, with the machine's peripherals.
//
// - Counter: instructions, not cycles. QEMU runs with -icount shift=N, so each instruction
//   advances emulated time by exactly 2^N ns; the CMSDK timer counts that time at 25 MHz, and
//   ticks * (1e9 / 25 MHz) / 2^N is the number of instructions executed. The counter is
//   reported at the board's nominal clock, one instruction taken for one cycle, and the
//   handshake flags it as emulated.
// - Boot id: a boot record in 64 bytes at the top of RAM that belong to no ELF section, so
//   QEMU's reset neither reloads nor clears them (the board's .noinit); the driver writes a
//   random seed into the first word at each start, so two QEMU runs give different ids.
// - Stack: the 64 KiB below the boot record is the stack; painted at boot, scanned on demand.
// - Reset: SYSRESETREQ, which QEMU turns into a machine reset.
#include "board_support.h"

#include "generated/hil_image.h"
#include "hil_boot.h"
#include "hil_core.h"
#include "hil_emu.h"

extern "C" {
extern uint32_t hil_noinit[];  // linker script: seed word, then the boot record
extern uint32_t _sstack[], _estack[];
}

namespace {

struct Timer {
  volatile uint32_t ctrl;  // bit 0: enable
  volatile uint32_t value;
  volatile uint32_t reload;
  volatile uint32_t intstatus;
};

Timer &timer() { return *reinterpret_cast<Timer *>(HIL_EMU_TIMER0); }

uint64_t g_ticks = 0;
uint32_t g_last = 0;

constexpr uint32_t kNsPerTick = 1000000000u / HIL_EMU_TIMER_HZ;
static_assert(1000000000u % HIL_EMU_TIMER_HZ == 0, "the timer period must be whole ns");

uint32_t g_boot_id = 1;

// The board's boot id (hil_boot.h), the driver's seed word standing for the hardware random
// word; the record after it survives QEMU's reset as .noinit survives the board's.
void count_boot() {
  static_assert(sizeof(hil_boot_record_t) <= 60, "the boot record must fit the 64 bytes");
  const hil_boot_inputs_t inputs = {hil_noinit[0], 0, 0};
  g_boot_id = hil_boot_next(reinterpret_cast<hil_boot_record_t *>(&hil_noinit[1]), &inputs);
}

constexpr uint32_t kPaint = 0xC5C5C5C5u;
constexpr uint32_t kLiveMarginWords = 64;

__attribute__((noinline)) void paint_stack() {
  uint32_t sp_value;
  __asm__ volatile("mov %0, sp" : "=r"(sp_value));
  uint32_t *sp = reinterpret_cast<uint32_t *>(sp_value);
  for (uint32_t *p = _sstack; p < sp - kLiveMarginWords; ++p) *p = kPaint;
}

}  // namespace

uint64_t hil_emu_ticks(void) {
  uint32_t now = timer().value;
  g_ticks += g_last - now;  // a down-counter: elapsed ticks, modulo 2^32
  g_last = now;
  return g_ticks;
}

void hil_board_begin(void) {
  count_boot();
  timer().ctrl = 0;
  timer().reload = 0xFFFFFFFFu;
  timer().value = 0xFFFFFFFFu;
  g_last = 0xFFFFFFFFu;
  g_ticks = 0;
  timer().ctrl = 1u;
  paint_stack();
}

uint32_t hil_board_cycles(void) {
  return static_cast<uint32_t>((hil_emu_ticks() * kNsPerTick) >> HIL_EMU_ICOUNT_SHIFT);
}

uint32_t hil_board_counter_hz(void) { return HIL_BOARD_CLOCK_HZ; }

uint32_t hil_board_flags(void) { return HIL_FLAG_EMULATED; }

uint32_t hil_board_boot_id(void) { return g_boot_id; }

uint32_t hil_board_stack_used(void) {
  const uint32_t *p = _sstack;
  while (p < _estack && *p == kPaint) ++p;
  return static_cast<uint32_t>(_estack - p) * 4u;
}

void hil_board_reset(void) {
  __asm__ volatile("dsb");
  *reinterpret_cast<volatile uint32_t *>(0xE000ED0Cu) = 0x05FA0004u;  // AIRCR: SYSRESETREQ
  for (;;) {
  }
}

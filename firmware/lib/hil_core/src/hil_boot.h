// The boot id: a number that differs at every boot, so the host can tell that a device rebooted.
// Portable: the board's code reads the hardware (board_support.cpp) and passes what it read.
//
// A record in RAM that the startup code does not clear (.noinit) counts boots while RAM
// survives a reset. It does not on every board: the Nano 33 BLE's bootloader zeroes RAM
// 0x20000000-0x20006d48 at every reset (docs/firmware.md), where the record lies. So the id
// also mixes in what survives there: a hardware random word read at this boot (nRF52 RNG,
// RP2040 ROSC, STM32 RNG) and a retained register the board increments at every boot
// (nRF52 POWER->GPREGRET2, RP2040 watchdog SCRATCH0), neither of which a bootloader touches.
#ifndef HIL_BOOT_H
#define HIL_BOOT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  uint32_t magic;
  uint32_t seed;
  uint32_t count;
  uint32_t check;
} hil_boot_record_t;

typedef struct {
  uint32_t entropy;   // a hardware random word read at this boot; 0 where the board has none
  uint32_t retained;  // the retained boot counter after this boot's increment; 0 where none
  uint32_t chip_uid;  // a hash of the chip's unique id; 0 where none
} hil_boot_inputs_t;

// Counts this boot in ``record`` (re-seeding it when it does not hold a valid record: power-on
// noise, or RAM zeroed by a bootloader) and returns this boot's id, never 0.
uint32_t hil_boot_next(hil_boot_record_t *record, const hil_boot_inputs_t *inputs);

#ifdef __cplusplus
}
#endif

#endif  // HIL_BOOT_H

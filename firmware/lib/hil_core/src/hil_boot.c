// The boot id (hil_boot.h). Compiled for the boards and for the host, where the unit tests
// call it through the simulated twin's core library.
#include "hil_boot.h"

#include "hil_mix.h"

#define HIL_BOOT_MAGIC 0x48494C42u  // "HILB"

static uint32_t boot_check(const hil_boot_record_t *r) {
  return ~(r->magic ^ hil_mix(r->seed) ^ hil_mix(r->count));
}

uint32_t hil_boot_next(hil_boot_record_t *record, const hil_boot_inputs_t *in) {
  uint32_t fresh = hil_mix(in->entropy ^ hil_mix(in->retained));
  if (record->magic != HIL_BOOT_MAGIC || record->check != boot_check(record)) {
    // No valid record: whatever RAM held (power-on noise; zeros after a bootloader) and
    // this boot's hardware sources become the seed.
    uint32_t noise = hil_mix(record->seed ^ hil_mix(record->count ^ record->check));
    record->seed = hil_mix(record->magic ^ noise ^ fresh);
    record->magic = HIL_BOOT_MAGIC;
    record->count = 0;
  }
  record->count++;
  record->check = boot_check(record);
  uint32_t id = hil_mix(record->seed ^ hil_mix(record->count ^ hil_mix(in->chip_uid ^ fresh)));
  return id != 0 ? id : 1u;  // 0 means "unknown" to the host
}

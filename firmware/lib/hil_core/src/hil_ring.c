/* The receive ring (hil_ring.h). Indices count bytes and wrap at 2^32; head - tail is the
 * fill level whatever the wrap. Each side publishes its index after touching the bytes. */
#include "hil_ring.h"

#if defined(__GNUC__) || defined(__clang__)
#define HIL_BARRIER() __sync_synchronize()
#else
#define HIL_BARRIER()
#endif

void hil_ring_init(hil_ring_t *r, uint8_t *mem, uint32_t size) {
  r->mem = mem;
  r->size = size;
  r->head = 0;
  r->tail = 0;
}

uint32_t hil_ring_count(const hil_ring_t *r) { return r->head - r->tail; }

uint32_t hil_ring_room(const hil_ring_t *r) { return r->size - hil_ring_count(r); }

uint32_t hil_ring_push(hil_ring_t *r, const uint8_t *data, uint32_t len) {
  uint32_t room = hil_ring_room(r), head = r->head;
  if (len > room) len = room;
  for (uint32_t i = 0; i < len; i++) r->mem[(head + i) % r->size] = data[i];
  HIL_BARRIER();
  r->head = head + len;
  return len;
}

uint32_t hil_ring_pop(hil_ring_t *r, uint8_t *out, uint32_t len) {
  uint32_t count = hil_ring_count(r), tail = r->tail;
  if (len > count) len = count;
  HIL_BARRIER();
  for (uint32_t i = 0; i < len; i++) out[i] = r->mem[(tail + i) % r->size];
  HIL_BARRIER();
  r->tail = tail + len;
  return len;
}

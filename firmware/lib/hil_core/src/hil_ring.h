/*
 * The device's receive buffer: a single-producer, single-consumer byte ring, no heap.
 *
 * The glue's producer moves bytes from the link's driver into the ring; on the mbed cores it
 * is a thread, which goes on while the model runs, so that the next vector's chunks keep
 * arriving during an invoke (elsewhere loop() fills it between requests). The consumer
 * (loop()) feeds them to hil_core_feed(). Its size is the receive window the handshake
 * reports: the host never has more bytes unanswered, so a ring of that size never overflows.
 */
#ifndef HIL_RING_H
#define HIL_RING_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  uint8_t *mem;
  uint32_t size;
  volatile uint32_t head; /* written by the producer only: bytes pushed, wrapping */
  volatile uint32_t tail; /* written by the consumer only: bytes popped, wrapping */
} hil_ring_t;

void hil_ring_init(hil_ring_t *r, uint8_t *mem, uint32_t size);
uint32_t hil_ring_room(const hil_ring_t *r);
uint32_t hil_ring_count(const hil_ring_t *r);
/* Copies at most len bytes in; returns how many fit. */
uint32_t hil_ring_push(hil_ring_t *r, const uint8_t *data, uint32_t len);
/* Copies at most len bytes out; returns how many there were. */
uint32_t hil_ring_pop(hil_ring_t *r, uint8_t *out, uint32_t len);

#ifdef __cplusplus
}
#endif

#endif /* HIL_RING_H */

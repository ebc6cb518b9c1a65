// The device core's backend in an image: TFLM (tflm_backend.cpp) on every board and in the
// emulated board's image; the protocol-only image for QEMU links a built-in test backend
// (src/test_backend/test_backend.c) in its place.
#ifndef HIL_BACKEND_H
#define HIL_BACKEND_H

#include "hil_core.h"

#ifdef __cplusplus
extern "C" {
#endif

// Fills *be. A model that cannot run (an operator missing, the arena too small) still yields
// a backend: its init_error() says why, and the device reports that in its handshake.
void hil_backend_init(hil_backend_t *be);

#ifdef __cplusplus
}
#endif

#endif  // HIL_BACKEND_H

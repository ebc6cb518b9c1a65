// The device core's backend on a board: TFLM's MicroInterpreter over the generated model,
// op resolver and a static tensor arena.
#ifndef HIL_TFLM_BACKEND_H
#define HIL_TFLM_BACKEND_H

#include <stdint.h>

#include "hil_core.h"

// Builds the interpreter and allocates the tensors, then fills *be. A model that cannot run
// (an operator missing, the arena too small) still yields a backend: its init_error() says
// why, and the device reports that in its handshake instead of going silent.
void tflm_backend_init(hil_backend_t *be);

// Arena bytes TFLM used (0 unless the tensors were allocated).
uint32_t arena_used_bytes(void);

#endif  // HIL_TFLM_BACKEND_H

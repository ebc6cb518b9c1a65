// The device core's backend on a board: TFLM's MicroInterpreter over the generated model,
// op resolver and a static tensor arena.
#ifndef HIL_TFLM_BACKEND_H
#define HIL_TFLM_BACKEND_H

#include <stdint.h>

#include "backend.h"

// hil_backend_init() (backend.h) builds the interpreter over the generated model and op
// resolver and allocates the tensors.

// Arena bytes TFLM used (0 unless the tensors were allocated).
uint32_t arena_used_bytes(void);

#endif  // HIL_TFLM_BACKEND_H

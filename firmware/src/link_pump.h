// The receive side of the glue (main.cpp): moves what the link's driver holds into the
// device's receive ring (lib/hil_core/src/hil_ring.h). loop() calls it, and so does the TFLM
// backend between two operators, so that the next vector keeps arriving while the model runs
// (docs/protocol.md, "Overlap"). Safe to call from anywhere in the main thread.
#ifndef HIL_LINK_PUMP_H
#define HIL_LINK_PUMP_H

#ifdef __cplusplus
extern "C" {
#endif

void hil_link_pump(void);

#ifdef __cplusplus
}
#endif

#endif  // HIL_LINK_PUMP_H

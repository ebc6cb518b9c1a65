// TFLM's messages, kept in RAM: TFLM reports through DebugLog(), and on this firmware Serial
// carries only the binary protocol, so the text becomes the model error of the handshake.
#ifndef HIL_LOG_H
#define HIL_LOG_H

// Forgets what was logged so far.
void hil_log_clear(void);

// The messages since the last clear, lines joined by "; ", cut at HIL_LOG_CAPACITY - 1
// characters (the first message is usually the one that names the problem).
const char *hil_log_text(void);

#ifndef HIL_LOG_CAPACITY
#define HIL_LOG_CAPACITY 200u
#endif

#endif  // HIL_LOG_H

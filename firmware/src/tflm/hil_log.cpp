// DebugLog() for the TFLM library: platformio.ini builds the library with ARDUINO_EXCLUDE_CODE,
// which drops its own DebugLog (a print to Serial), so this one is the only definition.
#include "hil_log.h"

#include "tensorflow/lite/micro/debug_log.h"

namespace {
char g_text[HIL_LOG_CAPACITY];
unsigned g_len = 0;
bool g_new_line = false;

void put(char c) {
  if (g_len + 1u < HIL_LOG_CAPACITY) {
    g_text[g_len++] = c;
    g_text[g_len] = '\0';
  }
}
}  // namespace

void hil_log_clear(void) {
  g_len = 0;
  g_text[0] = '\0';
  g_new_line = false;
}

const char *hil_log_text(void) { return g_text; }

// TFLM's MicroPrintf formats a line and passes it here, then passes "\r\n".
extern "C" void DebugLog(const char *s) {
  for (; *s != '\0'; ++s) {
    if (*s == '\r' || *s == '\n') {
      g_new_line = g_len > 0;
      continue;
    }
    if (g_new_line) {
      put(';');
      put(' ');
      g_new_line = false;
    }
    put(*s);
  }
}

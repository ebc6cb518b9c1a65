// Data-forwarder firmware (env nano33ble_forwarder): streams labelled windows of the IMU's
// accelerometer through the portable forwarder module (lib/hil_forwarder) for
// `tflm-hil model collect --source serial:PORT`. Its env builds this folder alone.
#include <Arduino.h>
#include <Arduino_LSM9DS1.h>
#include <string.h>

#include "hil_forwarder.h"

#ifndef HIL_FWD_RATE_HZ
#define HIL_FWD_RATE_HZ 100u  // the LSM9DS1 accelerometer's output data rate is 104 Hz
#endif
#ifndef HIL_FWD_WINDOW
#define HIL_FWD_WINDOW 128u  // samples per window: 1.28 s at 100 Hz
#endif

namespace {

hil_forwarder_t g_fwd;
char g_label[HIL_FWD_LABEL_MAX + 1] = "unlabelled";
char g_cmd[48];
size_t g_cmd_len = 0;
bool g_streaming = false;
uint32_t g_next_us = 0;

void link_write(void *, const uint8_t *data, uint32_t len) { Serial.write(data, len); }

// The host speaks in lines: an empty line starts the stream (and repeats the header, for a
// host that connected late), "label NAME" labels the windows that follow, "stop" ends it.
void on_line(const char *line) {
  if (strncmp(line, "label ", 6) == 0 && strlen(line + 6) <= HIL_FWD_LABEL_MAX) {
    strcpy(g_label, line + 6);
  } else if (strcmp(line, "stop") == 0) {
    if (g_fwd.open) hil_fwd_abort(&g_fwd);
    hil_fwd_done(&g_fwd);
    g_streaming = false;
  } else if (line[0] == '\0') {
    hil_fwd_announce(&g_fwd);
    g_streaming = true;
  }
}

void read_commands() {
  while (Serial.available() > 0) {
    char c = static_cast<char>(Serial.read());
    if (c == '\r') continue;
    if (c == '\n') {
      g_cmd[g_cmd_len] = '\0';
      on_line(g_cmd);
      g_cmd_len = 0;
    } else if (g_cmd_len + 1 < sizeof g_cmd) {
      g_cmd[g_cmd_len++] = c;
    }
  }
}

}  // namespace

void setup() {
  Serial.begin(115200);
  hil_fwd_config_t cfg = {3u, HIL_FWD_WINDOW, HIL_FWD_RATE_HZ, 3u, "ax,ay,az"};
  hil_fwd_link_t link = {nullptr, link_write};
  hil_fwd_init(&g_fwd, &cfg, &link);
  if (!IMU.begin()) {
    // No sensor: say so in the stream's own terms; the host drops aborted windows.
    for (;;) {
      read_commands();
      if (g_streaming && hil_fwd_begin(&g_fwd, g_label) == HIL_FWD_OK) hil_fwd_abort(&g_fwd);
      delay(1000);
    }
  }
  g_next_us = micros();
}

void loop() {
  read_commands();
  if (!g_streaming) return;
  // Fixed-rate sampling against the microsecond clock: a late sample does not shift the rest.
  if (static_cast<int32_t>(micros() - g_next_us) < 0) return;
  g_next_us += 1000000u / HIL_FWD_RATE_HZ;
  float g[3];
  if (!IMU.accelerationAvailable() || !IMU.readAcceleration(g[0], g[1], g[2])) return;
  if (!g_fwd.open && hil_fwd_begin(&g_fwd, g_label) != HIL_FWD_OK) return;
  if (hil_fwd_sample(&g_fwd, g, 3u) != HIL_FWD_OK) {
    hil_fwd_abort(&g_fwd);  // the sensor gave NaN or out-of-range values
    return;
  }
  if (g_fwd.in_window == HIL_FWD_WINDOW) hil_fwd_end(&g_fwd);
}

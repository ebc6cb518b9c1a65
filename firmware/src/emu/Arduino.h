// The little of the Arduino API that src/app/main.cpp uses, for the emulated board: Serial over
// the machine's CMSDK UART (polled), and main() calling setup() once and loop() forever.
// With it main.cpp, the board's own glue, builds unchanged for QEMU.
#ifndef HIL_EMU_ARDUINO_H
#define HIL_EMU_ARDUINO_H

#include <stddef.h>
#include <stdint.h>

class HilEmuSerial {
 public:
  void begin(unsigned long baud);  // the rate means nothing on an emulated UART
  int available();                 // 1 when the UART holds a received byte (no FIFO)
  size_t readBytes(uint8_t *buffer, size_t length);
  size_t write(const uint8_t *buffer, size_t size);
  void flush();
};

extern HilEmuSerial Serial;

void setup();
void loop();

#endif  // HIL_EMU_ARDUINO_H

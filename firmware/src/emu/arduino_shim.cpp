// Serial, main() and TFLM's microsecond clock for the emulated board (see Arduino.h).
#include <Arduino.h>

#include "hil_emu.h"

namespace {

// CMSDK APB UART registers.
struct Uart {
  volatile uint32_t data;
  volatile uint32_t state;  // bit 0: TX full, bit 1: RX full
  volatile uint32_t ctrl;   // bit 0: TX enable, bit 1: RX enable
  volatile uint32_t intstatus;
  volatile uint32_t bauddiv;
};
constexpr uint32_t kTxFull = 1u, kRxFull = 2u;

Uart &uart() { return *reinterpret_cast<Uart *>(HIL_EMU_UART0); }

}  // namespace

HilEmuSerial Serial;

void HilEmuSerial::begin(unsigned long) {
  uart().bauddiv = 16;  // the smallest divider the UART accepts; QEMU ignores it otherwise
  uart().ctrl = 3u;
}

int HilEmuSerial::available() { return (uart().state & kRxFull) ? 1 : 0; }

size_t HilEmuSerial::readBytes(uint8_t *buffer, size_t length) {
  size_t n = 0;
  while (n < length && (uart().state & kRxFull)) buffer[n++] = static_cast<uint8_t>(uart().data);
  return n;
}

size_t HilEmuSerial::write(const uint8_t *buffer, size_t size) {
  for (size_t i = 0; i < size; ++i) {
    while (uart().state & kTxFull) {
    }
    uart().data = buffer[i];
  }
  return size;
}

void HilEmuSerial::flush() {
  while (uart().state & kTxFull) {
  }
}

// TFLM's micro_time.cpp reads its clock from the library's Arduino peripherals (micros()),
// which are not built for the emulated board: the same counter, in emulated microseconds.
namespace peripherals {
uint32_t MicrosecondsCounter() {
  return static_cast<uint32_t>(hil_emu_ticks() / (HIL_EMU_TIMER_HZ / 1000000u));
}
}  // namespace peripherals

int main() {
  setup();
  for (;;) loop();
}

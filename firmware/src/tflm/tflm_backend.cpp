// hil_backend_t over tflite::MicroInterpreter (the Arduino TFLM library).
#include "tflm_backend.h"

#include <stddef.h>
#include <string.h>

#include <new>

#include "board_support.h"
#include "generated/hil_image.h"
#include "generated/hil_ops.h"
#include "hil_log.h"
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_profiler_interface.h"
#include "tensorflow/lite/schema/schema_generated.h"

#ifndef HIL_MAX_PROFILED_OPS
#define HIL_MAX_PROFILED_OPS 128u
#endif

namespace {

// Per-operator counts of the last invoke: TFLM's graph calls BeginEvent/EndEvent around each
// operator's kernel (micro_graph.cpp) with the operator's name; the counter is the board's
// (board_support.h), the one the core times Invoke() with. Operators past the capacity are
// not recorded.
class OpProfiler : public tflite::MicroProfilerInterface {
 public:
  void Reset() { count_ = 0; }
  uint32_t BeginEvent(const char *tag) override {
    if (count_ >= HIL_MAX_PROFILED_OPS) return HIL_MAX_PROFILED_OPS;
    tags_[count_] = tag;
    cycles_[count_] = 0;
    start_[count_] = hil_board_cycles();
    return count_++;
  }
  void EndEvent(uint32_t handle) override {
    if (handle < count_) cycles_[handle] = hil_board_cycles() - start_[handle];
  }
  uint32_t count() const { return count_; }
  const char *tag(uint32_t i) const { return tags_[i]; }
  uint32_t cycles(uint32_t i) const { return cycles_[i]; }

 private:
  uint32_t count_ = 0;
  const char *tags_[HIL_MAX_PROFILED_OPS] = {};
  uint32_t start_[HIL_MAX_PROFILED_OPS] = {};
  uint32_t cycles_[HIL_MAX_PROFILED_OPS] = {};
};

OpProfiler g_profiler;

// The tensor arena: static, aligned as TFLM prefers, sized by the generator (the model's
// needs measured on the TFLM host runtime, plus a margin) or by --arena.
alignas(16) uint8_t g_arena[HIL_ARENA_SIZE];

// No heap: the interpreter is constructed in static storage, in setup() rather than before
// main(), so that its messages are captured like any other.
alignas(tflite::MicroInterpreter) uint8_t g_interpreter_mem[sizeof(tflite::MicroInterpreter)];
tflite::MicroInterpreter *g_interpreter = nullptr;

const char *g_init_error = "the TFLM backend was not initialised";
const char *g_last_error = "";
char g_init_text[HIL_LOG_CAPACITY + 48];
char g_invoke_text[HIL_LOG_CAPACITY + 48];

// "what: detail" into buf, cut to fit; detail may be empty.
const char *describe(char *buf, size_t size, const char *what, const char *detail) {
  size_t n = 0;
  for (const char *p = what; *p != '\0' && n + 1 < size; ++p) buf[n++] = *p;
  if (detail != nullptr && *detail != '\0') {
    for (const char *p = ": "; *p != '\0' && n + 1 < size; ++p) buf[n++] = *p;
    for (const char *p = detail; *p != '\0' && n + 1 < size; ++p) buf[n++] = *p;
  }
  buf[n] = '\0';
  return buf;
}

bool ready() { return g_interpreter != nullptr && g_init_error == nullptr; }

const char *init_error(void *) { return g_init_error; }

uint32_t tensor_count(void *, int output) {
  if (!ready()) return 0;
  return static_cast<uint32_t>(output ? g_interpreter->outputs_size()
                                      : g_interpreter->inputs_size());
}

int tensor(void *, int output, uint32_t index, hil_tensor_t *t) {
  if (!ready() || index >= tensor_count(nullptr, output)) return -1;
  TfLiteTensor *src = output ? g_interpreter->output(index) : g_interpreter->input(index);
  if (src == nullptr) return -1;
  int ndims = src->dims != nullptr ? src->dims->size : 0;
  if (ndims > static_cast<int>(HIL_MAX_DIMS)) ndims = static_cast<int>(HIL_MAX_DIMS);
  t->dtype = static_cast<uint8_t>(src->type);
  t->ndims = static_cast<uint8_t>(ndims);
  for (int i = 0; i < ndims; ++i) t->dims[i] = src->dims->data[i];
  t->scale = src->params.scale;
  t->zero_point = src->params.zero_point;
  t->bytes = static_cast<uint32_t>(src->bytes);
  t->data = src->data.uint8;
  return 0;
}

int invoke(void *) {
  hil_log_clear();
  g_profiler.Reset();
  TfLiteStatus status = g_interpreter->Invoke();
  if (status != kTfLiteOk) {
    g_last_error = describe(g_invoke_text, sizeof g_invoke_text, "Invoke failed", hil_log_text());
    return static_cast<int>(status);
  }
  return 0;
}

const char *last_error(void *) { return g_last_error; }

uint32_t arena_used(void *) { return arena_used_bytes(); }

uint32_t op_count(void *) { return g_profiler.count(); }

int op_profile(void *, uint32_t index, const char **name, uint32_t *cycles) {
  if (index >= g_profiler.count()) return -1;
  *name = g_profiler.tag(index);
  *cycles = g_profiler.cycles(index);
  return 0;
}

const char *start_interpreter() {
  const tflite::Model *model = tflite::GetModel(hil_model_data);
  if (model->version() != TFLITE_SCHEMA_VERSION) {
    return "the model's flatbuffer schema version is not the one this TFLM reads";
  }
  const char *failed_op = hil_ops_register();
  if (failed_op != nullptr) {
    return describe(g_init_text, sizeof g_init_text, "cannot register operator", failed_op);
  }
  g_interpreter = new (g_interpreter_mem)
      tflite::MicroInterpreter(model, hil_ops_resolver(), g_arena, sizeof g_arena, nullptr,
                               &g_profiler);
  if (g_interpreter->AllocateTensors() != kTfLiteOk) {
    // TFLM said why (an operator it has no kernel for, the arena short by N bytes...).
    return describe(g_init_text, sizeof g_init_text, "AllocateTensors failed", hil_log_text());
  }
  return nullptr;
}

}  // namespace

uint32_t arena_used_bytes(void) {
  return ready() ? static_cast<uint32_t>(g_interpreter->arena_used_bytes()) : 0u;
}

void hil_backend_init(hil_backend_t *be) {
  hil_log_clear();
  g_init_error = start_interpreter();
  memset(be, 0, sizeof *be);
  be->ctx = nullptr;
  be->init_error = init_error;
  be->tensor_count = tensor_count;
  be->tensor = tensor;
  be->invoke = invoke;
  be->last_error = last_error;
  be->arena_used = arena_used;
  be->op_count = op_count;
  be->op_profile = op_profile;
}

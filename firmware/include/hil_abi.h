// The float ABI this image was compiled with, from the compiler's own predefined macros (ACLE
// 6.5: __ARM_FP set when FPU instructions may be used; __ARM_PCS_VFP when floats are passed in
// FPU registers). The handshake carries it in the core version ("... float-abi=softfp"), so
// that latency figures of two ABIs are never compared (docs/firmware.md).
#ifndef HIL_ABI_H
#define HIL_ABI_H

#if defined(__ARM_PCS_VFP)
#define HIL_FLOAT_ABI "hard"
#elif defined(__ARM_FP)
#define HIL_FLOAT_ABI "softfp"
#elif defined(__arm__) || defined(__thumb__)
#define HIL_FLOAT_ABI "soft"
#else
#define HIL_FLOAT_ABI "host"
#endif

#endif  // HIL_ABI_H

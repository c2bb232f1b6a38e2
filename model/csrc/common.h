// What the C++ decode step (decode_step.cpp) and the sampler (sample.cpp) share: the 8-float vector type,
// its horizontal sum, and the fp32 tensor check. Header-only; both sources are built into one extension.
#pragma once
#include <torch/extension.h>

#include <cstdint>

namespace chatcli_vec {

// Eight floats as one vector (GCC/Clang vector extension: a ymm register under AVX2/AVX-512, two xmm under
// SSE). may_alias and aligned(4): read straight from any float array. A plain float loop over an acc[64]
// array was compiled to scalar FMAs; this form gives one vector FMA per 8 columns.
typedef float v8 __attribute__((vector_size(32), aligned(4), may_alias));
typedef int32_t v8i __attribute__((vector_size(32), aligned(4), may_alias));  // lane masks and exponents
typedef int8_t v8b __attribute__((vector_size(8), aligned(1), may_alias));    // eight int8 weights

inline float hsum(v8 v) {
  float s = 0.f;
  for (int j = 0; j < 8; ++j) s += v[j];
  return s;
}

inline v8 splat(float c) {
  v8 z = {};
  return z + c;
}

inline const float* fp(const torch::Tensor& t) {
  TORCH_CHECK(t.scalar_type() == torch::kFloat32 && t.is_contiguous() && t.device().is_cpu(),
              "decode_step wants contiguous fp32 CPU tensors");
  return t.data_ptr<float>();
}

}  // namespace chatcli_vec

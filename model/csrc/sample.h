// The one-call sampler of sample.cpp, bound into the extension by decode_step.cpp's module.
#pragma once
#include <torch/extension.h>

#include <optional>

namespace chatcli_sample {

// Next token (1,) long from logits (1, V) fp32: model.sampling.sample's distribution (see sample.cpp).
torch::Tensor sample_next(const torch::Tensor& logits, double temperature, int64_t top_k, double top_p,
                          double min_p, double repeat_penalty, const std::optional<torch::Tensor>& recent,
                          std::optional<at::Generator> generator);

}  // namespace chatcli_sample

// The next token from one row of logits in one call: model.sampling.sample's distribution without its
// ten-odd small torch ops per token (the cpp engine's `sample`, model/cpp_ext.py).
//
// Same steps, same order as sample(): the repeat penalty (divide positives, multiply negatives, each recent
// token once), greedy argmax at temperature 0, else logits / temperature; top_k <= 256: its k candidates sorted
// descending, softmax over them, the top-p prefix (exclusive cumulative < top_p) and min-p on them, one
// inverse-CDF draw over the sorted candidates; a larger top_k: a k-th-value threshold (nth_element); then
// softmax, min-p as a mask (p >= min_p * p_max) and top-p by the same rejection as sampling._nucleus: draw x,
// accept it when the tokens strictly more probable than x hold less than top_p, else drop every token no more
// probable than x and draw again (an exact sorted fallback after 64 rounds). Nothing sorts the vocabulary.
// Probabilities stay unnormalized (e = exp(s - max), the mass Z): e >= min_p is p >= min_p * p_max and
// "above < top_p" is "above < top_p * Z".
// The uniforms come from the caller's torch.Generator (the default one when None), drawn as torch.rand draws a
// float (one 32-bit word each), so a seed reproduces a run and interleaves with other users of that generator.
// Passes over V are 8-wide vectors: exp is a range-reduced polynomial (relative error about 1e-7).
#include "sample.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/DistributionsHelper.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

#include "common.h"

namespace chatcli_sample {

using chatcli_vec::splat;
using chatcli_vec::v8;
using chatcli_vec::v8i;

constexpr int64_t TOPK_SMALL = 256;  // = model.sampling.TOPK_SMALL
constexpr int64_t MAX_ROUNDS = 64;   // = model.sampling.MAX_ROUNDS
constexpr int64_t SUM_BLK = 256;     // a draw sums blocks of this many weights, then scans one block

inline v8 load(const float* p) { return *reinterpret_cast<const v8*>(p); }

// exp(x) for x <= 0 on 8 lanes: x = k ln2 + r (|r| <= ln2/2), exp(r) by its degree-6 Taylor polynomial
// (error < 2e-7 relative), 2^k built in the exponent bits; x < -87 (and -inf) gives 0.
inline v8 exp_neg(v8 x) {
  const v8i under = x < splat(-87.f);
  x = under ? splat(-87.f) : x;
  const v8 t = x * 1.44269504f;
  const v8 k = (t + 12582912.f) - 12582912.f;  // round to nearest (1.5 * 2^23 trick; no -ffast-math)
  const v8 r = (x - k * 0.693359375f) + k * 2.12194440e-4f;  // x - k ln2, ln2 in two parts
  const v8 p = 1.f + r * (1.f + r * (0.5f + r * (1.f / 6 + r * (1.f / 24 + r * (1.f / 120 + r * (1.f / 720))))));
  const v8i bits = (__builtin_convertvector(k, v8i) + 127) << 23;  // 2^k, k >= -126
  const v8 y = p * reinterpret_cast<const v8&>(bits);
  const v8i out = reinterpret_cast<const v8i&>(y) & ~under;
  return reinterpret_cast<const v8&>(out);
}

float max_of(const float* x, int64_t n) {
  float m = -INFINITY;
  int64_t i = 0;
  if (n >= 8) {
    v8 acc = load(x);
    for (i = 8; i + 8 <= n; i += 8) {
      const v8 v = load(x + i);
      acc = v > acc ? v : acc;
    }
    for (int j = 0; j < 8; ++j) m = std::max(m, acc[j]);
  }
  for (; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

// x[i] = exp(x[i] - m) in place (x <= m); returns the sum.
double exp_shifted(float* x, int64_t n, float m) {
  v8 acc = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const v8 e = exp_neg(load(x + i) - m);
    *reinterpret_cast<v8*>(x + i) = e;
    acc += e;
  }
  double s = chatcli_vec::hsum(acc);
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    s += x[i];
  }
  return s;
}

// The weight of token i in a draw: e[i] when e[i] >= lo (min-p) and e[i] > thr (above a rejected token), else 0.
inline float weight(float e, float lo, float thr) { return (e >= lo && e > thr) ? e : 0.f; }

double masked_sum(const float* e, int64_t n, float lo, float thr) {
  v8 acc = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const v8 v = load(e + i);
    const v8i keep = (v >= lo) & (v > thr);
    const v8i bits = reinterpret_cast<const v8i&>(v) & keep;
    acc += reinterpret_cast<const v8&>(bits);
  }
  double s = chatcli_vec::hsum(acc);
  for (; i < n; ++i) s += weight(e[i], lo, thr);
  return s;
}

// One index with probability proportional to weight(e[i], lo, thr), by inverse CDF as sampling._draw: the first
// index whose cumulative weight exceeds u * total (never one of weight 0).
int64_t draw(const float* e, int64_t n, float lo, float thr, float u) {
  const int64_t nb = (n + SUM_BLK - 1) / SUM_BLK;
  thread_local std::vector<double> blocks;
  blocks.resize(nb);
  double total = 0.0;
  for (int64_t b = 0; b < nb; ++b) {
    blocks[b] = masked_sum(e + b * SUM_BLK, std::min(SUM_BLK, n - b * SUM_BLK), lo, thr);
    total += blocks[b];
  }
  const double target = static_cast<float>(u * static_cast<float>(total));
  double cum = 0.0;
  int64_t last_block = -1;  // where the answer lies when rounding leaves target >= total: its last weight
  for (int64_t b = 0; b < nb; ++b) {
    if (blocks[b] <= 0) continue;
    last_block = b;
    if (cum + blocks[b] <= target) {
      cum += blocks[b];
      continue;
    }
    for (int64_t i = b * SUM_BLK, end = std::min(n, (b + 1) * SUM_BLK); i < end; ++i) {
      cum += weight(e[i], lo, thr);
      if (cum > target && weight(e[i], lo, thr) > 0) return i;
    }
  }
  TORCH_CHECK(last_block >= 0, "sampling found no token of positive probability");
  for (int64_t i = std::min(n, (last_block + 1) * SUM_BLK) - 1;; --i) {
    if (weight(e[i], lo, thr) > 0) return i;
  }
}

// Top-p over all of e (unnormalized, mass Z) among the allowed (e >= lo), by rejection (see the file comment).
int64_t nucleus(const float* e, int64_t n, double Z, float lo, double top_p, at::CPUGeneratorImpl* gen,
                const at::uniform_real_distribution<float>& uniform) {
  const double limit = top_p * Z;
  float thr = -1.f;
  for (int64_t round = 0; round < MAX_ROUNDS; ++round) {
    const int64_t x = draw(e, n, lo, thr, static_cast<float>(uniform(gen)));
    if (masked_sum(e, n, 0.f, e[x]) < limit) return x;
    thr = e[x];  // x and everything no more probable is outside the nucleus
  }
  std::vector<int64_t> order(n);  // exact fallback: the sorted prefix (never reached in practice)
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return e[a] > e[b]; });
  std::vector<float> w(n, 0.f);
  double cum = 0.0;
  for (int64_t j = 0; j < n && cum < limit; ++j) {
    w[j] = weight(e[order[j]], lo, thr);
    cum += e[order[j]];
  }
  if (masked_sum(w.data(), n, 0.f, 0.f) <= 0) return order[0];
  return order[draw(w.data(), n, 0.f, 0.f, static_cast<float>(uniform(gen)))];
}

// top_k <= TOPK_SMALL: sampling._small_topk on the k largest of s (ties: the lower index first).
int64_t small_topk(const float* s, int64_t n, int64_t k, double top_p, double min_p, at::CPUGeneratorImpl* gen,
                   const at::uniform_real_distribution<float>& uniform) {
  using Cand = std::pair<float, int64_t>;
  auto better = [](const Cand& a, const Cand& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  thread_local std::vector<Cand> heap;  // a min-heap (worst candidate on top) of the best k so far
  heap.clear();
  int64_t i = 0;
  for (; i < n && i < k; ++i) {
    heap.emplace_back(s[i], i);
    std::push_heap(heap.begin(), heap.end(), better);
  }
  auto consider = [&](int64_t j) {
    if (s[j] <= heap.front().first) return;  // an equal value keeps the lower index
    std::pop_heap(heap.begin(), heap.end(), better);
    heap.back() = {s[j], j};
    std::push_heap(heap.begin(), heap.end(), better);
  };
  for (; i + 8 <= n; i += 8) {  // eight at a time: most blocks hold nothing above the worst candidate
    const v8i above = load(s + i) > heap.front().first;
    int any = 0;
    for (int j = 0; j < 8; ++j) any |= above[j];
    if (any) {
      for (int64_t j = i; j < i + 8; ++j) consider(j);
    }
  }
  for (; i < n; ++i) consider(i);
  std::sort(heap.begin(), heap.end(), better);  // (k,) descending
  thread_local std::vector<float> p;
  p.resize(k);
  double Z = 0.0;
  for (int64_t j = 0; j < k; ++j) {
    p[j] = std::exp(heap[j].first - heap[0].first);
    Z += p[j];
  }
  double cum = 0.0;
  const float floor = static_cast<float>(min_p) * static_cast<float>(1.0 / Z);  // min_p * p_max
  for (int64_t j = 0; j < k; ++j) {
    const float pj = static_cast<float>(p[j] / Z);
    const bool in_p = top_p >= 1.0 || cum < top_p;  // exclusive cumulative mass
    cum += pj;
    p[j] = (j == 0 || (in_p && (min_p <= 0 || pj >= floor))) ? pj : 0.f;
  }
  return heap[draw(p.data(), k, 0.f, 0.f, static_cast<float>(uniform(gen)))].second;
}

torch::Tensor sample_next(const torch::Tensor& logits, double temperature, int64_t top_k, double top_p,
                          double min_p, double repeat_penalty, const std::optional<torch::Tensor>& recent,
                          std::optional<at::Generator> generator) {
  TORCH_CHECK(logits.dim() == 2 && logits.size(0) == 1, "sample_next wants logits (1, V)");
  TORCH_CHECK(temperature >= 0 && top_k >= 0 && top_p > 0 && top_p <= 1 && min_p >= 0 && min_p < 1 &&
              repeat_penalty > 0, "sampling settings out of range");
  const torch::Tensor row = logits.contiguous();
  const float* x = chatcli_vec::fp(row);  // (V,)
  const int64_t V = row.size(1);
  thread_local std::vector<float> buf;
  buf.resize(V);
  float* s = buf.data();  // (V,): penalized logits / temperature, then e = exp(s - max)
  const float t = temperature == 0 ? 1.f : static_cast<float>(temperature);
  for (int64_t i = 0; i < V; ++i) s[i] = x[i] / t;
  if (recent && recent->numel() > 0 && repeat_penalty != 1.0) {
    const torch::Tensor r = recent->to(torch::kLong).contiguous();
    const int64_t* ids = r.data_ptr<int64_t>();  // (W,): each id penalized once, from its original logit
    const float pen = static_cast<float>(repeat_penalty);
    for (int64_t j = 0; j < r.numel(); ++j) {
      TORCH_CHECK(ids[j] >= 0 && ids[j] < V, "recent token ", ids[j], " outside the vocabulary");
      const float v = x[ids[j]];
      s[ids[j]] = (v > 0 ? v / pen : v * pen) / t;
    }
  }
  auto out = torch::empty({1}, torch::kLong);  // (1,)
  int64_t* tok = out.data_ptr<int64_t>();
  if (temperature == 0) {
    *tok = std::max_element(s, s + V) - s;  // the first of equal maxima, as argmax
    return out;
  }
  auto* gen = at::get_generator_or_default<at::CPUGeneratorImpl>(generator, at::detail::getDefaultCPUGenerator());
  std::lock_guard<std::mutex> lock(gen->mutex_);
  const at::uniform_real_distribution<float> uniform(0.f, 1.f);
  if (top_k > 0 && top_k <= TOPK_SMALL && top_k < V) {
    *tok = small_topk(s, V, top_k, top_p, min_p, gen, uniform);
    return out;
  }
  if (top_k > 0 && top_k < V) {  // keep the values >= the k-th largest
    std::vector<float> tmp(s, s + V);
    std::nth_element(tmp.begin(), tmp.begin() + (top_k - 1), tmp.end(), std::greater<float>());
    const float kth = tmp[top_k - 1];
    for (int64_t i = 0; i < V; ++i) s[i] = s[i] < kth ? -INFINITY : s[i];
  }
  const double Z = exp_shifted(s, V, max_of(s, V));  // s is now e, max 1
  const float lo = min_p > 0 ? static_cast<float>(min_p) : 0.f;
  if (top_p >= 1.0) {
    *tok = draw(s, V, lo, -1.f, static_cast<float>(uniform(gen)));
  } else {
    *tok = nucleus(s, V, Z, lo, top_p, gen, uniform);
  }
  return out;
}

}  // namespace chatcli_sample

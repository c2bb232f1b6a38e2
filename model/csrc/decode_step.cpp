// One whole batch-1 decode step of the Llama-shaped Transformer in C++, fp32 activations over fp32 or int8
// weights (model.cpp_ext builds and wraps it), and the extension's module (the sampler is sample.cpp).
//
// Input weights are FastDecoder's tensors: per layer the attention-norm weight (C,), W_qkv^T (C, (H+2KV)*D),
// W_o^T (H*D, C), the ffn-norm weight (C,), W_13^T (C, 2F), W_2^T (F, C); then the final norm (C,), the head
// W^T (C, V), the embedding (V, C) and the rope tables cos, sin_signed (S, 1, D). A matrix may instead be
// model.quantize's int8 q (N, K) with its per-output-column scales (N,) (w ~= q * scales[:, None]); the scales
// list holds one entry per matrix (4 per layer, then the head), empty for fp32 ones. The norms, embedding and
// rope tables are shared; each matrix is copied once into a column-blocked layout (see Packed) so a
// matrix-vector product streams its weights strictly in order.
// A step: embedding -> per layer [RMSNorm, QKV, RoPE at pos, K/V written into the KVCache (L, 1, KV, S, D),
// causal GQA attention over 0..pos, x += W_o y, RMSNorm, SwiGLU, x += W_2 a] -> final RMSNorm -> logits (1, V).
// Scratch buffers are allocated once; large products run over column blocks with at::parallel_for, small ones
// (and attention over a short context) on the calling thread. No Python runs inside a step.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "common.h"
#include "sample.h"

namespace chatcli_decode {

using chatcli_vec::fp;
using chatcli_vec::hsum;
using chatcli_vec::v8;
using chatcli_vec::v8b;

constexpr int64_t BLK = 64;               // output columns one task keeps in registers (8 AVX2 / 4 AVX-512 vectors)
constexpr int64_t PARALLEL_MACS = 65536;  // below this many multiply-adds a product stays on one thread
constexpr int64_t PARALLEL_ATTN = 32768;  // same for attention (T * D * H)

// W^T (K, N) as (ceil(N / BLK), K, BLK), the last block zero-padded: block b holds columns b*BLK .. b*BLK+BLK-1
// for every k, contiguous, so y[block] = x @ W^T[:, block] reads one linear stream. fp32 from W^T (K, N), or
// int8 from q (N, K) with scales (N,) kept as (NB * BLK,): a column's products are summed, then scaled once.
struct Packed {
  torch::Tensor data;    // (NB, K, BLK) fp32 or int8
  torch::Tensor scales;  // (NB * BLK,) fp32 for int8, undefined for fp32
  int64_t K = 0, N = 0, NB = 0;
  bool int8 = false;

  Packed() = default;
  Packed(const torch::Tensor& w, const torch::Tensor& sc) : int8(w.scalar_type() == torch::kInt8) {
    TORCH_CHECK(w.dim() == 2 && w.is_contiguous() && w.device().is_cpu(),
                "a weight must be a contiguous 2-d CPU tensor");
    K = int8 ? w.size(1) : w.size(0);
    N = int8 ? w.size(0) : w.size(1);
    NB = (N + BLK - 1) / BLK;
    if (!int8) {
      TORCH_CHECK(sc.numel() == 0, "an fp32 weight has no scales");
      const float* src = fp(w);  // (K, N)
      data = torch::zeros({NB, K, BLK}, torch::kFloat32);  // (NB, K, BLK)
      float* dst = data.data_ptr<float>();
      for (int64_t b = 0; b < NB; ++b) {
        const int64_t n0 = b * BLK, m = std::min(BLK, N - n0);
        for (int64_t k = 0; k < K; ++k) std::copy(src + k * N + n0, src + k * N + n0 + m, dst + (b * K + k) * BLK);
      }
      return;
    }
    TORCH_CHECK(sc.numel() == N, "an int8 weight (N, K) needs N scales");
    const int8_t* src = w.data_ptr<int8_t>();  // (N, K)
    data = torch::zeros({NB, K, BLK}, torch::kInt8);  // (NB, K, BLK)
    int8_t* dst = data.data_ptr<int8_t>();
    for (int64_t n = 0; n < N; ++n) {
      const int64_t b = n / BLK, j = n % BLK;
      for (int64_t k = 0; k < K; ++k) dst[(b * K + k) * BLK + j] = src[n * K + k];
    }
    scales = torch::zeros({NB * BLK}, torch::kFloat32);  // (NB * BLK,)
    const torch::Tensor s32 = sc.to(torch::kFloat32).contiguous().view({-1});  // (N,)
    std::copy(s32.data_ptr<float>(), s32.data_ptr<float>() + N, scales.data_ptr<float>());
  }
};

constexpr int64_t NV = BLK / 8;

inline v8 row8(const float* p) { return *reinterpret_cast<const v8*>(p); }
#if defined(__AVX2__)
// Eight int8 weights as floats: one sign-extending load (vpmovsxbd) and one convert; GCC's
// __builtin_convertvector from int8 lanes compiled to eight scalar converts.
inline v8 row8(const int8_t* p) {
  const __m256i w = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));  // (8,) int32
  return reinterpret_cast<v8>(_mm256_cvtepi32_ps(w));
}
#else
inline v8 row8(const int8_t* p) { return __builtin_convertvector(*reinterpret_cast<const v8b*>(p), v8); }
#endif

// y[n] (+)= sum_k x[k] * W^T[k, n] (* scale[n] for int8) for the columns of blocks b0..b1-1.
template <typename W>
inline void mv_blocks(const float* __restrict x, const Packed& w, float* __restrict y, int64_t b0, int64_t b1,
                      bool accumulate) {
  const int64_t K = w.K;
  const W* base = w.data.data_ptr<W>();
  const float* sc = w.int8 ? w.scales.data_ptr<float>() : nullptr;
  for (int64_t b = b0; b < b1; ++b) {
    const W* __restrict wb = base + b * K * BLK;  // (K, BLK)
    v8 acc[NV] = {};
    for (int64_t k = 0; k < K; ++k) {
      const float xk = x[k];
      const W* wr = wb + k * BLK;  // (BLK,)
      for (int64_t j = 0; j < NV; ++j) acc[j] += xk * row8(wr + 8 * j);
    }
    const int64_t n0 = b * BLK, m = std::min(BLK, w.N - n0);
    if (sc) {
      for (int64_t j = 0; j < NV; ++j) acc[j] *= row8(sc + n0 + 8 * j);
    }
    const float* a = reinterpret_cast<const float*>(acc);
    float* __restrict yb = y + n0;
    if (accumulate) {
      for (int64_t j = 0; j < m; ++j) yb[j] += a[j];
    } else {
      for (int64_t j = 0; j < m; ++j) yb[j] = a[j];
    }
  }
}

inline void mv_any(const float* x, const Packed& w, float* y, int64_t b0, int64_t b1, bool accumulate) {
  if (w.int8) {
    mv_blocks<int8_t>(x, w, y, b0, b1, accumulate);
  } else {
    mv_blocks<float>(x, w, y, b0, b1, accumulate);
  }
}

// y (N,) (+)= x (K,) @ W^T (K, N): blocks spread over the intra-op threads when the product is large enough.
void matvec(const float* x, const Packed& w, float* y, bool accumulate) {
  if (w.K * w.N < PARALLEL_MACS || at::get_num_threads() < 2) {
    mv_any(x, w, y, 0, w.NB, accumulate);
    return;
  }
  at::parallel_for(0, w.NB, 1, [&](int64_t b0, int64_t b1) { mv_any(x, w, y, b0, b1, accumulate); });
}

void rms_norm(const float* x, const float* w, float* out, int64_t C, double eps) {
  float ss = 0.f;
  for (int64_t i = 0; i < C; ++i) ss += x[i] * x[i];
  const float r = 1.f / std::sqrt(ss / static_cast<float>(C) + static_cast<float>(eps));
  for (int64_t i = 0; i < C; ++i) out[i] = x[i] * r * w[i];
}

// out (D,) = x * cos + roll(x, D/2) * sin_signed: rotate-half, as FastDecoder._rope (sin_signed = [-sin, sin]).
inline void rope(const float* x, const float* cos, const float* sin, float* out, int64_t D) {
  const int64_t half = D / 2;
  for (int64_t j = 0; j < half; ++j) out[j] = x[j] * cos[j] + x[j + half] * sin[j];
  for (int64_t j = half; j < D; ++j) out[j] = x[j] * cos[j] + x[j - half] * sin[j];
}

// y (D,) = softmax(q . k_t * scale over t < T) @ v for one head; k, v (S, D) with rows 0..T-1 filled, sc (T,).
inline void attend(const float* __restrict q, const float* __restrict k, const float* __restrict v,
                   float* __restrict sc, float* __restrict y, int64_t T, int64_t D, float scale) {
  float mx = -INFINITY;
  for (int64_t t = 0; t < T; ++t) {
    const float* kt = k + t * D;  // (D,)
    float s = 0.f;
    if (D % 8 == 0) {  // vector dot product (a float reduction loop is not vectorized without -ffast-math)
      v8 acc = {};
      for (int64_t j = 0; j < D; j += 8) {
        acc += *reinterpret_cast<const v8*>(q + j) * *reinterpret_cast<const v8*>(kt + j);
      }
      s = hsum(acc);
    } else {
      for (int64_t j = 0; j < D; ++j) s += q[j] * kt[j];
    }
    sc[t] = s * scale;
    mx = std::max(mx, sc[t]);
  }
  float sum = 0.f;
  for (int64_t t = 0; t < T; ++t) {
    sc[t] = std::exp(sc[t] - mx);
    sum += sc[t];
  }
  const float inv = 1.f / sum;
  for (int64_t j = 0; j < D; ++j) y[j] = 0.f;
  for (int64_t t = 0; t < T; ++t) {
    const float p = sc[t] * inv;
    for (int64_t j = 0; j < D; ++j) y[j] += p * v[t * D + j];
  }
}

struct Layer {
  torch::Tensor attn_norm, ffn_norm;  // (C,)
  Packed qkv, wo, w13, w2;            // (C, (H+2KV)*D), (H*D, C), (C, 2F), (F, C) before packing
};

class DecodeStep {
 public:
  DecodeStep(std::vector<torch::Tensor> layer_weights, std::vector<torch::Tensor> scales, torch::Tensor norm_w,
             torch::Tensor head_t,
             torch::Tensor emb, torch::Tensor cos, torch::Tensor sin, int64_t n_heads, int64_t n_kv_heads,
             int64_t head_dim, int64_t ffn_hidden, double eps)
      : norm_w_(norm_w), emb_(emb), cos_(cos), sin_(sin), H_(n_heads), KV_(n_kv_heads), D_(head_dim),
        F_(ffn_hidden), eps_(eps) {
    TORCH_CHECK(layer_weights.size() % 6 == 0, "six weight tensors per layer");
    TORCH_CHECK(scales.size() == layer_weights.size() / 6 * 4 + 1, "one scales entry per matrix and the head");
    TORCH_CHECK(H_ > 0 && KV_ > 0 && H_ % KV_ == 0 && D_ % 2 == 0, "bad head counts");
    fp(norm_w_); fp(emb_); fp(cos_); fp(sin_);
    C_ = emb_.size(1);
    V_ = emb_.size(0);

    TORCH_CHECK(cos_.numel() == sin_.numel() && cos_.numel() % D_ == 0, "rope tables must be (S, 1, D)");
    const int64_t nq = H_ * D_, nqkv = nq + 2 * KV_ * D_;
    for (size_t i = 0, si = 0; i < layer_weights.size(); i += 6, si += 4) {
      Layer l;
      l.attn_norm = layer_weights[i];
      l.qkv = Packed(layer_weights[i + 1], scales[si]);
      l.wo = Packed(layer_weights[i + 2], scales[si + 1]);
      l.ffn_norm = layer_weights[i + 3];
      l.w13 = Packed(layer_weights[i + 4], scales[si + 2]);
      l.w2 = Packed(layer_weights[i + 5], scales[si + 3]);
      fp(l.attn_norm); fp(l.ffn_norm);
      TORCH_CHECK(l.qkv.K == C_ && l.qkv.N == nqkv && l.wo.K == nq && l.wo.N == C_ && l.w13.K == C_ &&
                  l.w13.N == 2 * F_ && l.w2.K == F_ && l.w2.N == C_, "layer weight shapes do not match the config");
      layers_.push_back(std::move(l));
    }
    head_ = Packed(head_t, scales.back());
    TORCH_CHECK(head_.K == C_ && head_.N == V_, "head must be (C, V)");
    S_ = cos_.numel() / D_;
    x_.resize(C_); h_.resize(C_); qkv_.resize(nqkv); q_.resize(nq); y_.resize(nq); gu_.resize(2 * F_);
    act_.resize(F_);
    scores_.resize(static_cast<size_t>(H_ * S_));  // (H, S): room for any position the rope tables cover
  }

  // token at position pos; k_cache, v_cache (L, 1, KV, S, D) written at pos -> logits (1, V).
  torch::Tensor step(int64_t token, int64_t pos, torch::Tensor k_cache, torch::Tensor v_cache) {
    const int64_t H = H_, KV = KV_, D = D_, C = C_, F = F_, L = static_cast<int64_t>(layers_.size());
    TORCH_CHECK(k_cache.dim() == 5 && k_cache.size(0) == L && k_cache.size(1) == 1 && k_cache.size(2) == KV &&
                k_cache.size(4) == D && v_cache.sizes() == k_cache.sizes(), "cache must be (L, 1, KV, S, D)");
    const int64_t S = k_cache.size(3);
    TORCH_CHECK(pos >= 0 && pos < S && pos < S_, "position ", pos, " outside the cache");
    TORCH_CHECK(token >= 0 && token < V_, "token ", token, " outside the vocabulary");
    float* kc = const_cast<float*>(fp(k_cache));  // (L, 1, KV, S, D)
    float* vc = const_cast<float*>(fp(v_cache));  // (L, 1, KV, S, D)
    auto logits = torch::empty({1, V_}, torch::kFloat32);  // (1, V): fresh, callers may keep it
    std::lock_guard<std::mutex> guard(mu_);  // the scratch buffers are per object
    const int64_t nq = H * D, nkv = KV * D, T = pos + 1, group = H / KV;
    float *x = x_.data(), *h = h_.data(), *qkv = qkv_.data(), *q = q_.data(), *y = y_.data();
    const float* e = emb_.data_ptr<float>() + token * C;  // (C,)
    std::copy(e, e + C, x);
    const float* cosp = cos_.data_ptr<float>() + pos * D;  // (D,)
    const float* sinp = sin_.data_ptr<float>() + pos * D;  // (D,)
    const float scale = 1.f / std::sqrt(static_cast<float>(D));
    for (int64_t li = 0; li < L; ++li) {
      const Layer& l = layers_[li];
      rms_norm(x, l.attn_norm.data_ptr<float>(), h, C, eps_);
      matvec(h, l.qkv, qkv, false);  // (nq + 2 nkv,)
      float* kl = kc + li * KV * S * D;  // (KV, S, D)
      float* vl = vc + li * KV * S * D;  // (KV, S, D)
      for (int64_t hh = 0; hh < H; ++hh) rope(qkv + hh * D, cosp, sinp, q + hh * D, D);
      for (int64_t g = 0; g < KV; ++g) {
        rope(qkv + nq + g * D, cosp, sinp, kl + (g * S + pos) * D, D);
        std::copy(qkv + nq + nkv + g * D, qkv + nq + nkv + (g + 1) * D, vl + (g * S + pos) * D);
      }
      auto heads = [&](int64_t h0, int64_t h1) {
        for (int64_t hh = h0; hh < h1; ++hh) {
          const int64_t g = hh / group;
          attend(q + hh * D, kl + g * S * D, vl + g * S * D, scores_.data() + hh * S_, y + hh * D, T, D, scale);
        }
      };
      if (T * D * H < PARALLEL_ATTN || at::get_num_threads() < 2) {
        heads(0, H);
      } else {
        at::parallel_for(0, H, 1, heads);
      }
      matvec(y, l.wo, x, true);  // x += y @ W_o^T
      rms_norm(x, l.ffn_norm.data_ptr<float>(), h, C, eps_);
      matvec(h, l.w13, gu_.data(), false);  // (2F,)
      for (int64_t j = 0; j < F; ++j) {
        const float gt = gu_[j];
        act_[j] = gt / (1.f + std::exp(-gt)) * gu_[F + j];  // silu(gate) * up
      }
      matvec(act_.data(), l.w2, x, true);  // x += act @ W_2^T
    }
    rms_norm(x, norm_w_.data_ptr<float>(), h, C, eps_);
    matvec(h, head_, logits.data_ptr<float>(), false);  // (V,)
    return logits;
  }

 private:
  std::vector<Layer> layers_;
  Packed head_;
  torch::Tensor norm_w_, emb_, cos_, sin_;
  int64_t H_, KV_, D_, F_, C_ = 0, V_ = 0, S_ = 0;
  double eps_;
  std::vector<float> x_, h_, qkv_, q_, y_, gu_, act_, scores_;
  std::mutex mu_;
};

}  // namespace chatcli_decode

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  // module_local: two builds loaded in one process (another source hash) keep their own DecodeStep type
  pybind11::class_<chatcli_decode::DecodeStep>(m, "DecodeStep", pybind11::module_local())
      .def(pybind11::init<std::vector<torch::Tensor>, std::vector<torch::Tensor>, torch::Tensor, torch::Tensor,
                          torch::Tensor, torch::Tensor, torch::Tensor, int64_t, int64_t, int64_t, int64_t, double>())
      .def("step", &chatcli_decode::DecodeStep::step, pybind11::call_guard<pybind11::gil_scoped_release>());
  m.def("sample", &chatcli_sample::sample_next,
        "next token (1,) from logits (1, V): model.sampling.sample's distribution (model/csrc/sample.cpp)");
}

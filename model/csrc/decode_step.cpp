// One whole batch-1 fp32 decode step of the Llama-shaped Transformer in C++ (model.cpp_ext builds it).
//
// Weights are FastDecoder's tensors, shared, not copied: per layer the attention-norm weight (C,),
// W_qkv^T (C, (H+2KV)*D), W_o^T (H*D, C), the ffn-norm weight (C,), W_13^T (C, 2F), W_2^T (F, C); then the
// final norm (C,), the head W^T (C, V), the embedding (V, C) and the rope tables cos, sin_signed (S, 1, D).
// A step: embedding -> per layer [RMSNorm, QKV, RoPE at pos, K/V written into the KVCache (L, 1, KV, S, D),
// causal GQA attention over 0..pos, x += W_o y, RMSNorm, SwiGLU, x += W_2 a] -> final RMSNorm -> logits (1, V).
// Matrix-vector products run over column blocks with at::parallel_for; no Python runs inside a step.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <cmath>
#include <vector>

namespace {

constexpr int64_t BLK = 64;  // output columns one task keeps in registers (8 AVX2 vectors)

// y[n] (+)= sum_k x[k] * wt[k, n] for wt (K, N) row-major, columns n0..n1 (a multiple of BLK except the tail).
inline void mv_cols(const float* __restrict x, const float* __restrict wt, float* __restrict y,
                    int64_t K, int64_t N, int64_t n0, int64_t n1, bool accumulate) {
  int64_t n = n0;
  for (; n + BLK <= n1; n += BLK) {
    float acc[BLK];
    for (int64_t j = 0; j < BLK; ++j) acc[j] = accumulate ? y[n + j] : 0.f;
    const float* w = wt + n;
    for (int64_t k = 0; k < K; ++k) {
      const float xk = x[k];
      const float* wr = w + k * N;
#pragma GCC unroll 64
      for (int64_t j = 0; j < BLK; ++j) acc[j] += xk * wr[j];
    }
    for (int64_t j = 0; j < BLK; ++j) y[n + j] = acc[j];
  }
  if (n < n1) {  // tail narrower than a block
    const int64_t m = n1 - n;
    float acc[BLK];
    for (int64_t j = 0; j < m; ++j) acc[j] = accumulate ? y[n + j] : 0.f;
    for (int64_t k = 0; k < K; ++k) {
      const float xk = x[k];
      const float* wr = wt + k * N + n;
      for (int64_t j = 0; j < m; ++j) acc[j] += xk * wr[j];
    }
    for (int64_t j = 0; j < m; ++j) y[n + j] = acc[j];
  }
}

// y (N,) (+)= x (K,) @ wt (K, N), column blocks spread over the intra-op threads.
void matvec(const float* x, const float* wt, float* y, int64_t K, int64_t N, bool accumulate) {
  const int64_t blocks = (N + BLK - 1) / BLK;
  const int64_t grain = std::max<int64_t>(1, (blocks * K * BLK < 16384) ? blocks : 1);
  at::parallel_for(0, blocks, grain, [&](int64_t b0, int64_t b1) {
    mv_cols(x, wt, y, K, N, b0 * BLK, std::min(N, b1 * BLK), accumulate);
  });
}

void rms_norm(const float* x, const float* w, float* out, int64_t C, double eps) {
  float ss = 0.f;
  for (int64_t i = 0; i < C; ++i) ss += x[i] * x[i];
  const float r = 1.f / std::sqrt(ss / static_cast<float>(C) + static_cast<float>(eps));
  for (int64_t i = 0; i < C; ++i) out[i] = x[i] * r * w[i];
}

// out (D,) = x * cos + roll(x, D/2) * sin_signed (rotate-half, as in FastDecoder._rope).
inline void rope(const float* x, const float* cos, const float* sin, float* out, int64_t D) {
  const int64_t half = D / 2;
  for (int64_t j = 0; j < half; ++j) out[j] = x[j] * cos[j] + x[j + half] * sin[j];
  for (int64_t j = half; j < D; ++j) out[j] = x[j] * cos[j] + x[j - half] * sin[j];
}

const float* fp(const torch::Tensor& t) {
  TORCH_CHECK(t.scalar_type() == torch::kFloat32 && t.is_contiguous() && t.device().is_cpu(),
              "decode_step wants contiguous fp32 CPU tensors");
  return t.data_ptr<float>();
}

class DecodeStep {
 public:
  DecodeStep(std::vector<torch::Tensor> layer_weights, torch::Tensor norm_w, torch::Tensor head_t,
             torch::Tensor emb, torch::Tensor cos, torch::Tensor sin, int64_t n_heads, int64_t n_kv_heads,
             int64_t head_dim, int64_t ffn_hidden, double eps)
      : w_(std::move(layer_weights)), norm_w_(norm_w), head_t_(head_t), emb_(emb), cos_(cos), sin_(sin),
        H_(n_heads), KV_(n_kv_heads), D_(head_dim), F_(ffn_hidden), eps_(eps) {
    TORCH_CHECK(w_.size() % 6 == 0, "six weight tensors per layer");
    L_ = static_cast<int64_t>(w_.size() / 6);
    C_ = emb_.size(1);
    V_ = emb_.size(0);
    TORCH_CHECK(head_t_.size(0) == C_ && head_t_.size(1) == V_, "head must be (C, V)");
    for (auto& t : w_) fp(t);
    fp(norm_w_); fp(head_t_); fp(emb_); fp(cos_); fp(sin_);
  }

  // token at position pos; k_cache, v_cache (L, 1, KV, S, D) written at pos -> logits (1, V).
  torch::Tensor step(int64_t token, int64_t pos, torch::Tensor k_cache, torch::Tensor v_cache) {
    const int64_t H = H_, KV = KV_, D = D_, C = C_, F = F_;
    TORCH_CHECK(k_cache.dim() == 5 && k_cache.size(0) == L_ && k_cache.size(1) == 1 && k_cache.size(2) == KV &&
                k_cache.size(4) == D && v_cache.sizes() == k_cache.sizes(), "cache must be (L, 1, KV, S, D)");
    const int64_t S = k_cache.size(3);
    TORCH_CHECK(pos >= 0 && pos < S && pos < cos_.size(0), "position ", pos, " outside the cache");
    TORCH_CHECK(token >= 0 && token < V_, "token ", token, " outside the vocabulary");
    float* kc = const_cast<float*>(fp(k_cache));
    float* vc = const_cast<float*>(fp(v_cache));
    const int64_t nq = H * D, nkv = KV * D, nqkv = nq + 2 * nkv;
    std::vector<float> x(emb_.data_ptr<float>() + token * C, emb_.data_ptr<float>() + (token + 1) * C);  // (C,)
    std::vector<float> h(C), qkv(nqkv), q(nq), y(nq), gu(2 * F), act(F);
    std::vector<float> scores(static_cast<size_t>(H) * (pos + 1));  // (H, pos+1)
    const float* cosp = cos_.data_ptr<float>() + pos * D;  // (D,)
    const float* sinp = sin_.data_ptr<float>() + pos * D;  // (D,)
    const float scale = 1.f / std::sqrt(static_cast<float>(D));
    const int64_t group = H / KV;
    for (int64_t l = 0; l < L_; ++l) {
      const float* an = w_[6 * l].data_ptr<float>();
      const float* wqkv = w_[6 * l + 1].data_ptr<float>();  // (C, nqkv)
      const float* wo = w_[6 * l + 2].data_ptr<float>();    // (nq, C)
      const float* fn = w_[6 * l + 3].data_ptr<float>();
      const float* w13 = w_[6 * l + 4].data_ptr<float>();   // (C, 2F)
      const float* w2 = w_[6 * l + 5].data_ptr<float>();    // (F, C)
      rms_norm(x.data(), an, h.data(), C, eps_);
      matvec(h.data(), wqkv, qkv.data(), C, nqkv, false);
      float* kl = kc + l * KV * S * D;  // (KV, S, D)
      float* vl = vc + l * KV * S * D;
      for (int64_t hh = 0; hh < H; ++hh) rope(qkv.data() + hh * D, cosp, sinp, q.data() + hh * D, D);
      for (int64_t g = 0; g < KV; ++g) {
        rope(qkv.data() + nq + g * D, cosp, sinp, kl + (g * S + pos) * D, D);
        std::copy(qkv.data() + nq + nkv + g * D, qkv.data() + nq + nkv + (g + 1) * D, vl + (g * S + pos) * D);
      }
      const int64_t T = pos + 1;
      at::parallel_for(0, H, (T * D * H < 32768) ? H : 1, [&](int64_t h0, int64_t h1) {
        for (int64_t hh = h0; hh < h1; ++hh) {
          const float* qh = q.data() + hh * D;
          const float* kh = kl + (hh / group) * S * D;  // (S, D)
          const float* vh = vl + (hh / group) * S * D;
          float* sc = scores.data() + hh * T;
          float mx = -INFINITY;
          for (int64_t t = 0; t < T; ++t) {
            float s = 0.f;
            for (int64_t j = 0; j < D; ++j) s += qh[j] * kh[t * D + j];
            sc[t] = s * scale;
            mx = std::max(mx, sc[t]);
          }
          float sum = 0.f;
          for (int64_t t = 0; t < T; ++t) { sc[t] = std::exp(sc[t] - mx); sum += sc[t]; }
          const float inv = 1.f / sum;
          float* yh = y.data() + hh * D;
          for (int64_t j = 0; j < D; ++j) yh[j] = 0.f;
          for (int64_t t = 0; t < T; ++t) {
            const float p = sc[t] * inv;
            for (int64_t j = 0; j < D; ++j) yh[j] += p * vh[t * D + j];
          }
        }
      });
      matvec(y.data(), wo, x.data(), nq, C, true);  // x += y @ W_o^T
      rms_norm(x.data(), fn, h.data(), C, eps_);
      matvec(h.data(), w13, gu.data(), C, 2 * F, false);
      for (int64_t j = 0; j < F; ++j) {
        const float g = gu[j];
        act[j] = g / (1.f + std::exp(-g)) * gu[F + j];  // silu(gate) * up
      }
      matvec(act.data(), w2, x.data(), F, C, true);  // x += act @ W_2^T
    }
    rms_norm(x.data(), norm_w_.data_ptr<float>(), h.data(), C, eps_);
    auto logits = torch::empty({1, V_}, torch::kFloat32);  // (1, V)
    matvec(h.data(), head_t_.data_ptr<float>(), logits.data_ptr<float>(), C, V_, false);
    return logits;
  }

 private:
  std::vector<torch::Tensor> w_;
  torch::Tensor norm_w_, head_t_, emb_, cos_, sin_;
  int64_t H_, KV_, D_, F_, L_ = 0, C_ = 0, V_ = 0;
  double eps_;
};

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  pybind11::class_<DecodeStep>(m, "DecodeStep")
      .def(pybind11::init<std::vector<torch::Tensor>, torch::Tensor, torch::Tensor, torch::Tensor, torch::Tensor,
                          torch::Tensor, int64_t, int64_t, int64_t, int64_t, double>())
      .def("step", &DecodeStep::step, pybind11::call_guard<pybind11::gil_scoped_release>());
}

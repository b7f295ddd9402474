// gemm_library_bench: single-threaded SGEMM GFLOP/s on the shapes convd's
// CPU kernels issue (im2col, Winograd element-wise stages, fully connected),
// built once against OpenBLAS and once against BLIS so the library is chosen
// by measurement. convd calls BLAS single-threaded and parallelises itself,
// so single-threaded speed is what counts.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#ifdef CONVD_BLIS
#include <blis.h>
#define LIBRARY "BLIS"
#else
#define LIBRARY "OpenBLAS"
#endif

int main() {
#ifdef CONVD_BLIS
  bli_thread_set_num_threads(1);
#else
  openblas_set_num_threads(1);
#endif
  struct Shape {
    const char* what;
    int m, n, k;
    bool transpose_b = false;  // fully connected: weights are [out, in]
  };
  const Shape shapes[] = {
      {"alexnet.conv2 im2col block", 192, 160, 1600},
      {"alexnet.conv3 im2col", 384, 169, 1728},
      {"vgg conv3 im2col block", 256, 112, 2304},
      {"winograd_f43 position (K=C=256, 64 tiles)", 256, 64, 256},
      {"winograd_f23 position (K=C=128, 128 tiles)", 128, 128, 128},
      {"fc6 batch 1 slice (B transposed)", 1, 128, 9216, true},
      {"fc6 batch 32 slice (B transposed)", 32, 128, 9216, true},
      {"square 1024", 1024, 1024, 1024},
  };
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1, 1);
  std::printf("| shape (%s, 1 thread) | M | N | K | GFLOP/s |\n|---|---|---|---|---|\n", LIBRARY);
  for (const Shape& s : shapes) {
    std::vector<float> a(int64_t{s.m} * s.k), b(int64_t{s.k} * s.n), c(int64_t{s.m} * s.n);
    for (float& v : a) v = uniform(rng);
    for (float& v : b) v = uniform(rng);
    const double flop = 2.0 * s.m * s.n * s.k;
    const int reps = std::max(3, static_cast<int>(2e9 / flop));
    std::vector<double> times;
    for (int r = 0; r <= reps; ++r) {
      const auto start = std::chrono::steady_clock::now();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, s.transpose_b ? CblasTrans : CblasNoTrans, s.m,
                  s.n, s.k, 1.0f, a.data(), s.k, b.data(), s.transpose_b ? s.k : s.n, 0.0f,
                  c.data(), s.n);
      if (r > 0) {
        times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                            .count());
      }
    }
    std::sort(times.begin(), times.end());
    std::printf("| %s | %d | %d | %d | %.1f |\n", s.what, s.m, s.n, s.k,
                flop / times[times.size() / 2] / 1e9);
  }
  return 0;
}

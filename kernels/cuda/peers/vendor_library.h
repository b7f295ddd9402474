// A vendor library (cuDNN and cuBLAS as peers, NVML for the server's GPU
// metrics) opened at run time with dlopen, so that binaries using it build
// everywhere and still start (and say why it is missing) where the library
// is not installed. Host code only.
//
//   ASSIGN_OR_RETURN(VendorLibrary cublas, VendorLibrary::Open({"libcublas.so.13"}));
//   ASSIGN_OR_RETURN(auto* create, cublas.Symbol<decltype(cublasCreate_v2)>("cublasCreate_v2"));
#ifndef CONVD_KERNELS_CUDA_PEERS_VENDOR_LIBRARY_H_
#define CONVD_KERNELS_CUDA_PEERS_VENDOR_LIBRARY_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace convd::cuda {

class VendorLibrary {
 public:
  // Tries each soname through the dynamic loader's search path
  // (LD_LIBRARY_PATH first), then in /usr/local/cuda/lib64. UNAVAILABLE
  // naming every name tried and the loader's last error.
  static absl::StatusOr<VendorLibrary> Open(const std::vector<std::string>& sonames);

  VendorLibrary(VendorLibrary&& other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)), name_(std::move(other.name_)) {}
  VendorLibrary& operator=(VendorLibrary&& other) noexcept {
    std::swap(handle_, other.handle_);
    std::swap(name_, other.name_);
    return *this;
  }
  VendorLibrary(const VendorLibrary&) = delete;
  VendorLibrary& operator=(const VendorLibrary&) = delete;
  ~VendorLibrary();

  // The function named `symbol`, typed by its declaration in the vendor's
  // header (decltype of the function); UNAVAILABLE when it is not exported.
  template <typename Function>
  absl::StatusOr<Function*> Symbol(const char* symbol) const {
    absl::StatusOr<void*> address = RawSymbol(symbol);
    if (!address.ok()) return address.status();
    return reinterpret_cast<Function*>(*address);
  }

  // The soname or path that opened.
  const std::string& name() const { return name_; }

 private:
  VendorLibrary(void* handle, std::string name) : handle_(handle), name_(std::move(name)) {}
  absl::StatusOr<void*> RawSymbol(const char* symbol) const;

  void* handle_ = nullptr;
  std::string name_;
};

}  // namespace convd::cuda

// For an X-macro list of function names: sets api->NAME (declared as
// decltype(::NAME)*) from api->library for each, returning the Status from
// the enclosing function when one is missing. `api` must be in scope.
//   CONVD_CUBLAS_FUNCTIONS(CONVD_RESOLVE_VENDOR_FUNCTION)
#define CONVD_RESOLVE_VENDOR_FUNCTION(name)                         \
  {                                                                 \
    auto function = api->library.Symbol<decltype(::name)>(#name);   \
    if (!function.ok()) return function.status();                   \
    api->name = *function;                                          \
  }

#endif  // CONVD_KERNELS_CUDA_PEERS_VENDOR_LIBRARY_H_

#include "kernels/cuda/peers/vendor_library.h"

#include <dlfcn.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace convd::cuda {

absl::StatusOr<VendorLibrary> VendorLibrary::Open(const std::vector<std::string>& sonames) {
  std::vector<std::string> tried;
  std::string last_error;
  for (const std::string& soname : sonames) {
    for (const std::string& candidate : {soname, "/usr/local/cuda/lib64/" + soname}) {
      tried.push_back(candidate);
      if (void* handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL)) {
        return VendorLibrary(handle, candidate);
      }
      if (const char* error = dlerror()) last_error = error;
    }
  }
  return absl::UnavailableError(absl::StrCat("cannot open ", absl::StrJoin(tried, " or "),
                                             " (set LD_LIBRARY_PATH): ", last_error));
}

VendorLibrary::~VendorLibrary() {
  if (handle_ != nullptr) dlclose(handle_);
}

absl::StatusOr<void*> VendorLibrary::RawSymbol(const char* symbol) const {
  dlerror();
  void* address = dlsym(handle_, symbol);
  if (address == nullptr) {
    const char* error = dlerror();
    return absl::UnavailableError(
        absl::StrCat(name_, " does not export ", symbol, error ? absl::StrCat(": ", error) : ""));
  }
  return address;
}

}  // namespace convd::cuda

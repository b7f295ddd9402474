#include "server/malloc_tuning.h"

#include <cstdlib>  // defines __GLIBC__ where the C library is glibc

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace convd {

void TuneMallocForTensors() {
#if defined(__GLIBC__)
  // 32 MiB is the highest mmap threshold glibc's own dynamic rule reaches
  // on 64-bit; setting it explicitly also stops that rule, and the trim
  // threshold above it keeps freed blocks of that size in the heap.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

}  // namespace convd

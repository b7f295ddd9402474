"""cuda_library: compiles .cu files with nvcc (sm_90 SASS + compute_90 PTX).

Every build compiles the CUDA sources, so a kernel that stops compiling
breaks CI even though CI has no GPU. Each .cu becomes one object through a
genrule; the objects are wrapped in a cc_library that links the CUDA runtime.
"""

NVCC = "/usr/local/cuda/bin/nvcc"

NVCC_FLAGS = " ".join([
    "-std=c++20",
    "-O3",
    "-gencode arch=compute_90,code=sm_90",
    "-gencode arch=compute_90,code=compute_90",
    "-Xcompiler -fPIC",
    "--expt-relaxed-constexpr",
    "-I.",
    "-I$(GENDIR)",
    "-isystem /usr/local/cuda/include",
])

def cuda_library(name, srcs, hdrs = [], deps = [], tags = [], visibility = None, nvcc_inputs = []):
    """nvcc_inputs: headers from other packages the .cu files include (exported files)."""
    objects = []
    for src in srcs:
        obj = name + "_" + src.replace("/", "_").replace(".cu", ".o")
        native.genrule(
            name = obj + "_nvcc",
            srcs = [src] + hdrs + nvcc_inputs + [
                h
                for h in native.glob(["*.h", "*.cuh"])
                if h not in hdrs
            ],
            outs = [obj],
            cmd = NVCC + " " + NVCC_FLAGS + " -c $(location " + src + ") -o $@",
            message = "nvcc " + src,
            tags = tags,
        )
        objects.append(obj)
    native.cc_library(
        name = name,
        srcs = objects,
        hdrs = hdrs,
        deps = deps + ["//third_party:cudart"],
        tags = tags,
        visibility = visibility,
    )

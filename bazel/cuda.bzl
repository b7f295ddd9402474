"""cuda_library: compiles .cu files with nvcc (sm_90 SASS + compute_80 PTX).

The kernels use nothing newer than sm_80 (cp.async, mma.sync m16n8k8 TF32
and m16n8k16 FP16, ldmatrix, cvt.rna.tf32), so they are compiled from
compute_80: H100s and H200s run the sm_90 SASS (the same instructions as
from compute_90: compared instruction by instruction on sgemm.cu and
winograd.cu), and every other GPU from sm_80 on (A100, L4, RTX 30/40,
Blackwell) JIT-compiles the PTX when a kernel is first loaded, once per
driver cache. An older GPU has no image: kernels/cuda/device.h says so and
the server serves on the CPU.

Every build compiles the CUDA sources, so a kernel that stops compiling
breaks CI even though CI has no GPU. Each .cu becomes one object through a
genrule; the objects are wrapped in a cc_library that links the CUDA runtime.
"""

NVCC = "/usr/local/cuda/bin/nvcc"

NVCC_FLAGS = " ".join([
    "-std=c++20",
    "-O3",
    "-gencode arch=compute_80,code=sm_90",
    "-gencode arch=compute_80,code=compute_80",
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
    _emulated_twin(name, srcs, hdrs, deps, tags, visibility, nvcc_inputs)

# What makes a .cu file host C++ (kernels/cuda/emulation/cuda_emulation.h).
EMULATION_COPTS = [
    "-DCONVD_CUDA_EMULATION",
    "-include",
    "kernels/cuda/emulation/cuda_emulation.h",
    "-Wno-unknown-pragmas",  # #pragma unroll
]

def emulated(label):
    """The emulated twin of a cuda_library or cuda_kernel_test label."""
    return label + "_emulated"

def _emulated_twin(name, srcs, hdrs, deps, tags, visibility, nvcc_inputs):
    """<name>_emulated: the same .cu files built by the host compiler against
    //kernels/cuda/emulation instead of nvcc and the CUDA runtime. Its deps
    are the twins of `deps` (which must be cuda_library targets)."""
    copies = []
    for src in srcs:
        copy = name + "_" + src.replace("/", "_").replace(".cu", "_emulated.cc")
        native.genrule(
            name = copy + "_copy",
            srcs = [src],
            outs = [copy],
            cmd = "cp $< $@",
            tags = tags,
        )
        copies.append(copy)
    native.cc_library(
        name = emulated(name),
        srcs = copies,
        hdrs = hdrs,
        textual_hdrs = nvcc_inputs + [
            h
            for h in native.glob(["*.h", "*.cuh"])
            if h not in hdrs
        ],
        copts = EMULATION_COPTS,
        deps = [emulated(d) for d in deps] + ["//kernels/cuda/emulation"],
        tags = tags,
        visibility = visibility,
    )

def cuda_host_library(name, cuda_deps, deps = [], **kwargs):
    """A cc_library of host code over the CUDA runtime and our kernels, twice:
    <name> links libcudart and the nvcc-built kernels; <name>_emulated the
    emulated runtime and the kernels' twins (cuda_deps are swapped for
    theirs: cuda_library or cuda_host_library targets)."""
    native.cc_library(
        name = name,
        deps = cuda_deps + deps + ["//third_party:cudart"],
        **kwargs
    )
    native.cc_library(
        name = emulated(name),
        deps = [emulated(d) for d in cuda_deps] + deps + ["//kernels/cuda/emulation"],
        **kwargs
    )

def cuda_test(name, srcs, cuda_deps, deps = [], tags = [], **kwargs):
    """Two tests from one source: <name> on the GPU (tagged "gpu"; it skips
    without a device) and <name>_emulated, the same test linked against the
    emulated twins of cuda_deps, which runs anywhere the CUDA headers are.
    cuda_deps: cuda_library or cuda_host_library targets."""
    native.cc_test(
        name = name,
        srcs = srcs,
        deps = cuda_deps + deps,
        tags = tags + ["cuda", "gpu"],
        **kwargs
    )
    native.cc_test(
        name = emulated(name),
        srcs = srcs,
        deps = [emulated(d) for d in cuda_deps] + deps,
        tags = tags + ["cuda", "emulated"],
        **kwargs
    )

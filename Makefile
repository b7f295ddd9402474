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
  libonnx-dev libonnx-testdata

# CUDA comes from the machine image (/usr/local/cuda); without nvcc the CUDA
# targets are left out of the build with a warning.
NVCC := /usr/local/cuda/bin/nvcc
HAVE_CUDA := $(shell [ -x $(NVCC) ] && [ -d /usr/local/cuda/include ] && echo yes)
TARGETS := //...
ifneq ($(HAVE_CUDA),yes)
  TARGETS := -- //... -//kernels/cuda/...
endif

# Test targets that exercise concurrency, for ThreadSanitizer: the thread
# pool, the batcher and the serving core. The gRPC suites are left out:
# Debian's gRPC and Abseil are not TSan-instrumented, so every hand-off
# through them reads as a race; they run under ASan instead.
TSAN_TARGETS := //kernels/cpu:ops_test //engine:executor_test //server/...

# An unmodified KServe client from PyPI, in a virtual environment.
VENV := .venv
TRITONCLIENT := tritonclient[grpc]==2.73.0

MODEL ?= models/lenet5

# GPU tests and benchmarks, built here and carried to the device machine
# (see bench/gpu_check.sh).
GPU_TEST_TARGETS := //kernels/cuda:elementwise_test

.PHONY: all deps build test test-asan test-tsan test-tritonclient serve bench gpu-carry clean

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
	$(MAKE) test-asan
	$(MAKE) test-tsan

test-asan: deps
	$(BAZEL) test --config=asan $(TARGETS)

test-tsan: deps
	$(BAZEL) test --config=tsan $(TSAN_TARGETS)

# Serves the bundled models (gRPC on 8001) until Ctrl-C, which drains.
serve: build
	./bazel-bin/server/convd --model-repository=models --grpc-port=$(GRPC_PORT)

GRPC_PORT ?= 8001

$(VENV)/.installed:
	/usr/bin/python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet '$(TRITONCLIENT)'
	touch $@

test-tritonclient: build $(VENV)/.installed
	$(VENV)/bin/python tests/tritonclient/grpc_client_test.py bazel-bin/server/convd models

bench: build
	./bazel-bin/bench/conv_bench

gpu-carry: deps
	$(BAZEL) build -c opt $(GPU_TEST_TARGETS)
	rm -rf .carry && mkdir -p .carry/bin
	for target in $(GPU_TEST_TARGETS); do \
	  cp bazel-bin/$$(echo $${target#//} | tr ':' '/') .carry/bin/; \
	done

clean:
	$(BAZEL) clean

# kbnet: every target does its own setup on a fresh Debian 12 machine (as root).
#   make deps    install the Debian packages in scripts/packages.txt
#   make build   release build (g++) in build/release
#   make test    unit + integration tests (g++), sanitizer unit tests (clang,
#                ASan+UBSan; TSan on the threaded ones), bounded fuzzing,
#                layering check
#   make demo    build and run the main job (sockperf against kbnet's stack and the kernel, side by side)
#   make bench   micro-benchmarks side by side with reference implementations

SHELL := /bin/bash
JOBS ?= $(shell nproc)
# Warnings are errors in CI; locally they stay warnings so a newer compiler
# does not stop a build.
WERROR ?= $(if $(CI),ON,OFF)
FUZZ_SECONDS ?= 20

RELEASE := build/release
ASAN := build/asan
FUZZ := build/fuzz
TSAN := build/tsan

.PHONY: all deps build test test-unit test-asan test-tsan test-fuzz check-layers demo bench format clean

all: build

deps:
	@bash scripts/deps.sh

$(RELEASE)/build.ninja: CMakeLists.txt
	cmake -S . -B $(RELEASE) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=g++ -DKBNET_WERROR=$(WERROR)

$(ASAN)/build.ninja: CMakeLists.txt
	cmake -S . -B $(ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER=clang++ \
	  -DKBNET_SANITIZE=address -DKBNET_BENCH=OFF -DKBNET_WERROR=$(WERROR)

$(TSAN)/build.ninja: CMakeLists.txt
	cmake -S . -B $(TSAN) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DKBNET_SANITIZE=thread -DKBNET_BENCH=OFF -DKBNET_WERROR=$(WERROR)

$(FUZZ)/build.ninja: CMakeLists.txt
	cmake -S . -B $(FUZZ) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
	  -DKBNET_FUZZ=ON -DKBNET_BENCH=OFF -DKBNET_WERROR=$(WERROR)

build: deps $(RELEASE)/build.ninja
	cmake --build $(RELEASE) -j $(JOBS)

test: build check-layers test-unit test-asan test-tsan test-fuzz
	@echo "make test: all suites passed"

check-layers:
	@bash scripts/check_layers.sh

test-unit: build
	ctest --test-dir $(RELEASE) --output-on-failure -j $(JOBS)

test-asan: deps $(ASAN)/build.ninja
	cmake --build $(ASAN) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN) --output-on-failure -j $(JOBS) -L unit

# ThreadSanitizer over the tests that run several threads (rings, pair port).
test-tsan: deps $(TSAN)/build.ninja
	cmake --build $(TSAN) -j $(JOBS) --target core_tests port_tests
	TSAN_OPTIONS=halt_on_error=1 $(TSAN)/tests/core_tests --gtest_filter='*thread*:*Thread*'
	TSAN_OPTIONS=halt_on_error=1 $(TSAN)/tests/port_tests --gtest_filter='*thread*:*Thread*:Memif*'

test-fuzz: deps $(FUZZ)/build.ninja
	cmake --build $(FUZZ) -j $(JOBS) --target fuzz_all
	bash scripts/run_fuzz.sh $(FUZZ) $(FUZZ_SECONDS)

demo: build
	bash scripts/demo.sh $(RELEASE)

bench: build
	bash scripts/bench.sh $(RELEASE)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf build

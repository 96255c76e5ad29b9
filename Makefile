# gdlua: make / make test / make run / make bench / make install / make clean
#
# Outputs go to build/: lib/libgd.so (the C core), lib/libgd_cuda.so (the CUDA
# backend, when nvcc is found), bin/gdlua (the host).  lua/gd/cdef.lua (the FFI
# declarations) is generated from src/gd.h.  `make test` and `make run` first
# run scripts/install-deps, which installs what a fresh Debian 12 machine lacks.

PREFIX   ?= /usr/local
BUILD    := build
CC       ?= gcc
NVCC     ?= $(shell command -v nvcc 2>/dev/null || (test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc))
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))

WARN     := -Wall -Wextra -Werror
comma    := ,
CFLAGS   ?= -O3 -fno-math-errno -fopenmp -g
# -fno-semantic-interposition: calls between libgd's own functions bind
# inside the library (no PLT hop), which the per-op path of small tensors feels
# x86-64: fixed-size clears of up to 512 bytes (a tensor header, an iterator,
# a tape record) as unrolled vector stores, larger ones by memset; gcc's
# generic tuning used `rep stos`, whose start-up cost (tens of cycles) was a
# visible share of a small tensor's life
# (only where the compiler takes the option: gcc on x86-64)
STRINGOPS_TRY := -mmemset-strategy=unrolled_loop:512:noalign$(comma)libcall:-1:noalign
STRINGOPS := $(shell $(CC) $(STRINGOPS_TRY) -Werror -E -x c /dev/null >/dev/null 2>&1 && echo '$(STRINGOPS_TRY)')
ALL_CFLAGS := -std=gnu11 $(CFLAGS) $(WARN) -fPIC -fno-semantic-interposition $(STRINGOPS) $(CFLAGS_EXTRA)
LUAJIT_CFLAGS := $(shell pkg-config --cflags luajit 2>/dev/null)
LUAJIT_LIBS   := $(shell pkg-config --libs luajit 2>/dev/null)
EDIT_CFLAGS   := $(shell pkg-config --cflags libedit 2>/dev/null)
EDIT_LIBS     := $(shell pkg-config --libs libedit 2>/dev/null)

CORE_SRC := $(wildcard src/*.c src/cpu/*.c)
CORE_OBJ := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(CORE_SRC))
HOST_SRC := $(wildcard src/host/*.c)
HOST_OBJ := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(HOST_SRC))
CUDA_SRC := $(wildcard cuda/*.cu)
CUDA_OBJ := $(patsubst cuda/%.cu,$(BUILD)/obj/cuda/%.o,$(CUDA_SRC))
HEADERS  := $(wildcard src/*.h src/*.def src/kernels/*.h src/cpu/*.h src/host/*.h cuda/*.cuh)

# OpenBLAS's OpenMP build shares libgomp's thread pool with gdlua's own loops;
# the pthread build (Debian's default) runs a second pool that fights OpenMP's
# spinning threads for the cores (measured: 3x slower training steps at 1024
# wide).  Linked by path when installed (scripts/install-deps installs it).
BLAS_OMP := $(firstword $(wildcard /usr/lib/*/openblas-openmp/libopenblas.so.0))
BLAS_LIBS := $(if $(BLAS_OMP),-L$(dir $(BLAS_OMP)) -l:libopenblas.so.0 -Wl$(comma)-rpath$(comma)$(dir $(BLAS_OMP)),-lopenblas)

LIBGD    := $(BUILD)/lib/libgd.so
LIBCUDA  := $(if $(NVCC),$(BUILD)/lib/libgd_cuda.so)
# The MPI/NCCL engine of gd.dist (src/dist/), built when mpicc is found;
# libgd opens it at run time (src/dist.c), so libgd never links MPI.  NCCL's
# header, where the CUDA toolkit has it, adds the CUDA-tensor path (libnccl is
# opened at its first use, not linked).
MPICC    ?= $(shell command -v mpicc 2>/dev/null)
NCCL_INC := $(firstword $(dir $(wildcard $(CUDA_HOME)/include/nccl.h /usr/local/cuda/include/nccl.h /usr/include/nccl.h)))
DIST_SRC := $(wildcard src/dist/*.c)
DIST_NCCL_FLAGS := $(if $(NCCL_INC),-DGD_DIST_NCCL -isystem $(NCCL_INC))
LIBDIST  := $(if $(MPICC),$(BUILD)/lib/libgd_dist.so)
GDLUA    := $(BUILD)/bin/gdlua
CDEF     := lua/gd/cdef.lua
OPS_LUA  := lua/gd/ops.lua

# GPUs of this project: Hopper natively, PTX for anything newer (JIT-compiled)
NVCC_ARCH  ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
NVCC_FLAGS := -O3 -std=c++17 $(NVCC_ARCH) -Xcompiler -fPIC,-Wall,-Wextra,-Werror -Werror all-warnings \
              --expt-relaxed-constexpr

.PHONY: all deps test run bench install uninstall clean check-c gpu-bundle docs golden

all: $(LIBGD) $(GDLUA) $(CDEF) $(OPS_LUA) $(LIBCUDA) $(LIBDIST)

$(BUILD)/obj/%.o: src/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/host/%.o: src/host/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LUAJIT_CFLAGS) $(EDIT_CFLAGS) -DGD_BUILD_DIR='"$(abspath $(BUILD))"' -c $< -o $@

$(LIBGD): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) -shared -fopenmp -Wl,-Bsymbolic-functions -o $@ $^ -Wl,-rpath,'$$ORIGIN' $(BLAS_LIBS) -lz -lm -ldl -lpthread

$(GDLUA): $(HOST_OBJ) $(LIBGD)
	@mkdir -p $(dir $@)
	$(CC) -fopenmp -o $@ $(HOST_OBJ) -L$(BUILD)/lib -Wl,--no-as-needed -lgd -Wl,--as-needed \
	    -Wl,-rpath,'$$ORIGIN/../lib' $(LUAJIT_LIBS) $(EDIT_LIBS) -lm -ldl

$(BUILD)/lib/libgd_dist.so: $(DIST_SRC) src/dist_engine.h src/dist/dist_nccl.h src/gd.h
	@mkdir -p $(dir $@)
	$(MPICC) -std=gnu11 -O2 -g $(WARN) -fPIC -shared $(DIST_NCCL_FLAGS) -o $@ $(DIST_SRC) -ldl -lpthread -lm

$(BUILD)/obj/cuda/%.o: cuda/%.cu $(HEADERS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) -Isrc -c $< -o $@

$(BUILD)/lib/libgd_cuda.so: $(CUDA_OBJ)
	@mkdir -p $(dir $@)
	$(NVCC) -shared $(NVCC_ARCH) -o $@ $^ -L$(CUDA_HOME)/lib64 -lcublas -lcudart \
	    -Xlinker -rpath,'$$ORIGIN':$(CUDA_HOME)/lib64

$(CDEF): src/gd.h src/ops.def scripts/gen-cdef.sh
	sh scripts/gen-cdef.sh src/gd.h > $@.tmp && mv $@.tmp $@

# the operation codes' Lua names (committed, like the docs: regenerated when src/ops.def changes)
$(OPS_LUA): src/ops.def scripts/gen-ops.sh
	sh scripts/gen-ops.sh src/ops.def > $@.tmp && mv $@.tmp $@

deps:
	@sh scripts/install-deps

# The specs run with busted under the gdlua host; scripts/run-specs prints
# busted's report and ends with "N passed, N failed, N skipped".
test: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/run-specs

run: deps
	@$(MAKE) --no-print-directory all
	$(GDLUA) scripts/compare.lua

bench: all
	$(GDLUA) scripts/bench.lua

# docs/flavors.md: every optimizer flavor from the registry (lua/gd/optim/flavors.lua);
# docs/ops.md: every operation code from src/ops.def (through lua/gd/ops.lua)
docs: $(GDLUA) $(CDEF) $(OPS_LUA)
	@mkdir -p docs
	$(GDLUA) scripts/gen-flavors-doc.lua > docs/flavors.md.tmp && mv docs/flavors.md.tmp docs/flavors.md
	$(GDLUA) scripts/gen-ops-doc.lua > docs/ops.md.tmp && mv docs/ops.md.tmp docs/ops.md

# spec/golden/*.lua: the reference trajectories, one generator per system
# (pytorch.py needs Debian's python3-torch; the others only python3)
GOLDEN_GEN := $(filter-out scripts/golden/golden_common.py scripts/golden/nn_common.py,$(wildcard scripts/golden/*.py))
golden:
	@for g in $(GOLDEN_GEN); do /usr/bin/python3 $$g || exit 1; done

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/share/gdlua/lua/gd
	install -m 755 $(GDLUA) $(DESTDIR)$(PREFIX)/bin/gdlua
	install -m 755 scripts/gdlua-busted $(DESTDIR)$(PREFIX)/bin/gdlua-busted
	install -m 644 $(LIBGD) $(LIBCUDA) $(LIBDIST) $(DESTDIR)$(PREFIX)/lib/
	cp -R lua/gd/. $(DESTDIR)$(PREFIX)/share/gdlua/lua/gd/
	install -m 644 -D scripts/optbench.lua $(DESTDIR)$(PREFIX)/share/gdlua/scripts/optbench.lua
	printf '#!/bin/sh\nexec "%s/bin/gdlua" "%s/share/gdlua/scripts/optbench.lua" "$$@"\n' '$(PREFIX)' '$(PREFIX)' > $(DESTDIR)$(PREFIX)/bin/gdlua-optbench
	chmod 755 $(DESTDIR)$(PREFIX)/bin/gdlua-optbench

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/bin/gdlua $(DESTDIR)$(PREFIX)/bin/gdlua-busted $(DESTDIR)$(PREFIX)/bin/gdlua-optbench $(DESTDIR)$(PREFIX)/lib/libgd.so $(DESTDIR)$(PREFIX)/lib/libgd_cuda.so $(DESTDIR)$(PREFIX)/lib/libgd_dist.so \
	    $(DESTDIR)$(PREFIX)/share/gdlua

clean:
	rm -rf $(BUILD) $(CDEF) out

# The GPU bundle: build/ made self-contained for a bare GPU machine (see
# scripts/gpu-bundle); scripts/gpu-check runs the CUDA specs and the GPU bench there.
gpu-bundle: all
	@sh scripts/gpu-bundle

# ---------------------------------------------------------------- make asan
# The whole spec suite under AddressSanitizer + UndefinedBehaviorSanitizer, in
# its own build directory (build-asan/, no CUDA backend: nothing there could
# run it).  The sanitizers go into CC itself, so that every compile and every
# link (libgd.so, and the host, which then carries the runtime: LuaJIT is not
# instrumented) gets them.  Any UBSan report ends the run
# (-fno-sanitize-recover); ASan stops at its first error.  LeakSanitizer is off
# (detect_leaks=0): the plot's libraries (librsvg, cairo, glib through
# ffi.load) keep caches for the life of the process, LuaJIT unloads them at
# exit, and LeakSanitizer then reports them with frames it cannot name, so no
# suppression matches; its exitcode flag would also silence ASan's errors.
# gd's own memory is checked by the specs (tensor_memory_spec, and
# nn_hardening_spec: the live bytes of dropped models return).
# allocator_may_return_null: specs ask for absurd sizes and expect gd's "out of
# memory" error, not ASan's abort.  The memory spec's loop of 1 MB tensors
# runs 10^4 times instead of 10^5: ASan unmaps every freed large block, so
# each iteration faults in 256 fresh pages (10^5 took 680 s of CPU alone).
# Measured on the shared 2-core machine (load ~10): build 3 min; the suite
# 35 min with the 10^5 loop, 4 min (227 s) with 10^4.
ASAN_BUILD   := build-asan
ASAN_FLAGS   := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
# quarantine_size_mb: ASan keeps 256 MB of freed blocks by default, which the memory spec (1 MB temporaries) reads as growth
ASAN_ENV     := ASAN_OPTIONS=detect_leaks=0:quarantine_size_mb=64:allocator_may_return_null=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=0:strict_string_checks=1:check_initialization_order=1 \
                UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: asan
asan:
	@$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) NVCC= CC="$(CC) $(ASAN_FLAGS)" \
	    $(ASAN_BUILD)/lib/libgd.so $(ASAN_BUILD)/bin/gdlua $(CDEF)
	@$(ASAN_ENV) GD_MEMORY_SPEC_LOOPS=10000 GD_AUTOGRAD_SPEC_STEPS=20000 GDLUA=$(abspath $(ASAN_BUILD))/bin/gdlua sh scripts/run-specs
.PHONY: clean-asan
clean: clean-asan
clean-asan:
	rm -rf $(ASAN_BUILD)

# ---------------------------------------------------------------- make fuzz
# libFuzzer targets (Debian's clang and libclang-rt-dev) for the checkpoint
# reader, the .npy reader and the CSV reader, built with AddressSanitizer and
# UndefinedBehaviorSanitizer under build/fuzz/, each run FUZZ_TIME seconds
# (make fuzz FUZZ_TIME=600 for a longer hunt).  The corpus starts from seeds
# (scripts/fuzz-seeds.lua) and the kept inputs in spec/fuzz/<target>/, with
# the tokens of fuzz/<target>.dict where there is one; a
# finding stops the run and is written to build/fuzz/crash-<target>-*: fix the
# bug, then copy the input into spec/fuzz/<target>/, where spec/fuzz_spec.lua
# replays it on every make test.
FUZZ_CC      ?= clang
FUZZ_TIME    ?= 60
FUZZ_TARGETS := checkpoint npy csv
FUZZ_BUILD   := $(BUILD)/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := -std=gnu11 -O1 -g -fopenmp -fPIC $(FUZZ_SAN) -Isrc
FUZZ_CORE_OBJ := $(patsubst src/%.c,$(FUZZ_BUILD)/obj/%.o,$(CORE_SRC))
FUZZ_LIBS    := $(BLAS_LIBS) -lz -lm -ldl -lpthread

.PHONY: fuzz fuzz-build

$(FUZZ_BUILD)/obj/%.o: src/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/fuzz-csv: fuzz/fuzz_csv.c $(FUZZ_CORE_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS)

$(FUZZ_BUILD)/fuzz-checkpoint: fuzz/fuzz_load.c $(FUZZ_CORE_OBJ) $(CDEF)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(LUAJIT_CFLAGS) -DFUZZ_NPY=0 -DGD_LUA_DIR='"$(abspath lua)"' \
	    -rdynamic -o $@ fuzz/fuzz_load.c $(FUZZ_CORE_OBJ) $(LUAJIT_LIBS) $(FUZZ_LIBS)

$(FUZZ_BUILD)/fuzz-npy: fuzz/fuzz_load.c $(FUZZ_CORE_OBJ) $(CDEF)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(LUAJIT_CFLAGS) -DFUZZ_NPY=1 -DGD_LUA_DIR='"$(abspath lua)"' \
	    -rdynamic -o $@ fuzz/fuzz_load.c $(FUZZ_CORE_OBJ) $(LUAJIT_LIBS) $(FUZZ_LIBS)

fuzz-build: fuzz-check $(addprefix $(FUZZ_BUILD)/fuzz-,$(FUZZ_TARGETS))

# Debian 12: clang (14), libclang-rt-14-dev (libFuzzer and the sanitizers),
# libomp-14-dev (OpenMP under clang); not in scripts/install-deps, since
# make test does not fuzz
.PHONY: fuzz-check
fuzz-check:
	@command -v $(FUZZ_CC) >/dev/null 2>&1 && echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' | \
	    $(FUZZ_CC) -fsanitize=fuzzer -fopenmp -x c -o /dev/null - 2>/dev/null || \
	    { echo "make fuzz: $(FUZZ_CC) cannot build libFuzzer targets with OpenMP; on Debian 12:" \
	        "apt-get install clang libclang-rt-14-dev libomp-14-dev" >&2; exit 1; }

# Leak checks per input: FUZZ_LEAKS lists the targets that have them.  Not yet
# the checkpoint target: gd.nn.load's modules are never collected (issue 10,
# item 19: the module registry's values hold their keys), which LeakSanitizer
# reports for every module input.
FUZZ_LEAKS   ?= npy csv
# OMP_NUM_THREADS=1: one input at a time, no thread pool to spin
fuzz: fuzz-build $(GDLUA)
	$(GDLUA) scripts/fuzz-seeds.lua $(FUZZ_BUILD)/corpus
	@set -e; for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t spec/fuzz/$$t; \
	    leaks=0; case " $(FUZZ_LEAKS) " in *" $$t "*) leaks=1;; esac; \
	    echo "fuzz: $$t for $(FUZZ_TIME) s (leak checks: $$leaks)"; \
	    OMP_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=$$leaks GD_FUZZ_GC_EACH=$$leaks \
	    $(FUZZ_BUILD)/fuzz-$$t -max_total_time=$(FUZZ_TIME) -detect_leaks=$$leaks \
	        $$(test -f fuzz/$$t.dict && echo -dict=fuzz/$$t.dict) \
	        -max_len=8192 -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
	        -artifact_prefix=$(FUZZ_BUILD)/crash-$$t- $(FUZZ_BUILD)/corpus/$$t spec/fuzz/$$t; \
	done

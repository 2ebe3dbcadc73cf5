# sftkit: one build for everything. See README.md.
#
#   make            build build/bin/* and build/lib/libsftkit.a
#   make check      all tests, then again under ASan+UBSan, then a fuzz smoke run
#   make demo       split a synthetic chat dataset and show the counts
#   make bench      benchmarks (tests/bench/; bench-split, bench-kakao, bench-pii, bench-tok one at a time)
#   make fuzz       a long fuzz run (FUZZ_TIME seconds per target)
#   make deps       install the Debian packages (prints the apt-get line when not root)
#   make install    PREFIX=/usr/local
#   CUDA=0|1        force the CUDA build off or on (default: on when nvcc is found)

VERSION := 0.1.0
PREFIX ?= /usr/local
BUILD ?= build
CC ?= cc
CFLAGS ?= -O2 -g
WARNFLAGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# make check builds with -Werror: the build must stay free of warnings.
ifeq ($(WERROR),1)
WARNFLAGS += -Werror
endif
ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif

# Debian packages: what the code links against, then what the tests use.
DEB_BUILD := build-essential pkg-config libcjson-dev libpcre2-dev libcurl4-openssl-dev \
	libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libsentencepiece-dev \
	libicu-dev
DEB_TEST := libcmocka-dev bats sentencepiece python3-jsonschema clang libclang-rt-14-dev groff-base man-db \
	python3-torch python3-numpy ffmpeg
PKGS := libcjson libpcre2-8 sentencepiece icu-uc libcurl libavformat libavcodec libswscale libavutil

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lcjson -lpcre2-8 -lsentencepiece -licuuc -lcurl -lavformat -lavcodec -lswscale -lavutil)
CPPFLAGS += -Ilib -D_GNU_SOURCE -DSFT_VERSION=\"$(VERSION)\" $(PKG_CFLAGS)
ALL_CFLAGS := -std=c11 $(CFLAGS) $(WARNFLAGS) $(SANFLAGS) -MMD -MP
LDLIBS := $(PKG_LIBS) -lstdc++ -lpthread -lm
# lib/tok/spm.cc, the wrapper over libsentencepiece, is the only C++.
CXX ?= c++
ALL_CXXFLAGS := -std=c++17 $(CFLAGS) -Wall -Wextra $(SANFLAGS) -MMD -MP

# CUDA: .cu files under lib/ are built only when nvcc is there.
NVCC ?= $(shell command -v nvcc 2>/dev/null || command -v /usr/local/cuda/bin/nvcc 2>/dev/null)
ifeq ($(origin CUDA),undefined)
CUDA := $(if $(NVCC),1,0)
endif
CU_SRCS := $(wildcard lib/*/cuda/*.cu)
ifeq ($(CUDA),1)
ifeq ($(NVCC),)
$(error CUDA=1 but nvcc was not found; set NVCC=/path/to/nvcc)
endif
NVCCFLAGS ?= -O2 -g -gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_80,code=compute_80
CU_OBJS := $(CU_SRCS:%.cu=$(BUILD)/obj/%.o)
CPPFLAGS += -DSFT_HAVE_CUDA=1
ifneq ($(CU_SRCS),)
LDLIBS += -L$(dir $(NVCC))../lib64 -lcudart
endif
endif

LIB_SRCS := $(wildcard lib/*/*.c lib/*/*/*.c)
LIB_CXX_SRCS := $(wildcard lib/*/*.cc)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(LIB_CXX_SRCS:%.cc=$(BUILD)/obj/%.o) $(CU_OBJS)
LIB := $(BUILD)/lib/libsftkit.a
TOOLS := $(patsubst tools/%.c,%,$(wildcard tools/*.c))
BINS := $(TOOLS:%=$(BUILD)/bin/%)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all tests check check-run demo demo-run bench bench-split bench-kakao bench-pii bench-tok bench-matmul bench-nn bench-train bench-qa bench-video fuzz fuzz-build deps install config clean
.DELETE_ON_ERROR:

all: $(LIB) $(BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.cc
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(ALL_CXXFLAGS) $(if $(filter 1,$(WERROR)),-Werror) -c $< -o $@

$(BUILD)/obj/%.o: %.cu
	@mkdir -p $(@D)
	$(NVCC) $(CPPFLAGS) $(NVCCFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/bin/%: $(BUILD)/obj/tools/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

# ---- tests ----

# Small programs the tests drive (tests/tools/NAME.c -> BUILD/tests/tools/NAME).
TEST_TOOL_SRCS := $(wildcard tests/tools/*.c)
TEST_TOOLS := $(TEST_TOOL_SRCS:tests/tools/%.c=$(BUILD)/tests/tools/%)

tests: all $(UNIT_BINS) $(TEST_TOOLS)

$(BUILD)/tests/tools/%: $(BUILD)/obj/tests/tools/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -lcmocka -o $@

# Fuzz targets: clang's libFuzzer with ASan+UBSan, built from the sources.
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_TIME ?= 600
FUZZ_CFLAGS := -std=c11 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

fuzz-build: $(FUZZ_BINS)

# The library is compiled once for all targets (with the fuzzer's coverage
# instrumentation and the sanitizers), then each target is linked with it.
FUZZ_LIB := $(BUILD)/fuzz/libsftkit-fuzz.a
FUZZ_OBJS := $(LIB_SRCS:%.c=$(BUILD)/fuzz/obj/%.o) $(LIB_CXX_SRCS:%.cc=$(BUILD)/fuzz/obj/%.o)

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	clang $(CPPFLAGS) -std=c11 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -MMD -MP -c $< -o $@

# C++: without UBSan's C++-only vptr/function checks (their runtime is not
# linked by clang's C link)
$(BUILD)/fuzz/obj/%.o: %.cc
	@mkdir -p $(@D)
	clang++ $(CPPFLAGS) -std=c++17 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=vptr,function -MMD -MP -c $< -o $@

$(FUZZ_LIB): $(FUZZ_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB)
	clang $(CPPFLAGS) $(FUZZ_CFLAGS) $< $(FUZZ_LIB) $(LDLIBS) -o $@

# make check = deps, then the real work in a fresh make (so pkg-config sees
# packages that deps has just installed).
check: deps
	@$(MAKE) --no-print-directory check-run

check-run:
	$(MAKE) --no-print-directory WERROR=1 tests
	$(MAKE) --no-print-directory WERROR=1 BUILD=build/asan SAN=1 tests
	$(MAKE) --no-print-directory fuzz-build
	tests/run.sh build build/asan

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@for f in $(FUZZ_BINS); do \
	  name=$$(basename $$f); mkdir -p $(BUILD)/fuzz/corpus-$$name; \
	  echo "fuzz: $$name for $(FUZZ_TIME)s"; \
	  $$f -max_total_time=$(FUZZ_TIME) -max_len=65536 $(BUILD)/fuzz/corpus-$$name tests/fuzz/corpus/$${name#fuzz_} || exit 1; \
	done

# make bench fails when a benchmark misses its target (make -k bench runs the rest).
bench: bench-split bench-kakao bench-pii bench-tok bench-matmul bench-nn bench-qa bench-train bench-video

bench-split: all $(BUILD)/bench/gen-jsonl
	tests/bench/split-bench.sh $(BUILD)

bench-kakao: all $(BUILD)/bench/gen-kakao
	tests/bench/kakao-bench.sh $(BUILD)

bench-pii: all $(BUILD)/bench/gen-pii-chat
	tests/bench/pii-bench.sh $(BUILD)

bench-tok: all $(BUILD)/bench/gen-tok-chat $(BUILD)/bench/spm_baseline
	tests/bench/tok-bench.sh $(BUILD)

# bench-qa: qa-gen -j 32 against the fake server (0.5 s a reply) vs the ideal
# and vs one request at a time with sleep(1)
bench-qa: all
	tests/bench/qa-bench.sh $(BUILD)

# bench-matmul: nn_matmul against OpenBLAS sgemm (Debian's libopenblas-dev, a bench-only dependency)
bench-matmul: all $(BUILD)/bench/matmul-bench
	tests/bench/matmul-bench.sh $(BUILD)

$(BUILD)/bench/matmul-bench: tests/bench/matmul-bench.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -std=c11 -O2 -Wall -Wextra $$(pkg-config --cflags openblas 2>/dev/null) $< $(LIB) \
	  $$(pkg-config --libs openblas 2>/dev/null || echo -lopenblas) $(LDLIBS) -o $@

# bench-nn: generation (decode against the memory bandwidth, prefill against
# the PyTorch reference, resident memory) on a Qwen2.5-0.5B-shaped checkpoint
bench-nn: all $(BUILD)/bench/nn-gen-bench
	tests/bench/nn-bench.sh $(BUILD)

$(BUILD)/bench/nn-gen-bench: tests/bench/nn-gen-bench.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -std=c11 -O2 -Wall -Wextra $< $(LIB) $(LDLIBS) -o $@

# bench-train: one LoRA training step of sft-train on a ~30M Qwen2-shaped
# checkpoint against the PyTorch reference, and peak memory against plan
bench-train: all
	tests/bench/train-bench.sh $(BUILD)

# bench-video: 8 frames of a generated 10-minute 720p H.264 video against
# decoding it all, OpenCV's seek per frame (python3-opencv) and ffmpeg -vf
# select; -j 1 against -j 2 on many short videos
bench-video: all
	tests/bench/video-bench.sh $(BUILD)

# bench-tok's libsentencepiece baseline (C++; not built by the generators' pattern rule)
$(BUILD)/bench/spm_baseline: tests/bench/spm_baseline.cc
	@mkdir -p $(@D)
	$(CXX) -std=c++17 -O2 -Wall -Wextra $< -o $@ $(shell pkg-config --cflags --libs sentencepiece 2>/dev/null || echo -lsentencepiece)

$(BUILD)/bench/%: tests/bench/%.c tests/bench/gen-common.h tests/bench/chat-words.h
	@mkdir -p $(@D)
	$(CC) -std=c11 -O2 -Wall -Wextra $< -o $@

demo: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/gen-kakao
	@$(MAKE) --no-print-directory demo-run

D := $(BUILD)/demo
demo-run:
	@rm -rf $(D) && mkdir -p $(D)
	@echo "== a synthetic KakaoTalk export (Android, Korean UI; made-up people, the owner shown as 회원님)"
	@echo '$$ gen-kakao --bytes 400K > $(D)/talk.txt'
	@$(BUILD)/bench/gen-kakao --bytes 400K > $(D)/talk.txt
	@sed -n '1,2p;5,8p' $(D)/talk.txt | cut -c1-100
	@echo
	@echo "== kakao-parse: one record per message (format and encoding are detected)"
	@echo '$$ kakao-parse -v -o $(D)/messages.jsonl $(D)/talk.txt; head -2 $(D)/messages.jsonl'
	@$(BUILD)/bin/kakao-parse -v -o $(D)/messages.jsonl $(D)/talk.txt; head -2 $(D)/messages.jsonl
	@echo
	@echo "== conversations (a silence of 20 minutes ends one) for a bot that talks like the owner,"
	@echo "   personal data masked (the people's names learnt from the messages), then split"
	@echo "   90:10 with each conversation whole"
	@echo '$$ kakao-parse -v --emit conversations --me 정민준 --gap 20m $(D)/talk.txt |'
	@echo '    pii-mask -v --speakers-from $(D)/messages.jsonl --report $(D)/pii-report.json |'
	@echo '    split -v --ratio 0.9,0.1 --exact --key meta.conversation --out $(D)/chat'
	@$(BUILD)/bin/kakao-parse -v --emit conversations --me 정민준 --gap 20m $(D)/talk.txt | \
	  $(BUILD)/bin/pii-mask -v --speakers-from $(D)/messages.jsonl --report $(D)/pii-report.json | \
	  $(BUILD)/bin/split -v --ratio 0.9,0.1 --exact --key meta.conversation --out $(D)/chat
	@echo '$$ head -c 300 $(D)/chat.train.jsonl'
	@head -c 300 $(D)/chat.train.jsonl; echo ...
	@echo
	@echo "== tokcount: the token counts of the training part as a model with a ChatML template"
	@echo "   sees them (the small test tokenizer of fixtures/tok), to choose max_seq_length"
	@echo '$$ tokcount --tokenizer fixtures/tok/bytelevel/tokenizer.json --template chatml --stats $(D)/chat.train.jsonl'
	@$(BUILD)/bin/tokcount --tokenizer fixtures/tok/bytelevel/tokenizer.json --template chatml \
	  --stats $(D)/chat.train.jsonl
	@echo
	@echo "== reply pairs with two turns of history, long replies dropped"
	@echo '$$ kakao-parse -v --emit pairs --me 정민준 --context 2 --max-chars 200 -o $(D)/pairs.jsonl $(D)/talk.txt'
	@$(BUILD)/bin/kakao-parse -v --emit pairs --me 정민준 --context 2 --max-chars 200 -o $(D)/pairs.jsonl $(D)/talk.txt
	@echo
	@echo "== a file that is no export is refused with a reason (exit 65)"
	@echo '$$ kakao-parse fixtures/kakao/garbage.txt'
	@$(BUILD)/bin/kakao-parse fixtures/kakao/garbage.txt; echo "exit status $$?"
	@echo
	@echo "== a bad line is reported with file, line and column; --on-error=skip goes on"
	@printf '{"id":1}\n{"id":2,}\n{"id":3}\n' > $(D)/bad.jsonl
	@echo '$$ split --ratio 1,1 --on-error=skip --rejects $(D)/rejects.jsonl --out $(D)/bad $(D)/bad.jsonl'
	@$(BUILD)/bin/split --ratio 1,1 --on-error=skip --rejects $(D)/rejects.jsonl \
	  --out $(D)/bad $(D)/bad.jsonl; echo "exit status $$?"
	@echo '$$ cat $(D)/rejects.jsonl.why'
	@cat $(D)/rejects.jsonl.why
	@echo
	@echo "== sft-train: a short real LoRA training run on the training part, with a tiny random"
	@echo "   Qwen2-shaped checkpoint made here (what it learns in 20 steps is mostly noise,"
	@echo "   but the loss goes down)"
	@echo '$$ /usr/bin/python3 fixtures/gen-nn.py $(D)/models --cases qwen2 --vocab 2061'
	@/usr/bin/python3 fixtures/gen-nn.py $(D)/models --cases qwen2 --vocab 2061 >/dev/null
	@echo '$$ sft-train --model $(D)/models/qwen2 --train $(D)/chat.train.jsonl --out $(D)/adapter \'
	@echo '    --max-steps 20 --lr 5e-3 --batch-size 4'
	@$(BUILD)/bin/sft-train --model $(D)/models/qwen2 --train $(D)/chat.train.jsonl --out $(D)/adapter \
	  --max-steps 20 --lr 5e-3 --batch-size 4
	@echo "$$ sed -n '1p;\$$p' $(D)/adapter/log.jsonl    # the first and the last step"
	@sed -n '1p;$$p' $(D)/adapter/log.jsonl
	@echo '$$ ls $(D)/adapter'
	@ls $(D)/adapter
	@echo
	@echo "== sft-generate answering with the adapter, and the validation part scored without"
	@echo "   and with it (loss and perplexity of the assistant tokens)"
	@echo "$$ sft-generate -m $(D)/models/qwen2 --adapter $(D)/adapter --prompt '내일 점심 뭐 먹을까?' \\"
	@echo '    -n 24 --temperature 0.8 --seed 1'
	@$(BUILD)/bin/sft-generate -m $(D)/models/qwen2 --adapter $(D)/adapter --prompt '내일 점심 뭐 먹을까?' \
	  -n 24 --temperature 0.8 --seed 1
	@echo '$$ sft-generate -m $(D)/models/qwen2 --score $(D)/chat.val.jsonl > /dev/null'
	@$(BUILD)/bin/sft-generate -m $(D)/models/qwen2 --score $(D)/chat.val.jsonl > /dev/null
	@echo '$$ sft-generate -m $(D)/models/qwen2 --adapter $(D)/adapter --score $(D)/chat.val.jsonl > /dev/null'
	@$(BUILD)/bin/sft-generate -m $(D)/models/qwen2 --adapter $(D)/adapter --score $(D)/chat.val.jsonl > /dev/null
	@echo
	@echo "Outputs are in $(D)/. Run 'make check' for the tests."

# Installs the packages the build and the tests need. Without root it
# prints the apt-get line instead.
deps:
	@missing=$$(for p in $(DEB_BUILD) $(DEB_TEST); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	missing=$$(echo $$missing); \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "make deps: installing $$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else \
	  echo "make deps: missing Debian packages; install them with:" >&2; \
	  echo "  sudo apt-get install $$missing" >&2; exit 1; \
	fi

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7 \
	  $(DESTDIR)$(PREFIX)/share/sftkit/schemas
	@# split is installed as sft-split: coreutils has split(1).
	for t in $(TOOLS); do \
	  name=$$t; [ $$t = split ] && name=sft-split; \
	  install -m 755 $(BUILD)/bin/$$t $(DESTDIR)$(PREFIX)/bin/$$name; \
	  install -m 644 man/man1/$$t.1 $(DESTDIR)$(PREFIX)/share/man/man1/$$name.1; \
	done
	install -m 644 man/man5/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 644 man/man7/*.7 $(DESTDIR)$(PREFIX)/share/man/man7/
	install -m 644 schemas/*.json $(DESTDIR)$(PREFIX)/share/sftkit/schemas/

config:
	@echo "CC=$(CC) CFLAGS=$(CFLAGS) BUILD=$(BUILD)"
	@echo "CUDA=$(CUDA) NVCC=$(NVCC) CU_SRCS=$(CU_SRCS)"

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj $(BUILD)/fuzz/obj -name '*.d' 2>/dev/null)

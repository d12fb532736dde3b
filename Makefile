# policyd - Postfix policy server against compromised-mailbox spam.
#
#   make                 build build/policyd and build/policyctl (strict warnings), the test
#                        tools, and build/pdtrack.so (the Redis module)
#   make test            install what is missing, then every test: unit tests and fuzz-corpus
#                        replay (plain and under ASan+UBSan), then the integration and
#                        end-to-end suites against the ASan+UBSan build of the daemon
#   make check           unit tests + fuzz-corpus replay only
#   make integ           integration suites (real redis-server, slapd, Postfix)
#   make run             private Redis under ./run/ and policyd in the foreground
#   make SAN=address,undefined ...   sanitiser build (objects under build/san/)
#   make fuzz            libFuzzer targets with clang (build/fuzz/)
#   make fuzz-long       run every fuzz target for FUZZ_SECONDS each
#   make bench           the benchmark (never part of make test)
#   make sim             the traffic simulator, quick configuration: detection quality on
#                        synthetic mail (docs/SIMULATOR.md; never part of make test)
#   make valgrind        valgrind memcheck of every integration suite's policyd processes
#                        (long; never part of make test)

CC      ?= cc
PKGS    := libuv hiredis jansson libmicrohttpd
WARN    := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wcast-qual -Wvla -Wno-unused-parameter
CSTD    := -std=c11 -D_GNU_SOURCE
OPT     ?= -O2 -g
CFLAGS_BASE := $(CSTD) $(WARN) $(OPT) -I. -Ibuild/gen $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS_DAEMON := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lldap -llber -lm
# Pure modules may use jansson (jsonreq): unit tests, replays and fuzz targets link it.
LDLIBS_PURE := $(shell pkg-config --libs jansson 2>/dev/null) -lm
ifdef WERROR
CFLAGS_BASE += -Werror
endif

ifdef SAN
BUILD   := build/san
CFLAGS_BASE += -fsanitize=$(SAN) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS += -fsanitize=$(SAN)
else
BUILD   := build
CFLAGS_BASE += -D_FORTIFY_SOURCE=2
endif
CFLAGS  := $(CFLAGS_BASE) $(EXTRA_CFLAGS)

# Pure modules: no libuv, hiredis, ldap or syslog. They link alone into unit tests and
# fuzz targets.
PURE_SRC := $(wildcard policyd/proto.c policyd/config.c policyd/util.c policyd/sanitize.c \
              policyd/jsonreq.c policyd/partnermap.c policyd/alertmsg.c policyd/alerttpl.c policyd/verdict.c policyd/loginmap.c policyd/pqjson.c \
              ratelimit/rules.c ratelimit/signals.c ratelimit/keys.c ratelimit/trackargs.c ratelimit/overrides.c \
              ratelimit/siphash.c ratelimit/sha1.c ldap/ldaptime.c ldap/ldapesc.c)
# The daemon's own modules (event loop, Redis, LDAP, syslog).
DAEMON_SRC := $(filter-out policyd/main.c policyd/policyctl.c $(PURE_SRC), \
              $(wildcard policyd/*.c ratelimit/*.c ldap/*.c))
LUA_SRC  := $(sort $(wildcard ratelimit/lua/*.lua))
GEN_LUA  := build/gen/lua_scripts.c

PURE_OBJ   := $(PURE_SRC:%.c=$(BUILD)/obj/%.o)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/lua_scripts.o

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=$(BUILD)/tests/replay_%)
TOOL_SRC   := $(wildcard tests/tools/*.c)
TOOL_BIN   := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)

.PHONY: all test check integ e2e run fuzz fuzz-long bench sim valgrind clean deps install-deps
# policyctl (the status-socket client) is built once its source exists.
CTL_BIN    := $(if $(wildcard policyd/policyctl.c),$(BUILD)/policyctl)
# The Redis module (ratelimit/module/): track.lua's native twin, PD.TRACK. Every private
# redis-server of the scripts and tests loads $(BUILD)/pdtrack.so when it exists. It runs
# inside the system redis-server, which is not sanitised, so it never gets SAN's flags (nor
# LDFLAGS): a SAN build still makes a plain build/san/pdtrack.so.
MODULE_SRC := $(wildcard ratelimit/module/*.c) ratelimit/sha1.c
MODULE_CFLAGS := $(CSTD) $(WARN) -O2 -g -fPIC -shared -fvisibility=hidden -I. -D_FORTIFY_SOURCE=2 \
                 $(if $(WERROR),-Werror)
MODULE_SO  := $(BUILD)/pdtrack.so
all: $(BUILD)/policyd $(CTL_BIN) $(TOOL_BIN) $(MODULE_SO)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/gen/lua_scripts.o: $(GEN_LUA)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(GEN_LUA): $(LUA_SRC) scripts/embed-lua.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-lua.sh $(LUA_SRC) > $@.tmp && mv $@.tmp $@

$(BUILD)/policyd: $(BUILD)/obj/policyd/main.o $(DAEMON_OBJ) $(PURE_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_DAEMON)

$(BUILD)/policyctl: $(BUILD)/obj/policyd/policyctl.o $(PURE_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_DAEMON)

$(BUILD)/pdtrack.so: $(MODULE_SRC) $(wildcard ratelimit/module/*.h) ratelimit/sha1.h
	@mkdir -p $(dir $@)
	$(CC) $(MODULE_CFLAGS) -o $@ $(MODULE_SRC) -lm

$(BUILD)/tests/test_%: $(BUILD)/obj/tests/unit/test_%.o $(PURE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_PURE)

$(BUILD)/tests/replay_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(BUILD)/obj/tests/fuzz/replay.o $(PURE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_PURE)

$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(PURE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_DAEMON)

# The one test command: installs what is missing, then runs everything.
test: deps
	$(MAKE) WERROR=1 all check
	$(MAKE) WERROR=1 SAN=address,undefined all check
	$(MAKE) WERROR=1 SAN=address,undefined integ

deps:
	@sh scripts/install-deps.sh --test

check: $(UNIT_BIN) $(REPLAY_BIN)
	@sh tests/run-unit.sh $(BUILD)

integ: all
	@sh tests/run-integ.sh $(BUILD)

run:
	@sh scripts/install-deps.sh --run
	$(MAKE) all
	@sh scripts/run.sh

# libFuzzer targets (clang). The corpus under tests/fuzz/corpus/<name>/ is replayed by
# 'make check' without clang.
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=build/fuzz/fuzz_%)
FUZZ_CFLAGS := $(CSTD) -O1 -g -I. -Ibuild/gen -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=all -DPD_FUZZING
fuzz: $(FUZZ_BIN)
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(PURE_SRC) tests/fuzz/maxlen.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $(filter %.c,$^) $(LDLIBS_PURE)
FUZZ_SECONDS ?= 600
fuzz-long: fuzz
	@sh tests/fuzz/run-long.sh $(FUZZ_SECONDS)

bench: all
	@sh scripts/bench.sh

sim: all
	@sh scripts/simulate.sh

valgrind: all
	@sh tests/run-valgrind.sh

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)

# batchrouter: the DPDK vector router with load-adaptive polling.
# DPDK comes from Debian (libdpdk-dev 22.11); its pkg-config flags apply only
# to batchrouter's objects so the rest of the tree keeps plain flags.
BR_DPDK_CFLAGS := $(shell pkg-config --cflags libdpdk 2>/dev/null)
# librte_node's nodes (pkt_drop) register from its constructors and nothing of
# ours calls into it: --as-needed (from pkg-config) would drop it
BR_DPDK_LIBS := $(shell pkg-config --libs libdpdk 2>/dev/null) -lrte_bus_vdev -lrte_net_ring \
	-Wl,--no-as-needed -lrte_node -Wl,--as-needed
# the learned policy: XGBoost's C API (libxgboost-dev) and json-c for its model files
BR_LIBS := $(BR_DPDK_LIBS) -lxgboost -ljson-c -lpthread -lm

# rte_graph and rte_node are still experimental API in DPDK 22.11
$(BUILD)/batchrouter/%.o: CPPFLAGS += -Ibatchrouter/include $(BR_DPDK_CFLAGS) -DALLOW_EXPERIMENTAL_API

BR_CORE := engine routes policy learned model stats frame replay
BR_RT := gen port worker run router genproc
BR_CORE_OBJS := $(patsubst %,$(BUILD)/batchrouter/src/%.o,$(BR_CORE))
BR_RT_OBJS := $(patsubst %,$(BUILD)/batchrouter/src/%.o,$(BR_RT))

PROGRAMS += $(BUILD)/bin/batchrouter
BR_LEARN_OBJS := $(BUILD)/batchrouter/src/collect.o $(BUILD)/batchrouter/src/train.o \
	$(BUILD)/batchrouter/src/replay_cmd.o
BR_BENCH_OBJS := $(BUILD)/batchrouter/src/bench.o $(BUILD)/batchrouter/src/bench_report.o
$(BUILD)/bin/batchrouter: $(BUILD)/batchrouter/src/main.o $(BR_BENCH_OBJS) \
	$(BR_LEARN_OBJS) $(BR_RT_OBJS) $(BR_CORE_OBJS)
LDLIBS_batchrouter := $(BR_LIBS)

UNIT_TESTS += $(BUILD)/tests/br_engine $(BUILD)/tests/br_policy $(BUILD)/tests/br_stats \
	$(BUILD)/tests/br_runtime $(BUILD)/tests/br_learned $(BUILD)/tests/br_router \
	$(BUILD)/tests/br_bench $(BUILD)/tests/br_replay
$(BUILD)/tests/br_engine: $(BUILD)/batchrouter/tests/test_engine.o $(BR_RT_OBJS) $(BR_CORE_OBJS)
LDLIBS_br_engine := $(BR_LIBS) -lcmocka
$(BUILD)/tests/br_policy: $(BUILD)/batchrouter/tests/test_policy.o $(BR_CORE_OBJS)
LDLIBS_br_policy := $(BR_LIBS) -lcmocka
$(BUILD)/tests/br_stats: $(BUILD)/batchrouter/tests/test_stats.o $(BR_CORE_OBJS)
LDLIBS_br_stats := $(BR_LIBS) -lcmocka
$(BUILD)/tests/br_runtime: $(BUILD)/batchrouter/tests/test_runtime.o $(BR_RT_OBJS) $(BR_CORE_OBJS)
LDLIBS_br_runtime := $(BR_LIBS) -lcmocka
$(BUILD)/tests/br_router: $(BUILD)/batchrouter/tests/test_router.o $(BR_RT_OBJS) $(BR_CORE_OBJS)
LDLIBS_br_router := $(BR_LIBS) -lcmocka
$(BUILD)/tests/br_bench: $(BUILD)/batchrouter/tests/test_bench.o $(BR_BENCH_OBJS) \
	$(BR_LEARN_OBJS) $(BR_RT_OBJS) $(BR_CORE_OBJS)
LDLIBS_br_bench := $(BR_LIBS) -lcmocka
$(BUILD)/tests/br_learned: $(BUILD)/batchrouter/tests/test_learned.o $(BR_LEARN_OBJS) \
	$(BR_RT_OBJS) $(BR_CORE_OBJS)
LDLIBS_br_learned := $(BR_LIBS) -lcmocka
$(BUILD)/tests/br_replay: $(BUILD)/batchrouter/tests/test_replay.o $(BR_LEARN_OBJS) \
	$(BR_RT_OBJS) $(BR_CORE_OBJS)
LDLIBS_br_replay := $(BR_LIBS) -lcmocka

HOST_TESTS += batchrouter/tests/afxdp.bats batchrouter/tests/runtime.bats \
	batchrouter/tests/learned.bats batchrouter/tests/router.bats

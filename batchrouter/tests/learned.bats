#!/usr/bin/env bats
# The learned policy's pipeline end to end on the synthetic NIC: collect ->
# CSV -> train -> model -> run. Tiny runs (0.1 s, one pattern): this checks
# that the pieces fit and fail cleanly, not what the model learns, which on
# data this short and this machine's neighbours would be noise.

BR=${BR:-build/bin/batchrouter}

setup() {
	cd "$BATS_TEST_DIRNAME/../.."
	[ -x "$BR" ] || skip "$BR not built (run make)"
	TMP=$(mktemp -d)
}

teardown() {
	rm -rf "$TMP"
}

@test "collect, train and run the learned policy" {
	run "$BR" collect --short --pattern cbr --duration 0.1 --rstar 200000 --out "$TMP/d.csv"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(head -1 "$TMP/d.csv" | cut -d, -f8)" = f_mean_batch ]
	[ "$(wc -l <"$TMP/d.csv")" -gt 12 ]
	run "$BR" train --data "$TMP/d.csv" --out "$TMP/m.json" --rounds 5
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"model: 5 trees"* ]]
	run "$BR" run --policy "learned:model=$TMP/m.json" --rate 20000 --duration 0.3 --quiet
	echo "$output"
	[ "$status" -le 1 ] # 1: completed, lost packets (a disturbed machine)
	[[ "$output" =~ learned:\ [1-9][0-9]*\ predictions ]]
}

@test "a missing or corrupt model stops the run before it starts" {
	run "$BR" run --policy "learned:model=$TMP/none.json" --duration 0.1 --quiet
	[ "$status" -eq 111 ]
	[[ "$output" == *"No such file or directory; train one with"* ]]
	echo '{"learner": ' >"$TMP/bad.json"
	run "$BR" run --policy "learned:model=$TMP/bad.json" --duration 0.1 --quiet
	[ "$status" -eq 111 ]
	[[ "$output" == *"is not valid JSON"* ]]
	run "$BR" run --policy "learned:model=$TMP/bad.json,fallback=ovs" --duration 0.1 --quiet
	[ "$status" -le 1 ]
	[[ "$output" == *"using fallback policy 'ovs'"* ]]
}

@test "collect and train explain themselves" {
	"$BR" collect --help | grep -q -- "--rstar"
	"$BR" train --help | grep -q -- "--bench-inference"
	run "$BR" train --data /nonexistent.csv --out "$TMP/m.json"
	[ "$status" -eq 111 ]
	[[ "$output" == *"batchrouter collect --out"* ]]
	run "$BR" collect
	[ "$status" -eq 100 ]
}

# bench used to key its runs by the table name, reducing learned:model=PATH
# to "learned", which failed and was skipped without a word.
@test "bench measures a learned policy by its full spec; a failed point fails the bench" {
	run timeout 300 "$BR" bench --short --rstar 200000 \
		--policies "busy256;learned:model=batchrouter/tests/data/tiny_model.json"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(grep -c '^cbr  *learned  *\(1\|10\|50\) ' <<<"$output")" -eq 3 ]
	run timeout 300 "$BR" bench --short --rstar 200000 --policies "busy256;learned:model=$TMP/none.json"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"failed; the sweep stops"* ]]
}

# One entry point for building, testing and checking. `make test` installs missing build
# prerequisites first (libclang for RocksDB's bindings), so it works on a fresh machine.

CARGO ?= cargo

.PHONY: prereqs test-tools run test contract verify fmt-check clippy doc firewall systemd-units alerts bench

prereqs:
	@scripts/ensure-prereqs.sh

## What the tests use beyond Rust (a Python environment with the InfluxDB 1.x client).
test-tools:
	@scripts/ensure-test-tools.sh >/dev/null

## Run one meta node on the embedded defaults (127.0.0.1:8091, ./metad-data). Builds the workspace's
## binaries exactly as `make test` does (same features), so after `make test` nothing recompiles.
run: prereqs
	$(CARGO) build --workspace --bins
	"$$($(CARGO) metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/metad" --dev

## Run every test of the workspace (builds every binary first: cluster tests start them).
test: prereqs test-tools
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace

## The /v1 contract: Schemathesis (pinned, in the test venv) against a real metad and its own
## OpenAPI document, every check, stateful phase included, fixed seed, about a minute.
## CONTRACT_LONG=1 runs many more examples; CONTRACT_SEED=N another seed.
contract: prereqs
	$(CARGO) build -p metad
	@scripts/check-api-contract.sh

## Everything CI checks: formatting, lints, tests, the API contract, docs and the dependency firewall.
verify: prereqs fmt-check clippy test contract doc firewall systemd-units alerts

fmt-check:
	$(CARGO) fmt --all -- --check

clippy: prereqs
	$(CARGO) clippy --workspace --all-targets -- -D warnings

doc: prereqs
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

firewall:
	@scripts/check-firewall.sh

## The systemd units, checked by systemd-analyze against the built binaries (after `test`).
systemd-units: test
	@scripts/check-systemd-units.sh

## The Prometheus alert rules (promtool check and unit tests) and the Grafana dashboard in deploy/.
alerts:
	@scripts/check-alerts.sh

## Criterion benchmarks (release build; see docs/PERFORMANCE.md).
bench: prereqs
	$(CARGO) bench -p meta-model
	$(CARGO) bench -p meta-store
	$(CARGO) bench -p ae-planner
	$(CARGO) bench -p ae-service
	$(CARGO) bench -p datad

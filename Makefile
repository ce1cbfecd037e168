# The two commands of the Quick start are `make dev` and `make test`; the rest are helpers.
SHELL := /bin/bash
DEV_PORT ?= 3000
MOTO_PORT ?= 5050
TEST_MOTO_PORT ?= 5055
VENV := .venv/bin

# The SDK talks only to the local endpoint, with dummy credentials; never the metadata service.
LOCAL_AWS := AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=eu-central-1 \
	AWS_DEFAULT_REGION=eu-central-1 AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0

.PHONY: contract fuzz coldstart bench bench-import bench-workflows bench-handlers load import-dev dup dev test token lint layers build sam-build openapi bootstrap fmt moto-stop

bootstrap:
	@infra/bootstrap.sh

## Run the CRM locally: moto on 127.0.0.1:$(MOTO_PORT), the API on http://127.0.0.1:$(DEV_PORT).
## DynamoDB goes straight to the local DynamoDB moto.sh starts on MOTO_PORT+20000 (unless LOCAL_DYNAMODB=moto).
DEV_DYNAMODB = $(if $(filter moto,$(LOCAL_DYNAMODB)),,AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$(shell echo $$(($(MOTO_PORT) + 20000))))
## ALLOWED_ORIGINS=http://127.0.0.1:8080,http://localhost:5173 overrides the template's
## AllowedOrigins parameter: the page origins CORS lets call the API.
ALLOWED_ORIGINS ?=
dev: bootstrap
	@infra/moto.sh start $(MOTO_PORT)
	$(LOCAL_AWS) AWS_ENDPOINT_URL=http://127.0.0.1:$(MOTO_PORT) $(DEV_DYNAMODB) cargo run -q -p crm-local -- dev --port $(DEV_PORT) \
	  $(if $(ALLOWED_ORIGINS),--allowed-origins '$(ALLOWED_ORIGINS)')

## Run every test: unit, property and end-to-end (against a moto started for the run).
test: bootstrap
	@infra/moto.sh start $(TEST_MOTO_PORT)
	@status=0; $(LOCAL_AWS) AWS_ENDPOINT_URL=http://127.0.0.1:$(TEST_MOTO_PORT) cargo test --workspace --no-fail-fast || status=$$?; \
	  infra/moto.sh stop $(TEST_MOTO_PORT); \
	  $(LOCAL_AWS) $(VENV)/python -m unittest infra/moto_server_test.py || status=$$?; exit $$status

## Benchmarks: the deals board (BENCH_DEALS=10000 open deals) and the contact index on one tenant
## (BENCH_CONTACTS=100000); print figures. BENCHES=deals_board runs one.
## Runs against dynalite (pinned in infra/bench), a DynamoDB-only endpoint that indexes queries.
BENCH_DYNAMODB_PORT ?= 5058
BENCHES ?= deals_board contacts_index timeline inbox_parse
bench:
	@cd infra/bench && npm ci --no-audit --no-fund --silent
	@rm -rf .local/bench-dynamodb && mkdir -p .local/bench-dynamodb
	@node infra/bench/dynalite.js $(BENCH_DYNAMODB_PORT) .local/bench-dynamodb & pid=$$!; sleep 1; status=0; \
	  $(LOCAL_AWS) BENCH_DYNAMODB_URL=http://127.0.0.1:$(BENCH_DYNAMODB_PORT) cargo bench --profile dev -p crm-e2e-tests $(foreach b,$(BENCHES),--bench $(b)) || status=$$?; \
	  kill $$pid; rm -rf .local/bench-dynamodb; exit $$status

## Import benchmark (S5.3): 1,000,000 rows read side by side with a bare csv parse, the chunk
## worker on the local stack, the cost of an imported contact (an optimised build in
## target/bench-release), then BENCH_IMPORT_ROWS rows (100,000) through the make dev stack.
BENCH_IMPORT_PORT ?= 5062
BENCH_IMPORT_ROWS ?= 100000
bench-import: bootstrap
	@infra/moto.sh start $(BENCH_IMPORT_PORT)
	@status=0; $(LOCAL_AWS) AWS_ENDPOINT_URL=http://127.0.0.1:$(BENCH_IMPORT_PORT) \
	  AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$$(($(BENCH_IMPORT_PORT) + 20000)) \
	  CARGO_TARGET_DIR=target/bench-release cargo bench -p crm-e2e-tests --bench import_rows || status=$$?; \
	  infra/moto.sh stop $(BENCH_IMPORT_PORT); exit $$status
	@$(MAKE) --no-print-directory import-dev BENCH_IMPORT_ROWS=$(BENCH_IMPORT_ROWS)

## Workflow benchmark (S7.4): BENCH_WF_CONTACTS (10,000) contacts enrolled at once into [send
## email, wait 1 minute, add tag] on the local stack (moto + the local DynamoDB), the step
## executor's core run by BENCH_WF_WORKERS (4) instances of 10 messages; prints enrollments/s,
## steps/s, schedules created per second, the most writes per second to one partition key (base
## and index) and due → effect. An optimised build (target/bench-release); about 15 minutes.
BENCH_WF_PORT ?= 5064
bench-workflows: bootstrap
	@infra/moto.sh start $(BENCH_WF_PORT)
	@status=0; $(LOCAL_AWS) AWS_ENDPOINT_URL=http://127.0.0.1:$(BENCH_WF_PORT) \
	  AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$$(($(BENCH_WF_PORT) + 20000)) \
	  CARGO_TARGET_DIR=target/bench-release cargo bench -p crm-e2e-tests --bench workflows || status=$$?; \
	  infra/moto.sh stop $(BENCH_WF_PORT); exit $$status

## Load (issue 14 item 6): the make dev stack started on its own ports (moto on LOAD_MOTO_PORT,
## the API on LOAD_PORT, loopback only), LOAD_SEED (200) contacts seeded, then the pinned
## autocannon (infra/load) on create, get, list and search at 1, 16 and 64 clients, each run
## bounded (10 requests a client, at least 100; at most LOAD_MAX_SECONDS, 30): p50 / p99 and
## errors as a table. Then the handler's own CPU per request (bench-handlers).
LOAD_MOTO_PORT ?= 5066
LOAD_PORT ?= 3066
load: bootstrap
	@LOAD_MOTO_PORT=$(LOAD_MOTO_PORT) LOAD_PORT=$(LOAD_PORT) infra/load/run.sh
	@$(MAKE) --no-print-directory bench-handlers

## CPU per request of the contacts handler called directly over the in-memory table (no
## emulator, no network): create, get, list, search. An optimised build (the bench profile, in
## target/release beside make coldstart's binaries, so the two share compiled dependencies).
bench-handlers:
	@cargo bench -p crm-e2e-tests --bench handler_cpu

## BENCH_IMPORT_ROWS rows imported through the make dev stack, as a client uploads them (CI runs
## 2,000): rows/s, and peak memory and CPU of each local process.
import-dev: bootstrap
	@cargo build -q -p crm-local
	@$(VENV)/python infra/bench/import_dev.py $(BENCH_IMPORT_ROWS)

## Count repeated code (runs of 6+ lines alike) in shared/ and functions/ with the pinned jscpd; report in .local/dup/.
## DUP_ROOT=/other/checkout scans that tree instead; DUP_MAX=n fails when there are more than n clone pairs.
DUP_ROOT ?= $(CURDIR)
DUP_OUT ?= .local/dup
DUP_MAX ?=
dup:
	@cd infra/dup && npm ci --no-audit --no-fund --silent
	@mkdir -p $(abspath $(DUP_OUT)) && rm -f $(abspath $(DUP_OUT))/jscpd-report.json $(abspath $(DUP_OUT))/pairs.txt
	@cd $(DUP_ROOT) && $(CURDIR)/infra/dup/node_modules/.bin/jscpd --config $(CURDIR)/infra/dup/jscpd.json \
	  --absolute --output $(abspath $(DUP_OUT)) shared/src functions
	@node infra/dup/summary.js $(abspath $(DUP_OUT))/jscpd-report.json $(abspath $(DUP_ROOT)) $(DUP_MAX)

## Print a dev token (last line): make token TENANT=acme USER=alice ROLE=admin
TENANT ?= acme
ROLE ?= admin
token:
	@cargo run -q -p crm-local -- token --tenant $(TENANT) --user $(USER) --role $(ROLE)

## Check template.yaml offline.
lint: bootstrap
	$(LOCAL_AWS) $(VENV)/sam validate --lint --template template.yaml
	$(VENV)/cfn-lint template.yaml

## Check the core's layer order (shared/src): no module uses one above it; the self-test plants upward imports.
layers:
	python3 infra/layers.py && python3 infra/layers.py --self-test

## Release builds of every Lambda function (x86_64; ARCH=arm64 where the target is installed).
ARCH ?= x86_64
# Every function of template.yaml (its BuildProperties.Binary), so the list cannot drift.
LAMBDA_BINARIES = $(shell sed -n 's/^ *Binary: *//p' template.yaml)
build: bootstrap
	PATH=$(CURDIR)/$(VENV):$$PATH cargo lambda build --release $(if $(filter arm64,$(ARCH)),--arm64,--x86-64) \
	  $(foreach b,$(LAMBDA_BINARIES),--bin $(b))

## Package every function for `sam deploy` into .aws-sam/build (what `sam build` does; the
## template's functions use infra/deploy/Makefile): one `make build`, each function's
## target/lambda/<binary>/bootstrap copied; then check every artifact holds an executable
## bootstrap. LAMBDA_BUILD=reuse takes bootstraps already in target/lambda without running cargo.
sam-build: bootstrap
	SAM_CLI_TELEMETRY=0 ARCH=$(ARCH) $(VENV)/sam build --parameter-overrides Architecture=$(ARCH)
	ARCH=$(ARCH) infra/deploy/check-artifacts.sh .aws-sam/build

## Cold start (issue 14 item 7): release builds of the functions (COLDSTART_BINS, default all) and
## of a hello-world lambda_http function, then each `bootstrap` spawned COLDSTART_K times
## round-robin against a Runtime API stub: median / p90 time to the first `next`, × the hello
## world's in the same run, binary size. COLDSTART_TARGET: the cargo target dir to build in.
COLDSTART_K ?= 15
COLDSTART_BINS ?= $(LAMBDA_BINARIES)
COLDSTART_TARGET ?= $(or $(CARGO_TARGET_DIR),target)
coldstart:
	CARGO_TARGET_DIR=$(COLDSTART_TARGET) cargo build --release --bin coldstart-hello $(foreach b,$(COLDSTART_BINS),--bin $(b))
	python3 infra/coldstart/coldstart.py -k $(COLDSTART_K) --hello $(COLDSTART_TARGET)/release/coldstart-hello \
	  $(foreach b,$(COLDSTART_BINS),$(b)=$(COLDSTART_TARGET)/release/$(b))

## Contract test (issue 14 item 1): schemathesis against the make dev stack on its own ports
## (CONTRACT_MOTO_PORT 5068, CONTRACT_DEV_PORT 3068), all checks, the stateful phase,
## CONTRACT_EXAMPLES examples per operation with a fixed seed; fails on any failure.
## `make fuzz`: the longer run, FUZZ_EXAMPLES (500) per operation with a random seed.
CONTRACT_EXAMPLES ?= 50
CONTRACT_SEED ?= 14
FUZZ_EXAMPLES ?= 500
contract: bootstrap
	@CONTRACT_SEED=$(CONTRACT_SEED) infra/contract/run.sh $(CONTRACT_EXAMPLES)
fuzz: bootstrap
	@CONTRACT_SEED= infra/contract/run.sh $(FUZZ_EXAMPLES)

## Regenerate the committed OpenAPI document.
openapi:
	cargo run -q -p crm-local -- openapi > openapi.json

fmt:
	cargo fmt --all

moto-stop:
	@infra/moto.sh stop $(MOTO_PORT); infra/moto.sh stop $(TEST_MOTO_PORT)

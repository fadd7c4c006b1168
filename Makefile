# db-reg-agent — see README.md. Every target installs what it needs itself.
SHELL := /bin/bash
NODE_BIN := node_modules/.bin
MYSQL ?= mysql -h 127.0.0.1 -P 3306 -u root
DEB_PACKAGES := kamailio kamailio-mysql-modules kamailio-tls-modules sip-tester openssl procps systemd
# What the benchmarks need on top of DEB_PACKAGES: gnuplot draws their plots.
BENCH_DEB_PACKAGES := gnuplot-nox
export PATH := $(PATH):/usr/sbin:/sbin

.PHONY: all build deps system-deps bench-deps test test-long audit lint typecheck test-build unit run db clean bench bench-sip bench-rpc bench-db bench-messages deb

all: build

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: node_modules/.package-lock.json

# Debian packages the tests drive for real (registrar, misbehaving peers).
system-deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps
	$(NODE_BIN)/tsc -p tsconfig.json
	@chmod +x dist/main.js

lint: deps
	$(NODE_BIN)/eslint src test bench

typecheck: deps
	$(NODE_BIN)/tsc -p tsconfig.json --noEmit

test-build: deps
	rm -rf build
	$(NODE_BIN)/tsc -p tsconfig.test.json

# Lint, type-check, then every test (unit and integration) in one mocha run.
# .mocharc.json names no spec: mocha would add it to the files named on its command line.
test: system-deps lint typecheck test-build build
	$(NODE_BIN)/mocha --reporter build/test/support/summary-reporter.js 'build/test/unit/**/*.test.js' 'build/test/integration/**/*.test.js'

# Long runs under load and faults (the soak): every test/long/*.long.test.ts.
# Not part of `make test` nor of .ci/run; they take from minutes to SOAK_SECONDS (1800) and more.
test-long: system-deps test-build
	$(NODE_BIN)/mocha --reporter spec 'build/test/long/**/*.long.test.js'

unit: test-build
	$(NODE_BIN)/mocha --reporter build/test/support/summary-reporter.js 'build/test/unit/**/*.test.js'

# Known vulnerabilities of the production dependencies; fails on high or critical.
# Needs the registry's audit endpoint (network), so it is not part of make test.
audit:
	npm audit --omit=dev --audit-level=high

# The database the shipped configuration (etc/) points at.
db:
	$(MYSQL) < sql/create-database.sql
	$(MYSQL) sems < sql/schema.sql
	$(MYSQL) sems < sql/sample-data.sql

bench-deps: system-deps
	@missing=""; for p in $(BENCH_DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Issue 4's registration-engine benchmarks (measurements, not tests; see
# doc/benchmarks.md): mass start of 10 000 / 50 000 / 100 000 accounts against
# Kamailio with sipp as the ceiling, then REGISTERs/s over time with and without
# minimum_reregister_interval. Writes bench/results/ and doc/refresh-spread.png.
# Quick run: make bench BENCH_SIZES=1000,5000 BENCH_SPREAD_SECONDS=70
bench: bench-deps test-build
	node build/bench/mass-start.js
	node build/bench/refresh-spread.js

run: build db
	node dist/main.js -E -f etc/sems.conf

# SIP client throughput against a local Kamailio, compared with sipp's REGISTER client,
# then a 100 000-registration memory run; results go to doc/benchmarks.md ("SIP client").
# SIP_BENCH_ACCOUNTS (20000), SIP_BENCH_IN_FLIGHT (200), SIP_BENCH_ROUNDS (2),
# SIP_BENCH_MEMORY_RUN (100000) and SIP_BENCH_SAMPLE_EVERY (10000) tune it.
bench-sip: system-deps test-build
	node --expose-gc build/bench/sip-register.js

# The per-message SIP work of one registration (parse, digest answer, build and
# serialise), µs and kB allocated per call, no network; see doc/benchmarks.md ("SIP client").
bench-messages: test-build
	node --expose-gc --max-semi-space-size=128 --min-semi-space-size=128 build/bench/sip-message-costs.js

# XML-RPC provisioning: createRegistration from 200 clients at 1 000 calls/s for 20 s
# against the daemon with MariaDB and Kamailio; results go to doc/benchmarks.md
# ("XML-RPC provisioning"). Tune it: make bench-rpc BENCH_RPC_ARGS="--rate 500 --seconds 10".
bench-rpc: system-deps test-build
	node build/bench/xmlrpc-create.js $(BENCH_RPC_ARGS)

# The status write path alone (StatusWriter over RegistrationStore on the local
# MariaDB) at a mass start's reply rate; results go to doc/benchmarks.md ("Status
# writes"). Tune it: make bench-db BENCH_DB_ARGS="--accounts 50000 --rate 5000".
bench-db: test-build
	node build/bench/status-writes.js $(BENCH_DB_ARGS)

# Debian package with the systemd unit: build/deb/db-reg-agent_<version>_all.deb.
# Production dependencies only (a pruned copy of node_modules, no network needed);
# configuration in /etc/db-reg-agent (conffiles), unit settings in /etc/default.
DEB_VERSION = $(shell node -p "require('./package.json').version")
DEB_ROOT := build/deb/root
DEB_LIB := $(DEB_ROOT)/usr/lib/db-reg-agent
deb: deps
	rm -rf build/deb && mkdir -p $(DEB_LIB) $(DEB_ROOT)/DEBIAN $(DEB_ROOT)/etc/db-reg-agent \
	  $(DEB_ROOT)/etc/default $(DEB_ROOT)/lib/systemd/system $(DEB_ROOT)/usr/sbin \
	  $(DEB_ROOT)/usr/share/doc/db-reg-agent/sql
	$(NODE_BIN)/tsc -p tsconfig.json --outDir $(DEB_LIB)/dist
	cp package.json package-lock.json $(DEB_LIB)/
	cp -r node_modules $(DEB_LIB)/
	cd $(DEB_LIB) && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error
	rm -f $(DEB_LIB)/node_modules/.package-lock.json && find $(DEB_LIB)/node_modules -type d -empty -delete
	install -m 0755 etc/debian/db-reg-agent.sh $(DEB_ROOT)/usr/sbin/db-reg-agent
	install -m 0644 etc/*.conf $(DEB_ROOT)/etc/db-reg-agent/
	install -m 0644 etc/default/db-reg-agent $(DEB_ROOT)/etc/default/db-reg-agent
	install -m 0644 etc/systemd/db-reg-agent.service $(DEB_ROOT)/lib/systemd/system/
	install -m 0644 README.md doc/*.md $(DEB_ROOT)/usr/share/doc/db-reg-agent/
	install -m 0644 sql/*.sql $(DEB_ROOT)/usr/share/doc/db-reg-agent/sql/
	install -m 0755 etc/debian/postinst etc/debian/prerm etc/debian/postrm $(DEB_ROOT)/DEBIAN/
	(cd $(DEB_ROOT) && find etc -type f | sed 's|^|/|' | sort) > $(DEB_ROOT)/DEBIAN/conffiles
	sed -e 's/@VERSION@/$(DEB_VERSION)/' -e "s/@INSTALLED_SIZE@/$$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1)/" \
	  etc/debian/control.in > $(DEB_ROOT)/DEBIAN/control
	dpkg-deb --root-owner-group --build -Zxz $(DEB_ROOT) build/deb/db-reg-agent_$(DEB_VERSION)_all.deb

clean:
	rm -rf dist build

# db-reg-agent — see README.md. Every target installs what it needs itself.
SHELL := /bin/bash
NODE_BIN := node_modules/.bin
MYSQL ?= mysql -h 127.0.0.1 -P 3306 -u root
DEB_PACKAGES := kamailio kamailio-mysql-modules kamailio-tls-modules sip-tester openssl procps
export PATH := $(PATH):/usr/sbin:/sbin

.PHONY: all build deps system-deps test lint typecheck test-build unit run db clean bench bench-sip

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
	$(NODE_BIN)/eslint src test

typecheck: deps
	$(NODE_BIN)/tsc -p tsconfig.json --noEmit

test-build: deps
	rm -rf build
	$(NODE_BIN)/tsc -p tsconfig.test.json

# Lint, type-check, then every test (unit and integration) in one mocha run.
test: system-deps lint typecheck test-build build
	$(NODE_BIN)/mocha --reporter build/test/support/summary-reporter.js

unit: test-build
	$(NODE_BIN)/mocha --reporter build/test/support/summary-reporter.js 'build/test/unit/**/*.test.js'

# The database the shipped configuration (etc/) points at.
db:
	$(MYSQL) < sql/create-database.sql
	$(MYSQL) sems < sql/schema.sql
	$(MYSQL) sems < sql/sample-data.sql

run: build db
	node dist/main.js -E -f etc/sems.conf

clean:
	rm -rf dist build

# db-reg-agent — see README.md. Every target installs what it needs itself.
SHELL := /bin/bash
NODE_BIN := node_modules/.bin
MYSQL ?= mysql -h 127.0.0.1 -P 3306 -u root
DEB_PACKAGES := kamailio kamailio-mysql-modules kamailio-tls-modules sip-tester openssl procps systemd lintian
# What the benchmarks need on top of DEB_PACKAGES: gnuplot draws their plots.
BENCH_DEB_PACKAGES := gnuplot-nox
export PATH := $(PATH):/usr/sbin:/sbin

.PHONY: all build deps system-deps bench-deps test test-long audit lint typecheck test-build unit run db clean bench bench-wan bench-million bench-cpu bench-sip bench-rpc bench-db bench-messages deb

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
# The mass start's registrar is production-like (issue 15: usrloc write-through to
# MariaDB, htable accounting, qop=auth); BENCH_REGISTRAR=lean is the old rig.
# Quick run: make bench BENCH_SIZES=1000,5000 BENCH_SPREAD_SECONDS=70
bench: bench-deps test-build
	node build/bench/mass-start.js
	node build/bench/refresh-spread.js

# The mass start against the production-like registrar with every REGISTER
# transaction held open 50-100 ms, as over a WAN (BENCH_SIZES defaults to 10 000 here).
bench-wan: bench-deps test-build
	BENCH_TRANSACTION_DELAY_MS=50-100 BENCH_SIZES=$${BENCH_SIZES:-10000} node build/bench/mass-start.js

# Issue 15's 1 000 000 accounts on one machine (~40 minutes; doc/benchmarks.md, "One
# million accounts"): mass start, idle, restart and restore, then 15 minutes of refreshes.
bench-million: bench-deps test-build
	node build/bench/million.js

# The daemon's CPU per account for one mass start, variants in turn (issue 15's A/B tool:
# node options, db_reg_agent.conf settings or another build; see bench/daemon-cpu.ts).
bench-cpu: bench-deps test-build
	node build/bench/daemon-cpu.js

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

# Installation layout, shared by `make install` and the Debian package (doc/operations.md,
# "Install"). PREFIX /usr puts the configuration in /etc, any other PREFIX in PREFIX/etc.
PREFIX ?= /usr
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
SBINDIR := $(PREFIX)/sbin
PKGLIBDIR := $(PREFIX)/lib/db-reg-agent
DOCDIR := $(PREFIX)/share/doc/db-reg-agent
MAN8DIR := $(PREFIX)/share/man/man8
LINTIANDIR := $(PREFIX)/share/lintian/overrides
UNITDIR ?= $(PREFIX)/lib/systemd/system
CONFDIR := $(SYSCONFDIR)/db-reg-agent
DEFAULTSDIR := $(SYSCONFDIR)/default
VERSION = $(shell node -p "require('./package.json').version")
# The changelog's latest entry names the version (it must be package.json's) and the maintainer.
CHANGELOG_VERSION = ${shell sed -n '1s/^db-reg-agent (\([^)]*\)).*/\1/p' etc/debian/changelog}
MAINTAINER = ${shell sed -n 's/^ -- \(.*>\)  .*/\1/p' etc/debian/changelog | head -1}
# The files name the package's paths; another PREFIX or SYSCONFDIR rewrites them.
RELOCATE = sed -e 's|/usr/lib/db-reg-agent|$(PKGLIBDIR)|g' -e 's|/usr/sbin/db-reg-agent|$(SBINDIR)/db-reg-agent|g' \
  -e 's|/usr/share/doc/db-reg-agent|$(DOCDIR)|g' -e 's|/usr/lib/systemd/system|$(UNITDIR)|g' \
  -e 's|/etc/db-reg-agent|$(CONFDIR)|g' -e 's|/etc/default/db-reg-agent|$(DEFAULTSDIR)/db-reg-agent|g' -e 's|@VERSION@|$(VERSION)|g'
# What `make install` leaves, folders last (`make uninstall` removes these and nothing else).
INSTALLED_FILES = $(SBINDIR)/db-reg-agent $(UNITDIR)/db-reg-agent.service $(DEFAULTSDIR)/db-reg-agent \
  $(MAN8DIR)/db-reg-agent.8.gz $(LINTIANDIR)/db-reg-agent
INSTALLED_FOLDERS = $(PKGLIBDIR) $(CONFDIR) $(DOCDIR)
PROD := build/prod
PROD_DIST := build/dist-prod

# The compiled daemon as installed: no source maps (the TypeScript is not installed).
$(PROD_DIST)/main.js: node_modules/.package-lock.json tsconfig.json $(shell find src -name '*.ts')
	rm -rf $(PROD_DIST)
	$(NODE_BIN)/tsc -p tsconfig.json --sourceMap false --outDir $(PROD_DIST)
	chmod 0755 $@

# The production dependencies: a pruned copy of node_modules (no network needed) with
# only what runs; their licences go into the copyright file.
$(PROD)/.stripped: node_modules/.package-lock.json etc/debian/strip-modules.js etc/debian/copyright.js etc/debian/changelog
	rm -rf $(PROD) && mkdir -p $(PROD)
	cp package.json package-lock.json $(PROD)/ && cp -r node_modules $(PROD)/
	cd $(PROD) && npm prune --omit=dev --offline --no-audit --no-fund --loglevel=error
	node etc/debian/strip-modules.js $(PROD)/node_modules
	node etc/debian/copyright.js $(PROD) '$(MAINTAINER)' > $(PROD)/copyright
	node etc/debian/strip-modules.js --licence-files $(PROD)/node_modules
	@touch $@

.PHONY: install uninstall
install: deps $(PROD)/.stripped $(PROD_DIST)/main.js
	@[ "$(CHANGELOG_VERSION)" = "$(VERSION)" ] || { echo "etc/debian/changelog is at $(CHANGELOG_VERSION), package.json at $(VERSION): add a changelog entry"; exit 1; }
	rm -rf $(DESTDIR)$(PKGLIBDIR) && install -d $(DESTDIR)$(PKGLIBDIR)
	cp -r $(PROD_DIST) $(DESTDIR)$(PKGLIBDIR)/dist
	install -m 0644 package.json $(DESTDIR)$(PKGLIBDIR)/
	cp -r $(PROD)/node_modules $(DESTDIR)$(PKGLIBDIR)/
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(CONFDIR) $(DESTDIR)$(DEFAULTSDIR) $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(DOCDIR)/sql $(DESTDIR)$(MAN8DIR) $(DESTDIR)$(LINTIANDIR)
	$(RELOCATE) etc/debian/db-reg-agent.sh > $(DESTDIR)$(SBINDIR)/db-reg-agent && chmod 0755 $(DESTDIR)$(SBINDIR)/db-reg-agent
	@# Configuration an administrator may have edited is kept (a package upgrade keeps conffiles too).
	@for file in etc/*.conf etc/default/db-reg-agent; do \
	  case $$file in etc/default/*) dest=$(DESTDIR)$(DEFAULTSDIR)/db-reg-agent ;; *) dest=$(DESTDIR)$(CONFDIR)/$${file#etc/} ;; esac; \
	  if [ -e "$$dest" ]; then echo "keeping $$dest"; else echo "installing $$dest"; $(RELOCATE) "$$file" > "$$dest" && chmod 0644 "$$dest"; fi; \
	done
	$(RELOCATE) etc/systemd/db-reg-agent.service > $(DESTDIR)$(UNITDIR)/db-reg-agent.service
	$(RELOCATE) doc/db-reg-agent.8 | gzip -9n > $(DESTDIR)$(MAN8DIR)/db-reg-agent.8.gz
	install -m 0644 etc/debian/lintian-overrides $(DESTDIR)$(LINTIANDIR)/db-reg-agent
	install -m 0644 README.md doc/*.md $(PROD)/copyright $(DESTDIR)$(DOCDIR)/
	gzip -9n < etc/debian/changelog > $(DESTDIR)$(DOCDIR)/changelog.gz
	install -m 0644 sql/*.sql $(DESTDIR)$(DOCDIR)/sql/
	chmod 0644 $(DESTDIR)$(UNITDIR)/db-reg-agent.service \
	  $(DESTDIR)$(MAN8DIR)/db-reg-agent.8.gz $(DESTDIR)$(DOCDIR)/changelog.gz

# Removes what `install` put there, configuration included; in a DESTDIR also the
# folders it leaves empty (outside one, shared system folders such as /usr/share/man
# stay, empty or not).
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED_FILES))
	rm -rf $(addprefix $(DESTDIR),$(INSTALLED_FOLDERS))
	@if [ -n "$(DESTDIR)" ]; then \
	  for file in $(INSTALLED_FILES) $(INSTALLED_FOLDERS); do \
	    dir=$$(dirname "$$file"); \
	    while [ "$$dir" != / ] && rmdir "$(DESTDIR)$$dir" 2>/dev/null; do dir=$$(dirname "$$dir"); done; \
	  done; \
	fi

# Debian package with the systemd unit: build/deb/db-reg-agent_<version>_all.deb, made
# from `make install` into build/deb/root; configuration files are conffiles.
DEB_ROOT := build/deb/root
deb: deps
	rm -rf build/deb
	$(MAKE) --no-print-directory install DESTDIR=$(CURDIR)/$(DEB_ROOT) PREFIX=/usr SYSCONFDIR=/etc UNITDIR=/usr/lib/systemd/system
	install -d $(DEB_ROOT)/DEBIAN
	install -m 0755 etc/debian/postinst etc/debian/prerm etc/debian/postrm $(DEB_ROOT)/DEBIAN/
	(cd $(DEB_ROOT) && find etc -type f | sed 's|^|/|' | sort) > $(DEB_ROOT)/DEBIAN/conffiles
	(cd $(DEB_ROOT) && find usr -type f | sort | xargs md5sum) > $(DEB_ROOT)/DEBIAN/md5sums
	sed -e 's/@VERSION@/$(VERSION)/' -e 's/@MAINTAINER@/$(MAINTAINER)/' \
	  -e "s/@INSTALLED_SIZE@/$$(du -sk --exclude=DEBIAN $(DEB_ROOT) | cut -f1)/" \
	  etc/debian/control.in > $(DEB_ROOT)/DEBIAN/control
	dpkg-deb --root-owner-group --build -Zxz $(DEB_ROOT) build/deb/db-reg-agent_$(VERSION)_all.deb

clean:
	rm -rf dist build

# Concerto: two commands on a fresh machine.
#   make run    build and start on http://127.0.0.1:8080 with an embedded SQLite database and demo data
#   make test   unit/integration tests on SQLite and PostgreSQL, then the browser suite
#   make bench  release build, wrk load test of an authenticated page vs the plain-text ceiling
SWIFT    ?= swift
HOST     ?= 127.0.0.1
PORT     ?= 8080
DATABASE ?= sqlite:data/concerto.sqlite

.PHONY: run build test bench clean

build:
	scripts/install-deps run
	$(SWIFT) build --product concerto

run: build
	mkdir -p data
	.build/debug/concerto serve --demo --host $(HOST) --port $(PORT) --database $(DATABASE)

test:
	scripts/test-all

bench:
	scripts/bench/run

clean:
	rm -rf .build data Tests/e2e/screenshots

# Concerto: two commands on a fresh machine.
#   make run    build and start on http://127.0.0.1:8080 with an embedded SQLite database and demo data
#   make test   unit/integration tests on SQLite and PostgreSQL, then the browser suite
#   make bench  release build, wrk load test of an authenticated page vs the plain-text ceiling
#   make psc              install the local Pro Santé Connect stand-in (authlib); `make run` then starts it on
#                         127.0.0.1:8090 and shows "Se connecter avec Pro Santé Connect"; `make psc-stop` stops it
#   make run-cluster      two instances (:8080 and :8081) on one throw-away PostgreSQL with demo data: the live
#                         séance presented on one instance is followed on the other
#   make orthanc          start a local Orthanc (imaging exchange with synthetic studies) on 127.0.0.1:8042;
#                         `make run` then uses it; `make orthanc-stop` stops it
SWIFT    ?= swift
HOST     ?= 127.0.0.1
PORT     ?= 8080
DATABASE ?= sqlite:data/concerto.sqlite

.PHONY: run run-cluster build test bench clean orthanc orthanc-stop psc psc-stop

build:
	scripts/install-deps run
	$(SWIFT) build --product concerto

# The local Orthanc of `make orthanc` when it runs; otherwise the app says imaging is not configured.
# The local Pro Santé Connect provider when `make psc` installed it; otherwise a line says how.
run: build
	mkdir -p data
	eval "$$(scripts/psc-provider/ctl demo-env)"; \
	.build/debug/concerto serve --demo --host $(HOST) --port $(PORT) --database $(DATABASE) \
	  --dicomweb-url "$${CONCERTO_DICOMWEB_URL:-$$(curl -sf -o /dev/null "http://127.0.0.1:8042/dicom-web/studies?limit=1" && echo http://127.0.0.1:8042/dicom-web)}"

run-cluster:
	scripts/install-deps run
	scripts/run-cluster

orthanc:
	scripts/install-deps orthanc
	scripts/orthanc/ctl start

orthanc-stop:
	scripts/orthanc/ctl stop

psc:
	scripts/install-deps psc
	@echo "Installed. 'make run' now starts the local Pro Santé Connect provider and shows its login button."

psc-stop:
	scripts/psc-provider/ctl stop

test:
	scripts/test-all

bench:
	scripts/bench/run

clean:
	rm -rf .build data Tests/e2e/screenshots

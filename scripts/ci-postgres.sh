#!/usr/bin/env bash
# A scratch PostgreSQL for the test suites, on a Debian machine, as root: installs Debian's `postgresql` when
# missing, starts its cluster, and makes a role that may create databases (the suites create and drop their
# own) plus one database it owns, to connect to. Idempotent: reuses whatever is already there.
# Prints the connection URL for POSTGRES_TEST_URL on stdout; everything else goes to stderr.
set -euo pipefail

ROLE=edgenas_test
PASSWORD=edgenas_test # a throwaway role on a server that listens on localhost only
DATABASE=edgenas_test

log() { echo "ci-postgres: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  log 'run as root (it installs and starts PostgreSQL)'
  exit 1
fi

if ! command -v pg_lsclusters >/dev/null 2>&1; then
  log 'installing postgresql'
  apt-get update >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >&2
fi

# The package's post-install creates a cluster; a machine may have lost it (or never ran the hook).
if [ -z "$(pg_lsclusters --no-header)" ]; then
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  log "creating cluster $version/main"
  pg_createcluster "$version" main >&2
fi

read -r version cluster port status _ < <(pg_lsclusters --no-header | head -n 1)
if [[ "$status" != online* ]]; then
  log "starting cluster $version/$cluster on port $port"
  pg_ctlcluster "$version" "$cluster" start >&2
fi

for _ in $(seq 1 60); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 1
done
pg_isready -h 127.0.0.1 -p "$port" >&2 || {
  log "cluster $version/$cluster did not accept connections on 127.0.0.1:$port within 60 s"
  exit 1
}

as_postgres() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$port" "$@"; }

if [ -z "$(as_postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" ]; then
  log "creating role $ROLE"
  as_postgres -c "CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'"
else
  as_postgres -c "ALTER ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'"
fi
if [ -z "$(as_postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" ]; then
  log "creating database $DATABASE"
  as_postgres -c "CREATE DATABASE $DATABASE OWNER $ROLE"
fi

# Suites drop their databases when they close; a killed run leaves them behind. Drop those nobody is
# connected to (a run in progress keeps its connections open, and DROP without FORCE refuses then).
as_postgres -tAc "SELECT datname FROM pg_database WHERE datname ~ '^edgenas_(e2e|storage)_'" |
  while read -r leftover; do
    as_postgres -c "DROP DATABASE \"$leftover\"" </dev/null 2>/dev/null && log "dropped leftover database $leftover" || true
  done

echo "postgres://$ROLE:$PASSWORD@127.0.0.1:$port/$DATABASE"

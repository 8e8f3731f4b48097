# Shared shell functions for scripts/up and scripts/test: find or install PostgreSQL and Redis,
# and run private instances of them under a given directory. Source it; do not run it.

SIGHTLINE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '\033[1m[sightline]\033[0m %s\n' "$*" >&2; }
die() { printf '[sightline] error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root to run: $*"; fi
}

apt_install() {
  # apt-get update once per machine per day; installs quietly.
  local stamp=/var/tmp/sightline-apt-updated
  if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440 2>/dev/null)" ]; then
    as_root apt-get update -qq >/dev/null 2>&1 || true
    as_root touch "$stamp" 2>/dev/null || true
  fi
  log "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
    || die "apt-get install $* failed"
}

# Directory holding initdb/pg_ctl/postgres, installing Debian's PostgreSQL when none is found.
pg_bindir() {
  local d
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"; return
  fi
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
  done
  apt_install postgresql postgresql-contrib
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
  done
  die "PostgreSQL binaries not found after install"
}

# PostgreSQL refuses to run as root: use the postgres system user when we are root.
pg_user_run() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || as_root useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# start_postgres DIR PORT [durable|fast] [PRELOAD]: initializes (once) and starts a cluster
# listening on 127.0.0.1:PORT with its socket in DIR. `fast` turns fsync off (throwaway test
# clusters only). PRELOAD is shared_preload_libraries at creation ('citus' for Citus nodes).
start_postgres() {
  local dir="$1" port="$2" mode="${3:-durable}" preload="${4:-}" bin
  bin="$(pg_bindir)"
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir" 2>/dev/null || { id postgres >/dev/null 2>&1 || pg_user_run true; chown postgres: "$dir"; }; fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    log "creating PostgreSQL cluster in $dir"
    pg_user_run "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null \
      || pg_user_run "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 >/dev/null \
      || die "initdb failed"
    {
      echo "listen_addresses = '127.0.0.1'"
      echo "unix_socket_directories = '$dir'"
      echo "shared_buffers = 512MB"
      echo "max_connections = 200"
      echo "wal_level = replica"
      echo "max_wal_senders = 4"
      echo "max_wal_size = 4GB"
      echo "checkpoint_timeout = 15min"
      echo "shared_preload_libraries = '$preload'"
    } >> "$dir/postgresql.conf"
    echo "host replication all 127.0.0.1/32 trust" >> "$dir/pg_hba.conf"
    # Citus runs a maintenance background worker per database (the tests make one per test).
    if [ "$preload" = citus ]; then echo "max_worker_processes = 64" >> "$dir/postgresql.conf"; fi
    if [ "$mode" = fast ]; then
      { echo "fsync = off"; echo "synchronous_commit = off"; echo "full_page_writes = off"; } >> "$dir/postgresql.conf"
    fi
  fi
  if pg_user_run "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    log "PostgreSQL already running in $dir"
  else
    pg_user_run "$bin/pg_ctl" -D "$dir" -o "-p $port" -l "$dir/server.log" -w -t 60 start >/dev/null \
      || { tail -20 "$dir/server.log" >&2; die "PostgreSQL did not start (log above)"; }
  fi
  ensure_pg_hll
}

stop_postgres() {
  local dir="$1" bin
  [ -f "$dir/PG_VERSION" ] || return 0
  bin="$(pg_bindir)"
  pg_user_run "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}

# The HyperLogLog extension (for unique-user rollups) comes from Debian's postgresql-NN-hll.
ensure_pg_hll() {
  local bin ver
  bin="$(pg_bindir)"
  ver="$("$bin/postgres" --version | sed -E 's/[^0-9]*([0-9]+).*/\1/')"
  if [ ! -f "/usr/share/postgresql/$ver/extension/hll.control" ]; then
    apt_install "postgresql-$ver-hll"
  fi
}

# psql against a cluster started by start_postgres.
pg_psql() {
  local port="$1"; shift
  psql -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

redis_bin() {
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  command -v redis-server
}

# start_redis DIR PORT: a Redis with AOF on (appendfsync everysec, or REDIS_APPENDFSYNC=always:
# see docs/ARCHITECTURE.md, "Durability"), data in DIR. The AOF is
# compacted once it has grown by 1 GB rather than Redis's default 64 MB: a queue's live data is
# small but its write traffic is not (310 bytes of AOF per event enqueued, stored and completed),
# so at tens of thousands of events/s the default forked a rewrite of the whole queue every 2-3 s
# during the benchmark (docs/BENCHMARKS.md). Replaying up to ~2 GB of AOF on restart is the price.
start_redis() {
  local dir="$1" port="$2" bin
  bin="$(redis_bin)"
  mkdir -p "$dir"
  if redis-cli -p "$port" ping >/dev/null 2>&1; then
    log "Redis already running on port $port"; return
  fi
  "$bin" --port "$port" --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync "${REDIS_APPENDFSYNC:-everysec}" \
    --auto-aof-rewrite-min-size 1gb --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save "" >/dev/null \
    || die "redis-server did not start"
  for _ in $(seq 1 150); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  tail -5 "$dir/redis.log" >&2 || true
  die "Redis did not answer on port $port"
}

stop_redis() {
  local port="$1"
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
}

# A free TCP port on loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL SECONDS: polls until URL answers 2xx.
wait_http() {
  local url="$1" secs="${2:-60}"
  for _ in $(seq 1 $((secs * 5))); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

# Node packages for a folder with a package.json (npm ci when a lock file exists).
npm_install() {
  local dir="$1"
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package.json" -nt "$dir/node_modules" ]; then
    log "installing node packages in $dir"
    if [ -f "$dir/package-lock.json" ]; then
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in $dir"
    else
      (cd "$dir" && npm install --no-audit --no-fund --loglevel=error) || die "npm install failed in $dir"
    fi
    touch "$dir/node_modules"
  fi
}

ensure_chromium() {
  [ -x /usr/bin/chromium ] || apt_install chromium
}

# Citus (distributed PostgreSQL): built from the vendored source release once per machine by the
# shared installer (idempotent: a no-op once citus.so is installed for this PostgreSQL).
# The installer: SIGHTLINE_INSTALL_CITUS, else shared/tools/ beside the checkout, else /work/shared.
ensure_citus() {
  local installer="${SIGHTLINE_INSTALL_CITUS:-}" c
  if [ -f "$(pg_bindir)/../lib/citus.so" ]; then return 0; fi
  if [ -z "$installer" ]; then
    for c in "$SIGHTLINE_ROOT/../shared/tools/install-citus" /work/shared/tools/install-citus; do
      if [ -x "$c" ]; then installer="$c"; break; fi
    done
  fi
  [ -n "$installer" ] && [ -x "$installer" ] || die "Citus is not installed and no installer was found (set SIGHTLINE_INSTALL_CITUS)"
  log "building and installing Citus (once per machine)"
  # Stale package lists make apt refuse the build dependencies ("held broken packages"):
  # refresh them once and try again.
  "$installer" >&2 || { as_root apt-get update -qq >/dev/null 2>&1 || true; "$installer" >&2; } \
    || die "installing Citus failed"
}

# start_citus_cluster DIR COORD_PORT WORKER1_PORT WORKER2_PORT [durable|fast] [DATABASE]: a Citus
# coordinator and two worker nodes on loopback, each a private PostgreSQL (start_postgres) under
# DIR/{coordinator,worker1,worker2} with shared_preload_libraries = 'citus'. DATABASE (default
# sightline) is created on every node with the citus and hll extensions, and the coordinator
# registers both workers (citus_add_node; a no-op when already registered). Idempotent.
start_citus_cluster() {
  local dir="$1" cport="$2" w1="$3" w2="$4" mode="${5:-durable}" db="${6:-sightline}" port node
  ensure_citus
  for node in "coordinator:$cport" "worker1:$w1" "worker2:$w2"; do
    start_postgres "$dir/${node%%:*}" "${node##*:}" "$mode" citus
  done
  for port in "$cport" "$w1" "$w2"; do citus_prepare_database "$port" "$db"; done
  pg_psql "$cport" -d "$db" -c "SELECT citus_set_coordinator_host('127.0.0.1', $cport)" >/dev/null
  for port in "$w1" "$w2"; do
    pg_psql "$cport" -d "$db" -c "SELECT citus_add_node('127.0.0.1', $port)" >/dev/null \
      || die "citus_add_node 127.0.0.1:$port failed"
  done
}

# citus_prepare_database PORT DATABASE: DATABASE on one node, with the extensions Sightline
# needs created before any node joins (Citus requires them on every node).
citus_prepare_database() {
  local port="$1" db="$2"
  if [ "$(pg_psql "$port" -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$db'")" = 0 ]; then
    pg_psql "$port" -d postgres -c "CREATE DATABASE $db" >/dev/null
  fi
  # Only when missing: once a worker node holds Citus metadata it refuses DDL of its own.
  local ext
  for ext in citus hll; do
    if [ "$(pg_psql "$port" -d "$db" -c "SELECT count(*) FROM pg_extension WHERE extname = '$ext'")" = 0 ]; then
      pg_psql "$port" -d "$db" -c "CREATE EXTENSION $ext" >/dev/null
    fi
  done
}

stop_citus_cluster() {
  local dir="$1" node
  for node in worker2 worker1 coordinator; do stop_postgres "$dir/$node"; done
}

# install_geoip: installs (once per version) the free country database from npm into
# .data/geoip and prints the .mmdb path (IPv4 and IPv6). The package is marked CC0; its data is
# the RIRs' (CC BY 4.0, attribution to nro.net). Prints nothing, with a warning, when it cannot be
# installed: Sightline then records every country as unknown. SIGHTLINE_GEOIP_VERSION overrides
# the version.
install_geoip() {
  local name="@ip-location-db/geo-whois-asn-country-mmdb"
  local version="${SIGHTLINE_GEOIP_VERSION:-2.3.2026061719}"
  local dir="$SIGHTLINE_ROOT/.data/geoip"
  local pkg="$dir/node_modules/$name"
  if ! grep -qs "\"version\": \"$version\"" "$pkg/package.json" || [ ! -s "$pkg/geo-whois-asn-country.mmdb" ]; then
    command -v npm >/dev/null 2>&1 || apt_install nodejs npm
    mkdir -p "$dir"
    log "installing the GeoIP country database ($name@$version)"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "$name@$version" >&2 \
      || { log "warning: GeoIP database not installed; countries will be unknown"; return 0; }
  fi
  echo "$pkg/geo-whois-asn-country.mmdb"
}

#!/usr/bin/env bash
# Start the local SQL endpoint (see env.sh): the metastore's Postgres, then its schema (every table
# of Hive's package.jdo, once), then the Thrift server, then the Spark Connect server. Idempotent:
# what already runs or exists is kept. Waits at most GOVLAKE_SQL_ENDPOINT_START_TIMEOUT seconds in all; on a
# failure it prints the log's tail and exits 1. Then `source <dir>/client.env` sets what clients need.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$here/env.sh"
se_lock
deadline=$((SECONDS + SE_START_TIMEOUT))

fail() { # message [log] -> print, show the log's tail, exit 1
  echo "sql-endpoint: $1" >&2
  if [[ -n ${2:-} && -f $2 ]]; then
    echo "---- last lines of $2" >&2
    tail -n 40 "$2" >&2
  fi
  exit 1
}

secret() { # file -> its content, generated (random, 0600) the first time
  if [[ ! -s $1 ]]; then
    (umask 077 && "$SE_PYTHON" -c 'import secrets; print(secrets.token_urlsafe(32))' >"$1.tmp" && mv "$1.tmp" "$1")
  fi
  head -n 1 "$1"
}

for port in "$SE_PG_PORT" "$SE_THRIFT_PORT" "$SE_CONNECT_PORT"; do
  [[ $port =~ ^[0-9]+$ ]] && ((port >= 1024 && port <= 65535)) || fail "port $port must be in 1024..65535"
done
[[ -x $SE_SPARK_SUBMIT ]] || fail "no $SE_SPARK_SUBMIT: run bash infra/install.sh"
(umask 077 && mkdir -p "$SE_SECRETS" "$SE_CONF_DIR" "$SE_LOG_DIR" "$SE_PID_DIR")
chmod 700 "$SE_SECRETS"

# ------------------------------------------------------------------ the metastore's database
if se_external_metastore; then
  [[ -n ${GOVLAKE_METASTORE_PASSWORD:-} ]] || fail "GOVLAKE_METASTORE_URL names another database: set GOVLAKE_METASTORE_PASSWORD"
  metastore_url="$GOVLAKE_METASTORE_URL"
  metastore_user="${GOVLAKE_METASTORE_USER:-$SE_METASTORE_USER}"
  metastore_password="$GOVLAKE_METASTORE_PASSWORD"
else
  pg_bin="$(se_pg_bin)"
  [[ -x $pg_bin/initdb ]] || fail "no PostgreSQL binaries (/usr/lib/postgresql/*/bin): run bash infra/install.sh as root, or set GOVLAKE_POSTGRES_BIN"
  metastore_url="jdbc:postgresql://127.0.0.1:$SE_PG_PORT/$SE_METASTORE_DB"
  metastore_user="$SE_METASTORE_USER"
  metastore_password="$(secret "$SE_SECRETS/metastore.password")"
  mkdir -p "$SE_PG_DIR/log" "$SE_PG_SOCKET"
  chmod 700 "$SE_PG_DIR" "$SE_PG_SOCKET"
  if [[ $(id -u) == 0 ]]; then # Postgres refuses to run as root: its folder belongs to `postgres`
    chown -R postgres: "$SE_PG_DIR"
    chmod o+x "$SE_DIR" # `postgres` must reach its folder, nothing else (secrets/ stays 0700)
  fi
  if [[ ! -s $SE_PG_DATA/PG_VERSION ]]; then
    echo "sql-endpoint: initialising the metastore's Postgres cluster in $SE_PG_DATA"
    # Local (socket) logins only for the cluster's owner, whose socket folder is 0700; TCP logins
    # on 127.0.0.1 need a SCRAM password.
    se_as_pg "$pg_bin/initdb" -D "$SE_PG_DATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >"$SE_PG_DIR/log/initdb.log" 2>&1 || fail "initdb failed" "$SE_PG_DIR/log/initdb.log"
  fi
  if ! se_pg_running; then
    echo "sql-endpoint: starting Postgres on 127.0.0.1:$SE_PG_PORT"
    se_as_pg "$pg_bin/pg_ctl" -D "$SE_PG_DATA" -l "$SE_PG_LOG" -w -t 60 start \
      -o "-c listen_addresses=127.0.0.1 -p $SE_PG_PORT -c unix_socket_directories=$SE_PG_SOCKET" >/dev/null 9>&- ||
      fail "Postgres did not start" "$SE_PG_LOG"
  fi
  psql_() { se_as_pg "$pg_bin/psql" -h "$SE_PG_SOCKET" -p "$SE_PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
  # The role's password is (re)set from secrets/ at every start: the file is the one truth.
  sql_password="${metastore_password//\'/\'\'}"
  if [[ -z $(psql_ -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname = '$metastore_user'") ]]; then
    psql_ -d postgres -c "CREATE ROLE $metastore_user LOGIN PASSWORD '$sql_password'" >/dev/null
  else
    psql_ -d postgres -c "ALTER ROLE $metastore_user PASSWORD '$sql_password'" >/dev/null
  fi
  if [[ -z $(psql_ -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$SE_METASTORE_DB'") ]]; then
    psql_ -d postgres -c "CREATE DATABASE $SE_METASTORE_DB OWNER $metastore_user" >/dev/null
  fi
fi
export GOVLAKE_METASTORE_URL="$metastore_url" GOVLAKE_METASTORE_USER="$metastore_user"
export GOVLAKE_METASTORE_PASSWORD="$metastore_password"

# ------------------------------------------------------------------ the metastore's schema
# Every table of Hive's metastore, created here by one JVM before any server starts: DataNucleus'
# SchemaTool (create mode adds what is missing, nothing else) over package.jdo of the hive-metastore
# jar of Spark's built-in Hive 2.3 (the pip pyspark ships no schematool SQL scripts). A client with
# autoCreateAll creates a table only when its class is first used (the Thrift server had made no
# TBL_PRIVS when `govlake sql refresh`, another JVM, needed it), and clients that all auto-create
# would race to run the same DDL: no Spark session of the project creates metastore tables
# (govlake/spark.py). Then DataNucleus' id table and the one VERSION row, which Hive's first user
# would otherwise add (two first users could insert two VERSION rows, after which every client
# fails with "multiple versions").
jar_entry() { # jar entry -> the entry's bytes (Python's zipfile: no unzip needed)
  "$SE_PYTHON" -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' "$1" "$2"
}
metastore_jar="$(find "$SPARK_HOME/jars" -maxdepth 1 -name 'hive-metastore-*.jar' | sort -V | tail -n 1)"
hive_common_jar="$(find "$SPARK_HOME/jars" -maxdepth 1 -name 'hive-common-*.jar' | sort -V | tail -n 1)"
[[ -n $metastore_jar && -n $hive_common_jar ]] || fail "no hive-metastore or hive-common jar in $SPARK_HOME/jars"
# The schema version Hive records (MetaStoreSchemaInfo.getHiveSchemaVersion: hive-common's
# HiveVersionAnnotation shortVersion, 2.3.0 for Hive 2.3.10).
hive_schema_version="$(jar_entry "$hive_common_jar" org/apache/hive/common/package-info.class |
  tr -cs '[:print:]' '\n' | sed -n '/^shortVersion$/{n;p;q}')"
[[ $hive_schema_version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "no Hive schema version in $hive_common_jar"
# The tables package.jdo maps (44 for Hive 2.3; an embedded-only class has none of its own), in
# capitals as DataNucleus names them on Postgres: a schema is checked complete without a JVM.
mapfile -t metastore_tables < <(jar_entry "$metastore_jar" package.jdo | grep 'table="' | grep -v 'embedded-only="true"' |
  grep -o 'table="[^"]*"' | sed 's/^table="//; s/"$//' | tr '[:lower:]' '[:upper:]' | sort -u)
((${#metastore_tables[@]} > 0)) || fail "no tables in $metastore_jar's package.jdo"
# Not in package.jdo: DataNucleus' table of the next ids (Hive's value strategy "increment"), which a
# client would otherwise create when it first stores something (with autoCreateAll off, too).
metastore_tables+=(SEQUENCE_TABLE)

schema_complete() { # our Postgres: all tables there and the version recorded; another database: our marker
  if se_external_metastore; then
    [[ -s $SE_PG_READY && $(head -n 1 "$SE_PG_READY") == "$metastore_url" ]]
    return
  fi
  local names present
  names="$(printf "'%s'," "${metastore_tables[@]}")"
  present="$(psql_ -d "$SE_METASTORE_DB" -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = '$metastore_user'
    AND tablename IN (${names%,})")"
  [[ $present == "${#metastore_tables[@]}" ]] || return 1
  [[ $(psql_ -d "$SE_METASTORE_DB" -c 'SELECT count(*) FROM "VERSION"') == 1 ]]
}

create_schema() {
  local driver status=0 jars_dir="${GOVLAKE_JARS_DIR:-$GOVLAKE_REPO/.jars}"
  local props="$SE_SECRETS/metastore-schema.properties" log="$SE_LOG_DIR/metastore-schema.log"
  driver="$(find "$jars_dir/" -maxdepth 1 -name 'postgresql-*.jar' | sort -V | tail -n 1)"
  [[ -n $driver ]] || fail "no Postgres JDBC driver in $jars_dir: run bash infra/install.sh"
  jar_entry "$metastore_jar" package.jdo >"$SE_CONF_DIR/package.jdo"
  # DataNucleus settings as Hive 2.3's ObjectStore has them (HiveConf's defaults), so SchemaTool names
  # and types everything as the clients expect. The password in a 0600 file, not on the command line.
  (
    umask 077
    cat >"$props" <<EOF
datanucleus.ConnectionDriverName=org.postgresql.Driver
datanucleus.ConnectionURL=$metastore_url
datanucleus.ConnectionUserName=$metastore_user
datanucleus.ConnectionPassword=$metastore_password
datanucleus.storeManagerType=rdbms
datanucleus.identifierFactory=datanucleus1
datanucleus.rdbms.useLegacyNativeValueStrategy=true
datanucleus.rdbms.initializeColumnInfo=NONE
datanucleus.transactionIsolation=read-committed
datanucleus.plugin.pluginRegistryBundleCheck=LOG
EOF
  )
  echo "sql-endpoint: creating the metastore's schema (${#metastore_tables[@]} tables, Hive schema $hive_schema_version; log $log)"
  (cd "$SE_LOG_DIR" && exec "${JAVA_HOME:+$JAVA_HOME/bin/}java" -Xmx512m -cp "$SPARK_HOME/jars/*:$driver" \
    org.datanucleus.store.schema.SchemaTool -api JDO -create -props "$props" "$SE_CONF_DIR/package.jdo" \
    >"$log" 2>&1 </dev/null 9>&-) || status=$?
  rm -f "$props"
  ((status == 0)) || fail "DataNucleus SchemaTool failed (exit $status)" "$log"
}

if schema_complete; then
  echo "sql-endpoint: the metastore's schema is complete"
else
  create_schema
  if ! se_external_metastore; then # someone else's database: these two are left to its first client
    # As the metastore's user (psql_ logs in as `postgres`), so the table is its own; the definition
    # DataNucleus 4.1 gave it when a client created it.
    psql_ -d "$SE_METASTORE_DB" -c "SET ROLE $metastore_user" \
      -c 'CREATE TABLE IF NOT EXISTS "SEQUENCE_TABLE" ("SEQUENCE_NAME" varchar(255) NOT NULL, "NEXT_VAL" bigint NOT NULL,
            CONSTRAINT "SEQUENCE_TABLE_PK" PRIMARY KEY ("SEQUENCE_NAME"))' \
      -c "INSERT INTO \"VERSION\" (\"VER_ID\", \"SCHEMA_VERSION\", \"VERSION_COMMENT\")
            SELECT 1, '$hive_schema_version', 'infra/sql-endpoint/start.sh (DataNucleus SchemaTool)'
            WHERE NOT EXISTS (SELECT 1 FROM \"VERSION\")" >/dev/null
  fi
  echo "$metastore_url" >"$SE_PG_READY"
  schema_complete || fail "the metastore's schema is incomplete after SchemaTool" "$SE_LOG_DIR/metastore-schema.log"
fi

# ------------------------------------------------------------------ logins
export GOVLAKE_THRIFT_USERS_FILE="$SE_USERS"
if [[ ! -s $SE_USERS ]]; then
  "$SE_GOVLAKE" sql user add analyst >/dev/null || fail "could not create the first Thrift login"
fi
if [[ -n ${GOVLAKE_CONNECT_TOKEN:-} ]]; then
  connect_token="$GOVLAKE_CONNECT_TOKEN"
else
  connect_token="$(secret "$SE_SECRETS/connect.token")"
fi

# ------------------------------------------------------------------ the servers
start_server() { # name class port [extra spark settings...]
  local name=$1 class=$2 port=$3 props="$SE_CONF_DIR/$1.properties" log="$SE_LOG_DIR/$1.log"
  shift 3
  if pid="$(se_pid "$name")"; then
    echo "sql-endpoint: $name already running (pid $pid) on 127.0.0.1:$port"
    return 0
  fi
  se_port_open "$port" && fail "port $port is taken by another process (set GOVLAKE_${name^^}_PORT)"
  "$SE_GOVLAKE" sql conf "$name" --port "$port" --memory "$SE_MEMORY" >"$props.tmp" || fail "govlake sql conf $name failed"
  for extra in "$@"; do echo "$extra" >>"$props.tmp"; done
  mv "$props.tmp" "$props"
  echo "sql-endpoint: starting the $name server on 127.0.0.1:$port (log $log)"
  # Its own session (setsid): stop.sh ends the whole process group; cwd in logs/ (Derby, spark-warehouse
  # or metastore_db of a misconfigured run land there, not in the repo).
  (cd "$SE_LOG_DIR" && exec setsid "$SE_SPARK_SUBMIT" --master "${GOVLAKE_SPARK_MASTER:-local[2]}" \
    --properties-file "$props" --class "$class" --name "govlake-sql-$name" spark-internal \
    >"$log" 2>&1 </dev/null 9>&-) &
  echo $! >"$SE_PID_DIR/$name.pid"
}

wait_port() { # name port
  local log="$SE_LOG_DIR/$1.log" pid
  # The pid this run just started (or found running): alive is enough. Not se_pid's command-line
  # check, which a loaded machine can run before the forked subshell has exec'd spark-submit.
  pid="$(<"$SE_PID_DIR/$1.pid")"
  until se_port_open "$2"; do
    pid_alive "$pid" || fail "the $1 server exited" "$log"
    ((SECONDS < deadline)) || fail "the $1 server did not listen on 127.0.0.1:$2 within ${SE_START_TIMEOUT}s" "$log"
    sleep 1
  done
}

start_server thrift org.apache.spark.sql.hive.thriftserver.HiveThriftServer2 "$SE_THRIFT_PORT"
wait_port thrift "$SE_THRIFT_PORT"
(
  export SPARK_CONNECT_AUTHENTICATE_TOKEN="$connect_token" # the Connect server's JVM only
  start_server connect org.apache.spark.sql.connect.service.SparkConnectServer "$SE_CONNECT_PORT"
)
wait_port connect "$SE_CONNECT_PORT"

# ------------------------------------------------------------------ what clients need
cat >"$SE_STATE" <<EOF
SE_METASTORE_PORT=$SE_PG_PORT
SE_THRIFT_PORT=$SE_THRIFT_PORT
SE_CONNECT_PORT=$SE_CONNECT_PORT
GOVLAKE_METASTORE_URL=$metastore_url
GOVLAKE_STORAGE_ROOT=${GOVLAKE_STORAGE_ROOT:-}
EOF
(
  umask 077
  cat >"$SE_CLIENT_ENV.tmp" <<EOF
# Written by infra/sql-endpoint/start.sh: secrets, readable by their owner only.
export GOVLAKE_SQL_ENDPOINT_DIR='$SE_DIR'
export GOVLAKE_METASTORE_URL='$metastore_url'
export GOVLAKE_METASTORE_USER='$metastore_user'
export GOVLAKE_METASTORE_PASSWORD='$metastore_password'
export GOVLAKE_THRIFT_HOST=127.0.0.1
export GOVLAKE_THRIFT_PORT=$SE_THRIFT_PORT
export GOVLAKE_THRIFT_USER=analyst
export GOVLAKE_THRIFT_PASSWORD="\$(cat '$SE_SECRETS/analyst.password' 2>/dev/null)"
export GOVLAKE_CONNECT_URL='sc://localhost:$SE_CONNECT_PORT/;token=$connect_token'
EOF
  mv "$SE_CLIENT_ENV.tmp" "$SE_CLIENT_ENV"
)
echo "sql-endpoint: ready: thrift jdbc:hive2://127.0.0.1:$SE_THRIFT_PORT, connect sc://localhost:$SE_CONNECT_PORT," \
  "metastore $metastore_url; clients: source $SE_CLIENT_ENV"

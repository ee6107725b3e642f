# shellcheck shell=bash
# Pids of the project's local servers (sourced by infra/spark-cluster/env.sh,
# infra/sql-endpoint/env.sh and infra/airflow/stop.sh): a server is found by its pid file, and only
# if that process still runs; stopping waits for its whole process group.

pid_alive() { # pid -> running and not a zombie
  [[ -r /proc/$1/status ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

pid_from_file() { # pidfile marker -> the pid it names if that process runs, else fails
  local pid pidfile=$1 marker=$2
  [[ -s $pidfile ]] || return 1
  pid="$(<"$pidfile")"
  [[ $pid =~ ^[0-9]+$ ]] && pid_alive "$pid" || return 1
  # A recycled pid is not ours: its command line must hold the marker (the server's own conf file).
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
  echo "$pid"
}

group_alive() { # pid -> does any process of its group run (a daemon and its workers or executors)
  kill -0 -- "-$1" 2>/dev/null
}

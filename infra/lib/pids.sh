# shellcheck shell=bash
# Pids of the project's local servers (sourced by infra/objectstore/env.sh,
# infra/spark-cluster/env.sh, infra/sql-endpoint/env.sh and infra/airflow/stop.sh): a server is found by its pid file, and only
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
  # A process that is still exec'ing (bash -> setsid -> spark-class -> java) shows its parent's or
  # an empty command line for a moment, so a miss is looked at again before it counts.
  local look
  for look in 1 2 3 4 5; do
    if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker"; then
      echo "$pid"
      return 0
    fi
    pid_alive "$pid" || return 1
    ((look < 5)) && sleep 0.2
  done
  return 1
}

group_alive() { # pid -> does any process of its group run (a daemon and its workers or executors)
  kill -0 -- "-$1" 2>/dev/null
}

#!/usr/bin/env bash
# One idempotent install step for a fresh machine: the project virtualenv (.venv) from the
# frozen requirements.lock, the project itself (editable), Spark's extra JVM jars (.jars/), and the
# front-end files of the lake's HTML pages (infra/web-assets/node_modules/).
# Re-running it does nothing when the locks and the jar list are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
UV_VERSION=0.13.8

stamp() { sha256sum "$@" | sha256sum | cut -c1-16; }

need_python_env=1
if [[ -f .venv/.installed && "$(cat .venv/.installed)" == "$(stamp requirements.lock pyproject.toml)" ]]; then
  need_python_env=0
fi

if (( need_python_env )); then
  echo "==> python environment (.venv) from requirements.lock"
  started=$(date +%s)
  [[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv
  # uv resolves nothing here: it installs exactly the lock, ~10x faster than pip.
  .venv/bin/python -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
  .venv/bin/uv pip sync -q -p .venv/bin/python requirements.lock
  .venv/bin/uv pip install -q -p .venv/bin/python --no-deps -e .
  stamp requirements.lock pyproject.toml > .venv/.installed
  echo "    done in $(( $(date +%s) - started )) s"
fi

JARS_DIR=${GOVLAKE_JARS_DIR:-$ROOT/.jars}
if [[ ! -f "$JARS_DIR/.installed" || "$(cat "$JARS_DIR/.installed")" != "$(stamp infra/jars/pom.xml)" ]]; then
  echo "==> Spark jars (Delta, hadoop-aws, AWS SDK) into $JARS_DIR"
  command -v mvn >/dev/null || { echo "Maven (mvn) is required to fetch the Spark jars" >&2; exit 1; }
  started=$(date +%s)
  rm -rf "$JARS_DIR" && mkdir -p "$JARS_DIR"
  # Only the jars listed in the pom, none of their transitive dependencies (see the pom's header).
  mvn -q -B -f infra/jars/pom.xml dependency:copy-dependencies \
      -DexcludeTransitive=true -DoutputDirectory="$JARS_DIR"
  stamp infra/jars/pom.xml > "$JARS_DIR/.installed"
  echo "    done in $(( $(date +%s) - started )) s"
fi

# HiveServer2 CUSTOM authentication of the local SQL endpoint (infra/sql-endpoint/auth/): one class,
# compiled with the JDK's javac against pyspark's own Thrift server jar (the interface it implements
# is that jar's), into the jars folder. Rebuilt when its source or the lock (pyspark) changes.
AUTH_SRC=infra/sql-endpoint/auth
AUTH_JAR="$JARS_DIR/govlake-sql-endpoint-auth.jar"
auth_stamp() { stamp $(find "$AUTH_SRC" -name '*.java' | sort) requirements.lock; }
if [[ ! -f $AUTH_JAR || ! -f $JARS_DIR/.auth-installed || "$(cat "$JARS_DIR/.auth-installed")" != "$(auth_stamp)" ]]; then
  echo "==> SQL endpoint authentication class into $AUTH_JAR"
  command -v javac >/dev/null || { echo "javac (JDK 17) is required to build $AUTH_JAR" >&2; exit 1; }
  thrift_jar=$(ls .venv/lib/python3*/site-packages/pyspark/jars/spark-hive-thriftserver_*.jar)
  build=$(mktemp -d)
  javac --release 17 -nowarn -cp "$thrift_jar" -d "$build" $(find "$AUTH_SRC" -name '*.java')
  jar --create --file "$AUTH_JAR" -C "$build" .
  rm -rf "$build"
  auth_stamp > "$JARS_DIR/.auth-installed"
fi

# Front-end files of the lake's HTML pages (Data Docs' Bootstrap, jQuery, bootstrap-table, Font Awesome,
# Vega...) from the npm registry, exactly as pinned in infra/web-assets/package-lock.json, into
# infra/web-assets/node_modules/ (git-ignored). govlake/web_assets.py copies what a site needs next to
# its pages, so no page loads anything from the internet and nothing is downloaded at run time.
# `npm ci` installs the lock and nothing else (no install scripts: see infra/web-assets/.npmrc).
WEB_ASSETS=infra/web-assets
web_assets_stamp() { stamp "$WEB_ASSETS/package.json" "$WEB_ASSETS/package-lock.json" "$WEB_ASSETS/.npmrc"; }
if [[ ! -f $WEB_ASSETS/node_modules/.installed || "$(cat "$WEB_ASSETS/node_modules/.installed")" != "$(web_assets_stamp)" ]]; then
  echo "==> web assets for offline pages (npm ci in $WEB_ASSETS)"
  command -v npm >/dev/null || { echo "npm (Node.js) is required to install the web assets" >&2; exit 1; }
  started=$(date +%s)
  (cd "$WEB_ASSETS" && npm ci --loglevel=error --no-progress)
  web_assets_stamp > "$WEB_ASSETS/node_modules/.installed"
  echo "    done in $(( $(date +%s) - started )) s"
fi

# Headless Chromium (the scorecard page's screenshot test) and a CJK font (Chinese labels in the
# scorecard charts; jobs/quality/scorecard/render.py looks for this font file), from Debian's packages.
# Skipped when both are there. Needs root and apt-get; without them the rest of the project still
# works and only the screenshot test fails, saying why. An apt-get failure stops the install.
CHROMIUM=/usr/bin/chromium
CJK_FONT=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
if [[ "${GOVLAKE_INSTALL_BROWSER:-1}" == 1 ]] && [[ ! -x $CHROMIUM || ! -f $CJK_FONT ]]; then
  echo "==> Chromium and a CJK font (fonts-wqy-microhei) from Debian packages"
  started=$(date +%s)
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get update -qq || ! apt-get install -y -qq --no-install-recommends chromium fonts-wqy-microhei >/dev/null; then
      echo "ERROR: apt-get could not install chromium and fonts-wqy-microhei (see apt's messages above)" >&2
      exit 1
    fi
    [[ -x $CHROMIUM ]] || { echo "ERROR: apt-get ran but $CHROMIUM is missing" >&2; exit 1; }
    echo "    done in $(( $(date +%s) - started )) s"
  else
    echo "    skipped: needs root and apt-get (install chromium and fonts-wqy-microhei yourself)" >&2
  fi
fi

# PostgreSQL, the shared Hive metastore's database of the local SQL endpoint (infra/sql-endpoint/
# starts a cluster of its own under .run/; nothing runs as a system service), from Debian's package.
# Skipped when its binaries are there. Needs root and apt-get, like the step above.
if [[ "${GOVLAKE_INSTALL_POSTGRES:-1}" == 1 ]] && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  echo "==> PostgreSQL (the SQL endpoint's metastore database) from Debian packages"
  started=$(date +%s)
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    # No system-wide cluster on port 5432: the project's scripts run their own.
    if [[ ! -f /etc/postgresql-common/createcluster.conf ]]; then
      mkdir -p /etc/postgresql-common && echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
    fi
    if ! apt-get update -qq || ! apt-get install -y -qq --no-install-recommends postgresql >/dev/null; then
      echo "ERROR: apt-get could not install postgresql (see apt's messages above)" >&2
      exit 1
    fi
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || { echo "ERROR: apt-get ran but no initdb" >&2; exit 1; }
    echo "    done in $(( $(date +%s) - started )) s"
  else
    echo "    skipped: needs root and apt-get (install postgresql yourself for infra/sql-endpoint/)" >&2
  fi
fi

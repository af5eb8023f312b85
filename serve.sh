#!/usr/bin/env bash
# Serve Integrations as in production: collectstatic and migrate, then gunicorn with the production
# settings and the task cluster (manage.py runworkers) beside it. SIGTERM or Ctrl-C stops both
# cleanly (each finishes what it has in flight); if either ends by itself, the other is stopped and
# the script exits non-zero, so that a service manager restarts it.
# Needs the requirements installed (.venv is used when there is one), SECRET_KEY and
# INTEGRATIONS_ENCRYPTION_KEY; README "Production" lists the rest of the environment.
set -euo pipefail
cd "$(dirname "$0")"
if [ -x .venv/bin/python3 ]; then
  export PATH="$PWD/.venv/bin:$PATH"
fi
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-integrations_site.settings_production}

python3 manage.py collectstatic --noinput --verbosity 0
python3 manage.py migrate --noinput

python3 manage.py runworkers &
workers=$!
python3 -m gunicorn --config gunicorn.conf.py &
web=$!

stop() {
  kill -TERM "$web" "$workers" 2>/dev/null || true
  wait "$web" "$workers" 2>/dev/null || true
}
trap 'stop; exit 143' TERM
trap 'stop; exit 130' INT

status=0
wait -n -p ended "$web" "$workers" || status=$?
if [ "$ended" = "$web" ]; then name="gunicorn"; other="the workers"; else name="the workers"; other="gunicorn"; fi
echo "serve.sh: $name stopped (status $status); stopping $other." >&2
stop
exit $(( status == 0 ? 1 : status ))

#!/usr/bin/env bash
# Set up everything and run the application: web server and task cluster
# together on SQLite and the django-q2 ORM broker, with demo data.
# Ctrl-C stops both. ADMIN_PASSWORD sets the admin's password (else one is made and printed).
set -euo pipefail
cd "$(dirname "$0")"
source scripts/bootstrap.sh

# Exported first: the public URL (callbacks) and the demo's base URL follow it (settings.py, load_demo).
export ADDRESS=${ADDRESS:-127.0.0.1:8000}
python manage.py migrate --noinput
python manage.py load_demo
python manage.py ensure_admin

python manage.py runworkers &
workers=$!
python manage.py runserver --noreload "$ADDRESS" &
web=$!
trap 'kill $workers $web 2>/dev/null; wait 2>/dev/null' INT TERM EXIT
echo "Integrations is running: http://$ADDRESS/admin/  (Ctrl-C stops it)"
wait -n

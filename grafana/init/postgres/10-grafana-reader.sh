#!/bin/sh
# Creates the role Grafana reads PostgreSQL with: SELECT only, read-only transactions and a
# statement timeout, because Grafana runs whatever SQL a panel holds (its documentation asks
# for such a role). The postgres image runs this once, on first start with an empty data
# volume, as POSTGRES_USER in POSTGRES_DB (docker-compose.yml sets GRAFANA_PG_USER and
# GRAFANA_PG_PASSWORD). It may be executed or sourced, so it sets no shell options and never
# exits; ON_ERROR_STOP makes psql fail, and the entrypoint stop, on the first error.
#
# The receiver creates its tables later (and monthly partitions for ever after), as
# POSTGRES_USER: default privileges give the reader SELECT on each of them as it is created.
# test/observability runs the SQL below (with psql's variables filled in) and then every
# dashboard query as that role.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v reader="$GRAFANA_PG_USER" -v reader_password="$GRAFANA_PG_PASSWORD" \
  -v owner="$POSTGRES_USER" -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"reader" LOGIN PASSWORD :'reader_password';
GRANT CONNECT ON DATABASE :"db" TO :"reader";
GRANT USAGE ON SCHEMA public TO :"reader";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader";
ALTER ROLE :"reader" SET default_transaction_read_only = on;
ALTER ROLE :"reader" SET statement_timeout = '30s';
SQL

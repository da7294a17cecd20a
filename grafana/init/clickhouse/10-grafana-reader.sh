#!/bin/bash
# Creates the user Grafana reads ClickHouse with: SELECT on the receiver's database only.
# The clickhouse-server image runs this once, on first start with an empty data volume, while
# the server listens on 127.0.0.1 only; docker-compose.yml sets the variables. It may be
# executed or sourced, so it sets no shell options and never exits.
#
# Not readonly=1: the Grafana plugin sets max_execution_time on its queries, which readonly=1
# forbids. SELECT is the only grant, so the user still cannot write, create or drop anything.
# The password must not contain a single quote.
clickhouse-client --multiquery --host 127.0.0.1 --user "$CLICKHOUSE_USER" --password "$CLICKHOUSE_PASSWORD" <<SQL
CREATE USER IF NOT EXISTS ${GRAFANA_CH_USER} IDENTIFIED WITH sha256_password BY '${GRAFANA_CH_PASSWORD}';
GRANT SELECT ON ${CLICKHOUSE_DB}.* TO ${GRAFANA_CH_USER};
SQL

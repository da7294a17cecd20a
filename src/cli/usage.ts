import { describeConfig } from '../config.js';

export const USAGE = `machpay-receiver: telemetry receiver for x402 agent payments (protocol: docs/protocol.md,
read API: docs/read-api.md)

Usage:
  machpay-receiver [serve] [options]        run the receiver (the default command)
  machpay-receiver migrate [options]        apply schema migrations and exit
  machpay-receiver keys create --tenant T --name N [--scopes ingest,read,admin] [--test]
                                            create an API key; the key is printed once,
                                            alone on the last line of stdout
  machpay-receiver keys list [--tenant T]   list API keys with their scopes (never the keys)
  machpay-receiver keys revoke ID           revoke a key by id (or a unique id prefix)
  machpay-receiver agents link CODE --tenant T [--name N]
                                            link the agent that showed CODE to tenant T
  machpay-receiver agents list --tenant T   list the agents linked to tenant T
  machpay-receiver agents unlink AGENT_ID [--tenant T]
                                            unlink an agent
  machpay-receiver spool replay --data-dir DIR
                                            drain a receiver's spool into PostgreSQL
                                            (e.g. one whose machine is gone)
  machpay-receiver <command> --help         help for one command
  machpay-receiver --version                print the version

Options are --name value or --name=value.

Endpoints (docs/openapi.json, also at GET /openapi.json): POST /v1/agent (Ed25519-signed),
POST /v1/ingest (API key), the read API under /v1/agent/*, /v1/agents, /v1/link/*,
/v1/gateway/metrics, /v1/webhooks, /v1/stream/tokens; GET /metrics, /healthz, /readyz.
/metrics is for the Prometheus scraper: keep it inside your network.

Options (flag, environment variable; flags win over the environment):
${describeConfig()}
`;

const DATABASE_NOTE = `Uses DATABASE_URL, or the embedded PostgreSQL under DATA_DIR (a running receiver's, if there is one).`;

export const HELP: Readonly<Record<string, string>> = {
  serve: `machpay-receiver serve [options]

Runs the receiver until SIGTERM or SIGINT, then answers every request in flight
(up to SHUTDOWN_TIMEOUT_MS) and exits 0. With DATABASE_URL unset it starts an embedded
PostgreSQL under DATA_DIR/postgres.

Options:
${describeConfig()}
`,
  migrate: `machpay-receiver migrate [options]

Applies the schema migrations in schema/postgres (idempotent) and creates the
partitions of the current and next month, then exits. serve does the same at start.
${DATABASE_NOTE}
`,
  keys: `machpay-receiver keys create --tenant T --name N [--scopes ingest,read,admin] [--test]
machpay-receiver keys list [--tenant T]
machpay-receiver keys revoke ID

API keys (docs/protocol.md §4, docs/read-api.md §1). --scopes is a comma-separated list of
  ingest  send gateway events (POST /v1/ingest); the default
  read    read the tenant's agents, metrics, history, alerts and live events
  admin   link and unlink agents, change their settings, manage webhooks
Only a SHA-256 of each key is stored; the key itself is printed once, on the last line of
stdout of 'keys create'. --test makes an mpk_test_ key. 'keys list' shows the scopes.
${DATABASE_NOTE}
`,
  agents: `machpay-receiver agents link CODE --tenant T [--name N]
machpay-receiver agents list --tenant T
machpay-receiver agents unlink AGENT_ID [--tenant T]

Agents and their tenants (docs/read-api.md §2). An agent asks for a link code
(POST /v1/link/init, signed by the agent); 'agents link' confirms it for tenant T as
POST /v1/link/confirm does (codes are single use and live 10 minutes; --name names the
agent). 'agents list' prints the tenant's agents, most recently seen first, with their
latest balances. 'agents unlink' unlinks the agent from its tenant (only from T with
--tenant); its data stays, and it can be linked again with a new code.
${DATABASE_NOTE}
`,
  spool: `machpay-receiver spool replay --data-dir DIR [options]

Replays the spool in DIR/spool (batches a receiver acknowledged while PostgreSQL could
not take them) into PostgreSQL, oldest first, and exits. Use it when that receiver will
not come back to do it itself: its machine is gone and its data directory is mounted
elsewhere. Each batch is the same COPY transaction the receiver would run: an event
already stored is stored once, and the rollups count only what was inserted (a running
receiver folds them). Progress (batches, events, bytes, rate, what is left) goes to
stderr once a second; a summary to stdout.

DIR/spool.lock keeps one process at a time on a spool: a receiver serving from DIR
takes it, and so does this command, so the two never replay the same spool at once.
A lock left by a process that is gone is taken over: at once on the same host, after
15 s without a heartbeat when it names another host.

Exit status:
  0  the spool is empty (everything replayed, or nothing to replay)
  1  stopped early (PostgreSQL unavailable or refused a batch, or interrupted with
     SIGINT/SIGTERM after the batch in flight); the rest stays in the spool: run again
  2  usage or configuration error (e.g. DIR has no spool)
  3  the spool is in use: a receiver (or another replay) holds DIR/spool.lock
${DATABASE_NOTE}
`,
};

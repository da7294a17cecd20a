#!/usr/bin/env python3
"""Send a batch of MachPay agent events to a machpay-receiver (docs/protocol.md).

Builds N `com.machpay.agent.interaction.v1` events and one `com.machpay.agent.telemetry.v1`
report, signs the request with the agent's Ed25519 key and POSTs it to /v1/agent. Prints a
JSON summary on stdout; progress and problems go to stderr.

Exit status: 0 every event accepted, 1 some event or request refused, 2 bad arguments or
key, 3 the receiver could not be reached (or kept asking to wait) for every attempt.
"""

import argparse
import json
import os
import sys
import time

from machpay_producer import Sender, generate_key, interaction_event, load_key, telemetry_event
from machpay_producer.keys import SECRET_ENV
from machpay_producer.sender import GaveUp

SDK_VERSION = "machpay-python-example/0.1.0"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="send_events.py",
        description=__doc__.split("\n\n")[1],
        epilog=f"The key comes from ${SECRET_ENV} (base58 secret key) when it is set, else from --key-file.",
    )
    p.add_argument("--url", default=os.environ.get("MACHPAY_RECEIVER_URL", "http://127.0.0.1:8080"),
                   help="receiver base URL (default $MACHPAY_RECEIVER_URL or http://127.0.0.1:8080)")
    p.add_argument("--key-file", default="agent-key.json",
                   help="Solana id.json (JSON array of 64 bytes) or base58 secret key (default agent-key.json)")
    p.add_argument("--new-key", action="store_true", help="create --key-file with a fresh key pair if it does not exist")
    p.add_argument("--show-agent", action="store_true", help="print the agent id (base58 public key) and exit")
    p.add_argument("--interactions", type=int, default=5, metavar="N", help="interaction events to send (default 5)")
    p.add_argument("--vendor", default="vendor-weather", help="vendor_id of the events (default vendor-weather)")
    p.add_argument("--amount-atomic", type=int, default=1000, metavar="INT",
                   help="amount_atomic of each successful interaction, any int64 >= 0 (sent as a decimal string)")
    p.add_argument("--nonce-start", type=int, default=None, metavar="INT",
                   help="nonce of the first interaction, the next ones count up (default: now in microseconds)")
    p.add_argument("--at", type=int, default=None, metavar="UNIX_SECONDS",
                   help="time of the events and end of the report's period (default now); "
                        "the same --at and --nonce-start rebuild the same events, so a resend is stored once")
    p.add_argument("--gzip", action="store_true", help="send the body with Content-Encoding: gzip")
    p.add_argument("--batch-size", type=int, default=1000, metavar="N", help="most events per request (default and limit 1000)")
    p.add_argument("--max-attempts", type=int, default=6, metavar="N", help="attempts per request before giving up (default 6)")
    p.add_argument("--max-wait", type=float, default=30.0, metavar="SECONDS", help="longest Retry-After honoured (default 30)")
    p.add_argument("--clock-skew-ms", type=int, default=0, metavar="MS",
                   help="pretend the local clock is off by MS (to see the Date-based correction at work)")
    args = p.parse_args(argv)
    if args.interactions < 0:
        p.error("--interactions must be >= 0")
    return args


def build_events(agent_id: str, args: argparse.Namespace) -> list[dict]:
    at = args.at if args.at is not None else int(time.time())
    nonce_start = args.nonce_start if args.nonce_start is not None else time.time_ns() // 1000
    events = []
    attempts = successes = spend = 0
    for i in range(args.interactions):
        # Every fourth request fails, so the report below has failures and an error count.
        success = i % 4 != 3
        attempts += 1
        successes += success
        spend += args.amount_atomic if success else 0
        events.append(interaction_event(
            agent_id,
            nonce=nonce_start + i,
            vendor_id=args.vendor,
            success=success,
            latency_ms=40 + i,
            unix_seconds=at,
            amount_atomic=args.amount_atomic if success else None,
            request_url="https://api.weather.example/v1/forecast",
            request_method="GET",
            error_type=None if success else "payment_timeout",
        ))
    vendors = {}
    if attempts:
        vendors[args.vendor] = {
            "attempts": attempts,
            "success": successes,
            "failures": attempts - successes,
            "payment_latency_p50": 40 + attempts // 2,
            "payment_latency_p99": 40 + attempts - 1,
            "spend_atomic": spend,
            "errors": {"payment_timeout": attempts - successes} if attempts > successes else {},
        }
    events.append(telemetry_event(
        agent_id,
        period_start=at - 60,
        period_end=at,
        vendors=vendors,
        sol_balance_lamports=1_500_000_000,
        usdc_balance_atomic=25_000_000,
        sdk_version=SDK_VERSION,
    ))
    return events


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        key = load_key(args.key_file)
        if key is None and args.new_key:
            key = generate_key(args.key_file)
            print(f"machpay-producer: new key pair in {args.key_file}, agent {key.agent_id}", file=sys.stderr)
        if key is None:
            print(f"machpay-producer: no key: set {SECRET_ENV}, or create {args.key_file} with --new-key", file=sys.stderr)
            return 2
        if args.show_agent:
            print(key.agent_id)
            return 0
        events = build_events(key.agent_id, args)
        sender = Sender(args.url, key, use_gzip=args.gzip, batch_size=args.batch_size, max_attempts=args.max_attempts,
                        max_wait_s=args.max_wait, clock_offset_ms=args.clock_skew_ms)
    except (OSError, ValueError) as err:
        print(f"machpay-producer: {err}", file=sys.stderr)
        return 2
    try:
        outcome = sender.send(events)
    except GaveUp as err:
        print(f"machpay-producer: gave up: {err}", file=sys.stderr)
        return 3
    finally:
        sender.close()
    print(json.dumps({
        "agent_id": key.agent_id,
        "events": len(events),
        "accepted": outcome.accepted,
        "rejected": outcome.rejected,
        "refused": outcome.refused,
        "requests": outcome.requests,
        "retries": outcome.retries,
        "statuses": outcome.statuses,
    }))
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""CloudEvents of the two agent types of docs/protocol.md §5.

Every int64 field (``nonce``, ``*_atomic``, ``*_lamports``) is written as a decimal string,
which §2 allows: values above 2**53 then reach the receiver exactly, whatever JSON library
reads them on the way.

Event ids are derived from the natural key (the nonce; the report's period end), so that
building the same event twice gives the same (source, id) and a resend is stored once.
"""

from datetime import datetime, timezone

INTERACTION_TYPE = "com.machpay.agent.interaction.v1"
TELEMETRY_TYPE = "com.machpay.agent.telemetry.v1"

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def rfc3339(unix_seconds: float) -> str:
    """UTC with milliseconds, e.g. 2026-01-31T12:00:00.000Z."""
    moment = datetime.fromtimestamp(unix_seconds, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def int64_text(value: int, name: str, minimum: int = 0) -> str:
    if not minimum <= value <= INT64_MAX:
        raise ValueError(f"{name} must be an integer from {minimum} to {INT64_MAX}, got {value}")
    return str(value)


def _event(agent_id: str, event_type: str, event_id: str, time: str, data: dict) -> dict:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": f"/agents/{agent_id}",
        "type": event_type,
        "time": time,
        "data": data,
    }


def interaction_event(
    agent_id: str,
    *,
    nonce: int,
    vendor_id: str,
    success: bool,
    latency_ms: int,
    unix_seconds: float,
    amount_atomic: int | None = None,
    token_mint: str | None = None,
    request_url: str | None = None,
    request_method: str | None = None,
    error_type: str | None = None,
) -> dict:
    """One paid request (``agent_interactions`` row); its natural key is (agent, nonce)."""
    data: dict = {
        "agent_id": agent_id,
        "vendor_id": vendor_id,
        "nonce": int64_text(nonce, "nonce", INT64_MIN),
        "success": success,
        "latency_ms": latency_ms,
    }
    optional = {
        "amount_atomic": None if amount_atomic is None else int64_text(amount_atomic, "amount_atomic"),
        "token_mint": token_mint,
        "request_url": request_url,
        "request_method": request_method,
        "error_type": error_type,
    }
    data.update({k: v for k, v in optional.items() if v is not None})
    return _event(agent_id, INTERACTION_TYPE, f"interaction-{nonce}", rfc3339(unix_seconds), data)


def telemetry_event(
    agent_id: str,
    *,
    period_start: int,
    period_end: int,
    vendors: dict[str, dict],
    sol_balance_lamports: int,
    usdc_balance_atomic: int,
    sdk_version: str,
) -> dict:
    """A health report (``agent_telemetry`` row); its natural key is (period_end, agent).

    ``vendors`` maps a vendor id to its counters (attempts, success, failures,
    payment_latency_p50, payment_latency_p99, spend_atomic, errors).
    """
    interactions = {}
    for vendor, stats in vendors.items():
        entry = dict(stats)
        if "spend_atomic" in entry:
            entry["spend_atomic"] = int64_text(entry["spend_atomic"], f"{vendor}.spend_atomic")
        interactions[vendor] = entry
    data = {
        "agent_id": agent_id,
        "period_start": period_start,
        "period_end": period_end,
        "wallet": {
            "sol_balance_lamports": int64_text(sol_balance_lamports, "sol_balance_lamports"),
            "usdc_balance_atomic": int64_text(usdc_balance_atomic, "usdc_balance_atomic"),
            "low_balance_warnings": 0,
        },
        "interactions": interactions,
        "sdk_version": sdk_version,
    }
    return _event(agent_id, TELEMETRY_TYPE, f"telemetry-{period_end}", rfc3339(period_end), data)

"""A minimal MachPay agent producer: Ed25519-signed CloudEvents for /v1/agent.

Follows docs/protocol.md of machpay-receiver: §2 (bodies), §3 (request signature),
§5 (event types) and §6 (responses). Needs only the standard library and PyNaCl.
"""

from .events import interaction_event, telemetry_event
from .keys import AgentKey, generate_key, load_key
from .sender import Outcome, Sender
from .signing import sign_request, signed_bytes

__all__ = [
    "AgentKey",
    "Outcome",
    "Sender",
    "generate_key",
    "interaction_event",
    "load_key",
    "sign_request",
    "signed_bytes",
    "telemetry_event",
]

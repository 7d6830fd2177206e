"""The demo tenant: one business with its Messenger, Instagram and WhatsApp channels routed."""

from __future__ import annotations

from dataclasses import dataclass

from shared import store


@dataclass(frozen=True)
class DemoChannel:
    """A channel of the demo tenant and the external id its provider routes on."""

    channel_id: str
    kind: str
    external_id: str
    name: str


DEMO_TENANT = "demo"
DEMO_CHANNELS: tuple[DemoChannel, ...] = (
    DemoChannel("messenger-main", "messenger", "1000000000000001", "Demo Page (Messenger)"),
    DemoChannel("instagram-main", "instagram", "17840000000000001", "@demo.shop (Instagram)"),
    DemoChannel("whatsapp-main", "whatsapp", "109000000000001", "+1 555 0100 (WhatsApp)"),
)


def seed(tenant_id: str = DEMO_TENANT, channels: tuple[DemoChannel, ...] = DEMO_CHANNELS) -> None:
    """Create the demo tenant and connect its channels (idempotent)."""
    store.put_tenant(tenant_id, {"name": "Demo Shop", "kind": "support", "plan": "free"})
    for channel in channels:
        store.put_channel(tenant_id, channel.channel_id, channel.kind, channel.external_id, channel.name)

"""The demo tenant: one business with its Messenger, Instagram and WhatsApp channels routed."""

from __future__ import annotations

from dataclasses import dataclass

from shared import store


@dataclass(frozen=True)
class DemoChannel:
    """A channel of the demo tenant, the external id its provider routes on, and its API token
    (kept in the local secret map, as production keeps it in Secret Manager)."""

    channel_id: str
    kind: str
    external_id: str
    name: str
    token: str = "local-token"  # noqa: S105 - local-only stand-in
    account_sid: str | None = None  # Twilio only: the account the number belongs to
    business_account_id: str | None = None  # WhatsApp only: the WABA that owns the number's templates


DEMO_TENANT = "demo"
TWILIO_SID = "AC" + "0" * 31 + "1"
DEMO_CHANNELS: tuple[DemoChannel, ...] = (
    DemoChannel("messenger-main", "messenger", "1000000000000001", "Demo Page", "EAAdemoPageToken"),
    DemoChannel("instagram-main", "instagram", "17840000000000001", "@demo.shop (Instagram)", "IGdemoToken"),
    DemoChannel(
        "whatsapp-main",
        "whatsapp",
        "109000000000001",
        "+1 555 0100 (WhatsApp)",
        "EAAdemoWaToken",
        business_account_id="102000000000001",
    ),
    DemoChannel(
        "telegram-main", "telegram", "7000000001", "@demo_shop_bot (Telegram)", "7000000001:AAdemoBotToken"
    ),
    DemoChannel(
        "twilio-sms", "twilio", "+15550100", "+1 555 0100 (SMS)", "demo-twilio-auth-token", TWILIO_SID
    ),
    DemoChannel(
        "twilio-whatsapp",
        "twilio",
        "whatsapp:+15550199",
        "+1 555 0199 (WhatsApp via Twilio)",
        "demo-twilio-auth-token",
        TWILIO_SID,
    ),
)

# A second business on the same deployment: tests prove its agents see none of the demo's data.
OTHER_TENANT = "acme"
OTHER_CHANNELS: tuple[DemoChannel, ...] = (
    DemoChannel(
        "whatsapp-acme",
        "whatsapp",
        "109000000000002",
        "+1 555 0200 (Acme)",
        "EAAacmeWaToken",
        business_account_id="102000000000002",
    ),
)


def all_channels() -> list[tuple[str, DemoChannel]]:
    """Every seeded (tenant, channel) pair."""
    return [(DEMO_TENANT, c) for c in DEMO_CHANNELS] + [(OTHER_TENANT, c) for c in OTHER_CHANNELS]


def seed(tenant_id: str = DEMO_TENANT, channels: tuple[DemoChannel, ...] = DEMO_CHANNELS) -> None:
    """Create the demo tenant and connect its channels (idempotent); also the second tenant."""
    store.put_tenant(tenant_id, {"name": "Demo Shop", "kind": "support", "plan": "free"})
    for channel in channels:
        store.put_channel(
            tenant_id,
            channel.channel_id,
            channel.kind,
            channel.external_id,
            channel.name,
            signer=channel.account_sid,
        )
        if channel.account_sid:
            store.update_channel(tenant_id, channel.channel_id, {"accountSid": channel.account_sid})
        if channel.business_account_id:
            store.update_channel(
                tenant_id, channel.channel_id, {"businessAccountId": channel.business_account_id}
            )
    if tenant_id == DEMO_TENANT:
        store.put_tenant(OTHER_TENANT, {"name": "Acme Corp", "kind": "support", "plan": "free"})
        for channel in OTHER_CHANNELS:
            store.put_channel(
                OTHER_TENANT, channel.channel_id, channel.kind, channel.external_id, channel.name
            )
            if channel.business_account_id:
                store.update_channel(
                    OTHER_TENANT, channel.channel_id, {"businessAccountId": channel.business_account_id}
                )


@dataclass(frozen=True)
class Login:
    """A demo sign-in for the dashboard."""

    email: str
    password: str
    name: str
    tenant_id: str
    role: str


# The first is the main demo login: the demo workspace's owner (team page, audit log, every page).
DEMO_AGENTS: tuple[Login, ...] = (
    Login("owner@demo.test", "switchboard-demo", "Olivia Owner", DEMO_TENANT, "owner"),
    Login("agent@demo.test", "switchboard-demo", "Dana Agent", DEMO_TENANT, "agent"),
    Login("admin@demo.test", "switchboard-demo", "Alex Admin", DEMO_TENANT, "admin"),
    Login("agent@acme.test", "switchboard-demo", "Eve Acme", OTHER_TENANT, "agent"),
)


def seed_agents() -> Login:
    """Create the demo agents in the Auth emulator (with tenant/role claims) and the agent directory;
    return the main demo login."""
    from shared import auth

    for login in DEMO_AGENTS:
        uid = auth.invite(login.email, login.password, login.tenant_id, login.role, login.name)
        store.put_agent(
            login.tenant_id,
            uid,
            {"name": login.name, "email": login.email, "role": login.role, "active": True},
        )
    return DEMO_AGENTS[0]

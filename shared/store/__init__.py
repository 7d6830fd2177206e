"""The only code that touches Firestore, one module per concern:

- ``_client``: the lazy client, bounded retries, transient and refused errors, Firestore's document
  limits (:func:`check_storable`), field transforms, versioned reads, the documents both products
  address (tenants, conversations, messages) and :func:`reset`;
- ``inbox``: the support inbox (conversations, messages, contacts, receipts and status, delivery
  claims, parked events);
- ``operator``: routes (and the route cache), tenants, channels, agents, channel health, quarantine;
- ``chat``: the chat backend (apps, API keys, app users, channels, members and the collection-group
  query of one's channels, posts, usage shards, rate buckets, join requests,
  developers' app slots, the migration to the seq/lastReadSeq layout);
- ``audit``: the append-only audit log of admin actions;
- ``canned``: canned replies and the channels' cached WhatsApp template lists;
- ``notifications``: agents' notification settings, web-push tokens and notifications feed;
- ``push_roster``: a chat channel's push roster shards (members' device tokens, mute and viewing
  marks) and push jobs' progress (shared/chat/push.py).

Callers use the package, never a module: ``from shared import store; store.create_message(...)``.
Every public name is re-exported here and listed in ``__all__`` (tests/unit/test_store_package.py
holds the list, the modules and the callers together). The names here are bindings of the modules'
own objects: patching ``store.X`` changes what callers outside the package see, not what the store's
modules call among themselves (patch ``shared.store.<module>.X`` for that).

Importing the package opens nothing: the client is created, and the Firestore library imported, on
first use.
"""

from __future__ import annotations

# MemberGone (what write_post raises when a member left) and STATUS_RANK (the forward-only status
# ranks advance_status and outbound_below go by) are the store's vocabulary too: callers name them
# through it.
from shared.errors import MemberGone
from shared.models.status import STATUS_RANK
from shared.store._client import (
    MAX_DOCUMENT_BYTES,
    MAX_NESTING,
    PRECONDITION_RETRIES,
    Versioned,
    array_union,
    check_storable,
    client,
    conversation_ref,
    delete_field,
    field_path,
    increment,
    maximum,
    message_ref,
    refused_errors,
    reset,
    server_time,
    transient_errors,
)
from shared.store.audit import AUDIT_PAGE_LIMIT, append_audit_entry, list_audit_entries
from shared.store.canned import (
    CANNED_LIST_LIMIT,
    delete_canned_reply,
    get_canned_reply,
    get_template_cache,
    list_canned_replies,
    put_canned_reply,
    put_template_cache,
)
from shared.store.chat import (
    CHAT_MEMBER_PAGE,
    JOIN_REQUEST_PAGE,
    MY_CHANNELS_LIMIT,
    RATE_BUCKET_TTL,
    USAGE_SHARDS,
    ChatContext,
    NewPost,
    WrittenPost,
    add_usage,
    app_tenant_ids,
    app_user_ids,
    apps_created_by,
    chat_channel_ids,
    chat_channels_of,
    chat_context,
    chat_members,
    count_unread,
    create_app_tenant,
    create_chat_channel,
    create_join_request,
    decline_join_request,
    get_api_key,
    get_app_users,
    get_chat_member,
    get_join_request,
    get_post,
    join_chat_channel,
    leave_chat_channel,
    list_posts,
    migrate_chat_channel,
    pending_join_requests,
    put_app_user,
    put_chat_members,
    update_chat_member,
    update_chat_member_transforms,
    update_post_if,
    usage_total,
    write_post,
)
from shared.store.inbox import (
    PARKED_TTL,
    NewMessage,
    StoredMessage,
    advance_status,
    claim_delivery,
    contact_ref,
    create_message,
    create_outbound,
    find_message_by_provider_id,
    fold_summary,
    get_conversation,
    get_conversation_versioned,
    get_message,
    outbound_below,
    park,
    parked_for,
    release_delivery,
    unpark,
    update_conversation,
    update_conversation_if,
    update_message,
)
from shared.store.operator import (
    QUARANTINE_RAW_BYTES,
    QUARANTINE_TTL,
    ROUTE_CACHE_SECONDS,
    Route,
    bind_route_signer,
    create_tenant,
    get_agent,
    get_channel,
    get_tenant,
    list_channels,
    list_quarantine,
    mark_quarantine_replayed,
    put_agent,
    put_channel,
    put_tenant,
    quarantine_summaries,
    resolve_route,
    save_quarantine,
    update_channel,
    update_channel_health,
)

# The route cache, for tests that look at it (store._route_cache): the same dict the operator module
# reads, so clearing or inspecting it here acts on the real cache.
from shared.store.operator import _route_cache as _route_cache
from shared.store.push_roster import (
    PUSH_JOBS,
    ROSTER,
    push_progress,
    put_push_progress,
    roster_drop_tokens,
    roster_put,
    roster_remove,
    roster_shards,
)

__all__ = [
    "AUDIT_PAGE_LIMIT",
    "CANNED_LIST_LIMIT",
    "CHAT_MEMBER_PAGE",
    "JOIN_REQUEST_PAGE",
    "MAX_DOCUMENT_BYTES",
    "MAX_NESTING",
    "MY_CHANNELS_LIMIT",
    "PARKED_TTL",
    "PRECONDITION_RETRIES",
    # shared/store/push_roster.py
    "PUSH_JOBS",
    "QUARANTINE_RAW_BYTES",
    "QUARANTINE_TTL",
    "RATE_BUCKET_TTL",
    "ROSTER",
    "ROUTE_CACHE_SECONDS",
    "STATUS_RANK",
    "USAGE_SHARDS",
    "ChatContext",
    "MemberGone",
    "NewMessage",
    "NewPost",
    "Route",
    "StoredMessage",
    "Versioned",
    "WrittenPost",
    "add_usage",
    "advance_status",
    "app_tenant_ids",
    "app_user_ids",
    "append_audit_entry",
    "apps_created_by",
    "array_union",
    "bind_route_signer",
    "chat_channel_ids",
    "chat_channels_of",
    "chat_context",
    "chat_members",
    "check_storable",
    "claim_delivery",
    "client",
    "contact_ref",
    "conversation_ref",
    "count_unread",
    "create_app_tenant",
    "create_chat_channel",
    "create_join_request",
    "create_message",
    "create_outbound",
    "create_tenant",
    "decline_join_request",
    "delete_canned_reply",
    "delete_field",
    "field_path",
    "find_message_by_provider_id",
    "fold_summary",
    "get_agent",
    "get_api_key",
    "get_app_users",
    "get_canned_reply",
    "get_channel",
    "get_chat_member",
    "get_conversation",
    "get_conversation_versioned",
    "get_join_request",
    "get_message",
    "get_post",
    "get_template_cache",
    "get_tenant",
    "increment",
    "join_chat_channel",
    "leave_chat_channel",
    "list_audit_entries",
    "list_canned_replies",
    "list_channels",
    "list_posts",
    "list_quarantine",
    "mark_quarantine_replayed",
    "maximum",
    "message_ref",
    "migrate_chat_channel",
    "outbound_below",
    "park",
    "parked_for",
    "pending_join_requests",
    "push_progress",
    "put_agent",
    "put_app_user",
    "put_canned_reply",
    "put_channel",
    "put_chat_members",
    "put_push_progress",
    "put_template_cache",
    "put_tenant",
    "quarantine_summaries",
    "refused_errors",
    "release_delivery",
    "reset",
    "resolve_route",
    "roster_drop_tokens",
    "roster_put",
    "roster_remove",
    "roster_shards",
    "save_quarantine",
    "server_time",
    "transient_errors",
    "unpark",
    "update_channel",
    "update_channel_health",
    "update_chat_member",
    "update_chat_member_transforms",
    "update_conversation",
    "update_conversation_if",
    "update_message",
    "update_post_if",
    "usage_total",
    "write_post",
]

# Media of a message (shared/store/media.py) and the team inbox (shared/store/labels.py: labels,
# conversation changes with their activity line, the inbox's server-side filters): appended here,
# re-exported like the rest.
from shared.store.labels import (
    LABEL_CLEANUP_PAGE,
    MAX_BATCH_WRITES,
    ConversationChange,
    apply_conversation_changes,
    array_remove,
    backfill_assigned,
    create_label,
    delete_label,
    inbox_page,
    list_labels,
    strip_label,
    update_label,
)
from shared.store.media import MEDIA_STATES, media_entries, message_media, set_media_entry

# Search and the timeline (shared/store/search.py, shared/search/): re-exported the same way.
from shared.store.search import (
    FoundMessage,
    contact_path,
    contacts_with_term,
    conversation_messages,
    get_conversations,
    message_path,
    support_conversation_ids,
    tenant_contacts,
    tenant_messages,
    timeline_query_by_tenant,
    update_documents,
)

__all__ += ["MEDIA_STATES", "media_entries", "message_media", "set_media_entry"]

__all__ += [
    "LABEL_CLEANUP_PAGE",
    "MAX_BATCH_WRITES",
    "ConversationChange",
    "FoundMessage",
    "apply_conversation_changes",
    "array_remove",
    "backfill_assigned",
    "contact_path",
    "contacts_with_term",
    "conversation_messages",
    "create_label",
    "delete_label",
    "get_conversations",
    "inbox_page",
    "list_labels",
    "message_path",
    "strip_label",
    "support_conversation_ids",
    "tenant_contacts",
    "tenant_messages",
    "timeline_query_by_tenant",
    "update_documents",
    "update_label",
]

# Agents' notification settings, web-push tokens and feed (shared/store/notifications.py).
from shared.store.notifications import (  # noqa: E402
    NOTIFICATION_FEED_TTL,
    NOTIFICATION_READ_BATCH,
    PUSH_TOKENS_PER_AGENT,
    add_push_token,
    drop_push_tokens,
    first_message_id,
    mark_notifications_read,
    notification_settings,
    put_notification_preferences,
    put_notifications,
    tenant_agents,
)

__all__ += [
    "NOTIFICATION_FEED_TTL",
    "NOTIFICATION_READ_BATCH",
    "PUSH_TOKENS_PER_AGENT",
    "add_push_token",
    "drop_push_tokens",
    "first_message_id",
    "mark_notifications_read",
    "notification_settings",
    "put_notification_preferences",
    "put_notifications",
    "tenant_agents",
]

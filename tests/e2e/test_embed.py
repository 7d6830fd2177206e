"""The embeddable chat end to end: a developer's page on its own origin loads
``/embed/switchboard-chat.js`` from the dashboard's origin with a script tag and mounts widgets with
``config: { appId }`` only (the rest comes from that origin's /config.json). The users' tokens come
from the chat API's ``token`` (as the developer's backend gets them); other users post, like and
answer through the chat API and send_message, and the widgets must show it live."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
import requests
from playwright.sync_api import expect

from infra.local.stack import LocalStack
from shared import ids, store
from tests.chat.client import App, create_app
from tests.support import agent_token

T = TypeVar("T")

pytestmark = pytest.mark.integration

ALICE = ("alice", "Alice Appuser")
BOB = ("bob", "Bob Builder")
CAROL = ("carol", "Carol Chen")
# The like button's text is its count, after the heart.
LIKES = {n: re.compile(rf"^\D*\b{n}$") for n in range(4)}


# --- acting on the page --------------------------------------------------------------------------


def until(page: Any, probe: Callable[[], T], what: str, timeout_ms: int = 15_000) -> T:
    """Poll ``probe`` (the API, Firestore) until truthy, waiting on the page in between, so
    Playwright keeps dispatching the page's events meanwhile (a route handler holding a request runs
    only then)."""
    waited = 0
    while not (last := probe()):
        if waited >= timeout_ms:
            raise AssertionError(f"timed out after {timeout_ms} ms waiting for {what}: last value {last!r}")
        page.wait_for_timeout(100)
        waited += 100
    return last


def custom_token(app: App, user_id: str, name: str) -> str:
    """What the developer's backend does for its user: POST /v1/token with the API key."""
    return str(app.ok("token", {"userId": user_id, "name": name})["customToken"])


def mount(page: Any, slot: str, token: str, app_id: str, channel_id: str | None = None) -> str:
    """SwitchboardChat.mount(slot, { token, config: { appId } }) -> the widget's userId, once its
    channel list is live (unless it opens ``channel_id`` straight away)."""
    user_id = str(
        page.evaluate(
            "([slot, token, appId, channelId]) => window.mountChat(slot, token, appId, channelId)",
            [slot, token, app_id, channel_id],
        )
    )
    if channel_id is None:
        settled(widget(page, slot).get_by_test_id("sb-list"))
    return user_id


def settled(pane: Any) -> None:
    """Wait until a pane's listeners have delivered (aria-busy false). The Firestore emulator can
    miss a write that commits while a listener is being set up (it reports a read time after the
    write, with results from before it): the tests act only on live panes."""
    expect(pane).to_have_attribute("aria-busy", "false")


def open_channel(chat: Any, channel_id: str) -> None:
    """Click the channel's row and wait for its posts to be live."""
    channel_row(chat, channel_id).click()
    settled(chat.get_by_test_id("sb-posts"))


def mount_refused(page: Any, slot: str, token: str, app_id: str) -> str | None:
    """Mount expecting a refusal: the rejection's message (None if it mounted)."""
    result = page.evaluate(
        """async ([slot, token, appId]) => {
            try { await window.mountChat(slot, token, appId); return null; }
            catch (error) { return String(error && error.message); }
        }""",
        [slot, token, app_id],
    )
    return None if result is None else str(result)


def unmount(page: Any, slot: str) -> None:
    page.evaluate("(slot) => window.widgets[slot].unmount()", slot)


def widget(page: Any, slot: str = "chat-a") -> Any:
    """The widget's root inside the slot's shadow root (Playwright's locators pierce open ones)."""
    return page.locator(f"#{slot}").get_by_test_id("sb-chat")


def channel_row(chat: Any, channel_id: str) -> Any:
    return chat.locator(f'[data-testid="sb-channel"][data-channel-id="{channel_id}"]')


def post_with(chat: Any, text: str) -> Any:
    return chat.get_by_test_id("sb-post").filter(has_text=text)


def send(chat: Any, text: str) -> None:
    """Type in the composer and press Enter (Enter sends)."""
    composer = chat.get_by_test_id("sb-composer")
    composer.fill(text)
    composer.press("Enter")


# --- arranging through the chat API, as other users' apps would ------------------------------------


def group(app: App, name: str, owner: str, *others: str) -> str:
    channel_id = str(app.ok("createSub", {"name": name}, user=owner)["id"])
    for user in others:
        app.ok("createSub", {"channelId": channel_id}, user=user)
    return channel_id


def post(app: App, channel_id: str, user: str, text: str) -> str:
    body = {"channelId": channel_id, "text": text, "clientPostId": f"t-{uuid.uuid4().hex[:12]}"}
    return str(app.ok("createPost", body, user=user)["id"])


def unread_of(app: App, user: str, channel_id: str) -> int | None:
    """The API's unread count (computed: the channel's seq minus the user's lastReadSeq). In a
    channel that posted more than about once a second, seq is folded in about a second later, so a
    0 here right after a post may only mean "not counted yet": last_read_seq says what was read."""
    channels = app.ok("mysubs", user=user)["channels"]
    return next((c["unreadCount"] for c in channels if c["id"] == channel_id), None)


def last_read_seq(app: App, user: str, channel_id: str) -> int:
    """The user's read watermark, from their member document."""
    return int(store.get_chat_member(app.app_id, channel_id, user).data.get("lastReadSeq") or 0)


def set_reads(page: Any) -> list[dict[str, Any]]:
    """Record the bodies of the page's setRead calls (the list fills as they are sent)."""
    bodies: list[dict[str, Any]] = []

    def seen(request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/v1/setRead"):
            bodies.append(request.post_data_json)

    page.on("request", seen)
    return bodies


@dataclass(frozen=True)
class Club:
    """Alice and Bob, app users with tokens, in the group channel "Book club"."""

    alice: str  # Alice's custom token
    bob: str
    channel_id: str


@pytest.fixture
def book_club(chat_app: App) -> Club:
    alice, bob = custom_token(chat_app, *ALICE), custom_token(chat_app, *BOB)
    return Club(alice, bob, group(chat_app, "Book club", "alice", "bob"))


# --- the tests -----------------------------------------------------------------------------------


def test_the_widget_lists_the_users_channels_and_shows_a_channels_posts(
    chat_app: App, open_site: Any
) -> None:
    alice = custom_token(chat_app, *ALICE)
    custom_token(chat_app, *BOB)
    custom_token(chat_app, *CAROL)
    club = group(chat_app, "Book club", "alice", "bob")
    first = post(chat_app, club, "bob", "Chapter 3 tonight?")
    second = post(chat_app, club, "alice", "Yes, at 8 pm")
    direct = str(chat_app.ok("createPM", {"userId": "bob"}, user="alice")["id"])
    secret = group(chat_app, "Carol's plans", "carol")

    page = open_site()
    assert mount(page, "chat-a", alice, chat_app.app_id) == "alice"
    chat = widget(page)
    rows = chat.get_by_test_id("sb-channel")
    expect(rows).to_have_count(2)
    # Newest activity first: the direct channel was opened after the club's last post.
    expect(rows.nth(0)).to_have_attribute("data-channel-id", direct)
    expect(rows.nth(1)).to_have_attribute("data-channel-id", club)
    expect(channel_row(chat, direct)).to_contain_text("Bob Builder")  # named after the other member
    expect(channel_row(chat, club)).to_contain_text("Book club")
    expect(channel_row(chat, club)).to_contain_text("Yes, at 8 pm")
    expect(channel_row(chat, secret)).to_have_count(0)
    expect(chat.get_by_test_id("sb-unread")).to_have_count(1)  # bob's post in the club
    expect(channel_row(chat, club).get_by_test_id("sb-unread")).to_have_text("1")
    # What the list is made of: the channel document holds no member list, only its post counter;
    # the user's member document carries what the collection-group query and the unread need.
    stored = store.get_conversation(chat_app.app_id, club) or {}
    assert "memberIds" not in stored and stored["seq"] == 2, stored
    member = store.get_chat_member(chat_app.app_id, club, "alice").data
    assert (member["userId"], member["tenantId"], member["channelId"]) == ("alice", chat_app.app_id, club)
    assert member["lastReadSeq"] == 1 and "unreadCount" not in member, member  # her own post

    open_channel(chat, club)
    expect(chat.get_by_test_id("sb-channel-title")).to_have_text("Book club")
    posts = chat.get_by_test_id("sb-post")
    expect(posts).to_have_count(2)
    expect(posts.nth(0)).to_have_attribute("data-post-id", first)
    expect(posts.nth(0)).to_contain_text("Bob Builder")
    expect(posts.nth(0)).to_contain_text("Chapter 3 tonight?")
    expect(posts.nth(1)).to_have_attribute("data-post-id", second)
    expect(posts.nth(1)).to_contain_text("Alice Appuser")
    expect(posts.nth(1)).to_contain_text("Yes, at 8 pm")
    expect(posts.nth(1).locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))

    chat.get_by_test_id("sb-back").click()
    expect(rows).to_have_count(2)
    open_channel(chat, direct)
    expect(chat.get_by_test_id("sb-channel-title")).to_have_text("Bob Builder")
    expect(chat.get_by_text("No messages yet")).to_be_visible()


def test_a_post_by_another_user_appears_live_counts_unread_and_opening_the_channel_clears_it(
    chat_app: App, open_site: Any, book_club: Club
) -> None:
    alice, club = book_club.alice, book_club.channel_id

    page = open_site()
    reads = set_reads(page)
    mount(page, "chat-a", alice, chat_app.app_id)
    chat = widget(page)
    row = channel_row(chat, club)
    expect(row).to_contain_text("No messages yet")
    expect(row.get_by_test_id("sb-unread")).to_have_count(0)

    post(chat_app, club, "bob", "Are you coming tonight?")
    expect(row).to_contain_text("Are you coming tonight?")
    expect(row.get_by_test_id("sb-unread")).to_have_text("1")
    post(chat_app, club, "bob", "Hello?")
    expect(row).to_contain_text("Hello?")
    expect(row.get_by_test_id("sb-unread")).to_have_text("2")
    assert reads == []  # nothing is read from the list

    row.click()
    settled(chat.get_by_test_id("sb-posts"))
    expect(post_with(chat, "Hello?")).to_be_visible()
    until(page, lambda: last_read_seq(chat_app, "alice", club) == 2, "alice's lastReadSeq at 2")
    # One setRead, carrying the seq seen (the server reads nothing) and that she is viewing.
    assert reads == [{"channelId": club, "seq": 2, "viewing": True}], reads
    assert unread_of(chat_app, "alice", club) == 0

    # While the channel is open, new posts are read as they arrive.
    post(chat_app, club, "bob", "See you at 8")
    expect(post_with(chat, "See you at 8")).to_be_visible()
    until(page, lambda: last_read_seq(chat_app, "alice", club) == 3, "alice's lastReadSeq at 3")

    # Back to the list: one last setRead says she stopped viewing; the badge stays away.
    chat.get_by_test_id("sb-back").click()
    expect(row).to_contain_text("See you at 8")
    until(page, lambda: reads and reads[-1]["viewing"] is False, "the closing setRead")
    assert reads[-1] == {"channelId": club, "seq": 3, "viewing": False}, reads
    assert len(reads) <= 3, reads
    expect(row.get_by_test_id("sb-unread")).to_have_count(0)
    until(page, lambda: unread_of(chat_app, "alice", club) == 0, "alice's unread at 0")

    # A post while the list shows brings the badge back.
    post(chat_app, club, "bob", "Bring the book")
    expect(row.get_by_test_id("sb-unread")).to_have_text("1")
    assert reads[-1]["viewing"] is False and len(reads) <= 3, reads


def test_a_post_seen_just_before_the_page_is_left_is_read_by_the_last_setread(
    chat_app: App, open_site: Any, book_club: Club
) -> None:
    alice, club = book_club.alice, book_club.channel_id
    post(chat_app, club, "bob", "Chapter 5?")

    page = open_site()
    reads = set_reads(page)
    mount(page, "chat-a", alice, chat_app.app_id)
    chat = widget(page)
    open_channel(chat, club)
    until(page, lambda: last_read_seq(chat_app, "alice", club) == 1, "the read on opening")
    opened = time.monotonic()

    # A post arrives and shows; the next setRead waits for its interval (3 s): the page is left
    # first, and the setRead sent on pagehide (fetch keepalive, which Playwright does not report
    # once the page has gone) reads it.
    post(chat_app, club, "bob", "Still there?")
    expect(post_with(chat, "Still there?")).to_be_visible()
    left_within_interval = time.monotonic() - opened < 2.0
    page.goto("about:blank")
    until(page, lambda: last_read_seq(chat_app, "alice", club) == 2, "the last setRead stored")
    assert unread_of(chat_app, "alice", club) == 0
    if left_within_interval:  # else the periodic setRead may have read it first (a slow machine)
        assert reads == [{"channelId": club, "seq": 1, "viewing": True}], reads


def test_a_post_sent_from_the_widget_is_shown_pending_then_stored_and_shown_once(
    chat_app: App, open_site: Any, book_club: Club
) -> None:
    alice, club = book_club.alice, book_club.channel_id

    page = open_site()
    mount(page, "chat-a", alice, chat_app.app_id)
    chat = widget(page)
    open_channel(chat, club)
    expect(chat.get_by_text("No messages yet")).to_be_visible()

    # Hold the createPost request, so the pending post can be seen before the server has it.
    held: list[Any] = []

    def hold(route: Any) -> None:
        held.append(route)

    page.route(re.compile(r"/v1/createPost$"), hold)
    text = "Sent from the widget"
    with page.expect_request(re.compile(r"/v1/createPost$")):
        send(chat, text)
    expect(chat.get_by_test_id("sb-composer")).to_have_value("")
    pending = post_with(chat, text)
    expect(pending).to_have_count(1)
    expect(pending).to_have_attribute("data-pending", "true")
    expect(pending).to_contain_text("Sending")
    # The route handler runs when Playwright next dispatches events.
    until(page, lambda: held, "the held createPost")
    assert len(held) == 1, held
    held[0].continue_()
    page.unroute(re.compile(r"/v1/createPost$"))

    # The live post replaces the pending one: one post, with the stored id.
    shown = post_with(chat, text)
    expect(shown).to_have_attribute("data-post-id", re.compile(r".+"))
    expect(shown).to_have_count(1)
    expect(shown).not_to_have_attribute("data-pending", "true")
    expect(shown).to_contain_text("Alice Appuser")

    stored = [
        p
        for p in chat_app.ok("posts", {"channelId": club}, user="bob")["posts"]
        if p["information"]["text"] == text
    ]
    assert len(stored) == 1, stored
    assert stored[0]["user"]["id"] == "alice"
    assert stored[0]["clientPostId"].startswith("w-")
    expect(shown).to_have_attribute("data-post-id", stored[0]["id"])
    assert unread_of(chat_app, "bob", club) == 1


def test_two_widgets_for_two_users_on_one_page_chat_with_each_other_live(
    chat_app: App, open_site: Any, book_club: Club
) -> None:
    alice, bob, club = book_club.alice, book_club.bob, book_club.channel_id

    page = open_site()
    assert mount(page, "chat-a", alice, chat_app.app_id) == "alice"
    assert mount(page, "chat-b", bob, chat_app.app_id) == "bob"
    left, right = widget(page, "chat-a"), widget(page, "chat-b")
    open_channel(left, club)
    open_channel(right, club)

    send(left, "Hi Bob, from widget A")
    expect(post_with(right, "Hi Bob, from widget A")).to_contain_text("Alice Appuser")
    send(right, "Hi Alice! Widget B here")
    expect(post_with(left, "Hi Alice! Widget B here")).to_contain_text("Bob Builder")

    for chat in (left, right):
        expect(chat.get_by_test_id("sb-post")).to_have_count(2)
        expect(chat.locator('[data-pending="true"]')).to_have_count(0)
    texts = [
        p["information"]["text"] for p in chat_app.ok("posts", {"channelId": club}, user="alice")["posts"]
    ]
    assert texts == ["Hi Alice! Widget B here", "Hi Bob, from widget A"]


def test_liking_a_post_updates_its_count_live(chat_app: App, open_site: Any) -> None:
    alice = custom_token(chat_app, *ALICE)
    custom_token(chat_app, *BOB)
    custom_token(chat_app, *CAROL)
    club = group(chat_app, "Book club", "alice", "bob", "carol")
    post_id = post(chat_app, club, "bob", "Who has read chapter 4?")

    page = open_site()
    mount(page, "chat-a", alice, chat_app.app_id)
    chat = widget(page)
    open_channel(chat, club)
    like = chat.locator(f'[data-post-id="{post_id}"]').get_by_test_id("sb-like")
    expect(like).to_have_text(LIKES[0])
    expect(like).to_have_attribute("aria-pressed", "false")

    like.click()
    expect(like).to_have_text(LIKES[1])
    expect(like).to_have_attribute("aria-pressed", "true")

    # Someone else likes it: the count moves without a reload.
    chat_app.ok("likePost", {"channelId": club, "postId": post_id}, user="carol")
    expect(like).to_have_text(LIKES[2])

    like.click()  # alice takes hers back
    expect(like).to_have_text(LIKES[1])
    expect(like).to_have_attribute("aria-pressed", "false")
    stored = chat_app.ok("posts", {"channelId": club}, user="bob")["posts"]
    assert [(p["id"], p["information"]["likes"]) for p in stored] == [(post_id, 1)]


def test_contact_support_opens_a_support_channel_in_the_agents_inbox_and_shows_the_agents_reply(
    chat_app: App, clean_stack: LocalStack, open_site: Any
) -> None:
    alice = custom_token(chat_app, *ALICE)
    page = open_site()
    mount(page, "chat-a", alice, chat_app.app_id)
    chat = widget(page)
    expect(chat.get_by_text("No chats yet")).to_be_visible()

    chat.get_by_test_id("sb-support").click()
    expect(chat.get_by_test_id("sb-channel-title")).to_have_text("Support")
    settled(chat.get_by_test_id("sb-posts"))
    send(chat, "My order is late")
    expect(post_with(chat, "My order is late")).to_have_attribute("data-post-id", re.compile(r".+"))

    # The agents' inbox: an open support conversation of the app's tenant.
    conversation_id = ids.conversation_id("app", "alice")
    conversation = until(
        page, lambda: store.get_conversation(chat_app.app_id, conversation_id), "the support conversation"
    )
    assert (conversation["kind"], conversation["channel"], conversation["status"]) == (
        "support",
        "app",
        "open",
    )
    assert conversation["contactName"] == "Alice Appuser"
    assert conversation["lastMessage"]["text"] == "My order is late"
    assert conversation["unreadCount"] == 1

    # An agent writes a private note, then answers through send_message.
    token = agent_token(
        clean_stack, chat_app.app_id, f"agent-{uuid.uuid4().hex[:6]}@apps.test", name="Sam Support"
    )

    def agent_sends(message: dict[str, Any], client_id: str) -> None:
        response = requests.post(
            clean_stack.function_urls["send_message"],
            headers={"Authorization": f"Bearer {token}"},
            json={"conversationId": conversation_id, "clientMessageId": client_id, "message": message},
            timeout=30,
        )
        assert response.status_code == 200, response.text

    agent_sends({"type": "note", "text": "VIP customer, refund if needed"}, "n1")
    agent_sends({"type": "text", "text": "Sorry! It ships today."}, "r1")
    reply = post_with(chat, "Sorry! It ships today.")
    expect(reply).to_contain_text("Sam Support")
    expect(chat.get_by_test_id("sb-post")).to_have_count(2)
    expect(chat.get_by_text("VIP customer")).to_have_count(0)  # notes never reach the app user

    # The reply was read in the open channel; back in the list, the support row is current.
    until(page, lambda: unread_of(chat_app, "alice", conversation_id) == 0, "alice's unread at 0")
    chat.get_by_test_id("sb-back").click()
    row = channel_row(chat, conversation_id)
    expect(row).to_contain_text("Support")
    expect(row).to_contain_text("Sorry! It ships today.")
    expect(row.get_by_test_id("sb-unread")).to_have_count(0)

    # A second reply while the list shows: the badge counts it, and "Contact support" reopens the
    # same channel (one per user).
    agent_sends({"type": "text", "text": "Tracking number: 42"}, "r2")
    expect(row.get_by_test_id("sb-unread")).to_have_text("1")
    expect(row).to_contain_text("Tracking number: 42")
    chat.get_by_test_id("sb-support").click()
    expect(post_with(chat, "Tracking number: 42")).to_be_visible()
    expect(chat.get_by_test_id("sb-post")).to_have_count(3)


def test_a_token_for_another_app_shows_an_error_and_rejects(
    chat_app: App, clean_stack: LocalStack, open_site: Any
) -> None:
    other = create_app(clean_stack, "Another App")
    token = custom_token(other, "mallory", "Mallory")

    page = open_site()
    message = mount_refused(page, "chat-a", token, chat_app.app_id)
    assert message is not None, "mount accepted another app's token"
    assert other.app_id in message and chat_app.app_id in message, message
    chat = widget(page)
    alert = chat.get_by_test_id("sb-error")
    expect(alert).to_be_visible()
    expect(alert).to_have_attribute("role", "alert")
    expect(alert).to_contain_text(chat_app.app_id)
    expect(chat.get_by_test_id("sb-channel")).to_have_count(0)


def test_a_garbage_token_shows_an_error_and_rejects(chat_app: App, open_site: Any) -> None:
    page = open_site()
    message = mount_refused(page, "chat-a", "not-a-token", chat_app.app_id)
    assert message is not None, "mount accepted a garbage token"
    assert "not a valid Firebase custom token" in message, message
    chat = widget(page)
    expect(chat.get_by_role("alert")).to_contain_text("not a valid Firebase custom token")
    expect(chat.get_by_test_id("sb-error")).to_be_visible()
    expect(chat.get_by_test_id("sb-composer")).to_have_count(0)


def test_unmount_removes_the_widget_and_the_element_mounts_again_on_a_given_channel(
    chat_app: App, open_site: Any, book_club: Club
) -> None:
    alice, club = book_club.alice, book_club.channel_id

    page = open_site()
    mount(page, "chat-a", alice, chat_app.app_id)
    chat = widget(page)
    expect(channel_row(chat, club)).to_be_visible()
    unmount(page, "chat-a")
    expect(chat).to_have_count(0)
    assert page.evaluate("document.getElementById('chat-a').shadowRoot.childElementCount") == 0
    # Posts after the unmount reach nothing (a listener left behind would throw or log).
    post(chat_app, club, "bob", "Anyone?")
    expect(chat).to_have_count(0)

    # mount(..., { channelId }) opens that channel, and opening it reads it.
    assert mount(page, "chat-a", alice, chat_app.app_id, channel_id=club) == "alice"
    expect(chat.get_by_test_id("sb-channel-title")).to_have_text("Book club")
    expect(post_with(chat, "Anyone?")).to_be_visible()
    until(page, lambda: unread_of(chat_app, "alice", club) == 0, "alice's unread at 0")


def test_the_widget_and_the_host_page_keep_their_styles_apart(
    chat_app: App, open_site: Any, book_club: Club
) -> None:
    alice = book_club.alice

    page = open_site({"width": 340, "height": 700})  # a phone-sized page; the widget is 320px+
    page.evaluate("document.getElementById('chat-a').style.width = '320px'")
    mount(page, "chat-a", alice, chat_app.app_id)
    chat = widget(page)
    # The page hides `.slot button`, `.sb-channel`...: its rules do not reach into the shadow root.
    row = chat.get_by_test_id("sb-channel")
    expect(row).to_be_visible()
    expect(chat.get_by_test_id("sb-support")).to_be_visible()
    # Inherited styles are reset too: not the slot's red serif 22px.
    name = row.locator(".sb-channel-name")
    style = name.evaluate(
        "e => { const s = getComputedStyle(e); return [s.color, s.fontFamily, s.fontSize]; }"
    )
    assert style[0] != "rgb(200, 0, 0)" and "Times" not in style[1] and style[2] != "22px", style
    # The widget's rules stay out of the page: its element with the widget's class names is untouched.
    host = page.locator("#host-bubble")
    assert host.evaluate("e => getComputedStyle(e).backgroundColor") == "rgba(0, 0, 0, 0)"
    assert page.evaluate("document.querySelectorAll('style').length") == 1
    # 320px wide: nothing overflows sideways.
    assert chat.evaluate("e => e.scrollWidth <= e.clientWidth + 1")


def test_mounting_with_direct_to_opens_the_one_direct_channel_with_that_user(
    chat_app: App, open_site: Any, book_club: Club
) -> None:
    page = open_site()

    def mount_direct(slot: str, to: str) -> None:
        page.evaluate(
            """async ([slot, token, appId, to]) => {
                window.widgets[slot] = await SwitchboardChat.mount(
                    document.getElementById(slot), { token, config: { appId }, directTo: to });
            }""",
            [slot, book_club.alice, chat_app.app_id, to],
        )

    mount_direct("chat-a", "bob")
    chat = widget(page)
    expect(chat.get_by_test_id("sb-channel-title")).to_contain_text("Bob Builder")
    settled(chat.get_by_test_id("sb-posts"))
    send(chat, "Hi Bob, privately")
    direct = str(chat_app.ok("createPM", {"userId": "alice"}, user="bob")["id"])  # the same channel
    expect(post_with(chat, "Hi Bob, privately")).to_have_count(1)
    # Stored (the live post replaced the pending one), before the API is asked for it.
    expect(post_with(chat, "Hi Bob, privately")).to_have_attribute("data-post-id", re.compile(r".+"))
    texts = [
        p["information"]["text"] for p in chat_app.ok("posts", {"channelId": direct}, user="bob")["posts"]
    ]
    assert texts == ["Hi Bob, privately"]
    # Mounting again opens the same channel, not a second one.
    unmount(page, "chat-a")
    mount_direct("chat-a", "bob")
    expect(post_with(widget(page), "Hi Bob, privately")).to_have_count(1)
    mine = [c for c in chat_app.ok("mysubs", user="alice")["channels"] if c["kind"] == "direct"]
    assert [c["id"] for c in mine] == [direct]

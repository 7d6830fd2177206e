"""The sandbox's User Profile API as Meta documents it: Messenger ``GET /{PSID}?fields=first_name,
last_name,profile_pic``, Instagram ``GET /{IGSID}?fields=name,username,profile_pic``, the Page's
token checked, Graph's error codes, and the profile picture URL it hands out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from infra.local.provider_sandbox import ProviderSandbox

PAGE, PAGE_TOKEN = "1000000000000021", "EAAsandboxPage21"
IG, IG_TOKEN = "17840000000000021", "EAAsandboxIg21"
NUMBER, WA_TOKEN = "109000000000021", "EAAsandboxWa21"
PSID, IGSID = "6100000000000021", "9100000000000021"


@pytest.fixture
def sandbox() -> Iterator[ProviderSandbox]:
    with ProviderSandbox(port=0) as running:
        running.register_account("messenger", PAGE, PAGE_TOKEN)
        running.register_account("instagram", IG, IG_TOKEN)
        running.register_account("whatsapp", NUMBER, WA_TOKEN, waba_id="102000000000021")
        running.set_profile("messenger", PAGE, PSID, first_name="Peter", last_name="Chang")
        running.set_profile("instagram", IG, IGSID, name="Ana Lima", username="ana.lima")
        yield running


def profile(sandbox: ProviderSandbox, user: str, fields: str | None, token: str | None) -> requests.Response:
    params = {"fields": fields} if fields else {}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{sandbox.base_url}/v21.0/{user}", params=params, headers=headers, timeout=10)


def test_messenger_answers_the_fields_asked_with_a_picture_url_that_serves_an_image(
    sandbox: ProviderSandbox,
) -> None:
    answer = profile(sandbox, PSID, "first_name,last_name,profile_pic", PAGE_TOKEN)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"first_name", "last_name", "profile_pic"}
    assert (body["first_name"], body["last_name"]) == ("Peter", "Chang")
    picture = requests.get(body["profile_pic"], timeout=10)
    assert picture.status_code == 200
    assert picture.headers["Content-Type"] == "image/png" and picture.content.startswith(b"\x89PNG")
    # The access_token query parameter works as well as the header.
    by_query = requests.get(
        f"{sandbox.base_url}/v21.0/{PSID}",
        params={"fields": "first_name", "access_token": PAGE_TOKEN},
        timeout=10,
    )
    assert by_query.json() == {"first_name": "Peter"}


def test_instagram_answers_name_username_and_picture(sandbox: ProviderSandbox) -> None:
    answer = profile(sandbox, IGSID, "name,username,profile_pic", IG_TOKEN)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["name"], body["username"]) == ("Ana Lima", "ana.lima")
    assert "/meta-profile/" in body["profile_pic"]


def test_tokens_people_and_fields_are_checked_with_graph_error_codes(sandbox: ProviderSandbox) -> None:
    missing = profile(sandbox, PSID, "first_name", None)
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, 104)
    unknown = profile(sandbox, PSID, "first_name", "EAAnobody")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, 190)
    # Another account's token cannot read this Page's customer; nor can anyone read a stranger.
    for user, token in ((PSID, IG_TOKEN), ("6100000000000099", PAGE_TOKEN)):
        refused = profile(sandbox, user, "first_name", token).json()["error"]
        assert (refused["code"], refused["error_subcode"], refused["type"]) == (
            100,
            33,
            "GraphMethodException",
        )
    wrong_field = profile(sandbox, PSID, "first_name,username", PAGE_TOKEN).json()["error"]
    assert wrong_field["code"] == 100 and "nonexisting field (username)" in wrong_field["message"]


def test_an_instagram_user_who_never_messaged_gives_no_consent(sandbox: ProviderSandbox) -> None:
    sandbox.set_profile("instagram", IG, "9100000000000022", consent=False, name="Commenter")
    answer = profile(sandbox, "9100000000000022", "name", IG_TOKEN)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == 230


def test_whatsapp_media_lookups_still_reach_the_media_api(sandbox: ProviderSandbox) -> None:
    # GET /{media-id} with a WhatsApp token is the media API's, not a profile: an unknown media id
    # is its 100/33 answer, with the WhatsApp media wording.
    answer = requests.get(
        f"{sandbox.base_url}/v21.0/1234567890123",
        headers={"Authorization": f"Bearer {WA_TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == 100


def test_faults_can_be_injected_on_the_profile_api(sandbox: ProviderSandbox) -> None:
    sandbox.fail_next("messenger", 613)
    assert profile(sandbox, PSID, "first_name", PAGE_TOKEN).json()["error"]["code"] == 613
    assert profile(sandbox, PSID, "first_name", PAGE_TOKEN).status_code == 200

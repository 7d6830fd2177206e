"""How the tests (and bench/chat.py) talk to the chat API: as a developer, an app's backend (API key
+ X-User-Id) and an app's client (a Firebase ID token from the custom token), over HTTP to the local
functions, exactly as real callers would. A developer verifies their e-mail address as a person
would: the Auth emulator keeps the verification e-mail's link, and opening it verifies."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import requests

from infra.local.stack import LocalStack

PASSWORD = "correct-horse-battery"


def _identity(stack: LocalStack, method: str, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(
        f"http://{stack.auth_host}/identitytoolkit.googleapis.com/v1/accounts:{method}?key=local",
        json={**body, "returnSecureToken": True},
        timeout=10,
    )
    response.raise_for_status()
    return dict(response.json())


def oob_link(stack: LocalStack, email: str, request_type: str = "VERIFY_EMAIL") -> str:
    """The link of the latest e-mail of ``request_type`` the Auth emulator "sent" to ``email``
    (GET /emulator/v1/projects/{project}/oobCodes lists them)."""
    response = requests.get(
        f"http://{stack.auth_host}/emulator/v1/projects/{stack.project}/oobCodes", timeout=10
    )
    response.raise_for_status()
    links = [
        str(code["oobLink"])
        for code in response.json().get("oobCodes", [])
        if str(code.get("email", "")).lower() == email.lower() and code.get("requestType") == request_type
    ]
    assert links, f"no {request_type} e-mail was sent to {email}"
    return links[-1]


def send_verification_email(stack: LocalStack, id_token: str) -> None:
    """What the onboarding page does after sign-up (sendEmailVerification)."""
    response = requests.post(
        f"http://{stack.auth_host}/identitytoolkit.googleapis.com/v1/accounts:sendOobCode?key=local",
        json={"requestType": "VERIFY_EMAIL", "idToken": id_token},
        timeout=10,
    )
    response.raise_for_status()


def verify_email(stack: LocalStack, email: str, id_token: str) -> str:
    """Send the verification e-mail, open its link (as the developer would), sign in again: a fresh
    ID token carrying ``email_verified: true``."""
    send_verification_email(stack, id_token)
    opened = requests.get(oob_link(stack, email), timeout=10)
    opened.raise_for_status()
    return refreshed_token(stack, email)


def developer_token(stack: LocalStack, email: str | None = None, *, verified: bool = True) -> str:
    """A brand-new Firebase account (no claims), signed in: its ID token; its address verified
    unless ``verified`` is False (create_app refuses unverified addresses)."""
    email = email or f"dev-{uuid.uuid4().hex[:10]}@apps.test"
    token = str(_identity(stack, "signUp", {"email": email, "password": PASSWORD})["idToken"])
    return verify_email(stack, email, token) if verified else token


def refreshed_token(stack: LocalStack, email: str) -> str:
    """Sign in again (as a client does after claims change): a fresh ID token."""
    return str(_identity(stack, "signInWithPassword", {"email": email, "password": PASSWORD})["idToken"])


def exchange_custom_token(stack: LocalStack, custom_token: str) -> str:
    """What the app's client does with the custom token: signInWithCustomToken -> ID token."""
    return str(_identity(stack, "signInWithCustomToken", {"token": custom_token})["idToken"])


@dataclass(frozen=True)
class App:
    """An app created through create_app, and how to call its chat API."""

    stack: LocalStack
    app_id: str
    api_key: str
    answer: dict[str, Any]

    @property
    def url(self) -> str:
        return self.stack.function_urls["chat_api"]

    def call(
        self,
        operation: str,
        body: dict[str, Any] | None = None,
        *,
        user: str | None = None,
        id_token: str | None = None,
        authorization: str | None = None,
        session: requests.Session | None = None,
    ) -> requests.Response:
        """POST /v1/{operation}: as the backend acting for ``user``, or as a client with ``id_token``."""
        headers: dict[str, str] = {}
        if authorization is not None:
            headers["Authorization"] = authorization
        elif id_token is not None:
            headers["Authorization"] = f"Bearer {id_token}"
        else:
            headers["Authorization"] = f"Bearer {self.api_key}"
        if user is not None:
            headers["X-User-Id"] = user
        return (session or requests).post(
            f"{self.url}/v1/{operation}", json=body if body is not None else {}, headers=headers, timeout=30
        )

    def ok(self, operation: str, body: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        """Call and insist on 200; return the JSON answer."""
        response = self.call(operation, body, **kwargs)
        assert response.status_code == 200, f"{operation}: {response.status_code} {response.text}"
        return dict(response.json())

    def user(self, user_id: str, name: str | None = None) -> str:
        """Create the user through `token` (as the backend does) and return their client's ID token."""
        answer = self.ok("token", {"userId": user_id, "name": name or user_id.title()})
        return exchange_custom_token(self.stack, answer["customToken"])

    def add(self, channel_id: str, *users: str) -> None:
        """The app's backend adds users to a group channel (addMember with the API key)."""
        for user_id in users:
            self.ok("addMember", {"channelId": channel_id, "userId": user_id})


def create_app(stack: LocalStack, name: str = "Test App", token: str | None = None) -> App:
    """A developer signs up and creates an app."""
    response = requests.post(
        stack.function_urls["create_app"],
        json={"name": name},
        headers={"Authorization": f"Bearer {token or developer_token(stack)}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    return App(stack, answer["appId"], answer["apiKey"], answer)

"""Satisfaction survey latency on the emulators (``python -m bench.csat [--rounds N]``).

For each round, on the demo tenant's Telegram bot with CSAT on: a customer writes, an agent resolves
the conversation through agent_api, and the clock runs until the provider sandbox receives the survey
(agent_api -> named task on ``timers`` -> deliver ``csat_ask`` -> the message -> the channel's queue ->
deliver -> Bot API ``sendMessage`` with the inline keyboard): "resolve -> survey at the provider".
Then the customer presses a score (a signed callback_query webhook) and the clock runs until the
conversation document carries the rating: "button -> rating stored" (webhook, Pub/Sub, ingest's
optimistic write). Last, the rating page: a POST of a score and a comment through the ``rate``
function, its round trip ("page POST -> thanks", the rating written before the answer).
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

from bench.stats import report, summary
from infra.local import demo
from infra.local.simulate import signed_request, text_payload
from infra.local.stack import LocalStack

POLL_SECONDS = 0.01
TIMEOUT_SECONDS = 60.0


def _token(stack: LocalStack) -> str:
    from shared import auth, store

    uid = auth.invite("bench-csat@demo.test", "bench-password-1", demo.DEMO_TENANT, "agent", "Bench")
    store.put_agent(
        demo.DEMO_TENANT, uid, {"name": "Bench", "email": "bench-csat@demo.test", "role": "agent"}
    )
    answer = requests.post(
        f"http://{stack.auth_host}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=bench",
        json={"email": "bench-csat@demo.test", "password": "bench-password-1", "returnSecureToken": True},
        timeout=15,
    )
    answer.raise_for_status()
    return str(answer.json()["idToken"])


def _post(stack: LocalStack, kind: str, body: dict[str, Any]) -> None:
    url, raw, headers = signed_request(kind, stack.function_urls[f"webhook_{kind}"], body, stack.env())
    requests.post(url, data=raw, headers=headers, timeout=30).raise_for_status()


def _wait(probe: Any, what: str) -> Any:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(POLL_SECONDS)
    raise RuntimeError(f"timed out waiting for {what}")


def run(rounds: int) -> None:
    from shared import csat, ids, store

    with LocalStack() as stack:
        stack.apply_env()
        demo.seed()
        store.put_workspace_settings(demo.DEMO_TENANT, {"name": "Demo", "csat": {"enabled": True}})
        token = _token(stack)
        bot = next(c for c in demo.DEMO_CHANNELS if c.kind == "telegram")
        asked_ms: list[float] = []
        rated_ms: list[float] = []
        page_ms: list[float] = []
        for round_number in range(rounds):
            chat = str(7_200_000_000 + round_number)
            _post(stack, "telegram", text_payload("telegram", "Hello", chat, "Bench Customer"))
            conversation_id = ids.conversation_id(bot.channel_id, chat)
            _wait(
                lambda cid=conversation_id: store.get_conversation(demo.DEMO_TENANT, cid), "the conversation"
            )
            seen = len(stack.sandbox.requests("telegram"))
            started = time.perf_counter()
            requests.post(
                stack.function_urls["agent_api"],
                headers={"Authorization": f"Bearer {token}"},
                json={"action": "set_status", "conversationId": conversation_id, "status": "resolved"},
                timeout=30,
            ).raise_for_status()

            def survey(since: int = seen) -> Any:
                calls = stack.sandbox.requests("telegram")[since:]
                return next((c for c in calls if "reply_markup" in (c.json or {}) and c.status == 200), None)

            call = _wait(survey, "the survey at the sandbox")
            asked_ms.append((time.perf_counter() - started) * 1000)
            data = call.json["reply_markup"]["inline_keyboard"][1][0]["callback_data"]  # "★★★★ Good"
            sent = call.response["result"]
            press = {
                "update_id": 900_000_000 + round_number,
                "callback_query": {
                    "id": str(uuid.uuid4().int % 10**18),
                    "from": {"id": int(chat), "is_bot": False, "first_name": "Bench"},
                    "message": {
                        "message_id": sent["message_id"],
                        "date": sent["date"],
                        "chat": {"id": int(chat), "type": "private", "first_name": "Bench"},
                        "text": sent["text"],
                    },
                    "chat_instance": "-1",
                    "data": data,
                },
            }
            started = time.perf_counter()
            _post(stack, "telegram", press)
            _wait(
                lambda cid=conversation_id: (store.get_conversation(demo.DEMO_TENANT, cid) or {}).get("csat"),
                "the rating stored",
            )
            rated_ms.append((time.perf_counter() - started) * 1000)
            ask = csat.parse_payload(data)
            assert ask is not None
            link = csat.rating_link(demo.DEMO_TENANT, conversation_id, ask[0])
            started = time.perf_counter()
            answer = requests.post(
                link,
                data={"k": parse_qs(urlparse(link).query)["k"][0], "score": "5", "comment": "bench"},
                timeout=30,
            )
            page_ms.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200 and "rate-thanks" in answer.text, answer.text[:200]
        report(
            "csat",
            {
                "rounds": rounds,
                "resolve_to_survey_at_provider": summary(asked_ms),
                "button_to_rating_stored": summary(rated_ms),
                "page_post_to_thanks": summary(page_ms),
            },
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    run(parser.parse_args().rounds)

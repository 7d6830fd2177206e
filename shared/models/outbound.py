"""What the business sends: the normalized outbound request every channel adapter turns into its
provider's API call, and what comes back.

An :class:`OutboundMessage` is provider-neutral (text, media by URL, template, reaction, mark-read);
each adapter's ``send`` maps it to the documented request of its API and returns a
:class:`SendResult`, or raises :class:`shared.errors.ProviderError` carrying the provider's code
and whether retrying can help.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class OutboundFrozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TemplateParameter(OutboundFrozen):
    """One body parameter of a WhatsApp template, in order; ``name`` for a template whose
    parameters are named (``{{first_name}}``)."""

    text: str
    name: str | None = None


class RatingChoice(OutboundFrozen):
    """One choice of a satisfaction survey: what the customer sees and the payload it answers with
    (``csat:<askId>:<score>``, shared/csat.py)."""

    title: str
    payload: str


class RatingAsk(OutboundFrozen):
    """A satisfaction survey: the question is the message's ``text``; ``choices`` best first;
    ``link`` the signed rating page (sent instead of the choices where the channel has no buttons)."""

    choices: tuple[RatingChoice, ...]
    link: str


class OutboundMedia(OutboundFrozen):
    """An agent's uploaded file in the media bucket (``path``), with what ``send_message`` checked
    about it: the sniffed content type and the stored size. The adapter reads it (WhatsApp upload,
    Telegram multipart) or hands the provider a short-lived signed URL (Meta Send API, Twilio)."""

    path: str
    content_type: str
    size: int
    file_name: str | None = None


class OutboundMessage(OutboundFrozen):
    """One thing to send on a channel.

    ``type``:
      text      ``text`` (required)
      image, audio, video, document   ``media_url`` or ``attachments`` (uploaded files),
                ``caption``, ``filename``
      template  ``template_name``, ``template_language`` (e.g. en_US), ``template_parameters``
      reaction  ``emoji`` (empty string removes), ``reply_to`` = the provider id reacted to
      mark_read ``reply_to`` = the provider id of the customer's message read by the agent
      answer_callback  ``reply_to`` = a Telegram callback query id: stops the pressed button's spinner
      rating    a satisfaction survey: ``text`` (the question) and ``rating`` (its choices and link);
                each adapter shapes it as its provider's buttons, or sends the link
      typing    the agent is typing (``reply_to`` = the provider id of the customer's last message,
                which WhatsApp's typing indicator needs); adapters without typing do nothing
    ``reply_to`` on a text/media message quotes that provider message (WhatsApp context, Telegram
    reply_to_message_id). ``tag`` = HUMAN_AGENT sends a Messenger/Instagram message outside the 24 h
    window (up to 7 days). ``metadata`` travels to Meta and comes back on the echo: ``sb:<message id>``
    lets ingest match the echo to our own message without a query.
    """

    type: Literal[
        "text",
        "image",
        "audio",
        "video",
        "document",
        "template",
        "reaction",
        "mark_read",
        "answer_callback",
        "typing",
        "rating",
    ]
    text: str | None = None
    media_url: str | None = None
    attachments: tuple[OutboundMedia, ...] = ()
    caption: str | None = None
    filename: str | None = None
    template_name: str | None = None
    template_language: str | None = None
    template_parameters: tuple[TemplateParameter, ...] = ()
    emoji: str | None = None
    reply_to: str | None = None
    tag: Literal["HUMAN_AGENT"] | None = None
    metadata: str | None = None
    rating: RatingAsk | None = None


class ChannelAccount(OutboundFrozen):
    """The business side of a channel, with what the API needs to act for it.

    ``external_id``: page id, Instagram account id, WhatsApp phone_number_id, Telegram bot id, Twilio
    number (E.164 or ``whatsapp:+E164``). ``token``: page / system-user access token, bot token, or
    the Twilio auth token. ``account_sid``: Twilio only. ``base_url``: the API's root (the provider's,
    or the local provider sandbox's)."""

    channel: str
    external_id: str
    token: str = Field(repr=False)
    base_url: str
    account_sid: str | None = None
    api_version: str | None = None
    status_callback_url: str | None = None


class SendResult(OutboundFrozen):
    """The provider accepted the request."""

    provider_message_id: str | None = Field(description="None for calls that create no message (mark_read).")
    response: dict[str, Any] = Field(default_factory=dict, repr=False)

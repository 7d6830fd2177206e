"""What each provider accepts for an agent's uploaded attachment: content types and sizes per kind,
as the providers document them. Each adapter's ``capabilities.media_limits`` names its table, and
``send_message`` refuses anything outside it before queueing (shared/outbox/attachments.py), so a
100 MB video to WhatsApp is a clear message to the agent, not a failed delivery minutes later.

Sources: WhatsApp Cloud API "Supported media types"; Messenger Platform "Send API, attachments"
(25 MB); Instagram Platform "Messaging API, send media" (images 8 MB, audio/video/PDF 25 MB);
Telegram Bot API "Sending files" (multipart: photos 10 MB, other files 50 MB; sendVoice takes OGG
Opus, MP3 and M4A); Twilio "Accepted content types for media" (MMS 5 MB; WhatsApp through Twilio
images 5 MB, other media 16 MB: the smaller applies, since one Twilio channel may be either);
Twilio "Media subresource": a message carries up to 10 media files (``MediaUrl`` repeated; more
is error 21623) of at most 5 MB together.
"""

from __future__ import annotations

from shared.channels.base import MediaLimit

MB = 1024 * 1024

# How a refusal names the provider to an agent ("WhatsApp takes images up to 5 MB").
DISPLAY_NAMES = {
    "whatsapp": "WhatsApp",
    "messenger": "Messenger",
    "instagram": "Instagram",
    "telegram": "Telegram",
    "twilio": "Twilio",
}


def display_name(kind: str) -> str:
    """The provider's name for agents; a channel without a provider is the in-app chat."""
    return DISPLAY_NAMES.get(kind, "the in-app chat" if kind == "app" else kind)


OFFICE_DOCUMENTS = frozenset(
    {
        "application/pdf",
        "text/plain",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)
ANY = frozenset({"*"})


def _limit(kind: str, types: frozenset[str] | set[str], megabytes: float) -> MediaLimit:
    return MediaLimit(kind=kind, content_types=frozenset(types), max_bytes=int(megabytes * MB))


WHATSAPP = (
    _limit("image", {"image/jpeg", "image/png"}, 5),
    _limit("audio", {"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}, 16),
    _limit("video", {"video/mp4", "video/3gpp"}, 16),
    _limit("document", OFFICE_DOCUMENTS, 100),
)

MESSENGER = (
    _limit("image", {"image/jpeg", "image/png", "image/gif", "image/webp"}, 25),
    _limit("audio", {"audio/mpeg", "audio/aac", "audio/mp4", "audio/ogg", "audio/wav", "audio/x-wav"}, 25),
    _limit("video", {"video/mp4", "video/quicktime", "video/webm", "video/3gpp"}, 25),
    _limit("document", ANY, 25),
)

INSTAGRAM = (
    _limit("image", {"image/jpeg", "image/png", "image/gif"}, 8),
    _limit("audio", {"audio/aac", "audio/mp4", "audio/wav", "audio/x-wav", "audio/mpeg"}, 25),
    _limit("video", {"video/mp4", "video/ogg", "video/x-msvideo", "video/quicktime", "video/webm"}, 25),
    _limit("document", {"application/pdf"}, 25),
)

TELEGRAM = (
    _limit("image", {"image/jpeg", "image/png", "image/webp", "image/gif"}, 10),
    _limit("audio", {"audio/ogg", "audio/mpeg", "audio/mp4"}, 50),
    _limit("video", {"video/mp4"}, 50),
    _limit("document", ANY, 50),
)

TWILIO = (
    _limit("image", {"image/jpeg", "image/png", "image/gif"}, 5),
    _limit("audio", {"audio/mpeg", "audio/ogg", "audio/amr", "audio/mp4", "audio/aac"}, 5),
    _limit("video", {"video/mp4", "video/3gpp"}, 5),
    _limit("document", {"application/pdf", "text/vcard", "text/plain"}, 5),
)
# One Twilio message: up to 10 MediaUrl, at most 5 MB of media in all ("Media subresource").
TWILIO_MAX_FILES = 10
TWILIO_MAX_TOTAL_BYTES = 5 * MB

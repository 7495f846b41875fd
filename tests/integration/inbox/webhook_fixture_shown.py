"""What the conversation pane shows for every Cloud API fixture file: (type, bubble text, extras) per bubble,
oldest first. Files that carry no customer message (statuses, account, template and call updates) show none."""

from __future__ import annotations

# The test numbers have no access token: the download after the answer fails, in plain words.
NO_TOKEN = "The file could not be fetched: the WhatsApp number has no access token set"

SHOWN: dict[str, list[tuple[str, str, dict[str, str]]]] = {
    "netflie-whatsapp-cloud-api/button-template-quick-reply-with-context-forwarded-referral.json": [
        (
            "button",
            "Tapped quick reply: No",
            {
                "quote": "Replying to an earlier message",
                "forwarded": "↪↪ Forwarded many times",
                "referral": "From a click-to-WhatsApp ad or post · AD_TITLE · AD_OR_POST_FB_URL",
            },
        ),
    ],
    "netflie-whatsapp-cloud-api/button-template-quick-reply-with-context.json": [
        ("button", "Tapped quick reply: No", {"quote": "Replying to an earlier message"}),
    ],
    "netflie-whatsapp-cloud-api/contacts.json": [
        (
            "contacts",
            (
                "👤 CONTACT_FORMATTED_NAME · CONTACT_PHONE · CONTACT_EMAIL · CONTACT_ORG"
                "_COMPANY · CONTACT_ORG_DEPARTMENT · CONTACT_ORG_TITLE"
            ),
            {},
        ),
    ],
    "netflie-whatsapp-cloud-api/document.json": [
        ("document", "📄 FILENAME\nCAPTION_TEXT", {"media_note": NO_TOKEN, "file_label": "FILENAME"}),
    ],
    "netflie-whatsapp-cloud-api/image.json": [
        ("image", "📷 Photo\nCAPTION_TEXT", {"media_note": NO_TOKEN}),
    ],
    "netflie-whatsapp-cloud-api/interactive-button-reply.json": [
        ("interactive", "Tapped button: button-text", {}),
    ],
    "netflie-whatsapp-cloud-api/interactive-list-reply.json": [
        ("interactive", "Chose: list_reply_title — list_reply_description", {}),
    ],
    "netflie-whatsapp-cloud-api/interactive-nfm-reply-flow.json": [
        ("interactive", "Form sent: Sent", {}),
    ],
    "netflie-whatsapp-cloud-api/location.json": [
        ("location", "📍 LOCATION_NAME\nLOCATION_ADDRESS", {}),
    ],
    "netflie-whatsapp-cloud-api/order.json": [
        (
            "order",
            (
                "🛒 Order of 2 items\nnumber-of-item × the-product-SKU-identifier @ unita"
                "ry-price-of-item price-currency\nnumber-of-item × the-product-SKU-ident"
                "ifier-2 @ unitary-price-of-item price-currency"
            ),
            {},
        ),
    ],
    "netflie-whatsapp-cloud-api/reaction-removed.json": [],
    "netflie-whatsapp-cloud-api/reaction.json": [],
    "netflie-whatsapp-cloud-api/status-delivered-no-expiration.json": [],
    "netflie-whatsapp-cloud-api/status-delivered-pricing-authentication.json": [],
    "netflie-whatsapp-cloud-api/status-delivered-pricing-marketing.json": [],
    "netflie-whatsapp-cloud-api/status-delivered-pricing-service.json": [],
    "netflie-whatsapp-cloud-api/status-delivered-pricing-utility.json": [],
    "netflie-whatsapp-cloud-api/status-delivered-with-pricing.json": [],
    "netflie-whatsapp-cloud-api/status-failed-with-errors-131053.json": [],
    "netflie-whatsapp-cloud-api/status-read-with-conversation.json": [],
    "netflie-whatsapp-cloud-api/status-read.json": [],
    "netflie-whatsapp-cloud-api/sticker.json": [
        ("sticker", "Sticker", {"media_note": NO_TOKEN}),
    ],
    "netflie-whatsapp-cloud-api/system-user-changed-number.json": [
        ("system", "⚙ NAME changed from PHONE_NUMBER to PHONE_NUMBER", {}),
    ],
    "netflie-whatsapp-cloud-api/text-bsuid-only-no-from.json": [
        ("text", "MESSAGE_BODY", {}),
    ],
    "netflie-whatsapp-cloud-api/text-contact-without-profile.json": [
        ("text", "MESSAGE_BODY", {}),
    ],
    "netflie-whatsapp-cloud-api/text-forwarded.json": [
        ("text", "MESSAGE_BODY", {"forwarded": "↪ Forwarded"}),
    ],
    "netflie-whatsapp-cloud-api/text-two-changes-in-one-entry.json": [
        ("text", "MESSAGE_BODY", {}),
    ],
    "netflie-whatsapp-cloud-api/text-wa-id-and-user-id.json": [
        ("text", "MESSAGE_BODY", {}),
    ],
    "netflie-whatsapp-cloud-api/text.json": [
        ("text", "MESSAGE_BODY", {}),
    ],
    "netflie-whatsapp-cloud-api/unknown-unsupported-with-errors.json": [
        ("unknown", "Unsupported message: Unsupported message type", {}),
    ],
    "pywa/account-update--account-deleted.json": [],
    "pywa/account-update--account-disabled.json": [],
    "pywa/account-update--account-offboarded.json": [],
    "pywa/account-update--account-reconnected.json": [],
    "pywa/account-update--account-restriction.json": [],
    "pywa/account-update--account-violation.json": [],
    "pywa/account-update--ad-account-linked.json": [],
    "pywa/account-update--authentication-international-eligibility.json": [],
    "pywa/account-update--mm-api-for-wa-terms-of-service.json": [],
    "pywa/account-update--partner-added.json": [],
    "pywa/account-update--partner-app-installed.json": [],
    "pywa/account-update--partner-app-uninstalled.json": [],
    "pywa/account-update--partner-led-business-verification-status.json": [],
    "pywa/account-update--partner-removed-wa-app-disconnection.json": [],
    "pywa/account-update--partner-removed.json": [],
    "pywa/account-update--pricing-tiering-update.json": [],
    "pywa/account-update--primary-business-location-set.json": [],
    "pywa/call-connect--business-initiated.json": [],
    "pywa/call-connect--user-initiated.json": [],
    "pywa/call-permission-update--accept.json": [
        ("interactive", "Call permission: accept", {"quote": "Replying to an earlier message"}),
    ],
    "pywa/call-permission-update--reject.json": [
        ("interactive", "Call permission: reject", {"quote": "Replying to an earlier message"}),
    ],
    "pywa/call-status--call-status.json": [],
    "pywa/call-terminate--call-terminate.json": [],
    "pywa/callback-button--button.json": [
        ("interactive", "Tapped button: title", {"quote": "Replying to an earlier message"}),
    ],
    "pywa/callback-button--quick-reply-without-context.json": [
        ("button", "Tapped quick reply: title", {}),
    ],
    "pywa/callback-button--quick-reply.json": [
        ("button", "Tapped quick reply: title", {"quote": "Replying to an earlier message"}),
    ],
    "pywa/callback-selection--callback.json": [
        ("interactive", "Chose: title", {"quote": "Replying to an earlier message"}),
    ],
    "pywa/callback-selection--description.json": [
        ("interactive", "Chose: title — description", {"quote": "Replying to an earlier message"}),
    ],
    "pywa/deleted-message--revoke.json": [
        ("revoke", "🚫 The customer deleted a message", {}),
    ],
    "pywa/edited-message--image.json": [
        ("edit", "✏️ Edited a message\nUpdated image caption", {}),
    ],
    "pywa/flow-completion--completion.json": [
        ("interactive", "Form sent: Sent", {"quote": "Replying to an earlier message"}),
    ],
    "pywa/flow-completion--without-flow-token.json": [
        ("interactive", "Form sent: Sent", {"quote": "Replying to an earlier message"}),
    ],
    "pywa/message--animated-sticker.json": [
        ("sticker", "Sticker", {"media_note": NO_TOKEN}),
    ],
    "pywa/message--audio.json": [
        ("audio", "🎵 Audio", {"forwarded": "↪ Forwarded", "media_note": NO_TOKEN}),
    ],
    "pywa/message--chosen-location.json": [
        (
            "location",
            "📍 Facebook HQ\n1 Hacker Way, Menlo Park, CA 94025\n37.4611978, -122.2164385",
            {
                "forwarded": "↪ Forwarded",
                "map_url": (
                    "https://www.openstreetmap.org/?mlat=37.4611978&mlon=-122.2164385#map=16/37.4611978/-122.2164385"
                ),
            },
        ),
    ],
    "pywa/message--contacts.json": [
        (
            "contacts",
            ("👤 Chandler Bing · +1 555-555-5555\n👤 Monica · +1 666-666-6666\n👤 Rachel Green · +1 777-777-7777"),
            {},
        ),
    ],
    "pywa/message--current-location.json": [
        (
            "location",
            "📍 Location\n12.25089, 43.90539",
            {
                "forwarded": "↪ Forwarded",
                "map_url": "https://www.openstreetmap.org/?mlat=12.25089&mlon=43.90539#map=16/12.25089/43.90539",
            },
        ),
    ],
    "pywa/message--document.json": [
        (
            "document",
            "📄 filename.pdf\ncaption",
            {"forwarded": "↪ Forwarded", "media_note": NO_TOKEN, "file_label": "filename.pdf"},
        ),
    ],
    "pywa/message--forwarded-many-times.json": [
        ("text", "text forwarded many times", {"forwarded": "↪↪ Forwarded many times"}),
    ],
    "pywa/message--forwarded.json": [
        ("text", "forwarded text", {"forwarded": "↪ Forwarded"}),
    ],
    "pywa/message--image.json": [
        ("image", "📷 Photo", {"media_note": NO_TOKEN}),
    ],
    "pywa/message--interactive-message-with-err.json": [
        ("interactive", "Interactive reply", {"quote": "Replying to an earlier message"}),
    ],
    "pywa/message--media-with-url.json": [
        ("image", "📷 Photo", {"media_note": NO_TOKEN}),
    ],
    "pywa/message--order.json": [
        (
            "order",
            (
                "🛒 Order of 3 items\n3 × HAMBURGER @ 30 ILS\n2 × FRENCH_FRIES @ 35 ILS\n2 "
                "× SODA @ 10 ILS\nTotal: 180.00 ILS"
            ),
            {},
        ),
    ],
    "pywa/message--reaction.json": [],
    "pywa/message--referral.json": [
        ("text", "BODY", {"referral": "From a click-to-WhatsApp ad or post · AD_TITLE · AD_OR_POST_FB_URL"}),
    ],
    "pywa/message--reply.json": [
        ("text", "replied text", {"quote": "Replying to an earlier message"}),
    ],
    "pywa/message--static-sticker.json": [
        ("sticker", "Sticker", {"media_note": NO_TOKEN}),
    ],
    "pywa/message--text.json": [
        ("text", "Body Text", {}),
    ],
    "pywa/message--unreaction-empty.json": [],
    "pywa/message--unreaction-no-emoji.json": [],
    "pywa/message--unsupported-with-type.json": [
        ("unsupported", "Unsupported message (pool): Message type unknown", {}),
    ],
    "pywa/message--unsupported.json": [
        ("unsupported", "Unsupported message: Message type unknown", {}),
    ],
    "pywa/message--video.json": [
        ("video", "🎥 Video\ncaption", {"forwarded": "↪ Forwarded", "media_note": NO_TOKEN}),
    ],
    "pywa/message--voice.json": [
        ("audio", "🎤 Voice message", {"media_note": NO_TOKEN}),
    ],
    "pywa/message-status--delivered.json": [],
    "pywa/message-status--failed.json": [],
    "pywa/message-status--group.json": [],
    "pywa/message-status--played.json": [],
    "pywa/message-status--read.json": [],
    "pywa/message-status--sent.json": [],
    "pywa/message-status--with-tracker.json": [],
    "pywa/outgoing-message--delete.json": [],
    "pywa/outgoing-message--edit.json": [],
    "pywa/outgoing-message--text.json": [],
    "pywa/system--identity-change.json": [
        ("system", "⚙ User identity changed", {}),
    ],
    "pywa/system--phone-number-change.json": [
        ("system", "⚙ User A changed from 972987654321 to 972912345678", {}),
    ],
    "pywa/template-category-update--marketing.json": [],
    "pywa/template-components-update--element.json": [],
    "pywa/template-quality-update--yellow.json": [],
    "pywa/template-status-update--approved.json": [],
    "pywa/template-status-update--rejected.json": [],
    "pywa/user-marketing-preferences--resume.json": [],
    "pywa/user-marketing-preferences--signup.json": [],
}
# Click-to-WhatsApp referrals become the lead's source (the fixtures' source_type is the placeholder "ad or post").
LEAD_SOURCES: dict[str, str] = {
    "netflie-whatsapp-cloud-api/button-template-quick-reply-with-context-forwarded-referral.json": (
        "whatsapp ad or post"
    ),
    "pywa/message--referral.json": "whatsapp ad or post",
}

"""The links Roster mailed, read from the emulator."""

import re
import time

from .api import Failure


def links_mailed(client, to, page=None):
    """The tokens of the links to `/{page}?token=` (any link when page is None) mailed to `to`,
    oldest first."""
    link = re.compile(re.escape(f"/{page}?token=" if page else "token=") + r"([A-Za-z0-9_-]+)")
    tokens = []
    for mail in client.sent_mail():
        found = to in (mail.get("to") or []) and link.search(mail.get("body", ""))
        if found:
            tokens.append(found.group(1))
    return tokens


def mailed_token(client, to, page=None, after=0, wait=20):
    """The token of the newest link to `page` mailed to `to`, once more than `after` such links
    were mailed: the outbox worker mails a moment after the answer, so this asks for `wait`
    seconds and then fails (wait=0: asks once, None if there is none yet)."""
    deadline = time.monotonic() + wait
    while True:
        tokens = links_mailed(client, to, page)
        if len(tokens) > after:
            return tokens[-1]
        if not wait:
            return None
        if time.monotonic() > deadline:
            raise Failure(f"no mail to {to} with a link to /{page or ''}")
        time.sleep(0.2)

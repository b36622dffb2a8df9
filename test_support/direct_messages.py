"""The app's DMs as the tests pick them out: the call that sends one, the DM's id in the fake, the decision
DM told apart from the receipt a decision rewrites."""


def dm_to(user: str, containing: str | None = None):
    """A matcher (for test_support.slack_faults) of chat.postMessage to `user`'s DM, addressed by their
    user id as the app does; with `containing`, only a text that contains it."""
    def matches(method, params) -> bool:
        return (method == "chat.postMessage" and params.get("channel") == user
                and (containing is None or containing in str(params.get("text"))))
    return matches


def dm_channel(user: str) -> str:
    return "D" + user[1:]  # the fake's id for the app's DM with `user`, as conversations.open gives it


def is_decision(text: str) -> bool:
    """The decision DM ("… approved your :palm_tree: Vacation, …"), not the receipt rewritten to say so
    ("… approved your request for …")."""
    return "approved your" in text and "approved your request for" not in text

"""Slack half down as the settle tests switch it (a request's rewrites failing, its channel unreadable, posts
refused, a DM's answer lost) and back up; and what Slack then holds of a request: its message, its entry,
its thread, a person's DMs."""

from fake_slack.personas import C_ENG_APPROVALS


class HalfDownSlack:
    """Slack as the test switches it. `rewrites`: each rewrite of a request's message (chat.update in the
    approvals channel) answers a 500, Slack having made it ("made") or not ("not made"); once one was tried,
    the approvals channel's history answers 500 too (Slack will not show the message) until `back_up()`.
    `unreadable_for`: the history fails only while one of these tasks runs. `posts_failing`: channels whose
    posts answer 503; `thread_posts_failing`: replies in a thread answer 503. `lose_answer_of_dm_to`: the
    next DM posted to this person is made, but its answer is a 500."""

    def __init__(self, fake_slack, clock):
        self.fake, self.clock = fake_slack, clock
        self.real = fake_slack.handle
        self.rewrites: str | None = None
        self.unreadable = False
        self.unreadable_for: set[str] | None = None
        self.posts_failing: set[str] = set()
        self.thread_posts_failing = False
        self.lose_answer_of_dm_to: str | None = None
        self.answers_lost = 0
        self.tried: list[dict] = []
        self.refused: list[tuple[str, dict]] = []

    def back_up(self) -> None:
        self.rewrites, self.unreadable, self.unreadable_for = None, False, None
        self.posts_failing = set()
        self.thread_posts_failing = False

    def handle(self, name, params, headers):
        if name == "conversations.history" and params.get("channel") == C_ENG_APPROVALS and (
                self.unreadable or (self.unreadable_for and self.clock.task_name in self.unreadable_for)):
            self.refused.append((name, params))
            return 500, {}, {"ok": False, "error": "fatal_error"}
        if name == "chat.update" and params.get("channel") == C_ENG_APPROVALS and self.rewrites:
            self.tried.append(params)
            self.unreadable = True
            if self.rewrites == "made":
                self.real(name, params, headers)
            return 500, {}, {"ok": False, "error": "fatal_error"}
        if name == "chat.postMessage" and (params.get("channel") in self.posts_failing
                                           or (self.thread_posts_failing and params.get("thread_ts"))):
            self.refused.append((name, params))
            return 503, {}, {"ok": False, "error": "service_unavailable"}
        if (name == "chat.postMessage" and self.lose_answer_of_dm_to
                and params.get("channel") in (self.lose_answer_of_dm_to, self.dm_channel(self.lose_answer_of_dm_to))):
            self.lose_answer_of_dm_to = None
            self.answers_lost += 1
            self.real(name, params, headers)
            return 500, {}, {"ok": False, "error": "fatal_error"}
        return self.real(name, params, headers)

    def dm_channel(self, user: str) -> str | None:
        messages = self.fake.workspace.messages(user)
        return messages[0].channel if messages else None


def request_messages(fake_slack) -> list:
    return [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if m.metadata and m.metadata.get("event_type") == "timeoff_request"]


def the_entry(fake_slack) -> dict:
    [message] = request_messages(fake_slack)
    return message.metadata["event_payload"]


def thread(fake_slack) -> list[str]:
    [message] = request_messages(fake_slack)
    return [m.text for m in fake_slack.workspace.replies(C_ENG_APPROVALS, message.ts) if m.ts != message.ts]


def dm_texts(fake_slack, user: str) -> list[str]:
    """Every message Slack holds in `user`'s DM with the app, as it stands now."""
    return [m.text for m in fake_slack.workspace.messages(user)]

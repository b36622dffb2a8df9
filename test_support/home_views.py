"""App Home tabs as the tests read them: their texts, and the count of requests waiting for a decision."""


def view_texts(view: dict) -> list[str]:
    """Every text of a view's blocks (sections, contexts, buttons), in order."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") in ("mrkdwn", "plain_text") and isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(view.get("blocks", []))
    return found


def shown_text(view: dict) -> str:
    """A view's texts as one string, to look for words in."""
    return "\n".join(view_texts(view))


def waiting_count(home: dict | None) -> int:
    """The number in "Waiting for your decision (N)" on a tab, 0 when it has no such part."""
    for block in (home or {}).get("blocks", []):
        text = (block.get("text") or {}).get("text", "") if block.get("type") == "section" else ""
        if text.startswith("*Waiting for your decision* ("):
            return int(text.rsplit("(", 1)[1].rstrip(")"))
    return 0

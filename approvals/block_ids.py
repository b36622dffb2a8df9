"""Every id we put in Block Kit (callback_id, block_id, action_id), in one place.

Slack sends these back to us and `slackbot.routing` dispatches on them. They live in
`approvals` because the approvals message (built here) carries the decision buttons.
"""

# Modals (callback_id)
REQUEST_MODAL = "timeoff_request"
REJECT_MODAL = "timeoff_reject"

# Global shortcuts (callback_id; slack-manifest.yml declares them): Slack's shortcuts menu and search
REQUEST_SHORTCUT = "timeoff_request_shortcut"

# Request modal input blocks (block_id) and their elements (action_id)
TYPE_BLOCK = "type"
TYPE_ACTION = "type_select"
START_BLOCK = "start"
START_ACTION = "start_date"
END_BLOCK = "end"
END_ACTION = "end_date"
HALF_BLOCK = "half"
HALF_ACTION = "half_days"
NOTE_BLOCK = "note"
NOTE_ACTION = "note_input"
PREVIEW_BLOCK = "preview"
REQUEST_INPUT_BLOCKS = (TYPE_BLOCK, START_BLOCK, END_BLOCK, HALF_BLOCK, NOTE_BLOCK)

# Half-day checkbox values
HALF_START_PM = "start_pm"  # first day: afternoon only
HALF_END_AM = "end_am"  # last day: morning only

# Reject modal
REASON_BLOCK = "reason"
REASON_ACTION = "reason_input"

# Buttons on the approvals message (the button value carries the request id)
APPROVE_ACTION = "timeoff_approve"
REJECT_ACTION = "timeoff_reject"
DECISION_BLOCK = "decision"

# Buttons on the requester's own leave (the list, the receipt DM, App Home); the value
# carries the request id and, when known, where its message is.
EDIT_ACTION = "timeoff_edit"
WITHDRAW_ACTION = "timeoff_withdraw"
CANCEL_ACTION = "timeoff_cancel"
LEAVE_BLOCK_PREFIX = "leave:"  # + request id: the receipt's actions block
LIST_BLOCK_PREFIX = "list:"  # + request id: one actions block per request of a list (/timeoff list, App Home)

# App Home
NEW_REQUEST_ACTION = "timeoff_new_request"
CONSOLE_LINK_ACTION = "timeoff_console_link"  # a link button: Slack still sends block_actions

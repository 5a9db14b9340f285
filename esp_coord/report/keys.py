"""The names of the report's figures: what ``[report] targets`` may name."""

FIGURE_KEYS = (
    "plans_created", "plans_active", "plans_closed", "plans_by_protocol", "plans_by_theme",
    "meetings_held",
    "patients_per_meeting", "share_reviewed", "decisions", "attendance",
    "attendance_by_profession", "attendance_intended", "attendance_intended_by_profession",
    "calendar_answers", "protocols_in_use", "followups_on_time", "followups_late",
    "followups_delay", "followups_open", "professionals", "actions_by_profession",
    "mails_handled", "mails_answered", "mails_quarantined", "answer_time",
)

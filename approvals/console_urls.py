"""The HR console's URLs, mounted at /console/ by timeoff_site.urls."""

from django.urls import path

from approvals import console_config_views, console_leave_views, console_views
from approvals import console_file_views, console_history_views, console_see_views, console_setup_views

app_name = "console"

urlpatterns = [
    path("", console_views.home, name="home"),
    path("login/", console_views.ConsoleLogin.as_view(), name="login"),
    path("teams/<int:team_id>/move", console_views.team_reorder, name="team_reorder"),
    # Configuration pages (console_config_views): teams, leave types, holidays, blackouts, who may request.
    path("teams/new", console_config_views.team_add, name="team_add"),
    path("teams/<int:team_id>/", console_config_views.team_edit, name="team_edit"),
    path("teams/<int:team_id>/delete", console_config_views.team_delete, name="team_delete"),
    path("teams/subdivisions", console_config_views.holiday_subdivisions, name="holiday_subdivisions"),
    path("leave-types/", console_config_views.leave_types, name="leave_types"),
    path("leave-types/new", console_config_views.leave_type_add, name="leave_type_add"),
    path("leave-types/<int:pk>/", console_config_views.leave_type_edit, name="leave_type_edit"),
    path("leave-types/<int:pk>/delete", console_config_views.leave_type_delete, name="leave_type_delete"),
    path("holidays/", console_config_views.holidays_and_blackouts, name="holidays"),
    path("holidays/new", console_config_views.holiday_add, name="holiday_add"),
    path("holidays/<int:pk>/", console_config_views.holiday_edit, name="holiday_edit"),
    path("holidays/<int:pk>/delete", console_config_views.holiday_delete, name="holiday_delete"),
    path("blackouts/new", console_config_views.blackout_add, name="blackout_add"),
    path("blackouts/<int:pk>/", console_config_views.blackout_edit, name="blackout_edit"),
    path("blackouts/<int:pk>/delete", console_config_views.blackout_delete, name="blackout_delete"),
    path("policy/", console_config_views.policy, name="policy"),
    path("search/", console_views.search, name="search"),
    path("leave/record", console_leave_views.record_leave, name="record_leave"),
    path("search/suggest", console_views.suggest, name="suggest"),
    # Setup, the configuration file, See and History (issue 10, items 4-7).
    path("setup/", console_setup_views.setup, name="setup"),
    path("setup/check", console_setup_views.setup_check_again, name="setup_check"),
    path("setup/problems/<int:pk>/resolved", console_setup_views.problem_resolved, name="setup_problem_resolved"),
    path("file/", console_file_views.config_file, name="config_file"),
    path("file/download", console_file_views.config_download, name="config_download"),
    path("file/upload", console_file_views.config_upload, name="config_upload"),
    path("file/preview", console_file_views.config_preview, name="config_preview"),
    path("file/apply", console_file_views.config_apply_view, name="config_apply"),
    path("file/discard", console_file_views.config_discard, name="config_discard"),
    path("whos-out/", console_see_views.whos_out, name="whos_out"),
    path("ledger/", console_see_views.ledger_export, name="ledger_export"),
    path("balances/", console_see_views.balances, name="balances"),
    path("balances/adjust", console_see_views.adjust, name="adjust"),
    path("history/", console_history_views.history, name="history"),
]

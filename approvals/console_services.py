"""Writes the HR console makes that the configuration store has no service for yet.

`team_move` changes the order teams are matched in (DESIGN §4: a user belongs
to the first team whose members match). Saving the rows fires the
configuration's invalidation receivers (`config_store`), so Slack sees the new
order at once.
"""

from django.db import transaction

from approvals.models import Team


class TeamNotFound(Exception):
    pass


@transaction.atomic
def team_move(*, team_id: int, offset: int) -> Team:
    """Move a team `offset` places in the matching order (-1: up, 1: down); clamped at the ends.

    Positions are renumbered 0…n-1 on the way, so duplicates left by the admin
    or an older import cannot make a move a no-op.
    """
    teams = list(Team.objects.select_for_update().order_by("position", "name"))
    index = next((i for i, team in enumerate(teams) if team.pk == team_id), None)
    if index is None:
        raise TeamNotFound(team_id)
    moved = teams.pop(index)
    teams.insert(max(0, min(len(teams), index + offset)), moved)
    for position, team in enumerate(teams):
        if team.position != position:
            team.position = position
            team.save(update_fields=["position"])
    return moved

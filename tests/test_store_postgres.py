"""The store's behaviours again, on a real PostgreSQL server: a database URL switches backends, same code.

Each test below is the SQLite test of the same name from test_store.py, run with `db_path` bound to a
fresh PostgreSQL database instead of a file.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests import test_store as base
from tests.support.postgres import create_database, unavailable_reason
from tests.test_store import clock, store  # noqa: F401 (fixtures, re-used with a PostgreSQL db_path)

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))


@pytest.fixture
def db_path(postgres_url):
    return create_database(postgres_url)


def test_it_really_is_postgres(store):  # noqa: F811
    with store.engine.connect() as conn:
        assert "PostgreSQL" in conn.execute(text("select version()")).scalar()


test_migrations_are_recorded_and_idempotent = base.test_migrations_are_recorded_and_idempotent
test_two_processes_opening_at_once_migrate_once = base.test_two_processes_opening_at_once_migrate_once
test_store_tables_match_migrated_schema = base.test_store_tables_match_migrated_schema
test_featured_plans_rotation_survives_reopen_and_follows_the_subscription = (
    base.test_featured_plans_rotation_survives_reopen_and_follows_the_subscription)
test_add_normalises_and_lists = base.test_add_normalises_and_lists
test_add_is_idempotent_for_identical_active_subscription = base.test_add_is_idempotent_for_identical_active_subscription
test_pause_resume_delete_are_scoped_to_the_chat = base.test_pause_resume_delete_are_scoped_to_the_chat
test_delete_all_only_for_one_chat = base.test_delete_all_only_for_one_chat
test_chat_tz_and_language = base.test_chat_tz_and_language
test_migrate_chat_keeps_subscriptions_history_and_settings = base.test_migrate_chat_keeps_subscriptions_history_and_settings
test_deactivate_chat_keeps_rows_with_reason = base.test_deactivate_chat_keeps_rows_with_reason
test_claim_is_unique_across_two_stores_on_the_same_file = base.test_claim_is_unique_across_two_stores_on_the_same_file
test_concurrent_claims_have_exactly_one_winner = base.test_concurrent_claims_have_exactly_one_winner
test_sent_records_plans_for_new_since_last = base.test_sent_records_plans_for_new_since_last
test_release_makes_the_period_claimable_again = base.test_release_makes_the_period_claimable_again
test_failed_is_reclaimable_up_to_max_attempts = base.test_failed_is_reclaimable_up_to_max_attempts
test_settled_periods_and_skips = base.test_settled_periods_and_skips
test_stale_claims_are_taken_over_by_one_store_only = base.test_stale_claims_are_taken_over_by_one_store_only
test_deleting_a_subscription_cascades_its_deliveries = base.test_deleting_a_subscription_cascades_its_deliveries
test_a_leased_claim_is_not_stale_until_its_lease_runs_out = base.test_a_leased_claim_is_not_stale_until_its_lease_runs_out
test_concurrent_takeovers_take_each_abandoned_claim_once = base.test_concurrent_takeovers_take_each_abandoned_claim_once

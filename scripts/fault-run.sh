#!/usr/bin/env bash
# The integration suite's concurrency and bulk tests again, against an emulator that injects
# faults (scripts/emulator.py): by default 5% of DynamoDB, S3 and SES calls fail (throttling,
# provisioned throughput exceeded, transaction conflicts, HTTP 500, SlowDown). Answers delayed past
# the SDK's timeout are left to tests/faults.rs and scripts/soak.sh: the emulator handles one
# request at a time, so the 200-way races here queue for longer than a production timeout, and
# holding them to one turns the queue into a retry storm that measures the emulator, not Roster.
# The test harness then
# behaves as SPEC.md §8.6's client: it retries 503s, sends creates with an Idempotency-Key and
# fails on any other 5xx; each test ends with the consistency checker. Prints what was injected.
#
# usage: scripts/fault-run.sh [extra cargo test filters...]
# environment: ROSTER_FAULT_RATE, ROSTER_FAULT_DELAY_RATE, ROSTER_FAULT_DELAY_SECONDS, ROSTER_FAULT_SEED
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
export ROSTER_FAULT_RATE="${ROSTER_FAULT_RATE:-0.05}"
export ROSTER_FAULT_DELAY_RATE="${ROSTER_FAULT_DELAY_RATE:-0}"
export ROSTER_FAULT_DELAY_SECONDS="${ROSTER_FAULT_DELAY_SECONDS:-31}"
export ROSTER_FAULT_SEED="${ROSTER_FAULT_SEED:-$RANDOM}"
export ROSTER_DYNAMODB_ATTEMPT_TIMEOUT_MS="${ROSTER_DYNAMODB_ATTEMPT_TIMEOUT_MS:-30000}"
export ROSTER_TEST_UNDER_FAULTS=1
PORT="$(free_port)"
trap stop_emulator EXIT
start_emulator "$PORT"
export_emulator_env "$PORT"
echo "fault run: rate $ROSTER_FAULT_RATE, delays $ROSTER_FAULT_DELAY_RATE of ${ROSTER_FAULT_DELAY_SECONDS}s, seed $ROSTER_FAULT_SEED"

TESTS=(
  two_hundred_concurrent_assignments_against_fifty_seats_make_fifty
  bulk_assign_lists_conflicts_skips_them_on_request_and_keeps_within_the_pool
  emails_are_unique_per_tenant_whatever_their_case_and_concurrency
  the_member_quota_holds_under_concurrency
  bulk_status_of_250_is_all_or_nothing_and_counted
  the_recycle_bin_keeps_deleted_members_until_purge
  purged_members_free_their_email
  twenty_concurrent_accepts_of_one_link_make_one_member
  max_uses_of_a_join_link_hold_under_twenty_concurrent_joins
  expired_invitations_answer_410_give_their_place_back_and_can_be_replaced
  concurrent_changes_keep_the_tree_consistent
  a_large_move_is_a_job_that_stops_resumes_and_leaves_nothing_stale
  a_member_edit_racing_a_move_keeps_the_right_tree_key
  a_thousand_rows_with_ten_bad_ones_make_990_members_and_a_rerun_adds_none
  exports_of_every_scope_parse_back_to_the_same_members
  no_counter_goes_below_zero_through_the_routes_that_move_it
  an_interrupted_import_is_queued_again_and_a_retry_finishes_it
  a_failed_bulk_licence_chunk_undoes_only_members_still_as_it_left_them
  a_reader_keeping_its_cursor_sees_every_event_once_while_writers_and_sequencers_race
)
cargo test --locked -p roster-tests --no-fail-fast \
  --test licences --test members --test invitations --test foundation --test department_moves \
  --test imports --test exports --test integrity --test resumes --test events \
  -- "${TESTS[@]}" "$@"
curl -fsS "http://127.0.0.1:$PORT/_roster/faults" | "$VENV/bin/python" -c '
import json, sys
report = json.load(sys.stdin)
print("faults injected:", report["injected_total"], report["injected"], "over calls:", report["calls"])
'

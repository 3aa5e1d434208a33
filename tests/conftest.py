"""Shared fixtures: real datasets, and projects on real SQLite and PostgreSQL stores."""

from __future__ import annotations

import os
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import pluggy

    from tests.support import NewProject
    from truthset.services.projects import Project

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SMS = DATASETS / "text" / "sms_spam_collection" / "SMSSpamCollection.tsv"
LS = DATASETS / "labelstudio"
LEOKA = LS / "leoka_ner" / "LEOKA_team_2_pseudonymized.json"
PG_ADMIN_URL = os.environ.get("TRUTHSET_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _cheap_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """argon2id with the smallest cost in tests, unless marked ``real_argon2``.

    The production cost (~0.1 s and 64 MiB per hash) is what makes a stolen hash expensive; it
    made each server test spend most of its setup hashing four users' passwords. The code path
    is the same (``users._hasher``); only the cost parameters differ, and they travel inside
    each hash, so hashes made either way verify. Tests of timing and of the hash itself keep the
    real cost with ``@pytest.mark.real_argon2``. The cached dummy hash (the unknown-name check)
    is made afresh for each test, so it always has the cost the test runs with."""
    from argon2 import PasswordHasher

    from truthset.services import users

    if not request.node.get_closest_marker("real_argon2"):
        monkeypatch.setattr(users, "_hasher", lambda: PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    users._dummy_hash.cache_clear()
    yield
    users._dummy_hash.cache_clear()


@pytest.fixture(scope="session")
def datasets() -> Path:
    if not DATASETS.is_dir():
        pytest.fail(f"test data not found at {DATASETS}; the repo expects ../shared/datasets beside it")
    return DATASETS


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped afterwards)."""
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except Exception as exc:  # the server is not there
        if os.environ.get("CI") or os.environ.get("TRUTHSET_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required in CI but unreachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL} (set TRUTHSET_TEST_POSTGRES_URL): {exc}")
    name = f"truthset_test_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once on SQLite (the default store) and once on PostgreSQL."""
    if request.param == "postgres":
        monkeypatch.setenv("TRUTHSET_DATABASE_URL", request.getfixturevalue("pg_url"))
    else:
        monkeypatch.delenv("TRUTHSET_DATABASE_URL", raising=False)
    return str(request.param)


@pytest.fixture
def new_project(tmp_path: Path, backend: str) -> Iterator[NewProject]:
    """Factory: ``new_project(task, labels=...)`` creates a project with a unique name."""
    from truthset.services.projects import init_project

    made: list[Project] = []

    def make(task: str = "text-classification", labels: list[str] | None = None, folder: str | None = None) -> Project:
        root = tmp_path / (folder or f"p{len(made)}")
        project = init_project(root, task=task, labels=labels, name=f"t-{uuid.uuid4().hex[:12]}")
        made.append(project)
        return project

    yield make
    for p in made:
        p.close()


#: tests that take 0.75 s or more (setup included; ``pytest --durations=0`` of the quick subset
#: on the 2-core machine): marked ``slow`` here, in one place, so the quick subset
#: (``-m "not slow and not postgres"``) stays under a minute; browser tests (tests/e2e) are
#: slow as a whole. CI runs every test.
SLOW = frozenset(
    {
        "tests/cli/test_check.py::test_check_report_send_to_review_and_precision",
        "tests/cli/test_models.py::test_train_evaluate_compare_errors_card",
        "tests/data/test_drift.py::test_sms_planted_shifts_are_detected",
        "tests/data/test_duplicates.py::test_exact_clusters_partition_items_by_normalised_text",
        "tests/data/test_duplicates.py::test_normalize_is_idempotent",
        "tests/data/test_embeddings.py::test_packaged_model_finds_paraphrases_offline",
        "tests/data/test_limits.py::test_importing_truthset_leaves_the_csv_field_limit_alone",
        "tests/data/test_minhash.py::test_estimate_is_unbiased_and_within_tolerance",
        "tests/data/test_text_health.py::test_mojibake_of_any_such_text_is_detected_and_repaired",
        "tests/modeling/test_baselines.py::test_embedding_baseline_offline",
        "tests/modeling/test_baselines.py::test_fitted_pipeline_round_trips_through_skops",
        "tests/modeling/test_baselines.py::test_sample_weights_reach_the_classifier",
        "tests/modeling/test_evaluate.py::test_interval_matches_a_plain_bootstrap_with_sklearn",
        "tests/modeling/test_ner.py::test_crf_on_real_label_studio_ner",
        "tests/modeling/test_oof.py::test_text_model_is_accurate_and_finds_planted_flips",
        "tests/modeling/test_real_data.py::test_rte_majority_vote_vs_dawid_skene",
        "tests/quality/test_aggregation.py::test_dawid_skene_equals_crowdkit",
        "tests/quality/test_aggregation.py::test_glad_matches_crowdkit",
        "tests/quality/test_aggregation.py::test_mace_equals_crowdkit_when_names_sort_in_appearance_order",
        "tests/quality/test_anomalies.py::test_healthy_project_raises_nothing",
        "tests/quality/test_api.py::test_a_metric_function_gets_the_same_interval_as_the_builtin",
        "tests/quality/test_span_pairs.py::test_gold_f1_equals_span_f1_on_each_annotators_gold_items",
        "tests/quality/test_span_pairs.py::test_pairs_equal_pairwise_span_f1",
        "tests/quality/test_spans.py::test_overlap_matches_brute_force_and_bounds_exact",
        "tests/reports/test_pdf.py::test_a_hanging_chromium_times_out",
        "tests/reports/test_pdf.py::test_a_longer_report_prints_on_more_pages",
        "tests/reports/test_pdf.py::test_quality_report_prints_with_every_heading",
        "tests/reports/test_plots.py::test_any_text_gives_well_formed_svg_that_keeps_it",
        "tests/reports/test_plots.py::test_chart_is_deterministic_and_ids_follow_ident",
        "tests/reports/test_plots.py::test_chart_is_well_formed_accessible_and_small",
        "tests/reports/test_plots.py::test_same_bytes_in_a_fresh_interpreter",
        "tests/reports/test_plots.py::test_threads_draw_the_same_charts_as_one_thread",
        "tests/reports/test_render.py::test_charts_are_well_formed_with_unique_ids",
        "tests/reports/test_render.py::test_item_text_is_escaped_and_nothing_runs_or_loads",
        "tests/reports/test_render.py::test_same_bytes_in_a_fresh_interpreter",
        "tests/reports/test_render.py::test_same_input_same_bytes",
        "tests/reports/test_render.py::test_sections_in_order",
        "tests/server/test_active_http.py::test_http_submits_trigger_a_background_retrain",
        "tests/server/test_api.py::test_a_session_users_changed_role_applies_once_the_cache_entry_expires",
        "tests/server/test_api.py::test_a_waiting_queue_transaction_does_not_hold_up_other_requests",
        "tests/server/test_api.py::test_annotators_are_refused",
        "tests/server/test_api.py::test_bad_payloads_get_422_naming_the_field",
        "tests/server/test_guard.py::test_every_response_carries_the_security_headers",
        "tests/server/test_guard.py::test_pages_run_no_inline_script",
        "tests/server/test_load_smoke.py::test_acknowledged_annotations_survive_sigkill",
        "tests/server/test_login.py::test_a_good_login_clears_the_names_count",
        "tests/server/test_login.py::test_failures_from_one_address_across_names_are_bounded_too",
        "tests/server/test_login.py::test_password_checks_run_at_most_login_concurrency_at_once",
        "tests/server/test_login.py::test_repeated_failures_for_a_name_get_429_with_retry_after",
        "tests/server/test_media.py::test_a_changed_moved_or_swapped_file_is_not_served",
        "tests/server/test_media.py::test_a_csv_naming_store_files_is_rejected_in_an_image_project",
        "tests/server/test_media.py::test_a_csv_naming_store_files_serves_nothing_in_a_text_project",
        "tests/server/test_media.py::test_an_admin_push_cannot_read_another_projects_database",
        "tests/server/test_media.py::test_an_image_field_in_a_text_projects_jsonl_serves_nothing",
        "tests/server/test_media.py::test_html_and_svg_are_never_images",
        "tests/server/test_media_store_integrity.py::test_asking_for_store_files_leaves_the_store_intact",
        "tests/server/test_new_surface_security.py::test_every_new_route_checks_the_role",
        "tests/server/test_new_surface_security.py::test_hostile_input_is_a_4xx_naming_the_field",
        "tests/server/test_new_surface_security.py::test_user_supplied_strings_are_escaped_on_every_new_page",
        "tests/server/test_plain_install.py::test_app_serves_and_annotates_without_greenlet",
        "tests/server/test_sessions.py::test_another_process_honours_a_logout_within_the_cache_seconds",
        "tests/services/test_active_learning.py::test_a_retrain_is_due_after_n_new_labels_and_reorders_the_queue",
        "tests/services/test_active_learning.py::test_the_server_hook_retrains_in_the_background_and_the_cli_when_due",
        "tests/services/test_anomalies.py::test_no_issue_without_the_anomaly",
        "tests/services/test_anomalies.py::test_planted_anomaly_raises_an_issue_that_explains_itself",
        "tests/services/test_check_issues.py::test_probable_label_errors_raise_one_summary_issue",
        "tests/services/test_check_rules.py::test_each_rule_flags_exactly_the_items_that_break_it",
        "tests/services/test_checks.py::test_consensus_flags_items_whose_consensus_misses_gold",
        "tests/services/test_checks.py::test_demo_step_writes_the_report",
        "tests/services/test_checks.py::test_ids_that_follow_the_label_are_leakage",
        "tests/services/test_checks.py::test_label_issues_find_flipped_spam",
        "tests/services/test_checks.py::test_sms_copies_under_different_ids_are_found",
        "tests/services/test_checks_semantic.py::test_the_packaged_model_finds_paraphrases",
        "tests/services/test_dashboard.py::test_demo_leaves_a_dashboard_with_numbers",
        "tests/services/test_exports.py::test_csv_export_import_round_trip_property",
        "tests/services/test_exports.py::test_labelstudio_round_trip_ner",
        "tests/services/test_exports.py::test_long_format_round_trip_sms",
        "tests/services/test_gold.py::test_gold_file_matches_items_by_external_id",
        "tests/services/test_gold.py::test_gold_rule_says_what_the_threshold_compares",
        "tests/services/test_import_edges.py::test_bad_lead_times_are_rejected_rows",
        "tests/services/test_import_identity.py::test_changed_payload_under_reject_and_error",
        "tests/services/test_import_identity.py::test_crowd_judgements_are_not_duplicates",
        "tests/services/test_imports.py::test_a_large_import_builds_the_secondary_indexes_once_at_its_end",
        "tests/services/test_imports.py::test_failure_mid_import_leaves_nothing",
        "tests/services/test_imports.py::test_multilabel_and_ner_columns",
        "tests/services/test_imports.py::test_no_reader_process_outlives_a_killed_import",
        "tests/services/test_imports.py::test_reader_process_errors_reach_the_user",
        "tests/services/test_imports.py::test_reader_process_gives_the_same_result",
        "tests/services/test_imports.py::test_same_file_twice_adds_nothing",
        "tests/services/test_imports.py::test_sigkill_during_import_leaves_nothing",
        "tests/services/test_imports.py::test_sms_import_counts_and_duplicates",
        "tests/services/test_media_import.py::test_rescan_records_the_images_of_an_earlier_project",
        "tests/services/test_mlflow_log.py::test_train_logs_params_metrics_tags_and_artifacts",
        "tests/services/test_prediction_drift.py::test_batches_work_as_sides_and_errors_name_the_fix",
        "tests/services/test_prediction_drift.py::test_cli_json_and_text",
        "tests/services/test_prediction_drift.py::test_no_drift_between_random_slices_and_drift_on_a_planted_label_shift",
        "tests/services/test_qc.py::test_aggregate_warns_when_items_have_one_judgement",
        "tests/services/test_qc.py::test_sample_file_can_be_reviewed_as_it_is",
        "tests/services/test_qc.py::test_single_annotator_project_gets_a_clear_error",
        "tests/services/test_queue.py::test_batches_due_soonest_are_served_first",
        "tests/services/test_queue.py::test_concurrent_annotators_keep_every_invariant",
        "tests/services/test_queue.py::test_overlap_and_no_item_twice",
        "tests/services/test_report_checks_runs.py::test_data_card_lists_duplicates_and_the_frozen_split",
        "tests/services/test_report_checks_runs.py::test_quality_report_shows_open_findings_and_the_latest_metrics",
        "tests/services/test_reporting.py::test_report_quality_html_and_pdf",
        "tests/services/test_round_trips.py::test_conll_round_trip_keeps_ids_annotators_and_gold",
        "tests/services/test_round_trips.py::test_every_format_round_trips_a_classification_project",
        "tests/services/test_round_trips.py::test_every_format_round_trips_the_leoka_ner_export",
        "tests/services/test_round_trips.py::test_overlapping_spans_are_findings",
        "tests/services/test_runs.py::test_a_model_file_is_loaded_only_with_matching_versions_and_known_types",
        "tests/services/test_runs.py::test_compare_needs_the_same_test_items",
        "tests/services/test_runs.py::test_costs_from_the_project_file_pick_a_threshold",
        "tests/services/test_runs.py::test_gold_scoring_says_how_much_of_the_gold_file_matched",
        "tests/services/test_runs.py::test_learning_curve_answers_whether_more_labels_help",
        "tests/services/test_runs.py::test_model_card_has_the_runs_facts",
        "tests/services/test_runs.py::test_prelabels_are_never_counted_as_annotations",
        "tests/services/test_runs.py::test_same_seed_gives_identical_metrics_and_the_test_set_stays_frozen",
        "tests/services/test_runs.py::test_slices_and_errors",
        "tests/services/test_runs.py::test_stored_predictions_score_as_scikit_learn_does",
        "tests/services/test_runs.py::test_time_split_tests_on_the_latest_items",
        "tests/services/test_runs.py::test_training_refuses_what_it_cannot_do",
        "tests/services/test_runs.py::test_uncertainty_order_serves_the_most_uncertain_prelabelled_item_first",
        "tests/services/test_runs_real.py::test_rte_majority_vote_and_dawid_skene_runs_against_gold",
        "tests/services/test_runs_real.py::test_sms_demo_step_against_almeida",
        "tests/services/test_schema.py::test_a_schema_with_one_name_twice_is_refused_when_saved",
        "tests/services/test_schema.py::test_an_import_that_would_add_one_name_twice_is_refused_whole",
        "tests/services/test_split_groups.py::test_near_duplicates_stay_on_one_side",
        "tests/services/test_sql_findings_runs.py::test_v_runs_shows_a_training_run",
        "tests/services/test_sql_security.py::test_no_trick_shows_a_secret",
        "tests/services/test_sql_security.py::test_no_trick_writes",
        "tests/services/test_training_data.py::test_every_format_carries_the_same_final_labels",
        "tests/services/test_training_data.py::test_items_without_a_final_label_are_listed",
        "tests/services/test_training_tasks.py::test_image_project_trains_on_the_recorded_images",
        "tests/services/test_training_tasks.py::test_multilabel_project_trains_evaluates_and_saves_a_run",
        "tests/services/test_training_tasks.py::test_ner_project_trains_with_span_scores",
        "tests/services/test_users.py::test_logins_and_tokens_follow_the_users_status",
        "tests/services/test_users.py::test_unknown_names_cost_the_same_password_check_as_known_ones",
        "tests/store/test_db.py::test_no_wait_writers_give_up_at_once_and_touch_nothing",
        "tests/store/test_db.py::test_writers_of_two_processes_queue_on_the_file_lock",
        "tests/test_architecture.py::test_no_forbidden_import",
        "tests/test_architecture.py::test_no_import_cycle",
        "tests/test_cli.py::test_demo",
        "tests/test_cli.py::test_demo_serve_prints_working_logins",
        "tests/test_cli.py::test_init_import_status_export_guide",
        "tests/test_cli.py::test_serve_with_two_workers_shares_one_queue",
        "tests/test_readme_tour.py::test_every_tour_command_runs",
        "tests/test_tour_notebook.py::test_tour_notebook_runs_and_shows_each_step",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark PostgreSQL runs ``postgres`` and long tests ``slow`` (see ``SLOW``)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        uses_pg = "pg_url" in getattr(item, "fixturenames", ()) or (
            callspec is not None and callspec.params.get("backend") == "postgres"
        )
        if uses_pg:
            item.add_marker(pytest.mark.postgres)
        node = item.nodeid.split("[", 1)[0]
        if node in SLOW or node.startswith("tests/e2e/"):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    """With ``TRUTHSET_NO_SKIPS=1`` (set by ``.ci/run``, which installs every extra) a skipped
    test fails: a skip there would hide a missing dependency or a broken set-up."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("TRUTHSET_NO_SKIPS") == "1" and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped, but .ci/run installs everything (TRUTHSET_NO_SKIPS=1): {report.longrepr}"

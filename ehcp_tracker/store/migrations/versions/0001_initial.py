"""The first schema: cases (one wide row each), import runs and the change log.

This is the schema ``metadata.create_all`` built before migrations existed; ``db.init_db`` stamps
such a database with this revision and upgrades it from here.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assessment",
        sa.Column('request_id', sa.String(64), primary_key=True),
        sa.Column('person_id', sa.String(64), nullable=True),
        sa.Column('request_received', sa.Date(), nullable=True),
        sa.Column('caseworker', sa.String(200), nullable=True),
        sa.Column('team', sa.String(200), nullable=True),
        sa.Column('request_outcome', sa.String(40), nullable=True),
        sa.Column('request_outcome_date', sa.Date(), nullable=True),
        sa.Column('ep_advice_requested', sa.Date(), nullable=True),
        sa.Column('ep_advice_received', sa.Date(), nullable=True),
        sa.Column('health_advice_requested', sa.Date(), nullable=True),
        sa.Column('health_advice_received', sa.Date(), nullable=True),
        sa.Column('social_care_advice_requested', sa.Date(), nullable=True),
        sa.Column('social_care_advice_received', sa.Date(), nullable=True),
        sa.Column('education_advice_requested', sa.Date(), nullable=True),
        sa.Column('education_advice_received', sa.Date(), nullable=True),
        sa.Column('assessment_outcome', sa.String(40), nullable=True),
        sa.Column('assessment_outcome_date', sa.Date(), nullable=True),
        sa.Column('draft_plan_issued', sa.Date(), nullable=True),
        sa.Column('final_plan_issued', sa.Date(), nullable=True),
        sa.Column('exception_reason', sa.String(40), nullable=True),
        sa.Column('decision_exception', sa.String(40), nullable=True),
        sa.Column('ep_advice_exception', sa.String(40), nullable=True),
        sa.Column('health_advice_exception', sa.String(40), nullable=True),
        sa.Column('social_care_advice_exception', sa.String(40), nullable=True),
        sa.Column('education_advice_exception', sa.String(40), nullable=True),
        sa.Column('closed_date', sa.Date(), nullable=True),
        sa.Column('closed_reason', sa.String(200), nullable=True),
        sa.Column('looked_after', sa.Boolean(), nullable=True),
        sa.Column('youth_justice', sa.Boolean(), nullable=True),
        sa.Column('camhs', sa.Boolean(), nullable=True),
        sa.Column('placed_out_of_area', sa.Boolean(), nullable=True),
        sa.Column('first_run_id', sa.Integer(), nullable=False),
        sa.Column('last_run_id', sa.Integer(), nullable=False),
        sa.Column('missing_since_run_id', sa.Integer(), nullable=True),
    )
    op.create_index('ix_assessment_caseworker', 'assessment', ['caseworker'])
    op.create_index('ix_assessment_person', 'assessment', ['person_id'])
    op.create_index('ix_assessment_team', 'assessment', ['team'])
    op.create_table(
        "import_run",
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('kind', sa.String(20), nullable=True),
        sa.Column('file_name', sa.String(255), nullable=False),
        sa.Column('file_sha256', sa.String(64), nullable=True),
        sa.Column('profile', sa.String(100), nullable=True),
        sa.Column('as_of', sa.Date(), nullable=False),
        sa.Column('status', sa.String(20), nullable=False),
        sa.Column('rows_read', sa.Integer(), nullable=True),
        sa.Column('cases_new', sa.Integer(), nullable=True),
        sa.Column('cases_changed', sa.Integer(), nullable=True),
        sa.Column('cases_unchanged', sa.Integer(), nullable=True),
        sa.Column('cases_missing', sa.Integer(), nullable=True),
        sa.Column('rows_rejected', sa.Integer(), nullable=True),
        sa.Column('rule_book', sa.String(20), nullable=True),
    )
    op.create_table(
        "review",
        sa.Column('review_id', sa.String(64), primary_key=True),
        sa.Column('person_id', sa.String(64), nullable=True),
        sa.Column('caseworker', sa.String(200), nullable=True),
        sa.Column('team', sa.String(200), nullable=True),
        sa.Column('plan_issued', sa.Date(), nullable=True),
        sa.Column('last_review', sa.Date(), nullable=True),
        sa.Column('ncy', sa.Integer(), nullable=True),
        sa.Column('date_of_birth', sa.Date(), nullable=True),
        sa.Column('phase_transfer', sa.String(40), nullable=True),
        sa.Column('transfer_date', sa.Date(), nullable=True),
        sa.Column('review_meeting', sa.Date(), nullable=True),
        sa.Column('decision_notified', sa.Date(), nullable=True),
        sa.Column('decision', sa.String(40), nullable=True),
        sa.Column('amendment_notice_sent', sa.Date(), nullable=True),
        sa.Column('amended_plan_issued', sa.Date(), nullable=True),
        sa.Column('ceased_date', sa.Date(), nullable=True),
        sa.Column('exception_reason', sa.String(40), nullable=True),
        sa.Column('looked_after', sa.Boolean(), nullable=True),
        sa.Column('youth_justice', sa.Boolean(), nullable=True),
        sa.Column('camhs', sa.Boolean(), nullable=True),
        sa.Column('placed_out_of_area', sa.Boolean(), nullable=True),
        sa.Column('first_run_id', sa.Integer(), nullable=False),
        sa.Column('last_run_id', sa.Integer(), nullable=False),
        sa.Column('missing_since_run_id', sa.Integer(), nullable=True),
    )
    op.create_index('ix_review_caseworker', 'review', ['caseworker'])
    op.create_index('ix_review_person', 'review', ['person_id'])
    op.create_index('ix_review_team', 'review', ['team'])
    op.create_table(
        "change_log",
        sa.Column('id', sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column('run_id', sa.Integer(), sa.ForeignKey('import_run.id'), nullable=False),
        sa.Column('kind', sa.String(20), nullable=False),
        sa.Column('case_id', sa.String(64), nullable=False),
        sa.Column('field', sa.String(64), nullable=False),
        sa.Column('old_value', sa.String(200), nullable=True),
        sa.Column('new_value', sa.String(200), nullable=True),
    )
    op.create_index('ix_change_log_case', 'change_log', ['kind', 'case_id'])
    op.create_index('ix_change_log_run', 'change_log', ['run_id'])

def downgrade() -> None:
    for table in ("change_log", "review", "assessment", "import_run"):
        op.drop_table(table)

"""The demo: a spam-filter project built from the bundled SMS Spam Collection.

Each step of the loop extends this demo, so it always walks everything truthset does.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from truthset.core.config import PROJECT_FILE
from truthset.core.schema import Label, LabelSchema
from truthset.services.import_report import ImportReport
from truthset.services.imports import ImportOptions, import_file
from truthset.services.projects import Project, init_project, open_project

DEMO_SCHEMA = LabelSchema(
    instructions=(
        "Read the whole message, then decide whether the sender wanted something from the "
        "recipient that the recipient did not ask for. Judge the message, not the sender."
    ),
    labels=[
        Label(
            name="ham",
            definition="A personal or expected message: friends, family, work, services the recipient uses.",
            include=["Ok lar... Joking wif u oni...", "Your bank statement is ready (from a bank you use)."],
            exclude=["Free entry in a weekly competition, text WIN to 80086 — that is spam."],
            tie_break="If the message could plausibly come from someone the recipient knows, choose ham.",
            hotkey="1",
            color="#0072B2",
        ),
        Label(
            name="spam",
            definition="Unsolicited bulk or commercial messages: prizes, premium-rate numbers, sales, scams.",
            include=["WINNER!! You have been selected to receive a £900 prize reward! Call 09061701461."],
            exclude=["A friend forwarding a joke — that is ham, even if annoying."],
            tie_break="Premium-rate numbers, 'claim your prize' or 'text STOP' mean spam.",
            hotkey="2",
            color="#D55E00",
        ),
    ],
)


def demo_file() -> Path:
    return Path(str(resources.files("truthset") / "demo_data" / "SMSSpamCollection.tsv"))


def build_demo(folder: Path | str) -> tuple[Project, ImportReport]:
    """Create (or reopen) the demo project in ``folder`` and import the SMS data into it."""
    folder = Path(folder)
    if (folder / PROJECT_FILE).exists():
        project = open_project(folder)
    else:
        project = init_project(folder, task="text-classification", name="sms-spam-demo")
        # two annotators per message, so agreement and review have something to show
        queue = project.config.queue.model_copy(update={"overlap": 2})
        project.save_config(project.config.model_copy(update={"schema_": DEMO_SCHEMA, "queue": queue}))
        project.close()
        project = open_project(folder)
    report = import_file(project, demo_file(), ImportOptions(annotator="uci-original"))
    return project, report


DEMO_USERS = (("admin", "admin"), ("reviewer", "reviewer"), ("ann", "annotator"), ("bob", "annotator"))


def demo_users(project: Project) -> list[tuple[str, str, str]]:
    """Give the demo's users fresh random passwords; returns (name, role, password) to print once."""
    import secrets

    from truthset.core.errors import Conflict
    from truthset.services.users import add_user, set_password

    out = []
    for name, role in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        try:
            add_user(project, name, role=role, password=password)
        except Conflict:  # the user exists from an earlier demo run: a new password
            set_password(project, name, password)
        out.append((name, role, password))
    return out

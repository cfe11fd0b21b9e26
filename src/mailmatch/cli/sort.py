"""``mailmatch sort``: categories, rules, running the sorter, corrections, explanations.

Thin: parse, call :class:`mailmatch.sorting.service.SortService`, print. Every command takes
``--json``; the JSON keys are the contract scripts rely on.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from mailmatch.cli.common import JsonOpt, _emit, _run, _settings, _workspace, out
from mailmatch.errors import InvalidInput

sort_app = typer.Typer(no_args_is_help=True, help="Sort mail into categories.")
categories_app = typer.Typer(no_args_is_help=True, help="The workspace's categories.")
rules_app = typer.Typer(no_args_is_help=True, help="Sorting rules (the first match wins).")
sort_app.add_typer(categories_app, name="categories")
sort_app.add_typer(rules_app, name="rules")


def _sorter(as_json: bool) -> Any:
    from mailmatch.sorting.service import SortService

    settings = _settings()
    db, workspace_id = _run(lambda: _workspace(settings), as_json)
    return SortService(db, workspace_id)


# -- categories -------------------------------------------------------------------------------


@categories_app.command("list")
def categories_list(as_json: JsonOpt = False) -> None:
    """The categories, with how many messages each holds."""
    sorter = _sorter(as_json)
    cats = _run(sorter.categories.list, as_json)
    if as_json:
        _emit([c.to_json() for c in cats])
        return
    if not cats:
        out.print("No categories: add one with mailmatch sort categories add NAME")
        return
    table = Table(title="Categories")
    for column in ("name", "messages", "description"):
        table.add_column(column)
    for c in cats:
        table.add_row(c.name, str(c.messages), c.description)
    out.print(table)


@categories_app.command("add")
def categories_add(
    name: str,
    description: Annotated[str, typer.Option(help="What belongs here.")] = "",
    as_json: JsonOpt = False,
) -> None:
    sorter = _sorter(as_json)
    cat = _run(lambda: sorter.categories.add(name, description), as_json)
    _emit(cat.to_json()) if as_json else out.print(f"Added the category {cat.name}.")


@categories_app.command("rename")
def categories_rename(old: str, new: str, as_json: JsonOpt = False) -> None:
    sorter = _sorter(as_json)
    cat = _run(lambda: sorter.categories.rename(old, new), as_json)
    _emit(cat.to_json()) if as_json else out.print(f"Renamed {old} to {cat.name}.")


@categories_app.command("remove")
def categories_remove(name: str, as_json: JsonOpt = False) -> None:
    """Remove a category: its messages become uncategorized, its rules go with it."""
    sorter = _sorter(as_json)
    cat = _run(lambda: sorter.categories.remove(name), as_json)
    if as_json:
        _emit(cat.to_json() | {"removed": True})
    else:
        out.print(f"Removed {cat.name}; its {cat.messages} message(s) are uncategorized now.")


# -- rules ------------------------------------------------------------------------------------


@rules_app.command("list")
def rules_list(as_json: JsonOpt = False) -> None:
    sorter = _sorter(as_json)
    rules = _run(sorter.rules, as_json)
    if as_json:
        _emit(rules)
        return
    if not rules:
        out.print("No sorting rules yet: mailmatch sort rules add --category C --from PATTERN")
        return
    table = Table(title="Sorting rules (tried in this order; the first match wins)")
    for column in ("id", "#", "category", "rule"):
        table.add_column(column)
    for r in rules:
        table.add_row(str(r["id"]), str(r["position"]), r["category"], r["description"])
    out.print(table)


@rules_app.command("add")
def rules_add(
    category: Annotated[str, typer.Option(help="The category the rule sorts into.")],
    from_: Annotated[
        str | None,
        typer.Option("--from", help="Sender address: shell pattern (*@stripe.com) or re:REGEX."),
    ] = None,
    domain: Annotated[str | None, typer.Option(help="Sender domain and its subdomains.")] = None,
    to: Annotated[
        str | None, typer.Option(help="Recipient (one of our mailboxes): pattern or re:REGEX.")
    ] = None,
    subject: Annotated[str | None, typer.Option(help="Regular expression on the subject.")] = None,
    body: Annotated[str | None, typer.Option(help="Regular expression on the body text.")] = None,
    header: Annotated[
        str | None, typer.Option(help="NAME (present) or NAME=REGEX, e.g. List-Id=github")
    ] = None,
    attachment: Annotated[
        str | None, typer.Option(help="yes: has an attachment; no: has none.")
    ] = None,
    folder: Annotated[str | None, typer.Option(help="The server folder it came from.")] = None,
    matched: Annotated[
        str | None, typer.Option(help="Matched to a contact, company, deal or any.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a rule (at the end of the order) and apply it to the mail already stored."""
    given = {
        "from": from_,
        "domain": domain,
        "to": to,
        "subject": subject,
        "body": body,
        "header": header,
        "attachment": attachment,
        "folder": folder,
        "matched": matched,
    }
    kind, value = _run(lambda: _one_rule(given), as_json)
    sorter = _sorter(as_json)
    rule = _run(lambda: sorter.add_rule(category, kind, value), as_json)
    if as_json:
        _emit(rule)
    else:
        out.print(
            f"Rule {rule['id']}: {rule['description']} -> {rule['category']}; "
            f"{rule['applied']} message(s) sorted by it now."
        )


def _one_rule(given: dict[str, str | None]) -> tuple[str, str]:
    """The one rule option given (kind, value); a rule looks at exactly one thing."""
    chosen = [(kind, value) for kind, value in given.items() if value is not None]
    if len(chosen) != 1:
        raise InvalidInput("give exactly one of " + ", ".join(f"--{kind}" for kind in given))
    return chosen[0]


@rules_app.command("remove")
def rules_remove(rule_id: int, as_json: JsonOpt = False) -> None:
    sorter = _sorter(as_json)
    result = _run(lambda: sorter.remove_rule(rule_id), as_json)
    if as_json:
        _emit(result)
    else:
        out.print(f"Removed rule {rule_id}; {result['resorted']} message(s) re-sorted.")


@rules_app.command("test")
def rules_test(rule_id: int, as_json: JsonOpt = False) -> None:
    """A dry run: what the rule would change (nothing is written)."""
    sorter = _sorter(as_json)
    result = _run(lambda: sorter.test_rule(rule_id), as_json)
    if as_json:
        _emit(result)
        return
    out.print(
        f"Rule {rule_id} ({result['description']} -> {result['category']}) matches "
        f"{result['matches']} message(s); sorting now would change {result['would_change']}."
    )
    if result["changes"]:
        table = Table()
        for column in ("id", "from", "subject", "now", "would be", "why"):
            table.add_column(column)
        for c in result["changes"]:
            table.add_row(
                str(c["id"]),
                c["from"],
                c["subject"][:50],
                c["from_category"],
                c["to_category"],
                c["reason"],
            )
        out.print(table)


# -- sorting ----------------------------------------------------------------------------------


@sort_app.command("run")
def sort_run(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would change.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Re-sort every stored message (corrections made by a person stay)."""
    sorter = _sorter(as_json)
    report = _run(lambda: sorter.run(dry_run=dry_run), as_json)
    data = report.to_json()
    if as_json:
        _emit(data)
        return
    by = data["by"]
    verb = "Would sort" if dry_run else "Sorted"
    out.print(
        f"{verb} {data['sorted']} message(s): {by['rule']} by rules, {by['signal']} by "
        f"signals, {by['model']} by the model; {data['review']} to review, "
        f"{data['uncategorized']} uncategorized, {data['kept']} corrected by a person kept; "
        f"{data['changed']} changed, in {data['seconds']:.2f} s."
    )


@sort_app.command("correct")
def sort_correct(message_id: int, category: str, as_json: JsonOpt = False) -> None:
    """Put a message in a category: the model learns it at once."""
    sorter = _sorter(as_json)
    result = _run(lambda: sorter.correct(message_id, category), as_json)
    data = result.to_json()
    if as_json:
        _emit(data)
        return
    (c,) = data["corrected"]
    was = f" (was {c['was']} by {c['was_source']})" if c["was"] else ""
    out.print(
        f"Message {c['message']} is {c['category']} now{was}; "
        f"{data['resorted']} other message(s) re-sorted with what the model learned."
    )


@sort_app.command("explain")
def sort_explain(message_id: int, as_json: JsonOpt = False) -> None:
    """Why a message is in its category, and the features that weighed most."""
    sorter = _sorter(as_json)
    data = _run(lambda: sorter.explain(message_id), as_json)
    if as_json:
        _emit(data)
        return
    out.print(f"Message {message_id}: {data['category']} ({data['state']}, {data['source']})")
    out.print(f"  why: {data['reason']}")
    if data["model"]:
        model = data["model"]
        out.print(f"  model: {model['category']} at {model['confidence']:.0%}")
    for f in data["features"]:
        out.print(f"    {f['weight']:+.3f}  {f['feature']}")


@sort_app.command("review")
def sort_review(
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The messages the model was unsure of, least sure first."""
    sorter = _sorter(as_json)
    rows = _run(lambda: sorter.review(limit=limit), as_json)
    if as_json:
        _emit(rows)
        return
    if not rows:
        out.print("The review queue is empty.")
        return
    table = Table(title="To review (correct with: mailmatch sort correct ID CATEGORY)")
    for column in ("id", "from", "subject", "guess", "sure"):
        table.add_column(column)
    for r in rows:
        sure = f"{r['confidence']:.0%}" if r["confidence"] is not None else ""
        table.add_row(str(r["id"]), r["from"] or "", (r["subject"] or "")[:60], r["guess"], sure)
    out.print(table)


@sort_app.command("stats")
def sort_stats(as_json: JsonOpt = False) -> None:
    """Messages per category and source, and the model's accuracy on recent corrections."""
    sorter = _sorter(as_json)
    data = _run(sorter.stats, as_json)
    if as_json:
        _emit(data)
        return
    table = Table(title=f"Sorting: {data['messages']} message(s)")
    table.add_column("category")
    table.add_column("messages")
    for c in data["categories"]:
        table.add_row(c["name"], str(c["messages"]))
    table.add_row("(to review)", str(data["review"]))
    table.add_row("(uncategorized)", str(data["uncategorized"]))
    table.add_row("(not sorted yet)", str(data["unsorted"]))
    out.print(table)
    by = data["by"]
    out.print(
        f"By rules {by['rule']}, signals {by['signal']}, the model {by['model']}, "
        f"corrections {by['correction']}; {data['examples']} example(s) learned."
    )
    acc = data["accuracy"]
    if acc["accuracy"] is None:
        out.print("Accuracy: not measured yet (no correction made after the model was ready).")
    else:
        out.print(
            f"Accuracy on the last {acc['measured_on']} correction(s): {acc['accuracy']:.1%} "
            "(what the model guessed just before each)."
        )

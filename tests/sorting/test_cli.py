"""The ``mailmatch sort`` and ``messages list`` contract: commands, JSON keys, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli import run_mailmatch
from tests.sorting.test_service import ham, mail, spam


def j(home: Path, *args: str) -> object:
    result = run_mailmatch(home, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_sorting_from_the_command_line(tmp_path: Path) -> None:
    home, box = tmp_path / "home", tmp_path / "mail"
    for sub in ("cur", "new", "tmp"):
        (box / sub).mkdir(parents=True)
    raws = [spam(i) for i in range(8)] + [ham(i) for i in range(100, 108)]
    raws.append(mail(900, "Digest", "news", "news@l.example", List_Id="<l.example>"))
    for i, raw in enumerate(raws):
        (box / "cur" / f"{i}.eml:2,S").write_bytes(raw)
    assert run_mailmatch(home, "import-file", str(box)).returncode == 0

    listed = j(home, "messages", "list", "--all")
    assert isinstance(listed, list) and len(listed) == 17
    assert set(listed[0]) == {
        "id", "message_id", "subject", "from", "date", "folders", "category", "category_source",
    }  # fmt: skip
    digest = next(m for m in listed if m["subject"] == "Digest")
    assert (digest["category"], digest["category_source"]) == ("newsletter", "signal")

    by_subject = {m["subject"]: m["id"] for m in listed}
    for raw_i, raw in enumerate(raws[:16]):
        subject = raw.split(b"Subject: ")[1].split(b"\n")[0].decode()
        label = "spam" if raw_i < 8 else "personal"
        corrected = j(home, "sort", "correct", str(by_subject[subject]), label)
        assert isinstance(corrected, dict) and set(corrected) == {"corrected", "resorted"}

    report = j(home, "sort", "run", "--dry-run")
    assert isinstance(report, dict)
    assert {"sorted", "by", "review", "seconds"} <= set(report)
    assert set(report["by"]) == {"rule", "signal", "model"}

    why = j(home, "sort", "explain", str(digest["id"]))
    assert isinstance(why, dict)
    assert {"category", "source", "reason", "confidence", "features"} <= set(why)

    stats = j(home, "sort", "stats")
    assert isinstance(stats, dict) and stats["examples"] == 16
    assert isinstance(j(home, "sort", "review"), list)

    added = j(home, "sort", "rules", "add", "--category", "billing", "--domain", "l.example")
    assert isinstance(added, dict) and added["applied"] == 1
    assert j(home, "messages", "list", "--category", "billing") == [
        m | {"category": "billing", "category_source": "rule"} for m in [digest]
    ]
    found = j(home, "messages", "search", "Digest", "--category", "billing")
    assert isinstance(found, list) and [m["id"] for m in found] == [digest["id"]]

    assert j(home, "sort", "categories", "add", "orders")
    names = [c["name"] for c in j(home, "sort", "categories", "list")]  # type: ignore[union-attr]
    assert "orders" in names
    missing = run_mailmatch(home, "sort", "correct", str(digest["id"]), "nope", "--json")
    assert missing.returncode != 0 and "no category" in missing.stdout + missing.stderr
    bad = run_mailmatch(home, "sort", "rules", "add", "--category", "billing", "--subject", "(")
    assert bad.returncode != 0 and "not a regular expression" in bad.stdout + bad.stderr

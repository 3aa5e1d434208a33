"""The page model of the data card (``truthset report data-card``).

Input (a dict)::

    {"name": "sms",                                   # required
     "title": "...", "generated": "...", "description": "What the data is and is for.",
     "summary": {"items": 5574, "annotations": 16722, "labels": 2},      # key -> value
     "sources": [{"source": "SMSSpamCollection.tsv", "rows": 5574, "imported": "...",
                  "license": "CC BY 4.0", "notes": "..."}, ...],     # any columns
     "collection": {"method": "three annotators per item", "annotators": 12, ...},
     "schema": {"version": 3,
                "labels": [{"name": "spam", "description": "..."}, ...] | ["ham", "spam"],
                "versions": [{"version": 1, "created": "...", "change": "..."}, ...]},
     "splits": [{"split": "train", "items": 4000, "labels": {"ham": 3460, "spam": 540}}, ...],
     "label_distribution": {"ham": 4825, "spam": 747},
     "duplicates": {"exact": 403, "near": 25, "conflicting_labels": 0,
                    "across_splits": 0, "notes": "..."},
     "duplicate_clusters": [{"kind": "exact duplicates", "items": 3, "ids": "sms7, sms99"}, ...],
     "model_split": {"run": 4, "method": "frozen_test", "seed": 0, "created": "...",
                     "sizes": [{"side": "train", "items": 3900}, {"side": "validation", ...}, ...]},
     "limitations": ["English only", ...]}

Why these sections: they are the questions of "Datasheets for Datasets" (Gebru et al. 2021)
that a team can answer from its own records -- where the data came from, how it was
labelled, against which definitions, how it is split, what is duplicated -- plus the known
limitations people should read before they train on it.
"""

from __future__ import annotations

from typing import Any

from truthset.reports import plots
from truthset.reports._common import Figures, columns_of, counts, items_of
from truthset.reports._format import as_records, plain, require


def _schema(spec: Any) -> dict[str, Any] | None:
    if not isinstance(spec, dict):
        return None
    labels = []
    for lab in items_of(spec.get("labels")):
        labels.append(
            {"name": lab.get("name"), "description": lab.get("description")}
            if isinstance(lab, dict)
            else {"name": str(lab), "description": None}
        )
    versions = as_records(spec.get("versions"))
    return {
        "version": spec.get("version"),
        "labels": labels,
        "versions": versions,
        "version_columns": columns_of(versions),
    }


def _splits(rows: list[dict[str, Any]]) -> dict[str, Any]:
    names: list[str] = []
    out = []
    for r in rows:
        bc = dict(counts(r.get("labels")))
        names += [k for k in bc if k not in names]
        out.append({"split": str(r.get("split")), "items": r.get("items"), "counts": bc})
    return {"rows": out, "labels": names}


def data_card_view(card: Any) -> dict[str, Any]:
    """The template context of ``data_card.html`` (see the module docstring for the input)."""
    c = plain(card)
    require(c, ("name",), "the data card")
    figs = Figures("data")
    sources = as_records(c.get("sources"))
    splits = _splits(as_records(c.get("splits")))
    dist = counts(c.get("label_distribution"))
    split_chart = None
    if len(splits["rows"]) > 1 and all(isinstance(r["items"], (int, float)) for r in splits["rows"]):
        split_chart = figs(
            plots.bar_chart,
            [r["split"] for r in splits["rows"]],
            [r["items"] for r in splits["rows"]],
            title="Items per split",
            xlabel="items",
        )
    sections = [
        ("summary", "Summary"),
        ("sources", "Sources"),
        ("collection", "Collection"),
        ("schema", "Label schema"),
        ("splits", "Splits"),
        ("duplicates", "Duplicates"),
        ("limitations", "Known limitations"),
    ]
    return {
        "kind": "data-card",
        "kind_name": "data card",
        "title": c.get("title") or f"Data card: {c['name']}",
        "subtitle": c.get("subtitle") or "",
        "generated": c.get("generated"),
        "toc": sections,
        "description": c.get("description"),
        "summary": c.get("summary") or {},
        "sources": sources,
        "source_columns": columns_of(sources),
        "collection": c.get("collection") or {},
        "schema": _schema(c.get("schema")),
        "splits": splits,
        "split_chart": split_chart,
        "distribution": [{"label": k, "count": v} for k, v in dist],
        "distribution_chart": figs(
            plots.bar_chart, [k for k, _ in dist], [v for _, v in dist], title="Labels, all items", xlabel="items"
        )
        if dist
        else None,
        "duplicates": c.get("duplicates") or {},
        "duplicate_clusters": as_records(c.get("duplicate_clusters")),
        "model_split": c.get("model_split") or None,
        "limitations": items_of(c.get("limitations")),
    }

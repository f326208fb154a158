"""A study as readable terminal text, in the sections of a registry record page."""

from __future__ import annotations

import textwrap

from .normalize import unescape_markdown
from .record import Study, display_title

WIDTH = 96


def _wrap(text: str, indent: str = "  ") -> str:
    text = unescape_markdown(text)
    paras = [p.strip() for p in text.replace("\r", "").split("\n\n") if p.strip()]
    return "\n\n".join(
        textwrap.fill(" ".join(p.split()), WIDTH, initial_indent=indent, subsequent_indent=indent)
        for p in paras
    )


def _human(value: str | None) -> str:
    return value.replace("_", " ").capitalize() if value else "—"


def render(study: Study, source: str, last_update: str) -> str:
    p = study.protocol_section
    ident = p.identification_module
    status = p.status_module
    design = p.design_module
    desc = p.description_module
    sponsor = p.sponsor_collaborators_module
    elig = p.eligibility_module
    arms = p.arms_interventions_module
    contacts = p.contacts_locations_module
    out: list[str] = []

    def section(title: str, body: str) -> None:
        if body.strip():
            out.append(f"\n{title}\n{'-' * len(title)}\n{body}")

    out.append(display_title(study))
    out.append("=" * min(len(out[0]), WIDTH))
    first = status.study_first_post_date_struct.date if status and status.study_first_post_date_struct else None
    out.append(f"ClinicalTrials.gov (US) · {ident.nct_id}" + (f" · first posted {first}" if first else ""))
    if ident.official_title and ident.official_title != out[0]:
        out.append(_wrap(ident.official_title, ""))
    if desc and desc.brief_summary:
        section("Summary", _wrap(desc.brief_summary))
    if desc and desc.detailed_description:
        section("Description", _wrap(desc.detailed_description))

    facts: list[tuple[str, str]] = [("NCT number", ident.nct_id)]
    if design:
        facts.append(("Study type", _human(design.study_type)))
        facts.append(("Phase", ", ".join(_human(x) for x in design.phases or []) or "—"))
    if sponsor and sponsor.lead_sponsor:
        facts.append(("Sponsor", sponsor.lead_sponsor.name or "—"))
    for c in (contacts.central_contacts or [])[:1] if contacts else []:
        facts.append(("Contact", " · ".join(x for x in (c.name, c.phone, c.email) if x)))
    if status:
        facts.append(("Status", _human(status.overall_status)))
        for label, ds in (("Start date", status.start_date_struct),
                          ("Completion date", status.completion_date_struct)):
            if ds and ds.date:
                facts.append((label, ds.date + (f" ({ds.type.lower()})" if ds.type else "")))
    if design and design.enrollment_info and design.enrollment_info.count is not None:
        facts.append(("Enrollment", str(design.enrollment_info.count)))
    section("Key facts", "\n".join(f"  {k:<16} {v}" for k, v in facts))

    if design and design.design_info:
        di = design.design_info
        rows = [("Allocation", di.allocation), ("Intervention model", di.intervention_model),
                ("Masking", di.masking_info.masking if di.masking_info else None),
                ("Primary purpose", di.primary_purpose)]
        section("Study design", "\n".join(f"  {k:<20} {_human(v)}" for k, v in rows if v))

    conds = p.conditions_module
    meshes = []
    if study.derived_section and study.derived_section.condition_browse_module:
        meshes = [m.term for m in study.derived_section.condition_browse_module.meshes or [] if m.term]
    lines = []
    if conds and conds.conditions:
        lines.append("  Conditions: " + "; ".join(conds.conditions))
    if meshes:
        lines.append("  MeSH terms: " + "; ".join(meshes))
    if conds and conds.keywords:
        lines.append("  Keywords:   " + "; ".join(conds.keywords))
    section("Conditions", "\n".join(lines))

    if arms:
        lines = []
        for a in arms.arm_groups or []:
            lines.append(f"  [{_human(a.type)}] {a.label}")
            if a.description:
                lines.append(_wrap(a.description, "      "))
        for i in arms.interventions or []:
            lines.append(f"  • {_human(i.type)}: {i.name}")
        section("Arms and interventions", "\n".join(lines))

    outcomes = p.outcomes_module
    if outcomes:
        lines = []
        for label, items in (("Primary", outcomes.primary_outcomes), ("Secondary", outcomes.secondary_outcomes)):
            for o in items or []:
                lines.append(f"  {label}: {o.measure}" + (f" [{o.time_frame}]" if o.time_frame else ""))
        section("Outcomes", "\n".join(lines))

    if elig:
        lines = [f"  Sex: {_human(elig.sex)}   Ages: {elig.minimum_age or 'no minimum'} to "
                 f"{elig.maximum_age or 'no maximum'}   Healthy volunteers: "
                 f"{'yes' if elig.healthy_volunteers else 'no'}"]
        if elig.eligibility_criteria:
            lines.append(textwrap.indent(unescape_markdown(elig.eligibility_criteria.strip()), "  "))
        section("Eligibility", "\n".join(lines))

    if contacts and contacts.locations:
        lines = [
            "  " + ", ".join(x for x in (loc.facility, loc.city, loc.state, loc.country) if x)
            for loc in contacts.locations[:20]
        ]
        if len(contacts.locations) > 20:
            lines.append(f"  … and {len(contacts.locations) - 20} more")
        section(f"Locations ({len(contacts.locations)})", "\n".join(lines))

    out.append(f"\nSource: {source} · last updated {last_update or 'unknown'}")
    out.append(f"Official record: https://clinicaltrials.gov/study/{ident.nct_id}")
    out.append("The registry record may have changed since this copy was taken.")
    return "\n".join(out)

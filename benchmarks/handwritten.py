"""The baseline: the loop users write today to copy an API into Django models, without pyck.

It pages through ``/members`` with a ``requests.Session`` and calls ``update_or_create`` once per member. A
member's party, and a party's region, are fetched with one GET each and written with ``update_or_create`` the
first time they are met; a dict per run remembers them, so each is fetched once per run. That cache, the reused
connection (the references go through the same session) and the index on ``external_id`` make it a generous
baseline: the simplest loops fetch the party again for every member.

With ``atomic_pages=True`` each page is written in one transaction: a variant a user who knows about commit
costs might write, run by the benchmark as ``handwritten-atomic`` to tell the per-row commits apart from the
per-row queries.

Import it after ``django.setup()``: it uses the benchmark's models.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import requests
from django.db import transaction

from benchmarks.benchapp.models import PlainMember, PlainParty, PlainRegion

__all__ = ["HandwrittenResult", "sync_handwritten"]


@dataclass
class HandwrittenResult:
    """What one run of the loop did."""

    created: int = 0
    updated: int = 0


def sync_handwritten(
    base_url: str, page_size: int = 100, timeout: float = 30.0, *, atomic_pages: bool = False
) -> HandwrittenResult:
    """Copy every member, and the parties and regions they refer to, from the API at ``base_url``.

    Each ``update_or_create`` commits on its own unless ``atomic_pages`` wraps every page in one transaction.
    """
    result = HandwrittenResult()
    session = requests.Session()
    regions: dict[int, PlainRegion] = {}
    parties: dict[int, PlainParty] = {}

    def region(region_id: int) -> PlainRegion:
        if region_id not in regions:
            response = session.get(f"{base_url}/regions/{region_id}/", timeout=timeout)
            response.raise_for_status()
            data = response.json()
            regions[region_id], _ = PlainRegion.objects.update_or_create(
                external_id=data["id"], defaults={"name": data["name"], "code": data["code"]}
            )
        return regions[region_id]

    def party(party_id: int) -> PlainParty:
        if party_id not in parties:
            response = session.get(f"{base_url}/parties/{party_id}/", timeout=timeout)
            response.raise_for_status()
            data = response.json()
            parties[party_id], _ = PlainParty.objects.update_or_create(
                external_id=data["id"],
                defaults={"name": data["name"], "colour": data["colour"], "region": region(data["region"])},
            )
        return parties[party_id]

    page = 1
    while True:
        response = session.get(f"{base_url}/members", params={"page": page, "page_size": page_size}, timeout=timeout)
        response.raise_for_status()
        listing: dict[str, Any] = response.json()
        with transaction.atomic() if atomic_pages else nullcontext():
            for item in listing["items"]:
                _, created = PlainMember.objects.update_or_create(
                    external_id=item["id"],
                    defaults={
                        "name": item["name"],
                        "membership_number": item["membership_number"],
                        "joined_on": date.fromisoformat(item["joined_on"]),
                        "active": item["active"],
                        "dues": Decimal(item["dues"]),
                        "nickname": item["nickname"],
                        "party": party(item["party"]) if item["party"] is not None else None,
                    },
                )
                if created:
                    result.created += 1
                else:
                    result.updated += 1
        if page >= listing["total_pages"]:
            break
        page += 1
    return result

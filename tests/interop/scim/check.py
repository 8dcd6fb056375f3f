"""Runs scim2-tester's compliance checks against one org's SCIM endpoint and prints one JSON
line per check: {"title", "status", "reason", "resource_type", "tags"}.

Usage: check.py <scim base URL> <bearer token> <email domain>

The service refuses a SCIM user whose email is outside the org's verified domains (a security
rule, not a protocol matter), and scim2-tester makes random addresses at random domains. So
the addresses it generates are moved to <email domain>, which the caller has verified for the
org; nothing else about the checks is changed.
"""

import json
import sys
import uuid

import httpx2
import scim2_tester.checkers.patch_add as patch_add
import scim2_tester.checkers.patch_replace as patch_replace
import scim2_tester.filling as filling
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server

base_url, token, domain = sys.argv[1], sys.argv[2], sys.argv[3]

original = filling.generate_random_value


def at_verified_domain(context, path, mutability=None, required=None):
    value = original(context, path, mutability=mutability, required=required)
    if str(path).endswith("emails.value") and isinstance(value, str) and "@" in value:
        return f"{uuid.uuid4()}@{domain}"
    return value


filling.generate_random_value = at_verified_domain
patch_add.generate_random_value = at_verified_domain
patch_replace.generate_random_value = at_verified_domain

http = httpx2.Client(
    base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
)
client = SyncSCIMClient(http)
for result in check_server(client):
    print(
        json.dumps(
            {
                "title": result.title,
                "status": result.status.name,
                "reason": result.reason,
                "resource_type": result.resource_type,
                "tags": sorted(result.tags),
            }
        )
    )

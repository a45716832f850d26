"""Prepares a moto S3 server for the remote-file tests: two IAM users, one allowed every S3 action and one
allowed nothing, a bucket, and an object. moto authenticates requests once its first
INITIAL_NO_AUTH_ACTION_COUNT actions are done; this script spends exactly SETUP_ACTIONS of them creating the
users, then works as the allowed user.

Usage: python s3_fixture.py ENDPOINT BUCKET KEY FILE
Prints {"reader": [id, secret], "outsider": [id, secret]} as JSON.
"""

import json
import sys

import boto3

SETUP_ACTIONS = 5
ENDPOINT, BUCKET, KEY, FILE = sys.argv[1:5]


def client(service, key_id="setup", secret="setup"):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )


iam = client("iam")
allow_s3 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
iam.create_user(UserName="reader")
iam.put_user_policy(UserName="reader", PolicyName="s3", PolicyDocument=json.dumps(allow_s3))
reader = iam.create_access_key(UserName="reader")["AccessKey"]
iam.create_user(UserName="outsider")
outsider = iam.create_access_key(UserName="outsider")["AccessKey"]

s3 = client("s3", reader["AccessKeyId"], reader["SecretAccessKey"])
s3.create_bucket(Bucket=BUCKET)
with open(FILE, "rb") as f:
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=f.read())
print(
    json.dumps(
        {
            "reader": [reader["AccessKeyId"], reader["SecretAccessKey"]],
            "outsider": [outsider["AccessKeyId"], outsider["SecretAccessKey"]],
        }
    )
)

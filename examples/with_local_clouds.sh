#!/bin/sh
# Runs a program with the settings of the local cloud emulators the test fixtures started: moto
# (scripts/moto-test-server's env file) as AWS_ENDPOINT_URL_S3 with its access key, and Azurite
# (scripts/azurite-test-server's) as AZURE_STORAGE_BLOB_ENDPOINT with the development account.
#   with_local_clouds.sh MOTO_ENV AZURITE_ENV PROGRAM [ARGS...]
set -eu
moto_env=$1 azurite_env=$2
shift 2
# shellcheck disable=SC1090
. "$moto_env"
# shellcheck disable=SC1090
. "$azurite_env"
AWS_ENDPOINT_URL_S3="http://127.0.0.1:$INTG_MOTO_PORT" AWS_ACCESS_KEY_ID="$INTG_MOTO_ACCESS_KEY_ID" \
AWS_SECRET_ACCESS_KEY="$INTG_MOTO_SECRET_ACCESS_KEY" AWS_REGION=us-east-1 \
AZURE_STORAGE_BLOB_ENDPOINT="http://127.0.0.1:$INTG_AZURITE_PORT/$INTG_AZURITE_ACCOUNT" \
AZURE_STORAGE_ACCOUNT="$INTG_AZURITE_ACCOUNT" AZURE_STORAGE_KEY="$INTG_AZURITE_KEY" \
exec "$@"

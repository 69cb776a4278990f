#!/bin/bash
# Run once by the influxdb:2.7 image, right after its initial setup (mounted in
# /docker-entrypoint-initdb.d): the DBRP mapping through which the hub's InfluxQL reads
# (/query, db = HUB_STORE__INFLUX_DATABASE) see the bucket it writes (docs/storage.md).
set -euo pipefail
influx v1 dbrp create \
  --bucket-id "${DOCKER_INFLUXDB_INIT_BUCKET_ID}" \
  --db "${DOCKER_INFLUXDB_INIT_BUCKET}" \
  --rp autogen \
  --default \
  --org "${DOCKER_INFLUXDB_INIT_ORG}"

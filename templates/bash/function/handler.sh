#!/usr/bin/env bash
# The request body arrives on stdin; whatever this prints is the response.
# Request metadata is in the environment: $Http_Method, $Http_Path, $Http_Query, $Http_Content_Type...
set -euo pipefail

cat

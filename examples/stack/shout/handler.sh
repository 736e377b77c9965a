#!/usr/bin/env bash
# Upper-cases the request body.
tr '[:lower:]' '[:upper:]'

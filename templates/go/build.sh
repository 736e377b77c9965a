#!/bin/sh
# Builds ./handler from main.go and the handler in function/ with this machine's Go, as one
# workspace (go.work), so the handler's module (and any local module it replaces a
# requirement with) needs no download. Nothing is downloaded unless function/go.mod
# requires modules from elsewhere; a newer Go toolchain is never fetched.
set -eu
[ -f function/go.mod ] || printf 'module handler/function\n\ngo 1.18\n' > function/go.mod
export GOTOOLCHAIN=local CGO_ENABLED="${CGO_ENABLED:-0}"
go build -trimpath -ldflags="-s -w" -o handler .

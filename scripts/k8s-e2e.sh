#!/usr/bin/env bash
# The kubernetes provider's whole lifecycle against a real cluster (never run by CI: no
# Kubernetes control plane can be installed there; CI runs the same paths against
# faas-kube-fake). Needs kubectl, curl, a cluster that KUBECONFIG (or ~/.kube/config) points
# at, and the faasd image reachable by that cluster (push it, or `kind load docker-image`):
#
#   docker build -f deploy/kubernetes/Dockerfile -t ghcr.io/rustfaas/faasd:dev .
#   RUSTFAAS_IMAGE=ghcr.io/rustfaas/faasd:dev scripts/k8s-e2e.sh
#
# Steps: install (namespaces, CRD, RBAC, faasd with --operator), deploy a function through the
# REST API, invoke it through the gateway, scale 0 -> 2 -> 0 and call it from zero, secrets
# CRUD, logs, delete, then a Function applied with kubectl (operator) and deleted, then (with
# NATS JetStream and two server replicas) a server pod killed halfway through a run of async
# calls, every call it accepted still run.
# Every request goes to 127.0.0.1 (kubectl port-forward). E2E_KEEP=1 leaves the install.
set -euo pipefail

IMAGE="${RUSTFAAS_IMAGE:-ghcr.io/rustfaas/faasd:latest}"
FUNCTION_IMAGE="${E2E_FUNCTION_IMAGE:-ghcr.io/openfaas/alpine:latest}"
PORT="${E2E_PORT:-31112}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
MANIFESTS="$ROOT/deploy/kubernetes"
FN=e2e-echo

step() { printf '\n== %s\n' "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v kubectl >/dev/null || fail "kubectl is not installed"
command -v curl >/dev/null || fail "curl is not installed"
if [ -z "${KUBECONFIG:-}" ] && [ ! -f "$HOME/.kube/config" ]; then
  fail "no cluster: set KUBECONFIG"
fi
kubectl version >/dev/null 2>&1 || fail "the cluster in KUBECONFIG does not answer (kubectl version)"

forward_pid=""
cleanup() {
  [ -n "$forward_pid" ] && kill "$forward_pid" 2>/dev/null || true
  if [ "${E2E_KEEP:-0}" != 1 ]; then
    kubectl delete function "$FN-op" -n openfaas-fn --ignore-not-found >/dev/null 2>&1 || true
    kubectl delete -f "$MANIFESTS/faasd.yaml" --ignore-not-found >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

# Polls a command up to $1 times, a second apart.
retry() {
  local tries="$1"; shift
  for _ in $(seq "$tries"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  return 1
}

step "install into $(kubectl config current-context)"
kubectl apply -f "$MANIFESTS/namespaces.yaml" -f "$MANIFESTS/crd.yaml" -f "$MANIFESTS/rbac.yaml"
if ! kubectl -n openfaas get secret basic-auth >/dev/null 2>&1; then
  kubectl -n openfaas create secret generic basic-auth \
    --from-literal=basic-auth-user=admin \
    --from-literal=basic-auth-password="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
fi
kubectl apply -f "$MANIFESTS/faasd.yaml"
kubectl -n openfaas set image deployment/faasd faasd="$IMAGE"
kubectl -n openfaas patch deployment faasd --type=json \
  -p '[{"op":"add","path":"/spec/template/spec/containers/0/args/-","value":"--operator=true"}]'
kubectl -n openfaas rollout status deployment/faasd --timeout=180s

PASSWORD="$(kubectl -n openfaas get secret basic-auth -o jsonpath='{.data.basic-auth-password}' | base64 -d)"
kubectl -n openfaas port-forward --address 127.0.0.1 svc/faasd "$PORT:8080" >/dev/null 2>&1 &
forward_pid=$!
GW="http://127.0.0.1:$PORT"
retry 30 curl -fsS "$GW/healthz" || fail "the gateway does not answer on $GW"
api() { curl -fsS -u "admin:$PASSWORD" "$@"; }

step "deploy $FN through the REST API"
api -X POST "$GW/system/functions" -H 'content-type: application/json' \
  -d "{\"service\":\"$FN\",\"image\":\"$FUNCTION_IMAGE\",\"envProcess\":\"cat\"}" >/dev/null
kubectl -n openfaas-fn get deployment "$FN" service "$FN" >/dev/null || fail "no Deployment/Service $FN"

step "invoke through the gateway"
echo_ok() { [ "$(curl -fsS -d hello "$GW/function/$FN")" = hello ]; }
retry 120 echo_ok || fail "$FN did not echo"

replicas() { api "$GW/system/function/$FN" | sed -n 's/.*"availableReplicas":\([0-9]*\).*/\1/p'; }
scale() { api -X POST "$GW/system/scale-function/$FN" -d "{\"serviceName\":\"$FN\",\"replicas\":$1}" >/dev/null; }
step "scale 0 -> 2 -> 0, and a call from zero"
scale 0
retry 120 test "$(replicas)" = 0 || fail "did not scale to 0"
echo_ok || fail "a call at zero replicas was not served"
scale 2
retry 180 test "$(replicas)" = 2 || fail "did not scale to 2"
scale 0
retry 120 test "$(replicas)" = 0 || fail "did not scale back to 0"

step "secrets"
api -X POST "$GW/system/secrets" -d '{"name":"e2e-secret","value":"one"}' >/dev/null
api "$GW/system/secrets" | grep -q '"e2e-secret"' || fail "secret not listed"
api "$GW/system/secrets" | grep -q '"one"' && fail "a secret value was listed"
api -X PUT "$GW/system/secrets" -d '{"name":"e2e-secret","value":"two"}' >/dev/null
api -X DELETE "$GW/system/secrets" -d '{"name":"e2e-secret"}' >/dev/null

step "logs"
echo_ok
api "$GW/system/logs?name=$FN&tail=20" | grep -q "\"name\":\"$FN\"" || fail "no log lines"

step "delete"
api -X DELETE "$GW/system/functions" -d "{\"functionName\":\"$FN\"}" >/dev/null
retry 60 sh -c "! kubectl -n openfaas-fn get deployment $FN" || fail "Deployment $FN still there"

step "operator: kubectl apply a Function, call it, delete it"
kubectl apply -f - <<YAML
apiVersion: openfaas.com/v1
kind: Function
metadata:
  name: $FN-op
  namespace: openfaas-fn
spec:
  name: $FN-op
  image: $FUNCTION_IMAGE
  environment:
    fprocess: cat
YAML
retry 120 kubectl -n openfaas-fn get deployment "$FN-op" || fail "the operator made no Deployment"
op_ok() { [ "$(curl -fsS -d op "$GW/function/$FN-op")" = op ]; }
retry 120 op_ok || fail "$FN-op did not echo"
kubectl -n openfaas-fn wait function "$FN-op" --for=condition=Ready --timeout=60s
kubectl delete function "$FN-op" -n openfaas-fn
retry 60 sh -c "! kubectl -n openfaas-fn get deployment $FN-op" || fail "Deployment $FN-op outlived its Function"

step "a server replica killed under async load: no accepted call lost"
# Every replica publishes async calls to one NATS JetStream and consumes from it, so a call
# accepted (202) by a replica that then dies is still run by the other one.
kubectl apply -f "$MANIFESTS/nats.yaml"
kubectl -n openfaas rollout status deployment/nats --timeout=120s
kubectl -n openfaas patch deployment faasd --type=json -p '[
  {"op":"add","path":"/spec/template/spec/containers/0/args/-","value":"--queue=nats"},
  {"op":"add","path":"/spec/template/spec/containers/0/args/-","value":"--nats-url=nats://nats.openfaas.svc.cluster.local:4222"},
  {"op":"replace","path":"/spec/replicas","value":2}]'
kubectl -n openfaas rollout status deployment/faasd --timeout=180s
kill "$forward_pid" 2>/dev/null || true
kubectl -n openfaas port-forward --address 127.0.0.1 svc/faasd "$PORT:8080" >/dev/null 2>&1 &
forward_pid=$!
retry 30 curl -fsS "$GW/healthz" || fail "the gateway does not answer after the restart"
# The function logs every body it gets (write_debug), so its pods' logs list the calls run.
api -X POST "$GW/system/functions" -d "{\"service\":\"$FN-q\",\"image\":\"$FUNCTION_IMAGE\",
  \"envProcess\":\"cat\",\"envVars\":{\"write_debug\":\"true\"}}" >/dev/null
q_ok() { [ "$(curl -fsS -d ping "$GW/function/$FN-q")" = ping ]; }
retry 120 q_ok || fail "$FN-q did not echo"
CALLS="${E2E_ASYNC_CALLS:-200}"
accepted="$(mktemp)"
# Each replica through its own port-forward, so that calls keep reaching the survivor.
live_pods='{{range .items}}{{if not .metadata.deletionTimestamp}}{{.metadata.name}} {{end}}{{end}}'
read -r victim survivor _ <<<"$(kubectl -n openfaas get pods -l app=faasd -o go-template="$live_pods")"
[ -n "$survivor" ] || fail "two faasd pods expected, found: $victim"
kubectl -n openfaas port-forward --address 127.0.0.1 "pod/$victim" "$((PORT + 1)):8080" >/dev/null 2>&1 &
victim_forward=$!
kubectl -n openfaas port-forward --address 127.0.0.1 "pod/$survivor" "$((PORT + 2)):8080" >/dev/null 2>&1 &
survivor_forward=$!
retry 30 curl -fsS "http://127.0.0.1:$((PORT + 1))/healthz" || fail "$victim does not answer"
retry 30 curl -fsS "http://127.0.0.1:$((PORT + 2))/healthz" || fail "$survivor does not answer"
for i in $(seq "$CALLS"); do
  # Calls alternate between the two replicas; only those answered 202 were accepted, and
  # those must all run.
  target="http://127.0.0.1:$((PORT + 1 + i % 2))"
  code="$(curl -sS -o /dev/null -w '%{http_code}' -d "call-$i" "$target/async-function/$FN-q" || true)"
  [ "$code" = 202 ] && echo "call-$i" >>"$accepted"
  if [ "$i" = $((CALLS / 2)) ]; then
    kubectl -n openfaas delete pod "$victim" --grace-period=0 --force --wait=false >/dev/null
  fi
done
kill "$victim_forward" "$survivor_forward" 2>/dev/null || true
[ -s "$accepted" ] || fail "no async call was accepted"
# The accepted calls not (yet) in the function pods' logs, one a line.
missing_calls() {
  comm -23 <(sort -u "$accepted") \
    <(kubectl -n openfaas-fn logs -l "faas_function=$FN-q" --tail=-1 2>/dev/null \
      | grep -o 'call-[0-9]*' | sort -u)
}
all_ran() { [ -z "$(missing_calls)" ]; }
# Each accepted call shows up in the function's logs within 2 minutes.
retry 120 all_ran || { missing_calls | head; fail "accepted async calls never ran (first ones above)"; }
echo "$(wc -l <"$accepted") of $CALLS calls accepted, all run; $victim was killed halfway"
api -X DELETE "$GW/system/functions" -d "{\"functionName\":\"$FN-q\"}" >/dev/null
rm -f "$accepted"

echo
echo "k8s-e2e: all steps passed"

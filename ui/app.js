// The rustfaas portal: lists functions, deploys, invokes and removes them through the
// OpenFaaS REST API of the gateway that serves this page (the browser sends the same basic
// auth credentials it gave for /ui/).
"use strict";

const $ = (id) => document.getElementById(id);
let namespace = "";

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    const text = (await response.text()).trim();
    throw new Error(`${method} ${path}: ${response.status} ${text}`);
  }
  return response;
}

function showError(error) {
  $("error").textContent = error ? String(error.message || error) : "";
  $("error").hidden = !error;
}

function query() {
  return namespace ? `?namespace=${encodeURIComponent(namespace)}` : "";
}

function functionRef(name) {
  return namespace ? `${name}.${namespace}` : name;
}

async function loadNamespaces() {
  const list = await (await api("GET", "/system/namespaces")).json();
  const select = $("namespace");
  const current = namespace || "openfaas-fn";
  select.replaceChildren(...(list || []).sort().map((ns) => new Option(ns, ns, false, ns === current)));
  namespace = select.value;
}

async function loadFunctions() {
  const functions = (await (await api("GET", `/system/functions${query()}`)).json()) || [];
  functions.sort((a, b) => a.name.localeCompare(b.name));
  const rows = functions.map((f) => {
    const row = document.createElement("tr");
    row.dataset.name = f.name;
    for (const text of [f.name, f.image, String(Math.round(f.invocationCount || 0)), `${f.availableReplicas || 0}/${f.replicas || 0}`]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    const actions = document.createElement("td");
    const remove = document.createElement("button");
    remove.textContent = "Delete";
    remove.className = "delete";
    remove.addEventListener("click", () => removeFunction(f.name));
    actions.append(remove);
    row.append(actions);
    return row;
  });
  document.querySelector("#functions tbody").replaceChildren(...rows);
  $("empty").hidden = functions.length > 0;
  for (const select of [$("invoke-name"), $("logs-name")]) {
    const chosen = select.value;
    select.replaceChildren(...functions.map((f) => new Option(f.name, f.name, false, f.name === chosen)));
  }
}

async function refresh() {
  try {
    await loadFunctions();
    showError(null);
  } catch (error) {
    showError(error);
  }
}

async function removeFunction(name) {
  if (!window.confirm(`Delete ${name}?`)) return;
  try {
    await api("DELETE", "/system/functions", { functionName: name, namespace });
    await refresh();
  } catch (error) {
    showError(error);
  }
}

$("deploy").addEventListener("submit", async (event) => {
  event.preventDefault();
  const envVars = {};
  for (const line of $("deploy-env").value.split("\n")) {
    const at = line.indexOf("=");
    if (at > 0) envVars[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  const deployment = {
    service: $("deploy-name").value.trim(),
    image: $("deploy-image").value.trim(),
    namespace,
    envVars,
  };
  const fprocess = $("deploy-fprocess").value.trim();
  if (fprocess) deployment.envProcess = fprocess;
  $("deploy-status").textContent = `Deploying ${deployment.service}...`;
  try {
    await api("POST", "/system/functions", deployment);
    $("deploy-status").textContent = `Deployed ${deployment.service}.`;
    await refresh();
  } catch (error) {
    $("deploy-status").textContent = String(error.message || error);
  }
});

$("invoke").addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $("invoke-name").value;
  const method = $("invoke-method").value;
  const started = performance.now();
  $("invoke-status").textContent = `Invoking ${name}...`;
  $("invoke-output").textContent = "";
  try {
    const response = await fetch(`/function/${functionRef(name)}`, {
      method,
      body: method === "GET" ? undefined : $("invoke-body").value,
    });
    const text = await response.text();
    const took = Math.round(performance.now() - started);
    $("invoke-status").textContent = `${response.status} ${response.statusText} in ${took} ms`;
    $("invoke-output").textContent = text;
  } catch (error) {
    $("invoke-status").textContent = String(error.message || error);
  }
});

$("logs").addEventListener("submit", async (event) => {
  event.preventDefault();
  const params = new URLSearchParams({
    name: $("logs-name").value,
    tail: $("logs-lines").value || "100",
    follow: "false",
  });
  if (namespace) params.set("namespace", namespace);
  $("logs-output").textContent = "Reading logs...";
  try {
    // Newline-delimited JSON: {"name","namespace","instance","timestamp","text"} per line.
    const text = await (await api("GET", `/system/logs?${params}`)).text();
    const lines = text
      .split("\n")
      .filter((line) => line.trim())
      .map((line) => {
        const entry = JSON.parse(line);
        return `${entry.timestamp} ${entry.instance || ""} ${entry.text}`;
      });
    $("logs-output").textContent = lines.length ? lines.join("\n") : "(no log lines yet)";
  } catch (error) {
    $("logs-output").textContent = String(error.message || error);
  }
});

$("namespace").addEventListener("change", () => {
  namespace = $("namespace").value;
  refresh();
});

(async () => {
  try {
    const info = await (await api("GET", "/system/info")).json();
    $("version").textContent = `${info.provider?.provider || ""} ${info.version?.release || ""}`.trim();
    await loadNamespaces();
  } catch (error) {
    showError(error);
  }
  await refresh();
  document.body.dataset.ready = "true";
  setInterval(refresh, 5000);
})();

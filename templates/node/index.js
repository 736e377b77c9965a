// A small HTTP server (Node's http module only) that calls function/handler.js for every
// request, like OpenFaaS's node templates. It listens on 127.0.0.1:$PORT, which the platform
// sets for each replica.
"use strict";

const http = require("http");
const handler = require("./function/handler");

class FunctionEvent {
  constructor(req, body) {
    const url = new URL(req.url, "http://localhost");
    this.body = body;
    this.headers = req.headers;
    this.method = req.method;
    this.query = Object.fromEntries(url.searchParams);
    this.path = url.pathname;
  }
}

class FunctionContext {
  constructor(callback) {
    this.statusCode = 200;
    this.headerValues = {};
    this.callback = callback;
  }
  status(statusCode) {
    if (statusCode === undefined) return this.statusCode;
    this.statusCode = statusCode;
    return this;
  }
  headers(values) {
    if (values === undefined) return this.headerValues;
    this.headerValues = values;
    return this;
  }
  succeed(value) {
    this.callback(undefined, value);
  }
  fail(value) {
    this.callback(value, undefined);
  }
}

function parseBody(req, raw) {
  const type = (req.headers["content-type"] || "").split(";")[0].trim();
  if (type === "application/json" && raw.length > 0) {
    try {
      return JSON.parse(raw.toString("utf8"));
    } catch (_) {
      return raw.toString("utf8");
    }
  }
  if (type.startsWith("text/") || type === "" || type === "application/x-www-form-urlencoded") {
    return raw.toString("utf8");
  }
  return raw;
}

function send(res, context, err, value) {
  if (res.headersSent) return;
  if (err) {
    const text = err instanceof Error ? err.toString() : String(err);
    res.writeHead(500, { "Content-Type": "text/plain" });
    res.end(text);
    return;
  }
  const headers = Object.assign({}, context.headers());
  let payload;
  if (value === undefined || value === null) {
    payload = "";
  } else if (Buffer.isBuffer(value) || typeof value === "string") {
    payload = value;
  } else {
    payload = JSON.stringify(value);
    if (!Object.keys(headers).some((k) => k.toLowerCase() === "content-type")) {
      headers["Content-Type"] = "application/json";
    }
  }
  res.writeHead(context.status(), headers);
  res.end(payload);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", async () => {
    const event = new FunctionEvent(req, parseBody(req, Buffer.concat(chunks)));
    let context;
    const done = (err, value) => send(res, context, err, value);
    context = new FunctionContext(done);
    try {
      const result = await handler(event, context);
      if (result !== undefined) done(undefined, result);
    } catch (err) {
      console.error(err);
      done(err);
    }
  });
});

const port = parseInt(process.env.PORT || "3000", 10);
server.keepAliveTimeout = 65000;
server.listen(port, "127.0.0.1", () => {
  console.log(`node listening on 127.0.0.1:${port}`);
});

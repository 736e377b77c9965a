package com.openfaas.model;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/** A request: its body as text, headers (names case-insensitive), query and path. */
public class Request implements IRequest {
    private final String body;
    private final Map<String, String> headers;
    private final String queryRaw;
    private final Map<String, String> query;
    private final String pathRaw;
    private final Map<String, String> path;

    public Request(String body, Map<String, String> headers) {
        this(body, headers, null, null);
    }

    public Request(String body, Map<String, String> headers, String queryRaw, String pathRaw) {
        this.body = body == null ? "" : body;
        Map<String, String> sorted = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
        if (headers != null) {
            sorted.putAll(headers);
        }
        this.headers = Collections.unmodifiableMap(sorted);
        this.queryRaw = queryRaw;
        this.query = parseQuery(queryRaw);
        this.pathRaw = pathRaw;
        this.path = parsePath(pathRaw);
    }

    public String getBody() {
        return body;
    }

    public Map<String, String> getHeaders() {
        return headers;
    }

    public String getHeader(String key) {
        return key == null ? null : headers.get(key);
    }

    public String getQueryRaw() {
        return queryRaw;
    }

    public Map<String, String> getQuery() {
        return query;
    }

    public String getPathRaw() {
        return pathRaw;
    }

    /** The path's segments by position: "/a/b" gives {"0": "a", "1": "b"}. */
    public Map<String, String> getPath() {
        return path;
    }

    private static Map<String, String> parseQuery(String raw) {
        Map<String, String> out = new HashMap<>();
        if (raw == null || raw.isEmpty()) {
            return out;
        }
        for (String pair : raw.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String key = eq < 0 ? pair : pair.substring(0, eq);
            String value = eq < 0 ? "" : pair.substring(eq + 1);
            out.putIfAbsent(decode(key), decode(value));
        }
        return out;
    }

    private static Map<String, String> parsePath(String raw) {
        Map<String, String> out = new HashMap<>();
        if (raw == null) {
            return out;
        }
        int index = 0;
        for (String segment : raw.split("/")) {
            if (!segment.isEmpty()) {
                out.put(String.valueOf(index++), decode(segment));
            }
        }
        return out;
    }

    private static String decode(String text) {
        try {
            return URLDecoder.decode(text, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return text;
        }
    }
}

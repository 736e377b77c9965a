package com.openfaas.entrypoint;

import com.openfaas.model.IHandler;
import com.openfaas.model.IResponse;
import com.openfaas.model.Request;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;

/**
 * A long-running server (of-watchdog http mode) on the JDK's built-in HTTP server: every
 * request becomes a Request for com.openfaas.function.Handler, whose Response is written back.
 * It listens on 127.0.0.1:$PORT, which the platform sets for each replica.
 */
public class App {
    public static void main(String[] args) throws IOException {
        int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "8082"));
        // Loaded by name, so this class and the model compile once and are reused by every
        // build (build.sh keeps them in the build cache).
        IHandler handler;
        try {
            handler = (IHandler) Class.forName("com.openfaas.function.Handler")
                    .getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | ClassCastException e) {
            System.err.println("cannot load com.openfaas.function.Handler (an IHandler): " + e);
            System.exit(1);
            return;
        }
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        server.createContext("/", new InvokeHandler(handler));
        server.setExecutor(Executors.newCachedThreadPool());
        server.start();
        System.out.println("java11 listening on 127.0.0.1:" + port);
    }

    static class InvokeHandler implements HttpHandler {
        private final IHandler handler;

        InvokeHandler(IHandler handler) {
            this.handler = handler;
        }

        @Override
        public void handle(HttpExchange exchange) throws IOException {
            try {
                String body;
                try (InputStream in = exchange.getRequestBody()) {
                    body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                }
                Map<String, String> headers = new HashMap<>();
                for (Map.Entry<String, List<String>> header : exchange.getRequestHeaders().entrySet()) {
                    if (!header.getValue().isEmpty()) {
                        headers.put(header.getKey(), header.getValue().get(0));
                    }
                }
                Request request = new Request(body, headers,
                        exchange.getRequestURI().getRawQuery(), exchange.getRequestURI().getRawPath());
                IResponse response;
                try {
                    response = handler.Handle(request);
                } catch (RuntimeException e) {
                    StringWriter trace = new StringWriter();
                    e.printStackTrace(new PrintWriter(trace));
                    System.err.print(trace);
                    send(exchange, 500, Map.of(), "text/plain", String.valueOf(e));
                    return;
                }
                send(exchange, response.getStatusCode(), response.getHeaders(),
                        response.getContentType(), response.getBody());
            } finally {
                exchange.close();
            }
        }

        private static void send(HttpExchange exchange, int status, Map<String, String> headers,
                String contentType, String body) throws IOException {
            for (Map.Entry<String, String> header : headers.entrySet()) {
                exchange.getResponseHeaders().set(header.getKey(), header.getValue());
            }
            if (contentType != null && !contentType.isEmpty()) {
                exchange.getResponseHeaders().set("Content-Type", contentType);
            }
            byte[] bytes = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
            boolean head = "HEAD".equalsIgnoreCase(exchange.getRequestMethod());
            exchange.sendResponseHeaders(status == 0 ? 200 : status, head || bytes.length == 0 ? -1 : bytes.length);
            if (!head && bytes.length > 0) {
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(bytes);
                }
            }
        }
    }
}

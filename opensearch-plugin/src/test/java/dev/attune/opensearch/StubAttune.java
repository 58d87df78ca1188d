package dev.attune.opensearch;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import com.sun.net.httpserver.HttpServer;

import org.opensearch.common.xcontent.XContentHelper;
import org.opensearch.core.xcontent.MediaTypeRegistry;
import org.opensearch.core.common.bytes.BytesArray;

/**
 * A local stand-in for Attune's {@code POST /opensearch/rerank} (JDK HttpServer): records every
 * request and answers what the test set, optionally only once the test releases it.
 */
final class StubAttune implements AutoCloseable {
    /** One request as received. */
    static final class Received {
        final String method;
        final String path;
        final Map<String, List<String>> headers;
        final String body;

        Received(String method, String path, Map<String, List<String>> headers, String body) {
            this.method = method;
            this.path = path;
            this.headers = headers;
            this.body = body;
        }

        /** The body as a map. */
        Map<String, Object> json() {
            return XContentHelper.convertToMap(new BytesArray(body), true, MediaTypeRegistry.JSON).v2();
        }

        /** A header's first value, or null. */
        String header(String name) {
            for (Map.Entry<String, List<String>> e : headers.entrySet()) {
                if (e.getKey().equalsIgnoreCase(name)) {
                    return e.getValue().get(0);
                }
            }
            return null;
        }
    }

    private final HttpServer server;
    private final ExecutorService executor = Executors.newCachedThreadPool();
    final List<Received> received = new CopyOnWriteArrayList<>();
    private volatile int status = 200;
    private volatile String answer = "{}";
    private volatile CountDownLatch hold;

    StubAttune() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setExecutor(executor);
        server.createContext("/", exchange -> {
            byte[] body;
            try (InputStream in = exchange.getRequestBody()) {
                body = in.readAllBytes();
            }
            received.add(
                new Received(
                    exchange.getRequestMethod(),
                    exchange.getRequestURI().getPath(),
                    Map.copyOf(exchange.getRequestHeaders()),
                    new String(body, StandardCharsets.UTF_8)
                )
            );
            CountDownLatch h = hold;
            if (h != null) {
                try {
                    h.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            byte[] out = answer.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(status, out.length);
            try (OutputStream os = exchange.getResponseBody()) {
                os.write(out);
            }
        });
        server.start();
    }

    /** The endpoint to configure. */
    URI endpoint() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    /** Answers {@code status} with {@code body} from now on. */
    void answer(int status, String body) {
        this.status = status;
        this.answer = body;
    }

    /** Holds every answer until {@link #close()} (to make the client time out). */
    void hold() {
        hold = new CountDownLatch(1);
    }

    /** The one request received (fails if there were others). */
    Received only() {
        if (received.size() != 1) {
            throw new AssertionError("expected one request, received " + received.size());
        }
        return received.get(0);
    }

    @Override
    public void close() {
        CountDownLatch h = hold;
        if (h != null) {
            h.countDown();
        }
        server.stop(0);
        executor.shutdownNow();
    }
}
